"""App responsiveness: launch to window shown, scan rate, and the longest GUI-thread stall.

    python benchmarks/bench_app.py [--files 2000] [--model best.pt]

A 10 ms QTimer heartbeat on the GUI thread measures the longest gap between beats while the
library scans 2,000 generated files and (with --model) while the library is analysed.
Targets: window < 1.5 s, 10,000 files scanned < 30 s (extrapolated), stall < 50 ms.
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
from app.main_window import MainWindow
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--model", help="a bundle: also measure the stall while the library is analysed")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="damer-bench-app-"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["DAMER_CONFIG_DIR"] = str(work / "config")
    os.environ["DAMER_DATA_DIR"] = str(work / "data")
    times = [launch_time(dict(os.environ)) for _ in range(3)]
    print(f"launch to window shown: {min(times):.2f} s (best of 3; {', '.join(f'{t:.2f}' for t in times)})")

    t = time.perf_counter()
    make_files(work / "music", args.files)
    print(f"generated {args.files} FLAC files in {time.perf_counter() - t:.1f} s")

    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    app = QApplication([])
    w = MainWindow()
    w.show()
    beat = Heartbeat()
    t = time.perf_counter()
    w.add_folder(str(work / "music"))
    while w._scan is not None:
        app.processEvents()
        time.sleep(0.001)
    scan_s = time.perf_counter() - t
    rate = args.files / scan_s
    print(f"scan: {args.files} files in {scan_s:.2f} s = {rate:.0f} files/s "
          f"(10,000 files: ~{10_000 / rate:.1f} s); longest GUI stall {beat.worst * 1000:.1f} ms")
    if args.model:
        beat.reset()
        w.import_model(args.model)
        t = time.perf_counter()
        while w.analyser.running and time.perf_counter() - t < 120:
            app.processEvents()
            time.sleep(0.001)
        w.analyser.cancel()
        print(f"analysis (in a child process) for {time.perf_counter() - t:.0f} s: longest GUI stall {beat.worst * 1000:.1f} ms")
    w.close()
    print("targets: window < 1.5 s, 10,000 files < 30 s, stall < 50 ms")
    print(json.dumps({"launch_s": min(times), "scan_files_per_s": rate, "stall_ms": beat.worst * 1000}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
