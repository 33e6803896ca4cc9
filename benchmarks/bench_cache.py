"""Disk used by the feature cache per track, as the app uses it.

    python benchmarks/bench_cache.py [--tracks 6] [--minutes 4]

Generates tracks (chord music), then with a fresh cache folder: analyses them as the app's
library analysis does (`damer-core predict --progress jsonl` with the built-in model), then
computes the spectrogram views of each (what playing a track does). Prints the cache's bytes per
track after each step. Target: at most ~1 MB per analysed track by default.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VIEWS = "import sys; from damer_core.features.extract import track_display_views\nfor p in sys.argv[1:]: track_display_views(p)"


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=6)
    ap.add_argument("--minutes", type=float, default=4.0)
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the benchmark works (CI)")
    args = ap.parse_args()
    if args.quick:
        args.tracks, args.minutes = 2, 0.25
    import soundfile as sf

    from damer_core.audio.synthetic import chord_music

    work = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    tracks = []
    for i in range(args.tracks):
        path = work / f"t{i}.flac"
        sf.write(path, chord_music(args.minutes * 60, i % 2 == 0, i % 3 == 0, 22_050, seed=i), 22_050)
        tracks.append(str(path))
    cache = work / "cache"
    env = {**os.environ, "DAMER_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)}
    env.pop("DAMER_BUILTIN_MODEL", None)
    subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--progress", "jsonl", *tracks], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    analysed = folder_bytes(cache) / args.tracks if cache.exists() else 0.0
    subprocess.run([sys.executable, "-c", VIEWS, *tracks], env=env, check=True)
    viewed = folder_bytes(cache) / args.tracks
    print(f"{args.tracks} tracks of {args.minutes:g} min")
    print(f"cache after library analysis        {analysed / 1e6:8.2f} MB per track")
    print(f"cache after also showing their views {viewed / 1e6:8.2f} MB per track")
    print(json.dumps({"tracks": args.tracks, "minutes": args.minutes, "analysed_bytes_per_track": round(analysed),
                      "viewed_bytes_per_track": round(viewed)}))


if __name__ == "__main__":
    main()
