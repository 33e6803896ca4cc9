"""The `damer-core` command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from damer_core import __version__


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", choices=["human", "jsonl", "none"], default="human",
                   help="progress bars on stderr (human), JSON lines on stdout (jsonl), or nothing")


def _audio_files(inputs: list[str]) -> list[Path]:
    from damer_core.audio import AUDIO_EXTENSIONS

    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            files.append(p)
    return files


def cmd_features(args: argparse.Namespace) -> int:
    from damer_core.audio import AudioError
    from damer_core.cache import FeatureCache
    from damer_core.extract import track_frames, track_training_windows
    from damer_core.features import preset
    from damer_core.progress import Progress

    cfg = preset(args.preset)
    cache = FeatureCache(args.cache_dir) if args.cache_dir else FeatureCache()
    files = _audio_files(args.inputs)
    progress = Progress(args.progress)
    progress.task(f"features ({cfg.name})", len(files))
    failed = 0
    for path in files:
        try:
            track_training_windows(path, cfg, cache)
            if args.trajectory:
                track_frames(path, cfg, cache)
        except AudioError as e:
            failed += 1
            progress.message(f"skipped {e}", file=str(path), error=e.reason)
        progress.advance(file=str(path))
    progress.message(f"{len(files) - failed} of {len(files)} files featurised into {cache.root}")
    return 1 if failed and failed == len(files) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="damer-core", description="DAMER music-emotion model: features, training, evaluation, prediction.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("features", help="pre-extract model features for audio files or folders into the cache")
    p.add_argument("inputs", nargs="+", help="audio files or folders (searched recursively)")
    p.add_argument("--preset", default="clip", choices=["clip", "paper"])
    p.add_argument("--trajectory", action="store_true", help="also cache the whole-track frame sequence")
    p.add_argument("--cache-dir", help="feature cache folder (default: the user cache directory)")
    _add_progress(p)
    p.set_defaults(func=cmd_features)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("damer-core: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
