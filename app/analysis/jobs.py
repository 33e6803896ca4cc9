"""The app's one job queue for analysis, with one warm worker (`damer-core worker`: torch started
and the model loaded once per model, not per request). What runs next is the schedule's policy
(app/analysis/schedule.py, no Qt); this module carries the jobs to the worker through a
:class:`WorkerChannel` and its typed events back. Cancel drops the queued jobs of a pass."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator

from PySide6.QtCore import QObject, QTimer, Signal

from app.analysis.schedule import IDLE, LIBRARY, PLAYING, JobSchedule, QueuedJob
from app.child import CoreProcess
from app.long_lived import release, settle
from damer_core.contract import events

__all__ = ["IDLE", "LIBRARY", "PLAYING", "AnalysisQueue", "QueuedJob", "WorkerChannel"]
MAX_RESTARTS = 3  # worker deaths in a row, without a job finishing, before the queue gives up
STOP_GRACE_MS = 1000  # an idle worker ends within this once its stdin closes; a busy one is terminated then
PASS_STEP = 2000  # library-pass jobs submitted per turn of the event loop (a few ms)
RELEASE_AFTER_MS = 2000

log = logging.getLogger(__name__)


class WorkerChannel(QObject):
    """The transport to one `damer-core worker` child: start it, ``send`` it events (jobs and
    interrupts, one JSON line each), hear its events; stopping never blocks the GUI thread."""

    event_read = Signal(object)
    stopped = Signal(int, str)  # exit code, last error: the worker died

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.proc: CoreProcess | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.running

    def start(self, checkpoint: str) -> None:
        self.proc = CoreProcess(self)
        self.proc.event_read.connect(self.event_read)
        self.proc.finished.connect(self._finished)
        self.proc.stderr_line.connect(lambda line: log.info("worker: %s", line))
        self.proc.start(["worker"] + (["--checkpoint", checkpoint] if checkpoint else []))

    def send(self, ev: events.Event) -> None:
        if self.proc is not None:
            self.proc.proc.write((ev.to_json() + "\n").encode())

    def _finished(self, code: int, error: str) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.deleteLater()
        self.stopped.emit(code, error)

    def stop(self, wait_ms: int = 0) -> None:
        """End the worker: its stdin closed (an idle worker ends by itself), terminated after
        STOP_GRACE_MS (a worker in the middle of a job ends at once and quietly), killed after 5 s
        if need be. ``wait_ms``: the app is closing, wait for it here (never "destroyed while
        running")."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.finished.disconnect(self._finished)
        proc.event_read.disconnect(self.event_read)
        if not proc.running:
            proc.deleteLater()
            return
        proc.proc.closeWriteChannel()
        if wait_ms:
            if not proc.proc.waitForFinished(wait_ms):
                proc.proc.terminate()
                if not proc.proc.waitForFinished(wait_ms):
                    proc.proc.kill()
                    proc.proc.waitForFinished(wait_ms)
            proc.deleteLater()
            return
        # with proc as the timers' context: dropped once it is deleted (after its process ended)
        QTimer.singleShot(STOP_GRACE_MS, proc, proc.proc.terminate)
        QTimer.singleShot(5000, proc, proc.proc.kill)
        proc.proc.finished.connect(proc.deleteLater)


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
        self.schedule = JobSchedule(self.progress.emit, self._pass_finished)
        self.channel = WorkerChannel(self)
        self.channel.event_read.connect(self._on_event)
        self.channel.stopped.connect(self._on_worker_stopped)
        self.checkpoint = ""
        self._ready = False  # the worker said "ready": it takes the next job
        self._restarts = 0
        self._feed: Iterator[tuple[str, str]] | None = None  # the library pass's jobs not yet submitted
        # The end of a pass hands its frozen objects back to the collector (app/long_lived.py) a
        # little later, unless a new pass begins first (a change of model ends one and begins one):
        # a full collection then walks the whole heap once, about 35 ms with 10,000 tracks.
        self._release = QTimer(self, singleShot=True, interval=RELEASE_AFTER_MS)
        self._release.timeout.connect(release)

    @property
    def key(self) -> str:
        return self.schedule.key

    @property
    def ready(self) -> bool:
        return self.channel.running and self._ready

    # -- the model ------------------------------------------------------------------------------
    def set_model(self, checkpoint: str, key: str) -> None:
        """Jobs from now on use ``checkpoint`` (results stored under ``key``); queued model jobs of
        another model are dropped (the window asks again), the worker restarts with the new one."""
        if checkpoint == self.checkpoint and key == self.key:
            return
        self.checkpoint = checkpoint
        self._feed = None  # the pass of the model before: the window asks again
        self.schedule.set_model(key)
        self._stop_worker()
        self._dispatch()

    # -- jobs -----------------------------------------------------------------------------------
    def submit(self, op: str, path: str, priority: int, views_npz: str = "", in_pass: bool = False) -> None:
        interrupt = self.schedule.submit(op, path, priority, views_npz, in_pass)
        if interrupt:  # the playing track must not wait for a background trajectory: it stops between batches
            self.channel.send(events.Interrupt(interrupt))
        self._dispatch()

    def start_pass(self, static_paths: list[str], trajectory_paths: list[str]) -> None:
        """The library pass, submitted PASS_STEP jobs per turn of the event loop: 100,000 jobs at
        once would hold the GUI thread for most of a second."""
        self.schedule.begin_pass()
        self._feed = iter([("static", p) for p in static_paths] + [("track", p) for p in trajectory_paths])
        self._feed_step()

    def _feed_step(self) -> None:
        if self._feed is None:
            return
        step = list(itertools.islice(self._feed, PASS_STEP))
        self.schedule.extend_pass([p for op, p in step if op == "static"], [p for op, p in step if op == "track"])
        if step:
            self._release.stop()
            settle()  # the queued jobs: a full collection would walk them all, on the GUI thread
        if len(step) == PASS_STEP:
            QTimer.singleShot(0, self._feed_step)
        else:
            self._feed = None
            self.schedule.end_feeding()
        self._dispatch()

    def cancel_pass(self) -> int:
        self._feed = None
        return self.schedule.cancel_pass()

    def pending(self, priority: int | None = None) -> int:
        return self.schedule.pending(priority)

    @property
    def busy(self) -> bool:
        return self.schedule.busy

    @property
    def pass_running(self) -> bool:
        return self.schedule.pass_total > 0

    @property
    def pass_counts(self) -> dict[str, list[int]]:
        return self.schedule.pass_counts

    def set_paused_below(self, priority: int | None) -> None:
        self.schedule.paused_below = priority
        self._dispatch()

    def warm(self) -> None:
        """Start the worker now (torch and the model load while the user looks around)."""
        if not self.channel.running and self.checkpoint:
            self._start_worker()

    def shutdown(self) -> None:
        self._feed = None
        self.schedule.clear()
        self._ready = False
        self.schedule.forget_running()
        self._release.stop()
        release()
        self.channel.stop(wait_ms=1000)  # the app is closing: the worker ends before its QProcess goes

    # -- the worker -----------------------------------------------------------------------------
    def _dispatch(self) -> None:
        if not self.schedule.runnable():
            return
        if not self.channel.running:
            self._start_worker()
            return  # the worker's first "ready" dispatches
        if not self._ready:
            return
        q = self.schedule.next_job()
        if q is None:
            return
        self._ready = False
        self.channel.send(q.job)
        self.job_started.emit(q.job.op, q.job.path)

    def _start_worker(self) -> None:
        self._ready = False
        self.channel.start(self.checkpoint)

    def _stop_worker(self) -> None:
        self._ready = False
        self.schedule.forget_running()
        self.channel.stop()

    def _on_event(self, ev: events.Event) -> None:
        running = self.schedule.running
        key = running.key if running is not None else self.key
        if isinstance(ev, events.Ready):
            if self.schedule.job_ended() is not None:
                self._restarts = 0
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
            self.schedule.interrupted = True
        elif isinstance(ev, events.FileError):
            log.warning("analysis: %s", ev.message)
            self.failed.emit(ev.path, ev.message)
        elif isinstance(ev, events.Error):
            self.failed.emit(running.job.path if running else "", ev.message)

    def _pass_finished(self, message: str) -> None:
        self._release.start()  # the pass's jobs are gone: cycles frozen with them may be collected again
        if message:
            log.info("library analysis finished: %s", message)
        self.pass_finished.emit(message)

    def _on_worker_stopped(self, code: int, error: str) -> None:
        """The worker died (it ends only when told to): its job fails, the next job restarts it."""
        self._ready = False
        lost = self.schedule.job_lost()
        message = f"the analysis worker stopped: {error or f'exit status {code}'}"
        log.warning("%s", message)
        if lost is not None:
            self.failed.emit(lost.job.path, message)
        self._restarts += 1
        if self._restarts > MAX_RESTARTS:
            self.schedule.give_up(message)
            self.failed.emit("", message)
            return
        self._dispatch()
