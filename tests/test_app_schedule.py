"""app/analysis/schedule.py: the analysis queue's policy without Qt or a worker: priorities,
one job per (op, file), the player's older jobs demoted, interrupts, the pass counted."""

from app.analysis.schedule import IDLE, LIBRARY, PLAYING, JobSchedule

SONGS = [f"/music/s{i}.wav" for i in range(4)]


def schedule_with_log() -> tuple[JobSchedule, dict[str, list]]:
    seen: dict[str, list] = {"progress": [], "finished": []}
    s = JobSchedule(lambda done, total, left: seen["progress"].append((done, total)), seen["finished"].append)
    return s, seen


def run_all(s: JobSchedule) -> list[tuple[str, str]]:
    order = []
    while (q := s.next_job()) is not None:
        order.append((q.job.op, q.job.path.rsplit("/", 1)[1]))
        s.job_ended()
    return order


def test_the_playing_track_first_then_statics_then_trajectories():
    s, seen = schedule_with_log()
    s.set_model("key-1")
    s.start_pass(SONGS[:3], [SONGS[3]])
    s.submit("track", SONGS[1], PLAYING, "/tmp/v.npz")
    assert run_all(s) == [("track", "s1.wav"), ("static", "s0.wav"), ("static", "s1.wav"), ("static", "s2.wav"),
                          ("track", "s3.wav")]
    assert seen["finished"] == ["analysed 3 tracks' emotion and 1 trajectory"] and seen["progress"][-1] == (4, 4)


def test_the_same_job_twice_keeps_the_more_urgent_and_cancel_drops_the_pass():
    s, seen = schedule_with_log()
    s.paused_below = PLAYING  # nothing runs: look at the queue itself
    s.start_pass(SONGS, SONGS)
    assert s.pending(LIBRARY) == 4 and s.pending(IDLE) == 4 and s.next_job() is None
    s.submit("track", SONGS[0], PLAYING)
    assert s.pending(IDLE) == 3 and s.pending(PLAYING) == 1
    s.submit("track", SONGS[0], IDLE)  # less urgent than what is queued: ignored
    assert s.pending() == 8
    assert s.cancel_pass() == 7 and s.pending() == 1  # the player's job stays
    assert seen["finished"] == ["analysis cancelled after 0 of 8 analyses"]


def test_a_new_model_keeps_only_the_players_jobs_asked_under_its_key():
    s, _ = schedule_with_log()
    s.paused_below = PLAYING
    s.set_model("old")
    s.start_pass(SONGS, [])
    s.submit("track", SONGS[0], PLAYING, "/tmp/x.npz")
    s.set_model("new")
    (q,) = s.queued()
    assert (q.job.op, q.key, q.job.views_npz) == ("track", "new", "/tmp/x.npz") and s.pass_total == 0


def test_only_the_track_being_played_is_urgent():
    s, _ = schedule_with_log()
    s.submit("track", SONGS[0], PLAYING, "/tmp/a.npz")
    s.submit("views", SONGS[1], PLAYING, "/tmp/b.npz")
    s.submit("track", SONGS[2], PLAYING, "/tmp/c.npz")  # Next, Next: the user is on songs[2] now
    jobs = s.queued()
    assert [(q.priority, q.job.op, q.job.path, q.job.views_npz) for q in jobs] == [
        (PLAYING, "track", SONGS[2], "/tmp/c.npz"), (IDLE, "track", SONGS[0], "")]
    assert jobs[1].job.preemptible and not jobs[0].job.preemptible


def test_a_pass_job_taken_by_the_player_still_ends_the_pass():
    s, seen = schedule_with_log()
    s.start_pass([SONGS[0]], [])
    s.submit("static", SONGS[0], PLAYING)  # the one job of the pass, made urgent
    assert run_all(s) == [("static", "s0.wav")] and seen["finished"] == ["analysed 1 track's emotion"]


def test_the_playing_track_interrupts_a_background_trajectory_which_runs_again_later():
    s, seen = schedule_with_log()
    s.start_pass([], [SONGS[3]])
    background = s.next_job()
    assert background is not None and background.job.preemptible
    assert s.submit("track", SONGS[0], PLAYING) == SONGS[3]  # the running job to interrupt
    assert s.submit("static", SONGS[1], LIBRARY) == ""  # only the player interrupts
    s.interrupted = True  # what the worker says
    s.job_ended()
    assert s.pass_done == 0 and not seen["finished"]  # not done: queued again
    assert run_all(s) == [("track", "s0.wav"), ("static", "s1.wav"), ("track", "s3.wav")]
    assert seen["finished"] == ["analysed 1 trajectory"]


def test_a_lost_job_counts_as_ended_and_giving_up_ends_the_pass():
    s, seen = schedule_with_log()
    s.start_pass(SONGS[:2], [])
    s.next_job()
    lost = s.job_lost()
    assert lost is not None and lost.job.path == SONGS[0] and s.pass_done == 1
    s.give_up("the analysis worker stopped")
    assert s.pending() == 0 and seen["finished"] == ["the analysis worker stopped"]


def test_a_running_pass_job_asked_again_is_counted_once():
    s, seen = schedule_with_log()
    s.submit("static", SONGS[0], LIBRARY)
    s.next_job()
    s.start_pass([SONGS[0]], [])  # the pass asks for the job that is running
    assert s.pending() == 0 and s.pass_total == 1
    s.job_ended()
    assert seen["finished"] == ["analysed 1 track's emotion"]


def test_a_library_of_fifty_thousand_tracks_is_one_job_per_file():
    s, _ = schedule_with_log()
    paths = [f"/music/{i:05d}.ogg" for i in range(50_000)]
    s.start_pass(paths, paths)
    s.start_pass(paths, paths)  # asked twice: still one job each
    assert s.pending(LIBRARY) == s.pending(IDLE) == 50_000 and s.pass_total == 100_000
    first = s.next_job()
    assert first is not None and (first.job.op, first.job.path) == ("static", paths[0])


def test_a_pass_fed_in_steps_counts_each_job_once_and_ends_only_when_fed():
    s, seen = schedule_with_log()
    s.begin_pass()
    s.extend_pass(SONGS[:2], [])
    s.extend_pass(SONGS[1:3], [])  # s1's static again while queued: the same job, counted once
    assert [(q.job.op, q.job.path[-6:]) for q in (s.next_job(), s.job_ended())] == [("static", "s0.wav")] * 2
    assert run_all(s) == [("static", "s1.wav"), ("static", "s2.wav")]
    assert seen["finished"] == []  # everything fed so far is done, but more is coming
    s.extend_pass(SONGS[3:], SONGS[:1])
    s.end_feeding()
    assert s.pass_total == 5
    assert run_all(s) == [("static", "s3.wav"), ("track", "s0.wav")]
    assert seen["finished"] == ["analysed 4 tracks' emotion and 1 trajectory"]


def test_the_players_jobs_are_demoted_among_a_large_pass_without_losing_any():
    """Generated: a 20,000-track pass and the player moving through 50 tracks of it."""
    s, _ = schedule_with_log()
    paths = [f"/music/{i:05d}.wav" for i in range(20_000)]
    s.start_pass(paths, paths)
    for i in range(50):
        s.submit("track", paths[i], PLAYING, f"/tmp/{i}.npz")
    assert s.pending(PLAYING) == 1 and s.pending() == 40_000 and s.pass_total == 40_000
    assert s.next_job().job.path == paths[49]  # the track playing now comes first


def test_a_large_pass_is_submitted_in_steps_off_the_gui_threads_one_turn(qtbot):
    from app.analysis.jobs import PASS_STEP, AnalysisQueue

    q = AnalysisQueue()
    q.set_paused_below(PLAYING)  # nothing runs: the queue alone is looked at, no worker starts
    paths = [f"/music/{i:05d}.wav" for i in range(20_000)]
    q.start_pass(paths, paths + paths[:10])  # repeated paths are one job each
    assert q.pending() == PASS_STEP  # the call returned after one step; the rest follow turn by turn
    qtbot.waitUntil(lambda: not q.schedule.feeding, timeout=60_000)
    assert q.pending() == 40_000 and q.schedule.pass_total == 40_000 and q.pass_running
    assert q.cancel_pass() == 40_000 and not q.pass_running
    q.shutdown()
