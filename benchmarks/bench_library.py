"""Library analysis throughput of the app's warm worker: static V-A first, trajectories later.

    python benchmarks/bench_library.py [--tracks 8] [--minutes 4] [--model resources/models/damer-4q-network.pt]

Generates --tracks tracks of --minutes minutes (FLAC, 44.1 kHz stereo, as a music library holds),
starts `damer-core worker` with the built-in model (or --model) as the app does, and times its two passes:
the static pass (the model segment's windows: the table's columns and the emotion map) and the
trajectory pass (the whole track every 0.5 s). Prints tracks per minute for each, and the
feature-cache bytes each track leaves (the worker keeps no model features).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_tracks(folder: Path, n: int, minutes: float) -> list[Path]:
    import numpy as np
    import soundfile as sf

    from damer_core.audio.synthetic import chord_music

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        y = chord_music(minutes * 60, major=i % 2 == 0, fast=i % 3 == 0, sample_rate=44_100, seed=i)
        path = folder / f"track{i:02d}.flac"
        sf.write(path, np.stack([y, np.roll(y, 50)], axis=1), 44_100)
        paths.append(path)
    return paths


def run_pass(worker: subprocess.Popen, op: str, paths: list[Path]) -> float:
    from damer_core.contract import events

    t0 = time.perf_counter()
    for path in paths:
        worker.stdin.write(events.Job(op, str(path)).to_json() + "\n")
        worker.stdin.flush()
        while True:
            ev = events.parse(worker.stdout.readline())
            if isinstance(ev, events.FileError):
                raise SystemExit(ev.message)
            if isinstance(ev, events.Ready):
                break
    return time.perf_counter() - t0


def cache_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--model", default=str(ROOT / "resources" / "models" / "damer-4q.pt"),
                    help="the bundle the worker predicts with (default: the built-in model)")
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the benchmark works (CI)")
    args = ap.parse_args()
    if args.quick:
        args.tracks, args.minutes = 2, 0.25
    from damer_core.contract import events

    work = Path(tempfile.mkdtemp(prefix="damer-bench-library-"))
    paths = make_tracks(work / "music", args.tracks, args.minutes)
    env = {**os.environ, "DAMER_CACHE_DIR": str(work / "cache")}
    threads = max(1, (os.cpu_count() or 2) - 1)  # as the app starts it: a core left for the GUI and the audio
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    model = Path(args.model).resolve()  # the worker runs in the repository root
    t0 = time.perf_counter()
    worker = subprocess.Popen([sys.executable, "-m", "damer_core.cli", "worker", "--checkpoint", str(model)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    assert isinstance(events.parse(worker.stdout.readline()), events.Ready)
    print(f"{args.tracks} tracks of {args.minutes:g} min; worker start + model load {time.perf_counter() - t0:.1f} s, "
          f"{threads} torch thread(s), {os.cpu_count()} cores")
    static_s = run_pass(worker, "static", paths)
    trajectory_s = run_pass(worker, "track", paths)
    worker.stdin.close()
    worker.wait(60)
    per_track = cache_bytes(work / "cache") / args.tracks
    print(f"static pass:     {static_s / args.tracks:5.2f} s per track = {60 * args.tracks / static_s:6.1f} tracks/min")
    print(f"trajectory pass: {trajectory_s / args.tracks:5.2f} s per track = {60 * args.tracks / trajectory_s:6.1f} tracks/min")
    both = static_s + trajectory_s
    print(f"both passes:     {both / args.tracks:5.2f} s per track = {60 * args.tracks / both:6.1f} tracks/min; "
          f"a 10,000-track library: static in {10_000 * static_s / args.tracks / 3600:.1f} h, "
          f"all in {10_000 * both / args.tracks / 3600:.1f} h")
    print(f"feature cache left per track: {per_track / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
