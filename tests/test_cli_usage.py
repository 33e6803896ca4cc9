"""The command line as a newcomer meets it: no silent abbreviations, a typo answered by the command
it was given to, runs kept in the user's data folder, and `predict` printing what the README shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


# -- the standard streams as the caller leaves them (hardening round four) -------------------------
def _run(args: list[str], env_extra: dict | None = None, close: str = "") -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "damer_core.cli", *args]
    if close:  # a stream closed by the caller, as `cmd >&-` does
        cmd = ["bash", "-c", f'exec "$@" {close}', "damer-core", *cmd]
    return subprocess.run(cmd, capture_output=True, env={**os.environ, **(env_extra or {})}, timeout=600)


BUILTIN = Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt"


@pytest.fixture(scope="module")
def odd_names(tmp_path_factory):
    from app_helpers import tagged

    root = tmp_path_factory.mktemp("names")
    return [tagged(root / name, 3.0, seed=i) for i, name in enumerate(["café.flac", "ümlaut ♪.flac", "plain.flac"])]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_predict_into_a_closed_stdout_is_refused_before_any_work(odd_names, fmt):
    r = _run(["predict", "--format", fmt, str(odd_names[2])], close=">&-")
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1, err
    assert "standard output is closed" in err and "--output FILE" in err and "Traceback" not in err


def test_info_with_a_closed_stdout_says_so_and_train_does_not_need_it(tmp_path):
    r = _run(["info"], close=">&-")
    assert r.returncode == 2 and "standard output is closed" in r.stderr.decode()
    r = _run(["train", "--dataset", str(tmp_path / "nowhere")], close=">&-")
    assert r.returncode == 2 and "standard output" not in r.stderr.decode()  # its own error, about the data


def test_a_model_that_cannot_be_used_is_named_by_its_path_as_typed(tmp_path, capsys):
    """Every run's model is called best.pt: the error says which one."""
    missing = tmp_path / "run-7" / "best.pt"
    assert cli.main(["info", str(missing)]) == 2
    assert capsys.readouterr().err.strip() == f"damer-core info: error: {missing}: file not found"


def test_a_reader_that_stops_early_ends_info_quietly():
    """`damer-core info MODEL | head`: the reader is gone before info writes (it loads torch
    first); it stops without a word, with the status of a program ended by SIGPIPE."""
    model = Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt"
    r = subprocess.run(f"'{sys.executable}' -m damer_core.cli info '{model}' | true; exit ${{PIPESTATUS[0]}}",
                       shell=True, executable="/bin/bash", capture_output=True)
    assert (r.returncode, r.stderr) == (141, b"")


@pytest.mark.parametrize("encoding,fmt", [("ascii", "csv"), ("latin-1", "json")])
def test_names_an_encoding_cannot_spell_are_escaped_not_a_crash(odd_names, encoding, fmt):
    r = _run(["predict", "--checkpoint", str(BUILTIN), "--format", fmt, *map(str, odd_names)], {"PYTHONIOENCODING": encoding})
    out, err = r.stdout.decode(encoding), r.stderr.decode(encoding, "replace")
    assert r.returncode == 0 and "Traceback" not in err, err
    if fmt == "csv":
        assert len(out.strip().splitlines()) == 1 + len(odd_names)
    assert "plain.flac" in out and "\\u266a" in out  # the note, escaped


def test_without_a_terminal_progress_is_said_in_lines_as_git_and_pip_do(monkeypatch, capsys):
    from damer_core import progress as progress_mod

    clock = iter(range(0, 1000, 11))  # 11 s between calls: each advance is a line
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: next(clock))
    p = progress_mod.Progress("human")
    p.task("predicting", 3)
    for _ in range(3):
        p.advance()
    assert capsys.readouterr().err.splitlines() == ["predicting: 0/3", "predicting: 1/3", "predicting: 2/3",
                                                    "predicting: 3/3 done"]


def test_predict_into_a_log_says_what_it_does(odd_names):
    r = _run(["predict", "--checkpoint", str(BUILTIN), str(odd_names[2])])  # stderr is a pipe, not a terminal
    err = r.stderr.decode()
    assert r.returncode == 0 and err.splitlines() == ["predicting: 0/1", "predicting: 1/1 done"], err
