"""Hardening: the machine misbehaving, with nothing lost. A disk that fills up under the feature
cache and under training, a library database that is read-only, locked by another program or by
a second app instance, a folder the user cannot read, and kill -9 of the app while labelling.

Root ignores file permissions, so where the permissions are the point the child runs as the
unprivileged user `nobody` (setpriv); a full disk is a real, small tmpfs."""

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from app_helpers import music_folder, tagged
from disks import fill

from app.labelling.labels import LabelRecorder, labels_for
from app.library import scanner
from app.library.db import LibraryDB, LibraryLocked
from damer_core.features.cache import FeatureCache
from damer_core.features.extract import CACHE_KINDS, track_features
from damer_core.features.spectra import CLIP
from damer_core.models.checkpoint import load_checkpoint, save_atomic

pytestmark = pytest.mark.slow  # fills disks, kills processes, trains

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534


def unprivileged(cmd: list[str]) -> list[str]:
    """``cmd`` as a user file permissions apply to (root bypasses them)."""
    if os.geteuid() != 0:
        return cmd
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot drop privileges to test permissions")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]


@pytest.fixture
def open_dir():
    """A folder the unprivileged user owns (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="damer-perm-"))
    os.chmod(d, 0o755)
    if os.geteuid() == 0:
        os.chown(d, NOBODY, NOBODY)
    yield d
    subprocess.run(["chmod", "-R", "u+rwX", str(d)], check=False)
    shutil.rmtree(d, ignore_errors=True)


def child_env(base: Path, **extra) -> dict:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DAMER_DATA_DIR=str(base / "data"),
               DAMER_CONFIG_DIR=str(base / "config"), DAMER_CACHE_DIR=str(base / "cache"),
               NUMBA_CACHE_DIR=str(base / "numba"), XDG_RUNTIME_DIR=str(base), PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def integrity(db_path: Path) -> str:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


# -- a full disk (tests/disks.py) ------------------------------------------------------------
def test_full_disk_under_the_feature_cache_keeps_entries_and_results(small_disk, tmp_path):
    cache = FeatureCache(small_disk / "features")
    track = tagged(tmp_path / "song.flac", 3, seed=4)
    first = track_features(track, CLIP, ("frames",), cache)["frames"]  # computed and cached
    (entry,) = list((small_disk / "features").rglob("*.npz"))
    saved = entry.read_bytes()
    filler = fill(small_disk)
    with pytest.raises(OSError) as err:  # rewriting the entry on a full disk fails ...
        cache.put(track, CLIP, CACHE_KINDS["frames"], {k: v + 1 for k, v in first.items()})
    assert err.value.errno == 28
    assert entry.read_bytes() == saved  # ... and the entry is the previous one, intact
    assert not [p for p in (small_disk / "features").rglob("*") if p.name.endswith(".tmp")]
    other = tagged(tmp_path / "other.flac", 3, seed=5)
    full = track_features(other, CLIP, ("frames",), cache)["frames"]  # cannot be cached, still computed
    fresh = track_features(other, CLIP, ("frames",), FeatureCache(tmp_path / "c2"))["frames"]
    assert np.array_equal(full["mel"], fresh["mel"]) and np.array_equal(full["coch"], fresh["coch"])
    filler.unlink()
    assert all(np.array_equal(first[k], v) for k, v in cache.get(track, CLIP, CACHE_KINDS["frames"]).items())


def test_full_disk_under_a_checkpoint_keeps_the_previous_one(small_disk):
    import torch

    path = save_atomic({"epoch": 1, "w": torch.ones(1000)}, small_disk / "last.pt")
    filler = fill(small_disk)
    with pytest.raises(OSError, match="last.pt: cannot write the checkpoint .*No space left.*previous one is unchanged"):
        save_atomic({"epoch": 2, "w": torch.zeros(1000)}, path)
    state = torch.load(path, weights_only=True)
    assert state["epoch"] == 1 and torch.equal(state["w"], torch.ones(1000))
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "last.pt"]
    filler.unlink()


def test_training_that_fills_the_disk_stops_clearly_and_resumes(tiny_memo, tmp_path, small_disk):
    """The disk fills up during epoch 2: the run stops with one line naming the file and the
    problem, last.pt and best.pt stay those of epoch 1, and once there is space again
    `train --resume` ends with the same metrics as a run that was never interrupted."""
    common = ["--dataset", str(tiny_memo), "--epochs", "3", "--batch-size", "8", "--dims", "arousal", "--device", "cpu"]
    cli = [sys.executable, "-m", "damer_core.cli", "train"]
    straight = subprocess.run([*cli, *common, "--out", str(tmp_path / "a"), "--progress", "none"], capture_output=True, text=True)
    assert straight.returncode == 0, straight.stderr
    out = small_disk / "run"
    proc = subprocess.Popen([*cli, *common, "--out", str(out), "--progress", "jsonl"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    filler = None
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "epoch" and event["epoch"] == 1:
            os.kill(proc.pid, signal.SIGSTOP)  # hold the run while the disk fills up
            filler = fill(small_disk)
            os.kill(proc.pid, signal.SIGCONT)
            break
    rest, err = proc.communicate(timeout=300)
    assert filler is not None and proc.returncode == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert lines[-1].startswith("damer-core train: error: ") and "No space left on device" in lines[-1]
    assert "last.pt" in lines[-1] or "metrics.csv" in lines[-1]
    assert not any(ln.startswith("Traceback") for ln in lines)
    assert '"event": "error"' in rest
    assert load_checkpoint(out / "last.pt")["resume"]["arousal"]["epoch"] == 1
    assert load_checkpoint(out / "best.pt")["dimensions"]["arousal"]["epoch"] == 1
    filler.unlink()
    done = subprocess.run([*cli, "--resume", "--out", str(out), "--progress", "none"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    strip_time = lambda rows: [r.rsplit(",", 1)[0] for r in rows]  # noqa: E731 (seconds differ)
    rows_a = (tmp_path / "a" / "metrics.csv").read_text().splitlines()
    rows_b = (out / "metrics.csv").read_text().splitlines()
    assert strip_time(rows_a) == strip_time(rows_b) and len(rows_a) == 4


# -- the library database -----------------------------------------------------------------------
def library_with_a_folder(path: Path) -> str:
    db = LibraryDB(path)
    db.add_folder("/music/a")
    db.close()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_only_library_is_refused_with_a_message_and_left_intact(open_dir):
    db_path = open_dir / "data" / "library.sqlite3"
    digest = library_with_a_folder(db_path)
    os.chmod(db_path, 0o444)  # owned by root (or read-only to us): nobody may read it, not write it
    if os.geteuid() == 0:
        os.chown(db_path.parent, NOBODY, NOBODY)
    res = subprocess.run(unprivileged([sys.executable, "-m", "app.main"]), capture_output=True, text=True, timeout=120,
                         env=child_env(open_dir, DAMER_EXPLORER_SMOKE="100"))
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"damer-explorer: {db_path}: the library database is read-only" in res.stderr
    assert "Traceback" not in res.stderr
    assert hashlib.sha256(db_path.read_bytes()).hexdigest() == digest
    assert integrity(db_path) == "ok"


def test_library_locked_by_another_program(tmp_path):
    db_path = tmp_path / "library.sqlite3"
    library_with_a_folder(db_path)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # e.g. a sqlite3 shell in the middle of a write
    with pytest.raises(LibraryLocked, match="library.sqlite3: the library database is locked by another program"):
        LibraryDB(db_path, busy_timeout=0.2)
    other.execute("ROLLBACK")
    db = LibraryDB(db_path, busy_timeout=0.2)
    assert db.folders()[0][1] == "/music/a"
    db.close()


def test_label_points_wait_for_a_locked_database_and_are_all_saved(tmp_path):
    db = LibraryDB(tmp_path / "library.sqlite3")
    db.conn.execute("INSERT INTO tracks (path, title, duration, size, mtime, scanned) VALUES ('/a.flac', 'a', 60, 1, 0, 0)")
    db.conn.commit()
    clock = {"t": 0.0}
    rec = LabelRecorder(db, 1, "kim", clock=lambda: clock["t"])
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    for i in range(40):  # two seconds at 20 Hz; each half second the flush finds the database locked
        clock["t"] = i * 0.05
        rec.add(i * 0.05, 0.5, -0.25)
    assert rec.flush() is False and "40 label points not saved yet: database is locked" in rec.error
    assert len(rec.pending) == 40
    other.execute("ROLLBACK")
    assert rec.flush() is True and rec.error == "" and rec.pending == []
    (label,) = labels_for(db, 1)
    assert label.n_points == 40 and len(label.points) == 40 and label.valence == pytest.approx(0.5)
    db.close()


def test_second_instance_defers_to_the_first_and_a_killed_one_does_not_block(tmp_path):
    env = child_env(tmp_path)
    app = [sys.executable, "-m", "app.main"]
    first = subprocess.Popen(app, env=dict(env, DAMER_EXPLORER_SMOKE="600000"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    db_path = tmp_path / "data" / "library.sqlite3"
    lock = Path(str(db_path) + ".lock")
    try:
        for _ in range(600):
            if lock.exists() and db_path.exists() and first.poll() is None:
                break
            time.sleep(0.1)
        assert lock.exists(), first.stderr.read() if first.poll() is not None else "no lock file"
        time.sleep(1.0)  # the first window is up and has its library open
        second = subprocess.run(app, env=dict(env, DAMER_EXPLORER_SMOKE="100"), capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stdout + second.stderr  # it only brought the first to the front
        assert f"already running with {db_path}; brought its window to the front" in second.stdout
        assert "window shown" not in second.stdout
        assert first.poll() is None  # the first instance is untouched
    finally:
        first.kill()  # kill -9: its lock file stays behind, stale
        first.wait()
    assert lock.exists() and integrity(db_path) == "ok"
    third = subprocess.run(app, env=dict(env, DAMER_EXPLORER_SMOKE="100"), capture_output=True, text=True, timeout=120)
    assert third.returncode == 0, third.stderr
    assert "window shown" in third.stdout


# -- folders the user cannot read ---------------------------------------------------------------
def test_scan_reports_a_folder_without_permission_and_goes_on(open_dir):
    root = music_folder(open_dir / "music")
    (root / "a").chmod(0o000)  # real permissions, for a user that is not root
    db_path = open_dir / "library.sqlite3"
    db = LibraryDB(db_path)
    db.add_folder(str(root))
    db.close()
    if os.geteuid() == 0:
        for p in [open_dir, *open_dir.rglob("*")]:
            os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
        os.chmod(root / "a", 0o000)
    res = subprocess.run(unprivileged([sys.executable, "-m", "app.library.scanner", str(db_path)]), capture_output=True,
                         text=True, timeout=120, env=child_env(open_dir))
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.strip().splitlines()[-1])
    reasons = {Path(p).name: r for p, r in report["unreadable"]}
    assert reasons["a"] == "folder cannot be read (Permission denied)"
    assert "broken.mp3" in reasons and "empty.wav" in reasons
    db = LibraryDB(db_path)
    assert {t.title for t in db.tracks()} == {"three"}  # the readable folder's good track
    db.close()


# -- kill -9 of the app while labelling ---------------------------------------------------------
def test_killing_the_app_while_labelling_loses_at_most_the_last_second(tmp_path):
    track = tagged(tmp_path / "music" / "long.flac", 30, "Long", seed=6)
    db_path = tmp_path / "data" / "library.sqlite3"
    db = LibraryDB(db_path)
    db.add_folder(str(track.parent))
    scanner.scan(db)
    db.close()
    child = subprocess.Popen([sys.executable, str(ROOT / "tests" / "app_label_child.py"), str(db_path), str(track)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(tmp_path))
    drawn = 0
    try:
        for line in child.stdout:
            drawn = int(line)
            if drawn >= 70:  # 3.5 s of labelling, drawn on the circle
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert drawn >= 70, child.stderr.read()
    db = LibraryDB(db_path)
    (label,) = labels_for(db)
    db.close()
    assert label.curator == "kim" and label.path == str(track)
    assert len(label.points) >= drawn - 20  # 20 Hz: at most one second lost
    assert label.n_points == len(label.points)
    assert np.allclose(np.hypot([p[1] for p in label.points], [p[2] for p in label.points]), 0.6, atol=0.03)


# -- the run folder -----------------------------------------------------------------------------
def labelled_folder(root: Path) -> Path:
    rows = ["path,valence,arousal"]
    for i in range(12):
        tagged(root / f"s{i}.wav", 4, seed=i, major=i % 2 == 0, fast=i % 3 == 0)
        rows.append(f"s{i}.wav,{0.5 if i % 2 == 0 else -0.5},{0.5 if i % 3 == 0 else -0.5}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"


def core_train(labels: Path, out: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "damer_core.cli", "train", "--dataset", str(labels), "--epochs", "1",
                           "--out", str(out)], capture_output=True, text=True, timeout=600, env=env)


def test_a_second_training_into_the_same_folder_is_refused_while_the_first_runs(tmp_path):
    labels = labelled_folder(tmp_path / "data")
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from damer_core.training.run_folder import claim_run_folder; "
                               "c = claim_run_folder(Path(sys.argv[1])); print('held', flush=True); time.sleep(600)",
                               str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = core_train(labels, out)
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert f"{out}: another damer-core train (pid {holder.pid}) is writing to this run folder" in second.stderr
        assert not (out / "last.pt").exists()
    finally:
        holder.kill()
        holder.wait()
    assert core_train(labels, out).returncode == 0 and (out / "best.pt").is_file()  # free once it is gone


def test_a_read_only_run_folder_fails_before_any_work(tmp_path):
    labels = labelled_folder(tmp_path / "data")
    d = Path(tempfile.mkdtemp(prefix="damer-ro-"))
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,ro", "tmpfs", str(d)], capture_output=True, text=True)
    if res.returncode != 0:
        os.rmdir(d)
        pytest.skip(f"cannot mount a read-only tmpfs here ({res.stderr.strip()})")
    try:
        for out in (d, d / "run"):
            r = core_train(labels, out, env={**os.environ, "DAMER_CACHE_DIR": str(tmp_path / "cache")})
            assert r.returncode == 2 and "Traceback" not in r.stderr
            assert f"{out}: cannot write the run folder (Read-only file system); choose another --out" in r.stderr
            assert "epoch" not in r.stderr  # refused before any training
    finally:
        subprocess.run(["umount", "-l", str(d)], check=False)
        os.rmdir(d)


def test_full_disk_under_predict_output_names_the_file_and_the_rerun_resumes(small_disk, tmp_path):
    files = [tagged(tmp_path / f"t{i}.flac", 3.0, seed=i) for i in range(2)]
    out = small_disk / "out.csv"
    cmd = [sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint",
           str(ROOT / "resources" / "models" / "damer-4q.pt"), "--output", str(out), *map(str, files)]
    filler = fill(small_disk)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0 and "Traceback" not in r.stderr
    assert "No space left on device" in r.stderr and "out.csv" in r.stderr, r.stderr
    assert not [p for p in small_disk.iterdir() if p.stat().st_size == 0]  # no stub left to block the rerun
    filler.unlink()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(out.read_text().splitlines()) == 1 + len(files)


def test_an_empty_part_left_by_an_older_run_does_not_block_the_rerun(tmp_path):
    files = [tagged(tmp_path / "t.flac", 3.0, seed=1)]
    out = tmp_path / "out.csv"
    (tmp_path / "out.csv.part0").write_bytes(b"")
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint",
                        str(ROOT / "resources" / "models" / "damer-4q.pt"), "--output", str(out), *map(str, files)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert len(out.read_text().splitlines()) == 2 and not (tmp_path / "out.csv.part0").exists()
