"""App responsiveness: launch to window shown, scan rate, the longest GUI-thread stall, and the
time from double-clicking an unanalysed track to its first marker.

    python benchmarks/bench_app.py [--files 2000] [--model best.pt] [--first-marker] [--library-size N]

--first-marker (the built-in model, a generated 4-minute FLAC): before = what the window paid per
track until this change, a cold `damer-core predict` child (torch start, model load, analysis);
now = the window's warm worker (started with the app), from open_track to the marker. Also the
cold first start of a fresh profile twice: with an empty numba cache (librosa's kernels compiled
on the first track: the newcomer's 25 s) and with the cache `damer-core warm-up` fills at install.

A 10 ms QTimer heartbeat on the GUI thread measures the longest gap between beats while the
library scans 2,000 generated files and (with --model) while the library is analysed.
Targets: window < 1.5 s, 10,000 files scanned < 30 s (extrapolated), stall < 50 ms.

--library-size N: a library of N tracks (one generated 2-second FLAC, linked under N names in
folders of 1,000, scanned by the app's own scanner), then a fresh start of the app on it with the
built-in model: launch to window, the longest GUI stall from launch until 6 s after the window
(the library pass is queued, then cancelled and begun anew at 2 s), and from 6 to 10 s, while the
table is read again (as a change of model does). Targets at N = 50,000: window < 5 s, stall < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAUNCH = """
import time, sys
t0 = float(sys.argv[1])
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from app.windows.main_window import MainWindow
app = QApplication([])
w = MainWindow(); w.show()
def shown():
    print(f"{time.time() - t0:.3f}")
    w.close(); app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def launch_time(env: dict) -> float:
    out = subprocess.run([sys.executable, "-c", LAUNCH, repr(time.time())], env=env, capture_output=True, text=True,
                         check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def make_files(folder: Path, n: int) -> None:
    import numpy as np
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    y = (0.1 * np.sin(np.arange(22_050 * 4) * 0.05)).astype(np.float32)
    for i in range(n):
        sub = folder / f"{i // 100:03d}"
        sub.mkdir(exist_ok=True)
        with sf.SoundFile(sub / f"track{i:05d}.flac", "w", 22_050, 1, format="FLAC") as f:
            f.title, f.artist = f"Track {i}", f"Artist {i % 50}"
            f.write(y)


class Heartbeat:
    def __init__(self):
        from PySide6.QtCore import QTimer

        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer = QTimer()
        self.timer.timeout.connect(self.beat)
        self.timer.start(10)

    def beat(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last - 0.010)
        self.last = now

    def reset(self) -> None:
        self.last, self.worst = time.perf_counter(), 0.0


def first_marker(work: Path) -> None:
    import numpy as np
    import soundfile as sf
    from PySide6.QtWidgets import QApplication

    from damer_core.audio.synthetic import chord_music

    model = ROOT / "resources" / "models" / "damer-4q.pt"
    os.environ["DAMER_BUILTIN_MODEL"] = str(model)
    tracks = []
    for i in range(2):
        y = chord_music(240.0, major=i == 0, fast=True, sample_rate=44_100, seed=i)
        tracks.append(work / f"first-marker-{i}.flac")
        sf.write(tracks[-1], np.stack([y, y], axis=1), 44_100)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", str(model), "--progress", "jsonl",
                    str(tracks[0])], check=True, capture_output=True, cwd=ROOT)
    before = time.perf_counter() - t

    from app.windows.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    cold_first_markers(app, work)
    w = MainWindow()
    w.show()
    while not w.analysis.queue.ready:  # the worker warms up with the window
        app.processEvents()
        time.sleep(0.005)
    beat = Heartbeat()
    marker, views = open_and_wait(app, w, tracks[1])
    print(f"double-click to first marker, 4-minute track: before (cold damer-core predict child) {before:.2f} s; "
          f"now (warm worker) {marker:.2f} s, spectrograms shown at {views:.2f} s; "
          f"longest GUI stall meanwhile {beat.worst * 1000:.1f} ms")
    library = work / "library"  # the same while the library pass keeps the worker busy
    for i in range(LIBRARY_TRACKS):
        y = chord_music(240.0, major=i % 2 == 0, fast=i % 3 == 0, sample_rate=44_100, seed=10 + i)
        library.mkdir(exist_ok=True)
        sf.write(library / f"t{i}.flac", np.stack([y, y], axis=1), 44_100)
    w.add_folder(str(library))
    while not w.analysis.queue.pass_running:
        app.processEvents()
        time.sleep(0.005)
    w.player.stop()
    beat.reset()
    marker, views = open_and_wait(app, w, tracks[0])
    print(f"the same while the library is analysed ({LIBRARY_TRACKS} 4-minute tracks queued): first marker "
          f"{marker:.2f} s, spectrograms {views:.2f} s; longest GUI stall {beat.worst * 1000:.1f} ms")
    w.close()


LIBRARY_TRACKS = 6


def cold_first_marker(app, work: Path, numba_cache: Path, label: str) -> None:
    """A first start as a newcomer makes it: a fresh profile, a folder added, and its first track
    double-clicked as soon as it is listed, while the worker starts and the library pass begins;
    the worker's compiled-code cache is ``numba_cache`` (empty: an install that never warmed it)."""
    import numpy as np
    import soundfile as sf

    from app.windows.main_window import MainWindow
    from damer_core.audio.synthetic import chord_music

    before = {k: os.environ.get(k) for k in ("DAMER_DATA_DIR", "NUMBA_CACHE_DIR")}
    os.environ["DAMER_DATA_DIR"] = str(work / f"cold-data-{numba_cache.name}")
    os.environ["NUMBA_CACHE_DIR"] = str(numba_cache)  # the worker, a child, compiles into (or reads) it
    folder = work / f"cold-library-{numba_cache.name}"
    folder.mkdir()
    for i in range(LIBRARY_TRACKS):
        y = chord_music(240.0, major=i % 2 == 0, fast=i % 3 == 0, sample_rate=44_100, seed=20 + i)
        sf.write(folder / f"c{i}.flac", np.stack([y, y], axis=1), 44_100)
    w = MainWindow()
    w.show()
    w.add_folder(str(folder))
    while w.library_busy or not w.library.path_at(0):
        app.processEvents()
        time.sleep(0.005)
    marker, views = open_and_wait(app, w, Path(w.library.path_at(0)))
    print(f"cold first start, {label} ({LIBRARY_TRACKS} 4-minute tracks just added, the worker starting and the "
          f"library pass beginning): first marker {marker:.2f} s after the double-click, spectrograms {views:.2f} s")
    w.close()
    for k, v in before.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def cold_first_markers(app, work: Path) -> None:
    """The cold first start twice: an empty compiled-code cache (what an install gave before it
    ran `damer-core warm-up`), then one that `damer-core warm-up` filled, as install.sh does now."""
    cold_first_marker(app, work, work / "numba-empty", "empty numba cache (no warm-up)")
    installed = work / "numba-installed"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "damer_core.cli", "warm-up"], check=True, capture_output=True, cwd=ROOT,
                   env={**os.environ, "NUMBA_CACHE_DIR": str(installed)})
    print(f"damer-core warm-up (install.sh's last step) on an empty cache: {time.perf_counter() - t:.1f} s")
    cold_first_marker(app, work, installed, "after install's warm-up")


def open_and_wait(app, w, track: Path) -> tuple[float, float]:
    """Seconds from open_track (what a double-click calls) to the first marker and to the spectrograms."""
    shown: dict[str, float] = {}
    marker = lambda p, e: shown.setdefault("marker", time.perf_counter()) if p == str(track) else None  # noqa: E731
    views = lambda p, e: shown.setdefault("views", time.perf_counter()) if p == str(track) else None  # noqa: E731
    w.views_shown.connect(views)
    w.trajectory_shown.connect(marker)
    t = time.perf_counter()
    w.open_track(str(track), autoplay=True)
    while len(shown) < 2 and time.perf_counter() - t < 120:
        app.processEvents()
        time.sleep(0.001)
    w.views_shown.disconnect(views)
    w.trajectory_shown.disconnect(marker)
    return shown.get("marker", float("nan")) - t, shown.get("views", float("nan")) - t


BIG_LAUNCH = """
import time, sys
t0 = float(sys.argv[1])
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
app = QApplication([])
beats = {"last": time.perf_counter(), "worst": 0.0}
def beat():
    now = time.perf_counter()
    beats["worst"] = max(beats["worst"], now - beats["last"] - 0.010)
    beats["last"] = now
from app.windows.main_window import MainWindow
w = MainWindow(); w.show()
timer = QTimer(); timer.timeout.connect(beat)
def shown():
    print(f"window {time.time() - t0:.3f}", flush=True)
    beats["last"] = time.perf_counter()
    timer.start(10)
    QTimer.singleShot(2_000, again)
    QTimer.singleShot(6_000, reload)
    QTimer.singleShot(10_000, done)
def again():  # the pass begun anew with the window up, as a change of model does
    w.analysis.cancel_pass()
    w.analyse_library()
def reload():  # the table read again, as a change of model, a scan's step or a label import does
    beats["before_reload"], beats["worst"] = beats["worst"], 0.0
    w.reload_library()
def done():
    print(f"stall {beats['before_reload'] * 1000:.1f} reload {beats['worst'] * 1000:.1f} "
          f"queued {w.analysis.queue.pending()} rows {len(w.model.rows)}", flush=True)
    w.close(); app.quit()
QTimer.singleShot(0, shown)
app.exec()
"""


def library_of(work: Path, n: int) -> float:
    """The app's library of ``n`` tracks (scanned by its scanner); returns the seconds the scan took."""
    import numpy as np
    import soundfile as sf
    from PySide6.QtWidgets import QApplication

    from app.windows.main_window import MainWindow

    one = work / "one.flac"
    sf.write(one, (0.1 * np.sin(np.arange(22_050 * 2) * 0.05)).astype(np.float32), 22_050)
    music = work / "music"
    for i in range(n):
        sub = music / f"{i // 1000:03d}"
        if i % 1000 == 0:
            sub.mkdir(parents=True)
        os.link(one, sub / f"track{i:06d}.flac")
    os.environ["DAMER_BUILTIN_MODEL"] = "none"  # the scan alone: the analysis comes with the fresh start
    app = QApplication.instance() or QApplication([])
    w = MainWindow()
    w.show()
    t = time.perf_counter()
    w.add_folder(str(music))
    while w.library_busy:
        app.processEvents()
        time.sleep(0.005)
    scan_s = time.perf_counter() - t
    w.close()
    del os.environ["DAMER_BUILTIN_MODEL"]
    return scan_s


def big_library(work: Path, n: int) -> dict:
    scan_s = library_of(work, n)
    print(f"library of {n} tracks: scanned in {scan_s:.1f} s", flush=True)
    env = dict(os.environ)
    env.pop("DAMER_BUILTIN_MODEL", None)
    out = subprocess.run([sys.executable, "-c", BIG_LAUNCH, repr(time.time())], env=env, capture_output=True, text=True,
                         cwd=ROOT, timeout=3600)
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines() if line.startswith(("window", "stall")))
    if out.returncode != 0 or len(lines) != 2:
        raise SystemExit(f"the app did not start: {out.stderr[-2000:]}")
    window_s = float(lines["window"])
    stall_ms, reload_ms, queued, rows = (lines["stall"].replace(" reload ", " ").replace(" queued ", " ")
                                         .replace(" rows ", " ").split())
    print(f"launch to window: {window_s:.2f} s; longest GUI stall: {float(stall_ms):.0f} ms "
          f"(launch to 6 s after the window, the library pass cancelled and begun anew at 2 s), "
          f"{float(reload_ms):.0f} ms while the table is read again (6 to 10 s); {rows} tracks in the table, "
          f"{queued} analysis jobs queued")
    print("targets at 50,000 tracks: window < 5 s, stall < 50 ms")
    rows = 20_000 if n <= 300 else 1_000_000
    import_s, import_stall_ms = import_stall(work, rows)
    print(f"File > Import labels of {rows} rows ({rows // 100} of them tracks of the library): done in {import_s:.1f} s; "
          f"longest GUI stall {import_stall_ms:.0f} ms (target < 50 ms)")
    return {"library_size": n, "launch_s": window_s, "stall_ms": float(stall_ms), "reload_stall_ms": float(reload_ms),
            "import_rows": rows,
            "import_s": import_s, "import_stall_ms": import_stall_ms}


def import_stall(work: Path, rows: int) -> tuple[float, float]:
    """A labels CSV of ``rows`` rows, one in a hundred a track of the library, imported in the window."""
    from PySide6.QtWidgets import QApplication

    from app.windows.main_window import MainWindow

    os.environ["DAMER_BUILTIN_MODEL"] = "none"  # the import alone
    app = QApplication.instance() or QApplication([])
    w = MainWindow()
    w.show()
    paths = [r.path for r in w.model.rows]
    csv_path = work / "labels.csv"
    with open(csv_path, "w") as f:
        f.write("path,valence,arousal\n")
        for i in range(rows):
            path = paths[i // 100 % len(paths)] if i % 100 == 0 else f"/elsewhere/stranger{i:07d}.flac"
            f.write(f"{path},0.25,-0.5\n")
    beat = Heartbeat()
    t = time.perf_counter()
    w.files.import_labels(str(csv_path), existing="add")
    while w.files.importing is not None:
        app.processEvents()
        time.sleep(0.001)
    seconds, stall = time.perf_counter() - t, beat.worst * 1000
    w.close()
    del os.environ["DAMER_BUILTIN_MODEL"]
    return seconds, stall


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--model", help="a bundle: also measure the stall while the library is analysed")
    ap.add_argument("--first-marker", action="store_true", help="only the double-click to first marker figure")
    ap.add_argument("--library-size", type=int, default=0, help="only launch and stall with a library of N tracks")
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the benchmark works (CI)")
    args = ap.parse_args()
    if args.quick:
        args.files = 40
        args.library_size = min(args.library_size, 300)
    work = Path(tempfile.mkdtemp(prefix="damer-bench-app-"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["DAMER_CONFIG_DIR"] = str(work / "config")
    os.environ["DAMER_DATA_DIR"] = str(work / "data")
    if args.first_marker:
        first_marker(work)
        return 0
    if args.library_size:
        print(json.dumps(big_library(work, args.library_size)))
        return 0
    times = [launch_time(dict(os.environ)) for _ in range(1 if args.quick else 3)]
    print(f"launch to window shown: {min(times):.2f} s (best of 3; {', '.join(f'{t:.2f}' for t in times)})")

    t = time.perf_counter()
    make_files(work / "music", args.files)
    print(f"generated {args.files} FLAC files in {time.perf_counter() - t:.1f} s")

    from PySide6.QtWidgets import QApplication

    from app.windows.main_window import MainWindow

    app = QApplication([])
    w = MainWindow()
    w.show()
    beat = Heartbeat()
    t = time.perf_counter()
    w.add_folder(str(work / "music"))
    while w.library_busy:
        app.processEvents()
        time.sleep(0.001)
    scan_s = time.perf_counter() - t
    rate = args.files / scan_s
    print(f"scan: {args.files} files in {scan_s:.2f} s = {rate:.0f} files/s "
          f"(10,000 files: ~{10_000 / rate:.1f} s); longest GUI stall {beat.worst * 1000:.1f} ms")
    if args.model:
        beat.reset()
        w.windows.import_model(args.model)
        t = time.perf_counter()
        while w.analysis.running and time.perf_counter() - t < 120:
            app.processEvents()
            time.sleep(0.001)
        w.analysis.cancel_pass()
        print(f"analysis (in a child process) for {time.perf_counter() - t:.0f} s: longest GUI stall {beat.worst * 1000:.1f} ms")
    w.close()
    print("targets: window < 1.5 s, 10,000 files < 30 s, stall < 50 ms")
    print(json.dumps({"launch_s": min(times), "scan_files_per_s": rate, "stall_ms": beat.worst * 1000}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
