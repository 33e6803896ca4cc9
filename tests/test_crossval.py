"""`damer-core cv` (damer_core.evaluation.crossval): folds it cannot fill are refused in one line."""

from __future__ import annotations

from test_fusion_descriptors import labelled_songs

from damer_core.cli import main as cli


def test_folds_a_small_data_set_cannot_fill_are_refused_in_one_line(tmp_path, capsys):
    labels = labelled_songs(tmp_path / "songs", n=8, seconds=4.0)  # 4 train + validation tracks, one a quadrant
    code = cli.main(["cv", "--dataset", str(labels), "--dims", "quadrant", "--epochs", "1", "--folds", "2",
                     "--out", str(tmp_path / "cv"), "--progress", "none"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "2 folds need at least 2 tracks of some quadrant" in err[0] and "per quadrant [1, 1, 1, 1]" in err[0]
