"""The app's one job queue for analysis, with one warm worker (`damer-core worker`: torch started
and the model loaded once per model, not per request). Jobs run one at a time, most urgent first:
the track being played, then the library's static pass, then the trajectories of the rest in
idle time. Cancel drops the queued jobs of a pass; results come back as typed events."""

from __future__ import annotations

import heapq
import itertools
import logging
import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

from app.child import CoreProcess
from damer_core.contract import events

PLAYING, LIBRARY, IDLE = 0, 1, 2  # priorities: lower runs first
MAX_RESTARTS = 3  # worker deaths in a row, without a job finishing, before the queue gives up

log = logging.getLogger(__name__)


@dataclass(order=True)
class QueuedJob:
    priority: int
    order: int
    job: events.Job = field(compare=False)
    key: str = field(compare=False, default="")  # the model's prediction key when it was asked for
    in_pass: bool = field(compare=False, default=False)  # counted by the library pass when it ends


class AnalysisQueue(QObject):
    static_done = Signal(object, str)  # events.Static, prediction key
    predicted = Signal(object, str)  # events.Prediction, prediction key
    trajectory_part = Signal(object, str)  # events.TrajectoryPart of the playing track, prediction key
    views_ready = Signal(object, object)  # audio path, .npz path
    failed = Signal(object, str)  # path ("" for the worker as a whole), message
    progress = Signal(int, int, float)  # library pass: done, total, seconds left (-1 unknown)
    pass_finished = Signal(str)  # message; the library pass (static + trajectories) is over
    job_started = Signal(str, object)  # op, path

    def __init__(self, parent=None):
        super().__init__(parent)
        self.proc: CoreProcess | None = None
        self.checkpoint = ""
        self.key = ""
        self._heap: list[QueuedJob] = []
        self._order = itertools.count()
        self._running: QueuedJob | None = None
        self._ready = False
        self._restarts = 0
        self._interrupted = False
        self._pass_t0 = 0.0
        self.pass_counts: dict[str, list[int]] = {}  # op -> [done, total] in the library pass
        self.paused_below: int | None = None  # e.g. while training runs: only jobs more urgent than this run

    # -- the model ------------------------------------------------------------------------------
    def set_model(self, checkpoint: str, key: str) -> None:
        """Jobs from now on use ``checkpoint`` (results stored under ``key``); queued model jobs of
        another model are dropped (the window asks again), the worker restarts with the new one."""
        if checkpoint == self.checkpoint and key == self.key:
            return
        self.checkpoint, self.key = checkpoint, key
        running = self._running
        keep = [q for q in self._heap + ([running] if running is not None else []) if q.priority == PLAYING]
        self._heap = [QueuedJob(q.priority, q.order, q.job, key) for q in keep]  # the player's jobs, for the new model
        heapq.heapify(self._heap)
        self._end_pass("")
        self._stop_worker()
        self._dispatch()

    # -- jobs -----------------------------------------------------------------------------------
    def submit(self, op: str, path: str, priority: int, views_npz: str = "", in_pass: bool = False) -> None:
        """Queue a job; the same op on the same file queued twice is one job, at the more urgent
        priority (a job of the library pass stays counted by it). A new job for the player makes
        the player's older ones background work: only the track being played is urgent."""
        if priority == PLAYING:
            self._demote_playing(path)
        for q in self._heap:
            if q.job.op == op and q.job.path == path:
                if priority >= q.priority:
                    q.in_pass |= in_pass
                    return
                self._heap.remove(q)
                heapq.heapify(self._heap)
                in_pass, views_npz = in_pass or q.in_pass, views_npz or q.job.views_npz
                break
        if in_pass and self._running is not None and (self._running.job.op, self._running.job.path) == (op, path):
            self._running.in_pass = True  # running already: counted when it ends
            return
        job = events.Job(op, path, views_npz, preemptible=priority == IDLE)
        heapq.heappush(self._heap, QueuedJob(priority, next(self._order), job, self.key, in_pass))
        running = self._running
        if priority == PLAYING and running is not None and running.job.preemptible and self.proc is not None:
            # the playing track must not wait for a background trajectory: it stops between batches
            self.proc.proc.write((events.Interrupt(running.job.path).to_json() + "\n").encode())
        self._dispatch()

    def _demote_playing(self, path: str) -> None:
        """The player moved on: its queued jobs for other files drop to background trajectories."""
        for q in list(self._heap):
            if q.priority == PLAYING and q.job.path != path:
                self._heap.remove(q)
                if q.job.op == "track" or q.in_pass:
                    self._heap.append(QueuedJob(IDLE, q.order, events.Job(q.job.op, q.job.path, "", True), q.key, q.in_pass))
        heapq.heapify(self._heap)

    def start_pass(self, static_paths: list[str], trajectory_paths: list[str]) -> None:
        """The library pass: every static V-A first, then the trajectories in idle time."""
        for path in static_paths:
            self.submit("static", path, LIBRARY, in_pass=True)
        for path in trajectory_paths:
            self.submit("track", path, IDLE, in_pass=True)
        in_pass = [q for q in self._heap + ([self._running] if self._running else []) if q.in_pass]
        self.pass_counts = {op: [0, sum(1 for q in in_pass if q.job.op == op)] for op in ("static", "track")}
        self._pass_t0 = time.monotonic()
        if self.pass_total:
            self.progress.emit(0, self.pass_total, -1.0)

    def cancel_pass(self) -> int:
        """Drop the library pass's queued jobs (the running one finishes); returns how many."""
        before = len(self._heap)
        self._heap = [q for q in self._heap if not q.in_pass or q.priority == PLAYING]
        heapq.heapify(self._heap)
        dropped = before - len(self._heap)
        self._end_pass(f"analysis cancelled after {self.pass_done} of {self.pass_total} jobs" if dropped else "")
        return dropped

    def pending(self, priority: int | None = None) -> int:
        return sum(1 for q in self._heap if priority is None or q.priority == priority)

    @property
    def busy(self) -> bool:
        return self._running is not None

    @property
    def pass_running(self) -> bool:
        return self.pass_total > 0

    @property
    def pass_total(self) -> int:
        return sum(total for _, total in self.pass_counts.values())

    @property
    def pass_done(self) -> int:
        return sum(done for done, _ in self.pass_counts.values())

    def set_paused_below(self, priority: int | None) -> None:
        self.paused_below = priority
        self._dispatch()

    def warm(self) -> None:
        """Start the worker now (torch and the model load while the user looks around)."""
        if (self.proc is None or not self.proc.running) and self.checkpoint:
            self._start_worker()

    def shutdown(self) -> None:
        self._heap.clear()
        proc = self.proc
        self._stop_worker()
        if proc is not None and proc.running:
            proc.proc.waitForFinished(1000)  # the app is closing: let it end cleanly

    # -- the worker -----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        if self._running is not None or not self._heap:
            return
        if self.paused_below is not None and self._heap[0].priority >= self.paused_below:
            return
        if self.proc is None or not self.proc.running:
            self._start_worker()
            return  # the worker's first "ready" dispatches
        if not self._ready:
            return
        self._running = heapq.heappop(self._heap)
        self._ready = False
        self.proc.proc.write((self._running.job.to_json() + "\n").encode())
        self.job_started.emit(self._running.job.op, self._running.job.path)

    def _start_worker(self) -> None:
        self.proc = CoreProcess(self)
        self.proc.event_read.connect(self._on_event)
        self.proc.finished.connect(self._on_worker_finished)
        self.proc.stderr_line.connect(lambda line: log.info("worker: %s", line))
        self._ready = False
        args = ["worker"] + (["--checkpoint", self.checkpoint] if self.checkpoint else [])
        self.proc.start(args)

    def _stop_worker(self) -> None:
        proc, self.proc = self.proc, None
        self._running, self._ready, self._interrupted = None, False, False
        if proc is not None:
            proc.finished.disconnect(self._on_worker_finished)
            proc.event_read.disconnect(self._on_event)
            if proc.running:  # never waited for here: the GUI thread must not block
                proc.proc.closeWriteChannel()
                proc.proc.terminate()
                QTimer.singleShot(5000, proc.proc.kill)
                proc.proc.finished.connect(proc.deleteLater)
            else:
                proc.deleteLater()

    def _on_event(self, ev: events.Event) -> None:
        key = self._running.key if self._running is not None else self.key
        if isinstance(ev, events.Ready):
            self._job_finished()
            self._ready = True
            self._dispatch()
        elif isinstance(ev, events.Static):
            self.static_done.emit(ev, key)
        elif isinstance(ev, events.Prediction):
            self.predicted.emit(ev, key)
        elif isinstance(ev, events.TrajectoryPart):
            self.trajectory_part.emit(ev, key)
        elif isinstance(ev, events.Views):
            self.views_ready.emit(ev.path, ev.npz)
        elif isinstance(ev, events.Interrupted):
            self._interrupted = True
        elif isinstance(ev, events.FileError):
            log.warning("analysis: %s", ev.message)
            self.failed.emit(ev.path, ev.message)
        elif isinstance(ev, events.Error):
            self.failed.emit(self._running.job.path if self._running else "", ev.message)

    def _job_finished(self) -> None:
        done, self._running = self._running, None
        if done is None:
            return
        self._restarts = 0
        if self._interrupted:  # queued again where it was, unless the player's job does its work now
            self._interrupted = False
            twin = next((q for q in self._heap if (q.job.op, q.job.path) == (done.job.op, done.job.path)), None)
            if twin is None:
                heapq.heappush(self._heap, done)
                return
            twin.in_pass |= done.in_pass
            return
        self._count_in_pass(done)

    def _count_in_pass(self, job: QueuedJob) -> None:
        """A job of the library pass ended (done, failed or lost with the worker)."""
        if not (job.in_pass and self.pass_total):
            return
        self.pass_counts[job.job.op][0] += 1
        done, total = self.pass_done, self.pass_total
        elapsed = time.monotonic() - self._pass_t0
        self.progress.emit(done, total, elapsed / done * (total - done))
        if done >= total:
            self._end_pass(f"analysed {total} jobs")

    def _end_pass(self, message: str) -> None:
        if self.pass_total:
            log.info("library analysis finished: %s", message)
            self.pass_counts = {}
            self.pass_finished.emit(message)

    def _on_worker_finished(self, code: int, error: str) -> None:
        """The worker died (it ends only when told to): its job fails, the next job restarts it."""
        lost, self._running = self._running, None
        if self.proc is not None:
            self.proc.deleteLater()
        self.proc, self._ready, self._interrupted = None, False, False
        message = f"the analysis worker stopped: {error or f'exit status {code}'}"
        log.warning("%s", message)
        if lost is not None:
            self.failed.emit(lost.job.path, message)
            self._count_in_pass(lost)
        self._restarts += 1
        if self._restarts > MAX_RESTARTS:
            self._heap.clear()
            self._end_pass(message)
            self.failed.emit("", message)
            return
        self._dispatch()
