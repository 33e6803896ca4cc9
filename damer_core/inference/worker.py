"""`damer-core worker`: the app's one warm analysis process. It loads the model once, then reads
jobs (damer_core.contract.events.Job, one JSON line each) from stdin and answers each with its events and
a ``ready`` line, until stdin closes. The app's job queue decides what runs next (the playing
track first); one job at a time keeps the GUI's cores free.

A ``track`` job decodes the file once for everything the window shows: static V-A, the
whole-track trajectory and the spectrograms (written to ``views_npz``, 8-bit dB). Model features
are not cached (they are quick to recompute); the spectrograms are, for tracks played again.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from damer_core.audio.decoding import AudioError
from damer_core.contract import display, events
from damer_core.features.cache import FeatureCache
from damer_core.features.spectra import DISPLAY
from damer_core.inference.predictor import Interrupted

if TYPE_CHECKING:
    from damer_core.inference.predictor import Predictor


class Analysis:
    """What one worker does with a job; the model is loaded on the first job that needs it."""

    def __init__(self, checkpoint: str | None, device: str = "cpu", cache: FeatureCache | None = None):
        self.checkpoint, self.device = checkpoint or "", device
        self.cache = cache if cache is not None else FeatureCache()
        self._predictor: Predictor | None = None
        self.model_problem = ""  # why the model cannot be used: the spectrograms go on without it
        self.interrupts: set[str] = set()  # paths whose preemptible job should stop (filled by the stdin reader)
        self._lock = threading.Lock()

    @property
    def predictor(self) -> Predictor | None:
        if self._predictor is None and self.checkpoint and not self.model_problem:
            from damer_core.inference.predictor import Predictor

            try:
                self._predictor = Predictor(self.checkpoint, self.device, self.cache)
            except Exception as e:  # noqa: BLE001 - any failure of the model's; the views need none
                self.give_up_model(e)
        return self._predictor

    def give_up_model(self, e: Exception) -> str:
        """The model is dropped for the rest of this worker's life; the views go on."""
        from damer_core.contract.errors import UserError

        detail = str(e) if isinstance(e, UserError) else f"{type(e).__name__}: {' '.join(str(e).split())[:200]}"
        self._predictor = None
        self.model_problem = f"the model cannot be used ({detail}); choose another under Model > Models..."
        return self.model_problem

    def interrupt(self, path: str) -> None:
        with self._lock:
            self.interrupts.add(path)

    def _stop_requested(self, job: events.Job) -> bool:
        with self._lock:
            return job.preemptible and job.path in self.interrupts

    def run(self, job: events.Job, emit: Callable[[events.Event], None]) -> None:
        """Answers ``job`` with its events, as they come; a bad file gives one ``file_error``."""
        if job.op not in ("static", "track", "views"):
            return emit(events.Error(f"worker: unknown job '{job.op}'"))
        if job.op in ("static", "track") and self.predictor is None and not (job.op == "track" and job.views_npz):
            return emit(events.Error(self.model_problem or f"worker: a '{job.op}' job needs a model (none is loaded)"))
        kinds: tuple[str, ...] = ("display",) if job.views_npz and job.op != "static" else ()
        if self.predictor and job.op in ("static", "track"):
            kinds += self.predictor.kinds(trajectory=job.op == "track")
        if not kinds:
            return emit(events.Error("worker: a 'views' job needs views_npz"))
        try:
            self._run(job, kinds, emit)
        except AudioError as e:
            emit(events.FileError(job.path, str(e)))
        except OSError as e:
            emit(events.FileError(job.path, f"{job.path}: cannot be read ({e.strerror or e})"))
        except Interrupted:
            emit(events.Interrupted(job.path))
        except Exception as e:  # noqa: BLE001 - the model failed, not the file: say so, and show the views
            emit(events.Error(self.give_up_model(e)))
            if job.op == "track" and job.views_npz:
                self.run(job, emit)
        finally:
            with self._lock:
                self.interrupts.discard(job.path)

    def _run(self, job: events.Job, kinds: tuple[str, ...], emit: Callable[[events.Event], None]) -> None:
        from damer_core.features.extract import track_features

        def views(arrays: dict) -> None:
            display.write_npz(job.views_npz, arrays)
            emit(events.Views(job.path, job.views_npz))

        p = self.predictor
        cfg = p.feature_config if p is not None else DISPLAY
        if p is not None and job.op == "track" and job.views_npz:  # the playing track: its first marker first
            from damer_core.inference.opening import opening as predicted_opening

            opening = predicted_opening(p, job.path)
            if opening is not None:
                emit(events.TrajectoryPart(job.path, opening[0].to_dict(), opening[1]))
        feats = track_features(job.path, cfg, kinds, self.cache, store=("display",), on_display=views)
        if p is not None and job.op == "static":
            emit(events.Static(**p.static_from_features(job.path, feats).to_dict()))
        elif p is not None and job.op == "track":  # a views-only job (no model, or op "views") stops at the views
            def part(so_far, points: int) -> None:
                emit(events.TrajectoryPart(job.path, so_far.to_dict(), points))

            # the playing track (views_npz) moves its marker before its whole trajectory is done
            whole = p.predict_from_features(job.path, feats, lambda: self._stop_requested(job),
                                            part if job.views_npz else None)
            emit(events.Prediction(**whole.to_dict(smoothed=False)))


def serve(analysis: Analysis, jobs: TextIO, out: TextIO) -> int:
    """Answers jobs until ``jobs`` ends; returns the number of jobs done. A thread reads stdin, so
    an ``interrupt`` reaches the job it is meant for while that job runs."""
    t0 = time.perf_counter()
    if analysis.predictor is not None:
        from damer_core.inference.opening import warm_up

        try:
            warm_up(analysis.predictor)  # load and compile now: the first job should not pay for it
        except Exception as e:  # noqa: BLE001 - the model's failure, found before any track needs it
            analysis.give_up_model(e)
    if analysis.model_problem:
        _write(out, events.Error(analysis.model_problem))
    asked: queue.Queue[events.Job | events.Error | None] = queue.Queue()
    threading.Thread(target=_read_jobs, args=(jobs, asked, analysis), daemon=True).start()
    _write(out, events.Ready(analysis.checkpoint, analysis.device, round(time.perf_counter() - t0, 3)))
    done = 0
    while (job := asked.get()) is not None:
        t0 = time.perf_counter()
        if isinstance(job, events.Error):
            _write(out, job)
        else:
            analysis.run(job, lambda ev: _write(out, ev))
            done += 1
        _write(out, events.Ready(analysis.checkpoint, analysis.device, round(time.perf_counter() - t0, 3)))
    return done


def _read_jobs(jobs: TextIO, asked: queue.Queue[events.Job | events.Error | None], analysis: Analysis) -> None:
    """Every line parsed as the event it is, as it arrives: an interrupt acts at once (on the job
    running now), a job waits its turn, anything else is answered with an error in its turn."""
    try:
        for line in jobs or ():  # no stdin at all (closed by the parent): no jobs
            if not line.strip():
                continue
            try:
                ev = events.parse(line)
            except events.EventError as e:
                asked.put(events.Error(f"worker: {e}"))
                continue
            if isinstance(ev, events.Interrupt):
                analysis.interrupt(ev.path)
            elif isinstance(ev, events.Job):
                asked.put(ev)
            else:
                asked.put(events.Error(f"worker: expected a job, got '{ev.KIND}'"))
    except (OSError, ValueError) as e:  # stdin broken or closed under the reader
        asked.put(events.Error(f"worker: stdin cannot be read ({e}); stopping"))
    finally:
        asked.put(None)  # whatever ended the reading, the worker ends: it never waits for ever


def _write(out: TextIO, ev: events.Event) -> None:
    out.write(ev.to_json() + "\n")
    out.flush()


def main(checkpoint: str | None, device: str) -> int:
    """The ``damer-core worker`` command (stdin: jobs, stdout: events). It ends when its stdin
    closes (the app's way to stop it); Ctrl-C in the app's terminal is the app's to handle, and
    SIGTERM ends it at once and quietly: it holds nothing to save (cache entries are atomic)."""
    import os
    import signal

    from damer_core.devices import resolve_device

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))

    serve(Analysis(checkpoint, str(resolve_device(device)) if checkpoint else "cpu"), sys.stdin, sys.stdout)
    return 0
