"""The one analysis queue and its warm worker (a real `damer-core worker` child): the playing
track goes first, the static pass before the trajectories, cancel drops what is queued, a worker
that dies fails its job in words and the next job starts a new one."""

from pathlib import Path

import pytest
from synthdata import write_song

from app.analysis.jobs import IDLE, LIBRARY, PLAYING, AnalysisQueue

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
    assert not seen["failed"] and seen["finished"] == ["analysed 4 jobs"]
    assert queue.proc is not None and queue.proc.running  # warm for the next request
    queue.shutdown()


def test_the_same_job_twice_keeps_the_more_urgent_and_cancel_drops_the_pass(qtbot, songs):
    queue = AnalysisQueue()
    seen = record(queue)
    queue.set_paused_below(PLAYING)  # nothing runs: look at the queue itself
    queue.set_model(MODEL, "k")
    queue.start_pass(songs, songs)
    assert queue.pending(LIBRARY) == 4 and queue.pending(IDLE) == 4
    queue.submit("track", songs[0], PLAYING)
    assert queue.pending(IDLE) == 3 and queue.pending(PLAYING) == 1
    queue.submit("track", songs[0], IDLE)  # less urgent than what is queued: ignored
    assert queue.pending() == 8
    assert queue.cancel_pass() == 7 and queue.pending() == 1  # the player's job stays
    assert seen["finished"] == ["analysis cancelled after 0 of 8 jobs"]
    queue.shutdown()


def test_a_worker_that_dies_fails_its_job_and_the_next_job_restarts_it(qtbot, songs):
    queue = AnalysisQueue()
    seen = record(queue)
    queue.set_model(MODEL, "k")
    queue.submit("track", songs[0], PLAYING)
    qtbot.waitUntil(lambda: bool(seen["started"]), timeout=120_000)
    first = queue.proc
    first.proc.kill()
    qtbot.waitUntil(lambda: bool(seen["failed"]), timeout=30_000)
    assert seen["failed"][0][0] == songs[0] and "analysis worker stopped" in seen["failed"][0][1]
    queue.submit("static", songs[2], PLAYING)
    qtbot.waitUntil(lambda: bool(seen["static"]), timeout=120_000)
    assert queue.proc is not first and Path(seen["static"][0][0].path).name == "s2.wav"
    queue.shutdown()


def test_a_new_model_restarts_the_worker_and_drops_the_old_models_jobs(qtbot, songs):
    queue = AnalysisQueue()
    queue.set_paused_below(PLAYING)
    queue.set_model(MODEL, "old")
    queue.start_pass(songs, [])
    queue.submit("track", songs[0], PLAYING, "/tmp/x.npz")
    queue.set_model(MODEL, "new")
    assert queue.pending() == 1 and queue._heap[0].job.op == "track" and queue._heap[0].key == "new"
    queue.shutdown()


def test_only_the_track_being_played_is_urgent(qtbot, songs):
    queue = AnalysisQueue()
    queue.set_paused_below(PLAYING)
    queue.set_model(MODEL, "k")
    queue.submit("track", songs[0], PLAYING, "/tmp/a.npz")
    queue.submit("views", songs[1], PLAYING, "/tmp/b.npz")
    queue.submit("track", songs[2], PLAYING, "/tmp/c.npz")  # Next, Next: the user is on songs[2] now
    jobs = sorted(queue._heap)
    assert [(q.priority, q.job.op, Path(q.job.path).name, q.job.views_npz) for q in jobs] == [
        (PLAYING, "track", "s2.wav", "/tmp/c.npz"), (IDLE, "track", "s0.wav", "")]
    assert jobs[1].job.preemptible
    queue.shutdown()


def test_a_pass_job_taken_by_the_player_still_ends_the_pass(qtbot, songs):
    queue = AnalysisQueue()
    seen = record(queue)
    queue.set_model(MODEL, "k")
    queue.start_pass([songs[0]], [])
    queue.submit("static", songs[0], PLAYING)  # the one job of the pass, made urgent
    qtbot.waitUntil(lambda: bool(seen["finished"]), timeout=300_000)
    assert seen["finished"] == ["analysed 1 jobs"] and len(seen["static"]) == 1 and not queue.pass_running
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
    assert seen["finished"] == ["analysed 1 jobs"] and not seen["failed"]
    queue.shutdown()
