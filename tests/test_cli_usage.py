"""The command line as a newcomer meets it: no silent abbreviations, a typo answered by the command
it was given to, runs kept in the user's data folder, and `predict` printing what the README shows."""

from __future__ import annotations

import pytest

from damer_core.cli import main as cli


def usage_error(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.main(list(argv))
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("argv, wrong, nearest", [
    (("train", "--dataset", "x", "--epoch", "1"), "--epoch 1", "--epochs"),  # an abbreviation is not taken
    (("train", "--datset", "x"), "--datset x", "--dataset"),
    (("predict", "song.ogg", "--chekpoint", "m.pt"), "--chekpoint m.pt", "--checkpoint"),
    (("evaluate", "--dataset", "x", "--seed=3", "--sedes", "2"), "--sedes 2", "--seeds"),
    (("info", "--jsnl"), "--jsnl", "--jsonl"),
])
def test_an_unknown_option_is_answered_by_its_command_with_the_nearest_one(capsys, argv, wrong, nearest):
    err = usage_error(capsys, *argv)
    command = argv[0]
    assert err.startswith(f"usage: damer-core {command} "), err  # the command's usage, not the top level's
    assert f"damer-core {command}: error: unrecognized arguments: {wrong} (did you mean {nearest}?)" in err


def test_nonsense_gets_no_suggestion_and_a_prefix_of_a_command_is_not_a_command(capsys):
    err = usage_error(capsys, "info", "--zzzzzz")
    assert "unrecognized arguments: --zzzzzz" in err and "did you mean" not in err
    err = usage_error(capsys, "pred", "song.ogg")
    assert "invalid choice: 'pred'" in err


def test_train_without_out_keeps_its_run_in_the_users_data_folder(tiny_memo, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    work = tmp_path / "checkout"
    work.mkdir()
    monkeypatch.chdir(work)
    assert cli.main(["train", "--dataset", str(tiny_memo), "--epochs", "1", "--progress", "none"]) == 0
    runs = list((tmp_path / "data" / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name.startswith(tiny_memo.name + "-") and (runs[0] / "best.pt").is_file()
    assert list(work.iterdir()) == []  # nothing written where the command was typed
    assert f"the run goes to {runs[0]}" in capsys.readouterr().err


def test_predict_help_says_what_it_prints():
    text = cli.build_parser().commands()["predict"].format_help()
    assert "csv (default)" in " ".join(text.split()) and "emotion word" in text


def test_evaluate_against_needs_the_model_it_is_compared_with(capsys):
    assert cli.main(["evaluate", "--dataset", "somewhere", "--against", "other.pt"]) == 2
    message = capsys.readouterr().err
    assert message.startswith("damer-core evaluate: error: ") and "--against" in message and "--checkpoint" in message
