"""Peak memory for the longest file the app accepts: a 2-hour WAV (44.1 kHz stereo, 16-bit, 1.3 GB).

    python benchmarks/bench_long_file.py [--hours 2] [--keep DIR]

Writes the WAV in blocks (generated chord music), then runs, each in its own process, with a
fresh feature cache: `damer-core features --preset context --trajectory` (the trajectory's
frames), the spectrogram views the app shows, and `damer-core predict` with the built-in model.
Prints the peak resident memory (ru_maxrss of that process) and the wall time of each.
Target: peak < 1 GB whatever the length.
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

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VIEWS = "import sys; from damer_core.features.extract import track_display_views; track_display_views(sys.argv[1])"


def write_long_wav(path: Path, hours: float, rate: int = 44_100) -> None:
    from damer_core.audio.synthetic import chord_music

    minute = chord_music(60.0, True, True, rate, seed=0).astype(np.float32)
    stereo = np.stack([minute, 0.8 * minute], axis=1)
    with sf.SoundFile(path, "w", rate, 2, subtype="PCM_16") as f:
        for _ in range(int(round(hours * 60))):
            f.write(stereo)


def peak_of(cmd: list[str], env: dict) -> tuple[float, float, int]:
    """(peak RSS in MB, seconds, exit code) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace").strip()
    if status:
        print(f"  {' '.join(cmd[:4])} failed: {err[-400:]}", file=sys.stderr)
    return usage.ru_maxrss / 1024, seconds, os.waitstatus_to_exitcode(status)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--keep", help="folder for the WAV (kept; default: a temporary folder)")
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the benchmark works (CI)")
    args = ap.parse_args()
    if args.quick:
        args.hours = 0.01
    folder = Path(args.keep or tempfile.mkdtemp(prefix="bench-long-"))
    folder.mkdir(parents=True, exist_ok=True)
    wav = folder / f"long-{args.hours:g}h.wav"
    if not wav.exists():
        t0 = time.perf_counter()
        write_long_wav(wav, args.hours)
        print(f"wrote {wav} ({wav.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - t0:.0f} s")
    core = [sys.executable, "-m", "damer_core.cli"]
    runs = {"features (context, with trajectory frames)": core + ["features", "--preset", "context", "--trajectory", str(wav)],
            "spectrogram views (the app's)": [sys.executable, "-c", VIEWS, str(wav)],
            "predict (built-in model)": core + ["predict", "--format", "csv", str(wav)]}
    results = {}
    for name, cmd in runs.items():
        env = {**os.environ, "DAMER_CACHE_DIR": tempfile.mkdtemp(prefix="bench-cache-"), "PYTHONPATH": str(ROOT)}
        env.pop("DAMER_BUILTIN_MODEL", None)
        peak, seconds, code = peak_of(cmd, env)
        results[name] = {"peak_mb": round(peak), "seconds": round(seconds, 1), "exit": code}
        print(f"{name:45s} peak {peak:7.0f} MB  {seconds:6.1f} s  exit {code}")
    print(json.dumps({"hours": args.hours, "runs": results}))
    if not args.keep:
        wav.unlink()


if __name__ == "__main__":
    main()
