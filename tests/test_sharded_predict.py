"""predict over a collection of any size: `--output` is resumable, and under torchrun each rank
predicts its share into a part that rank 0 merges (two CPU processes, gloo)."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from app_helpers import tagged

from damer_core.inference.sharded import COLUMNS, part_path

pytestmark = pytest.mark.slow  # torchrun ranks in child processes

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "resources" / "models" / "damer-4q.pt"
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def rows(path: Path) -> list[dict]:
    return list(csv.DictReader(open(path, newline="")))


def collection(root: Path, n: int = 6) -> list[Path]:
    return [tagged(root / f"t{i}.flac", 4.0, seed=i) for i in range(n)]


def test_two_ranks_share_the_files_and_rank_0_merges_them(tmp_path):
    files = collection(tmp_path / "music")
    out = tmp_path / "results.csv"
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        "-m", "damer_core.cli", "predict", "--checkpoint", str(BUILTIN), "--format", "csv",
                        "--device", "cpu", "--output", str(out), *map(str, files)],
                       capture_output=True, text=True, timeout=900, env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    got = rows(out)
    assert [g["path"] for g in got] == [str(f) for f in files]  # the input order, one row each
    assert all(g["valence"] and not g["error"] for g in got)
    assert "6 rows in" in r.stderr and "(3 predicted now by the first of 2 processes)" in r.stderr
    assert not list(tmp_path.glob("results.csv.part*"))


def test_a_rerun_predicts_only_what_is_not_done(tmp_path):
    files = collection(tmp_path / "music", 4)
    out = tmp_path / "results.csv"
    part = part_path(out, 0)
    done = ",".join([str(files[0]), "0.1000", "0.2000", "0.5000", "excited", "4.0000", "", ""])
    failed = ",".join([str(files[1]), "", "", "", "", "", "file not found", ""])
    cut = str(files[2]) + ",0.3"  # the row being written when the run was killed
    part.write_text(",".join(COLUMNS) + "\n" + done + "\n" + failed + "\n" + cut)
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", str(BUILTIN),
                        "--format", "csv", "--output", str(out), *map(str, files)],
                       capture_output=True, text=True, timeout=900, env=ENV)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "(3 predicted now, 1 kept from before)" in r.stderr  # the failed, the cut-off and the new one
    got = {g["path"]: g for g in rows(out)}
    assert list(got) == [str(f) for f in files]
    assert got[str(files[0])]["valence"] == "0.1000"  # kept, not predicted again
    assert not got[str(files[1])]["error"] and got[str(files[2])]["valence"] != "0.3"
    assert not part.exists()


def test_a_rerun_with_another_model_never_keeps_the_first_models_rows(tmp_path):
    """Once, a rerun with a fine-tuned model into the same results file said "0 predicted now, 43
    kept from before": every row was the first model's. The file's model is recorded beside it."""
    files = collection(tmp_path / "music", 2)
    out = tmp_path / "results.csv"
    other = tmp_path / "tuned.pt"
    other.write_bytes((ROOT / "tests" / "data" / "damer-4q-binary.pt").read_bytes())

    def predict(model: Path, *extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", str(model), "--output",
                               str(out), *extra, *map(str, files)], capture_output=True, text=True, timeout=900, env=ENV)

    assert predict(BUILTIN).returncode == 0
    first = out.read_text()
    r = predict(other)
    assert r.returncode == 2 and "its rows were predicted by another model (damer-4q.pt); this run uses tuned.pt" in r.stderr
    assert out.read_text() == first  # nothing lost
    r = predict(other, "--force")
    assert r.returncode == 0 and "(2 predicted now)" in r.stderr, r.stderr[-2000:]
    assert out.read_text() != first
    r = predict(other.rename(tmp_path / "renamed.pt"))  # the same model under another name: resumed
    assert r.returncode == 0 and "(0 predicted now, 2 kept from before)" in r.stderr, r.stderr[-2000:]


def test_output_needs_csv_and_torchrun_needs_output(tmp_path):
    (track,) = collection(tmp_path / "music", 1)
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--format", "json", "--output",
                        str(tmp_path / "r.json"), str(track)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--output writes --format csv" in r.stderr
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", str(track)], capture_output=True, text=True,
                       timeout=300, env={**ENV, "WORLD_SIZE": "2", "RANK": "0"})
    assert r.returncode == 2 and "under torchrun, give --output" in r.stderr


# -- two writers, one results file ----------------------------------------------------------------
def predict_into(out: Path, files: list[Path]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", str(BUILTIN),
                             "--output", str(out), *map(str, files)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def lock_holder(out: Path) -> subprocess.Popen:
    """A process that holds ``out``'s results lock as a live predict does, until it is killed."""
    code = ("import sys, time; from pathlib import Path; from damer_core.contract.fileutil import hold_lock; "
            "from damer_core.inference.predict import lock_path; "
            f"lock = hold_lock(lock_path(Path({str(out)!r})), busy=str, remove=True); print('held', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=ENV)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_writer_is_refused_while_a_live_one_writes_the_results(tmp_path):
    files = collection(tmp_path / "music", 3)
    out = tmp_path / "results.csv"
    part = part_path(out, 0)
    part.write_text(",".join(COLUMNS) + "\n" + ",".join([str(files[0]), "0.1000", "0.2000", "0.5000", "excited",
                                                       "4.0000", "", ""]) + "\n")
    before = part.read_bytes()
    holder = lock_holder(out)
    try:
        r = predict_into(out, files)
        _, err = r.communicate(timeout=600)
        assert r.returncode == 2, err
        assert err.count("\n") == 1 and "results.csv: another damer-core predict (pid" in err and "wait for it" in err
        assert part.read_bytes() == before and not out.exists()  # the live writer's part is untouched
    finally:
        holder.kill()
        holder.wait()
    r = predict_into(out, files)  # the holder died without releasing anything: its lock is taken over
    _, err = r.communicate(timeout=600)
    assert r.returncode == 0, err
    assert [g["path"] for g in rows(out)] == [str(f) for f in files]
    assert rows(out)[0]["valence"] == "0.1000"  # the dead writer's row is kept
    assert not list(tmp_path.glob(".results.csv.lock")) and not list(tmp_path.glob("results.csv.part*"))


@pytest.mark.parametrize("delay", [0.0, 2.0])
def test_two_writers_started_together_never_lose_a_row(tmp_path, delay):
    """Generated: two predicts into one file, started ``delay`` s apart. Whatever the timing, each
    one either writes or is refused in one line, and the file ends with every row exactly once."""
    import time

    files = collection(tmp_path / "music", 6)
    out = tmp_path / "conc.csv"
    first = predict_into(out, files)
    time.sleep(delay)
    second = predict_into(out, files)
    results = [p.communicate(timeout=600) + (p.returncode,) for p in (first, second)]
    for _, err, code in results:
        assert code == 0 or (code == 2 and "another damer-core predict" in err), err
    assert [g["path"] for g in rows(out)] == [str(f) for f in files]
    assert all(g["valence"] for g in rows(out))


def test_a_rerun_naming_the_files_another_way_predicts_each_file_once(tmp_path):
    """Reviewer's retry: a run stopped after two files named by absolute path, rerun with the names
    relative to the folder (and one through ./x/..): each file is one row, the two done are kept."""
    files = collection(tmp_path / "music", 4)
    out = tmp_path / "results.csv"
    done = [",".join([str(f), "0.1000", "0.2000", "0.5000", "excited", "4.0000", "", ""]) for f in files[:2]]
    part_path(out, 0).write_text(",".join(COLUMNS) + "\n" + "\n".join(done) + "\n")
    (tmp_path / "x").mkdir()
    os.link(files[1], tmp_path / "music" / "hard.flac")  # a hard link to a file done: the same file
    names = ["./x/../music/t0.flac", "music/hard.flac"] + [f"music/{f.name}" for f in files[2:]]
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", str(BUILTIN),
                        "--output", "results.csv", *names], capture_output=True, text=True, timeout=900, env=ENV,
                       cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "4 rows in" in r.stderr and "(2 predicted now, 2 kept from before)" in r.stderr
    got = rows(out)
    assert len(got) == 4 and [g["valence"] for g in got[:2]] == ["0.1000", "0.1000"]
