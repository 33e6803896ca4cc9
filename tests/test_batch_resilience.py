"""One bad path never stops a batch: missing files, folders, FIFOs and link loops each get their
one-line error while every other file is predicted; results are written as they are made, so
Ctrl-C keeps what was finished."""

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from app_helpers import tagged

from damer_core.audio.decoding import AudioError
from damer_core.features.extract import track_display_views

pytestmark = pytest.mark.slow  # thousands of files through predict in child processes

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "resources" / "models" / "damer-4q.pt"
NETWORK = ROOT / "tests" / "data" / "damer-4q-binary.pt"


def bad_paths(root: Path) -> dict[str, tuple[Path, str]]:
    """Generated bad paths, each with the words its error must contain."""
    root.mkdir(parents=True, exist_ok=True)
    fifo = root / "pipe.ogg"
    os.mkfifo(fifo)
    (root / "loop_a.ogg").symlink_to(root / "loop_b.ogg")
    (root / "loop_b.ogg").symlink_to(root / "loop_a.ogg")
    (root / "folder.ogg").mkdir()
    (root / "dangling.ogg").symlink_to(root / "nowhere.ogg")
    (root / "empty.wav").write_bytes(b"")
    return {"missing": (root / "missing.ogg", "file not found"),
            "fifo": (fifo, "not a regular file"),
            "loop": (root / "loop_a.ogg", "link loop"),
            "folder": (root / "folder.ogg", "is a folder"),
            "dangling link": (root / "dangling.ogg", "file not found"),
            "empty": (root / "empty.wav", "empty")}


def core(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "damer_core.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=600, **kw)


@pytest.mark.parametrize("kind", ["missing", "fifo", "loop", "folder", "dangling link", "empty"])
def test_the_views_refuse_a_bad_path_in_words_without_reading_it(tmp_path, kind):
    path, words = bad_paths(tmp_path)[kind]
    with pytest.raises(AudioError) as e:
        track_display_views(path)  # a FIFO would block for ever on its first read
    assert words in str(e.value) and str(path.name) in str(e.value)


def test_predict_goes_on_after_every_kind_of_bad_path(tmp_path):
    good = tagged(tmp_path / "good.flac", 5.0, seed=1)
    bad = bad_paths(tmp_path / "bad")
    folder = bad.pop("folder")[0]  # a folder is an input of its own: its audio files, here none
    last = tmp_path / "good-again.flac"  # a second good file after the bad ones (a repeat is predicted once)
    last.write_bytes(good.read_bytes())
    files = [good] + [p for p, _ in bad.values()] + [last]
    r = core("predict", "--checkpoint", BUILTIN, "--format", "csv", *files[:1], folder, *files[1:])
    assert r.returncode == 0, r.stderr
    assert f"{folder}: no audio files in this folder" in r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["path"] for row in rows] == [str(f) for f in files]
    assert rows[0]["valence"] and rows[-1]["valence"] == rows[0]["valence"]
    for row, (_, words) in zip(rows[1:-1], bad.values()):
        assert words in row["error"] and not row["valence"]
    assert "Traceback" not in r.stderr and r.stderr.count("damer-core: skipped") == len(bad)


def test_streamed_predict_analyses_every_file_after_a_bad_one(tmp_path):
    """The app's library analysis (--progress jsonl): a bad path once stopped every later file."""
    good = tagged(tmp_path / "good.flac", 5.0, seed=1)
    bad = bad_paths(tmp_path / "bad")
    bad.pop("folder")
    files = [p for p, _ in bad.values()] + [good]
    r = core("predict", "--checkpoint", BUILTIN, "--progress", "jsonl", *files)
    events = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [e["path"] for e in events if e["event"] == "file_error"] == [str(p) for p, _ in bad.values()]
    assert [e["path"] for e in events if e["event"] == "prediction"] == [str(good)]
    assert r.returncode == 0


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_ctrl_c_during_predict_keeps_the_finished_files(tmp_path, fmt):
    """The interrupt lands while work is proved to remain: the child is stopped (SIGSTOP) once its
    first result is on disk, the files it has finished are counted while it cannot move, and only
    then is Ctrl-C sent and the child let go. A sleep before the signal raced a fast machine."""
    files = [tagged(tmp_path / f"t{i}.flac", 8.0, seed=i) for i in range(6)]
    out = tmp_path / f"out.{fmt}"
    with open(out, "w") as stdout:
        # SIGINT as a terminal delivers it: a suite started in the background (`pytest &`) hands
        # its children SIGINT ignored, and Python then keeps ignoring it.
        proc = subprocess.Popen([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", str(NETWORK),
                                 "--format", fmt, *map(str, files)], stdout=stdout, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 600  # a safety net against a hang, not a speed limit
        while str(files[0]) not in out.read_text() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGSTOP)
        finished = sum(str(f) in out.read_text() for f in files)
        assert proc.poll() is None and finished < len(files), "the run ended before it could be interrupted"
        proc.send_signal(signal.SIGINT)  # pending while stopped: delivered as the child goes on
        proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130 and "interrupted after" in err and "Traceback" not in err, err
    text = out.read_text()
    if fmt == "json":
        done = json.loads(text)  # a complete JSON array, however far it got
        assert finished <= len(done) < len(files) and all("valence" in d for d in done)
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
        assert finished <= len(rows) < len(files) and all(row["valence"] for row in rows)


def test_a_folder_of_5000_tiny_files_gives_every_file_its_line(tmp_path):
    """Too short, garbage and empty files, 5,000 of them: each gets its reason, none stops the
    rest (seconds for the lot on this machine; no time limit here, see the README's table)."""
    import numpy as np
    import soundfile as sf

    rng = np.random.default_rng(0)
    folder = tmp_path / "tiny"
    folder.mkdir()
    reasons = {"wav": "too short (0.100 s", "mp3": "not a readable audio file", "ogg": "file is empty"}
    for i in range(5000):
        ext = ("wav", "mp3", "ogg")[i % 3]
        path = folder / f"f{i:04d}.{ext}"
        if ext == "wav":
            sf.write(path, rng.standard_normal(2205).astype(np.float32) * 0.1, 22_050)
        elif ext == "mp3":
            path.write_bytes(rng.integers(0, 256, 200, dtype=np.uint8).tobytes())
        else:
            path.write_bytes(b"")
    r = core("predict", "--checkpoint", BUILTIN, "--format", "csv", folder)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 5000 and r.stderr.count("damer-core: skipped") == 5000
    assert all(row["error"].startswith(reasons[Path(row["path"]).suffix[1:]]) for row in rows)
    assert r.returncode == 1  # every file failed: the exit code says so


# -- folders that cannot be listed (hardening round four) --------------------------------------------
from test_hardening_resilience import unprivileged as as_nobody  # noqa: E402 - the one way to drop root


@pytest.mark.parametrize("given", ["its parent", "itself"])
def test_a_folder_that_cannot_be_listed_is_said_reason_first_and_the_rest_goes_on(given):
    import shutil
    import tempfile

    tmp_path = Path(tempfile.mkdtemp(prefix="damer-perm-"))  # pytest's tmp_path is private to root
    try:
        listed_or_not(tmp_path, given)
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(tmp_path)], check=False)
        shutil.rmtree(tmp_path, ignore_errors=True)


def shared_numba_cache() -> str:
    """A numba cache the unprivileged user can write, kept between runs (compiling costs ~20 s)."""
    import shutil
    import tempfile

    folder = Path(tempfile.gettempdir()) / "damer-tests-numba-shared"
    ours = os.environ.get("NUMBA_CACHE_DIR")
    if ours and Path(ours).is_dir():  # what this suite compiled already (conftest's cache)
        shutil.copytree(ours, folder, dirs_exist_ok=True)
    folder.mkdir(exist_ok=True)
    subprocess.run(["chmod", "-R", "a+rwX", str(folder)], check=False)
    return str(folder)


def listed_or_not(tmp_path: Path, given: str) -> None:
    root = tmp_path / "music"
    (root / "locked").mkdir(parents=True)
    good = tagged(root / "good.flac", 3.0, seed=1)
    tagged(root / "locked" / "hidden.flac", 3.0, seed=2)
    for d in (tmp_path, root):
        os.chmod(d, 0o755)
    os.chmod(good, 0o644)
    os.chmod(root / "locked", 0o000)
    try:
        inputs = [str(root)] if given == "its parent" else [str(root / "locked"), str(good)]
        r = subprocess.run(as_nobody([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", str(BUILTIN),
                                      "--format", "csv", *inputs]),
                           capture_output=True, text=True, timeout=600, cwd=tmp_path,
                           env={**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": shared_numba_cache(),
                                "HOME": str(tmp_path)})
    finally:
        os.chmod(root / "locked", 0o755)
    assert r.returncode == 0, r.stderr
    assert f"damer-core: skipped a folder (permission denied): {root / 'locked'}" in r.stderr
    assert "no audio files in this folder" not in r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["path"] for row in rows] == [str(good)] and rows[0]["valence"]


def test_a_path_longer_than_the_system_allows_gets_its_row_and_the_batch_goes_on(tmp_path):
    good = tagged(tmp_path / "good.flac", 3.0, seed=1)
    too_long = "/".join(["x" * 200] * 25) + "/song.flac"  # over PATH_MAX (4096)
    r = core("predict", "--checkpoint", BUILTIN, "--format", "csv", too_long, str(good))
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert [row["path"] for row in rows] == [too_long, str(good)]
    assert "name too long" in rows[0]["error"].lower() and rows[1]["valence"]
    assert "Traceback" not in r.stderr
