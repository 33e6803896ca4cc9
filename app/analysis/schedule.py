"""The analysis queue's policy, without Qt or a process (unit-tested in milliseconds): which job
runs next (the track being played, then the library's static pass, then the trajectories of the
rest in idle time), one job per (op, file), the player's older jobs demoted when it moves on, an
interrupted job queued again, and the library pass counted. app/analysis/jobs.py carries the jobs
to the worker and its events back."""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from damer_core.contract import events

PLAYING, LIBRARY, IDLE = 0, 1, 2  # priorities: lower runs first
OPS = ("static", "track")


@dataclass(order=True)
class QueuedJob:
    priority: int
    order: int
    job: events.Job = field(compare=False)
    key: str = field(compare=False, default="")  # the model's prediction key when it was asked for
    in_pass: bool = field(compare=False, default=False)  # counted by the library pass when it ends
    dropped: bool = field(compare=False, default=False)  # replaced or cancelled: skipped when popped

    @property
    def ident(self) -> tuple[str, str]:
        return self.job.op, self.job.path


class JobSchedule:
    """Queued jobs in a heap, indexed by (op, path) so a submit is O(log n) however long the
    library; a job replaced is marked dropped and skipped when it comes up (a cancelled pass is
    swept out at once)."""

    def __init__(self, on_progress: Callable[[int, int, float], None] | None = None,
                 on_pass_finished: Callable[[str], None] | None = None):
        self._heap: list[tuple[int, int, QueuedJob]] = []  # (priority, order, job): compared in C, not by __lt__
        self._queued: dict[tuple[str, str], QueuedJob] = {}
        self._playing: dict[tuple[str, str], QueuedJob] = {}  # the queued PLAYING jobs (few): demoted without a scan
        self._order = itertools.count()
        self.running: QueuedJob | None = None
        self.interrupted = False  # the running job stopped early: queued again when it ends
        self.key = ""  # the model's prediction key new jobs are asked for under
        self.paused_below: int | None = None  # e.g. while training runs: only jobs more urgent than this run
        self.pass_counts: dict[str, list[int]] = {}  # op -> [done, total] in the library pass
        self.feeding = False  # a pass is being submitted in steps: it cannot be over yet
        self._pass_t0 = 0.0
        self._on_progress = on_progress or (lambda done, total, left: None)
        self._on_pass_finished = on_pass_finished or (lambda message: None)

    # -- what is queued -------------------------------------------------------------------------
    def queued(self) -> list[QueuedJob]:
        """The live queued jobs, most urgent first."""
        return sorted(self._queued.values())

    def pending(self, priority: int | None = None) -> int:
        return sum(1 for q in self._queued.values() if priority is None or q.priority == priority)

    @property
    def busy(self) -> bool:
        return self.running is not None

    @property
    def pass_total(self) -> int:
        return sum(total for _, total in self.pass_counts.values())

    @property
    def pass_done(self) -> int:
        return sum(done for done, _ in self.pass_counts.values())

    def _push(self, q: QueuedJob) -> None:
        old = self._queued.get(q.ident)
        if old is not None:
            self._drop(old)
        self._queued[q.ident] = q
        if q.priority == PLAYING:
            self._playing[q.ident] = q
        heapq.heappush(self._heap, (q.priority, q.order, q))

    def _drop(self, q: QueuedJob) -> None:
        q.dropped = True
        if self._queued.get(q.ident) is q:
            del self._queued[q.ident]
        if self._playing.get(q.ident) is q:
            del self._playing[q.ident]

    def _joins_pass(self, q: QueuedJob) -> None:
        """``q`` is now one of the library pass's jobs: counted once in its total."""
        if not q.in_pass:
            q.in_pass = True
            if q.job.op in self.pass_counts:
                self.pass_counts[q.job.op][1] += 1

    # -- asking -----------------------------------------------------------------------------------
    def submit(self, op: str, path: str, priority: int, views_npz: str = "", in_pass: bool = False) -> str:
        """Queue a job; the same op on the same file queued twice is one job, at the more urgent
        priority (a job of the library pass stays counted by it). A new job for the player makes
        the player's older ones background work. Returns the path of the running job to interrupt
        (a background trajectory the playing track must not wait for), or ""."""
        if priority == PLAYING:
            self._demote_playing(path)
        twin = self._queued.get((op, path))
        if twin is not None:
            if priority >= twin.priority:
                if in_pass:
                    self._joins_pass(twin)
                return ""
            self._drop(twin)
            views_npz = views_npz or twin.job.views_npz
        running = self.running
        if in_pass and running is not None and running.ident == (op, path):
            self._joins_pass(running)  # running already: counted when it ends
            return ""
        job = events.Job(op, path, views_npz, preemptible=priority == IDLE)
        q = QueuedJob(priority, next(self._order), job, self.key, twin is not None and twin.in_pass)
        self._push(q)
        if in_pass:
            self._joins_pass(q)
        if priority == PLAYING and running is not None and running.job.preemptible:
            return running.job.path
        return ""

    def _demote_playing(self, path: str) -> None:
        """The player moved on: its queued jobs for other files drop to background trajectories."""
        for q in [q for q in self._playing.values() if q.job.path != path]:
            self._drop(q)
            if q.job.op == "track" or q.in_pass:
                self._push(QueuedJob(IDLE, q.order, events.Job(q.job.op, q.job.path, "", True), q.key, q.in_pass))

    def set_model(self, key: str) -> None:
        """Jobs from now on are asked under ``key``: the player's jobs (queued or running) are
        kept for the new model, the rest dropped (the window asks again), the pass ended."""
        self.key = key
        keep = [q for q in self.queued() + ([self.running] if self.running is not None else []) if q.priority == PLAYING]
        self.clear()
        for q in keep:
            self._push(QueuedJob(q.priority, q.order, q.job, key))
        self._end_pass("")

    def clear(self) -> None:
        self._heap, self._queued, self._playing = [], {}, {}
        self.running, self.interrupted = None, False

    # -- the library pass -------------------------------------------------------------------------
    def start_pass(self, static_paths: list[str], trajectory_paths: list[str]) -> None:
        """Every static V-A first, then the trajectories in idle time (all at once; a large
        library is fed in steps by :meth:`begin_pass`, :meth:`extend_pass`, :meth:`end_feeding`)."""
        self.begin_pass()
        self.extend_pass(static_paths, trajectory_paths)
        self.end_feeding()

    def begin_pass(self) -> None:
        """A new library pass; the jobs of an earlier one still queued or running stay in it."""
        self.pass_counts = {op: [0, 0] for op in OPS}
        for q in list(self._queued.values()) + ([self.running] if self.running else []):
            if q.in_pass:
                self.pass_counts[q.job.op][1] += 1
        self._pass_t0 = time.monotonic()
        self.feeding = True

    def extend_pass(self, static_paths: list[str], trajectory_paths: list[str]) -> None:
        for path in static_paths:
            self.submit("static", path, LIBRARY, in_pass=True)
        for path in trajectory_paths:
            self.submit("track", path, IDLE, in_pass=True)

    def end_feeding(self) -> None:
        self.feeding = False
        if self.pass_total:
            self._on_progress(self.pass_done, self.pass_total, -1.0)
        if self.pass_done >= self.pass_total:
            self._end_pass(self._done_in_words() if self.pass_total else "")
        if not self.pass_total:
            self.pass_counts = {}

    def cancel_pass(self) -> int:
        """Drop the library pass's queued jobs (the running one finishes); returns how many. One
        sweep keeps the others (100,000 jobs dropped one by one held the GUI thread for 60 ms);
        the player's jobs are never the pass's to drop."""
        def cancelled(q: QueuedJob) -> bool:
            return q.in_pass and q.priority != PLAYING

        kept = {ident: q for ident, q in self._queued.items() if not cancelled(q)}
        n_dropped = len(self._queued) - len(kept)
        self._queued = kept
        self._heap = [entry for entry in self._heap if not entry[2].dropped and not cancelled(entry[2])]
        heapq.heapify(self._heap)
        self._end_pass(f"analysis cancelled after {self.pass_done} of {self.pass_total} analyses" if n_dropped else "")
        return n_dropped

    def _count_in_pass(self, q: QueuedJob) -> None:
        """A job of the library pass ended (done, failed or lost with the worker)."""
        if not (q.in_pass and self.pass_total):
            return
        self.pass_counts[q.job.op][0] += 1
        done, total = self.pass_done, self.pass_total
        self._on_progress(done, total, (time.monotonic() - self._pass_t0) / done * (total - done))
        if done >= total and not self.feeding:
            self._end_pass(self._done_in_words())

    def _done_in_words(self) -> str:
        """What the pass did, in the user's words: "analysed 4 tracks' emotion and 4 trajectories"."""
        static, track = (self.pass_counts.get(op, [0, 0])[1] for op in OPS)
        emotions = "1 track's emotion" if static == 1 else f"{static} tracks' emotion"
        trajectories = "1 trajectory" if track == 1 else f"{track} trajectories"
        return "analysed " + " and ".join(part for n, part in ((static, emotions), (track, trajectories)) if n)

    def _end_pass(self, message: str) -> None:
        self.feeding = False
        if self.pass_total:
            self.pass_counts = {}
            self._on_pass_finished(message)

    def give_up(self, message: str) -> None:
        """The worker cannot be kept alive: nothing more is asked of it."""
        self.clear()
        self._end_pass(message)

    # -- running ------------------------------------------------------------------------------------
    def runnable(self) -> bool:
        """A job waits that may run now (none runs, and the most urgent is not paused)."""
        while self._heap and self._heap[0][2].dropped:
            heapq.heappop(self._heap)
        paused = self.paused_below is not None and bool(self._heap) and self._heap[0][0] >= self.paused_below
        return self.running is None and bool(self._heap) and not paused

    def next_job(self) -> QueuedJob | None:
        """The job to run now (it becomes the running one), or None: one runs already, none is
        queued, or the most urgent is paused."""
        if not self.runnable():
            return None
        q = heapq.heappop(self._heap)[2]
        del self._queued[q.ident]
        self.running = q
        return q

    def job_ended(self) -> QueuedJob | None:
        """The worker is ready again: the running job is done, or, interrupted, queued again
        where it was unless the player's job does its work now. Returns the job that ended."""
        done, self.running = self.running, None
        if done is None:
            return None
        if self.interrupted:
            self.interrupted = False
            twin = self._queued.get(done.ident)
            if twin is None:
                self._push(done)
            else:
                twin.in_pass |= done.in_pass
            return done
        self._count_in_pass(done)
        return done

    def forget_running(self) -> None:
        """The worker was stopped on purpose (another model): its job is neither done nor failed."""
        self.running, self.interrupted = None, False

    def job_lost(self) -> QueuedJob | None:
        """The worker died with the running job: it counts as ended (failed)."""
        lost, self.running = self.running, None
        self.interrupted = False
        if lost is not None:
            self._count_in_pass(lost)
        return lost
