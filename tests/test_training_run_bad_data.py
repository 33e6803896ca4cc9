"""A run on bad data stops in words: NaN features stop a training at load, a run whose loss stops
being finite stops with a message and never writes a best.pt (a later divergence keeps the good
checkpoints and resumes), the CLI says it in one line, and a stale row among many is skipped."""

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from test_datasets_bad_data import patch_array, random_arrays

from damer_core.datasets import DatasetError, load_dataset
from damer_core.datasets import arrays as arrays_mod
from damer_core.models.checkpoint import load_checkpoint
from damer_core.training import trainer as trainer_mod
from damer_core.training.config import TrainConfig
from damer_core.training.run import DataArgs, train
from damer_core.training.trainer import TrainingDiverged

# -- training ------------------------------------------------------------------------------------

TINY = TrainConfig(epochs=1, batch_size=8, dims=("arousal",))


def test_nan_features_stop_a_real_training_at_load(tmp_path, monkeypatch):
    root = random_arrays(tmp_path / "Memo2496")
    patch_array(root, "mel_spec.npy", lambda x: x[3:, 10, 20].fill(np.nan))
    with pytest.raises(DatasetError, match=r"^mel_spec.npy, index 3: holds NaN"):
        train(DataArgs(str(root)), TINY, tmp_path / "run", "cpu")
    assert not (tmp_path / "run").exists()
    # the same data past the load check: the loss would have gone NaN, and the guard stops it
    monkeypatch.setattr(arrays_mod, "_finite_features", lambda name, x: None)
    with pytest.raises(TrainingDiverged, match=r"^arousal: the training loss became NaN at epoch 1/1, step 1/\d+"):
        train(DataArgs(str(root)), TINY, tmp_path / "run", "cpu")
    assert not (tmp_path / "run" / "best.pt").exists() and not (tmp_path / "run" / "last.pt").exists()


def nan_contrastive_loss(when=lambda: True):
    real = trainer_mod.supervised_info_nce

    def loss(*args, **kw):
        value = real(*args, **kw)
        return value * math.nan if when() else value
    return loss


@pytest.mark.parametrize("how", ["nan loss", "lr 1e30"])
def test_a_diverging_run_stops_and_writes_no_best(tmp_path, monkeypatch, how):
    root = random_arrays(tmp_path / "Memo2496")
    tcfg = TINY
    if how == "nan loss":
        monkeypatch.setattr(trainer_mod, "supervised_info_nce", nan_contrastive_loss())
    else:
        tcfg = TrainConfig(epochs=1, batch_size=8, dims=("arousal",), lr=1e30)
    with pytest.raises(TrainingDiverged) as e:
        train(DataArgs(str(root)), tcfg, tmp_path / "run", "cpu")
    message = str(e.value)
    assert "\n" not in message and message.startswith("arousal: ") and "epoch 1/1" in message, message
    if how == "nan loss":
        assert "the training loss became NaN at epoch 1/1, step 1/" in message and "(not finite: cont)" in message
    assert not (tmp_path / "run" / "best.pt").exists()


def test_divergence_in_a_later_epoch_keeps_the_good_checkpoints_and_resumes(tmp_path, monkeypatch):
    root = random_arrays(tmp_path / "Memo2496")
    tcfg = TrainConfig(epochs=3, batch_size=8, dims=("arousal",))
    state = {"epoch": 0}
    real_epoch = trainer_mod.DimensionTrainer.train_epoch

    def counting(self, on_step=None):
        state["epoch"] = self.epoch + 1
        return real_epoch(self, on_step)

    monkeypatch.setattr(trainer_mod.DimensionTrainer, "train_epoch", counting)
    monkeypatch.setattr(trainer_mod, "supervised_info_nce", nan_contrastive_loss(lambda: state["epoch"] == 2))
    with pytest.raises(TrainingDiverged, match=r"at epoch 2/3, step 1/"):
        train(DataArgs(str(root)), tcfg, tmp_path / "run", "cpu")
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["resume"]["arousal"]["epoch"] == 1
    best = load_checkpoint(tmp_path / "run" / "best.pt")["dimensions"]["arousal"]
    assert best["epoch"] == 1 and all(torch.isfinite(v).all() for v in best["state_dict"].values())
    assert math.isfinite(best["metrics"]["val"]["fuse"]["nll"])
    monkeypatch.undo()
    done = load_checkpoint(train(None, TrainConfig(), tmp_path / "run", "cpu", resume=True))
    assert done["dimensions"]["arousal"]["metrics"]["test"]["fuse"]["n"] > 0
    assert (tmp_path / "run" / "metrics.csv").read_text().count("\n") == 1 + 3


def test_the_cli_says_it_in_one_line(tmp_path):
    root = random_arrays(tmp_path / "Memo2496", n=12)
    patch_array(root, "labels/label_v.npy", lambda x: x.__setitem__(9, np.inf))
    res = subprocess.run([sys.executable, "-m", "damer_core.cli", "train", "--dataset", str(root), "--epochs", "1",
                          "--device", "cpu", "--out", str(tmp_path / "run"), "--progress", "none"],
                         capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip() == ("damer-core train: error: labels/label_v.npy, index 9: valence is inf; "
                                  "labels must be finite numbers")


@pytest.mark.parametrize("bad", ["gone.wav", "folder", "pipe.wav"])
def test_a_stale_row_among_many_is_skipped_with_its_row_number(tmp_path, bad):
    """One label row whose file is gone (or is a folder, or a FIFO) must not stop a data set of
    good rows: it is skipped, named with its file and row, and the rest loads."""
    import os

    from app_helpers import tagged

    rows = ["path,valence,arousal"]
    for i in range(6):
        tagged(tmp_path / f"s{i}.wav", 4, seed=i)
        rows.append(f"s{i}.wav,{0.5 if i % 2 else -0.5},0.4")
    if bad == "folder":
        (tmp_path / "folder").mkdir()
    elif bad == "pipe.wav":
        os.mkfifo(tmp_path / "pipe.wav")
    rows.insert(4, f"{bad},0.3,0.3")  # line 5 of the file
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    fs = load_dataset(tmp_path / "labels.csv")
    assert fs.n_tracks == 6
    (skipped,) = fs.description["skipped"]
    assert skipped.startswith(f"labels.csv, row 5: {bad}: ")


# -- inputs that partly fail (hardening round four) -----------------------------------------------
def labels_with_strangers(root, good: int, missing: int):
    """``good`` generated recordings and ``missing`` rows naming files that do not exist."""
    from app_helpers import tagged

    root.mkdir(parents=True, exist_ok=True)
    with open(root / "labels.csv", "w") as f:
        f.write("path,valence,arousal\n")
        for i in range(good):
            tagged(root / f"s{i}.wav", 4, seed=i)
            f.write(f"s{i}.wav,{0.5 if i % 2 else -0.5},0.4\n")
        for i in range(missing):
            f.write(f"gone/missing{i:07d}.wav,0.1,0.1\n")
    return root / "labels.csv"


def test_a_labels_file_of_mostly_missing_files_is_refused_with_the_count_in_flat_memory(tmp_path):
    import tracemalloc

    csv = labels_with_strangers(tmp_path, 3, 30_000)
    tracemalloc.start()
    with pytest.raises(DatasetError) as e:
        load_dataset(csv)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    message = str(e.value)
    assert message.startswith("labels.csv: 30000 of 30003 tracks cannot be used (30000 file not found (")
    assert "missing0000000.wav" in message and "and 29997 more)" in message and "\n" not in message
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MiB for 30,000 bad rows"  # flat: rows are counted, not kept


def test_a_few_missing_files_are_summarised_and_the_rest_loads(tmp_path, capsys):
    from damer_core.progress import Progress

    csv = labels_with_strangers(tmp_path, 4, 3)
    fs = load_dataset(csv, progress=Progress("human"))
    assert fs.n_tracks == 4 and fs.description["skipped_counts"] == {"file not found": 3}
    assert fs.description["skipped"][0] == "labels.csv, row 6: missing0000000.wav: file not found"
    err = capsys.readouterr().err
    assert "skipped 3 of 7 rows: 3 file not found (gone/missing0000000.wav, " in err
    assert err.count("missing000000") <= 3  # one summary, not a line per row


def test_train_says_skipped_rows_once_and_refuses_a_file_it_cannot_use(tmp_path):
    csv = labels_with_strangers(tmp_path, 2, 5_000)
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "train", "--dataset", str(csv), "--out",
                        str(tmp_path / "run"), "--epochs", "1", "--device", "cpu"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "5000 of 5002 tracks cannot be used" in r.stderr and r.stderr.count("missing") <= 6, r.stderr[-2000:]
    assert not (tmp_path / "run" / "best.pt").exists()
