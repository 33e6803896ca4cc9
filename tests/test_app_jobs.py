"""app/analysis/jobs.py: the analysis queue with a real `damer-core worker` child: the playing
track goes first, the static pass before the trajectories, a worker that dies fails its job in
words and the next job starts a new one, the playing track interrupts a background trajectory.
The policy alone is tests/test_app_schedule.py's (no worker, milliseconds)."""

from pathlib import Path

import pytest
from synthdata import write_song

from app.analysis.jobs import PLAYING, AnalysisQueue

MODEL = str(
    Path(__file__).resolve().parent.parent / "tests" / "data" / "damer-4q-binary.pt"
)  # a DAMER network: trajectories in batches


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("queue-songs")
    return [str(write_song(folder / f"s{i}.wav", major=i % 2 == 0, fast=i < 2, seconds=6.0, seed=i)) for i in range(4)]


def record(queue: AnalysisQueue) -> dict[str, list]:
    seen = {"started": [], "static": [], "predicted": [], "views": [], "failed": [], "finished": []}
    queue.job_started.connect(lambda op, path: seen["started"].append((op, Path(path).name)))
    queue.static_done.connect(lambda ev, key: seen["static"].append((ev, key)))
    queue.predicted.connect(lambda ev, key: seen["predicted"].append((ev, key)))
    queue.views_ready.connect(lambda path, npz: seen["views"].append((path, npz)))
    queue.failed.connect(lambda path, message: seen["failed"].append((path, message)))
    queue.pass_finished.connect(lambda message: seen["finished"].append(message))
    return seen


def test_the_playing_track_runs_first_then_statics_then_trajectories(qtbot, songs, tmp_path):
    queue = AnalysisQueue()
    seen = record(queue)
    queue.set_model(MODEL, "key-1")
    queue.start_pass(songs[:3], [songs[3]])
    queue.submit("track", songs[1], PLAYING, str(tmp_path / "v.npz"))  # asked for while the worker starts
    qtbot.waitUntil(lambda: bool(seen["finished"]), timeout=300_000)
    assert seen["started"] == [("track", "s1.wav"), ("static", "s0.wav"), ("static", "s1.wav"),
                               ("static", "s2.wav"), ("track", "s3.wav")]
    assert [Path(ev.path).name for ev, _ in seen["predicted"]] == ["s1.wav", "s3.wav"]
    assert all(key == "key-1" for _, key in seen["static"] + seen["predicted"])
    assert seen["views"] == [(songs[1], str(tmp_path / "v.npz"))] and (tmp_path / "v.npz").is_file()
    assert not seen["failed"] and seen["finished"] == ["analysed 3 tracks' emotion and 1 trajectory"]
    assert queue.channel.running and queue.ready  # warm for the next request
    queue.shutdown()


def test_a_worker_that_dies_fails_its_job_and_the_next_job_restarts_it(qtbot, songs):
    queue = AnalysisQueue()
    seen = record(queue)
    queue.set_model(MODEL, "k")
    queue.submit("track", songs[0], PLAYING)
    qtbot.waitUntil(lambda: bool(seen["started"]), timeout=120_000)
    first = queue.channel.proc
    assert first is not None
    first.proc.kill()
    qtbot.waitUntil(lambda: bool(seen["failed"]), timeout=30_000)
    assert seen["failed"][0][0] == songs[0] and "analysis worker stopped" in seen["failed"][0][1]
    queue.submit("static", songs[2], PLAYING)
    qtbot.waitUntil(lambda: bool(seen["static"]), timeout=120_000)
    assert queue.channel.proc is not first and Path(seen["static"][0][0].path).name == "s2.wav"
    queue.shutdown()


def test_the_playing_track_interrupts_a_background_trajectory_which_runs_again_later(qtbot, songs, tmp_path):
    long_song = str(write_song(tmp_path / "long.wav", major=True, fast=False, seconds=240.0, seed=9))
    queue = AnalysisQueue()
    seen = record(queue)
    queue.set_model(MODEL, "k")
    queue.start_pass([], [long_song])
    qtbot.waitUntil(lambda: bool(seen["started"]), timeout=120_000)
    queue.submit("track", songs[0], PLAYING)
    qtbot.waitUntil(lambda: bool(seen["finished"]), timeout=300_000)
    assert seen["started"] == [("track", "long.wav"), ("track", "s0.wav"), ("track", "long.wav")]
    assert [Path(ev.path).name for ev, _ in seen["predicted"]] == ["s0.wav", "long.wav"]
    assert seen["finished"] == ["analysed 1 trajectory"] and not seen["failed"]
    queue.shutdown()
