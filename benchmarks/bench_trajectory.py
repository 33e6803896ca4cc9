"""The 5-minute trajectory, option by option, and how far each moves the predictions.

    python benchmarks/bench_trajectory.py [--audio tests/data]

Times the built-in model's whole-track trajectory (601 points on the 0.5 s grid) of a generated
5-minute track for each option, and the largest change in probability against float32 over the
real recordings in --audio. An option is kept only if it changes no probability by more than 0.01.
Decoding and features are timed separately.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def timed(fn, repeats: int = 3) -> tuple[float, object]:
    fn()  # warm-up
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio", default=str(ROOT / "tests" / "data"))
    args = ap.parse_args()
    import soundfile as sf
    import torch

    from damer_core.audio import load_for_model
    from damer_core.cache import NoCache
    from damer_core.extract import track_frames
    from damer_core.inference import Predictor, fast_cpu_inference
    from damer_core.synthetic import chord_music

    p = Predictor(ROOT / "resources" / "models" / "damer-4q.pt", "cpu", NoCache())
    five = Path(tempfile.mkdtemp()) / "five.flac"
    sf.write(five, chord_music(300.0, True, True, 22_050, seed=3), 22_050)
    decode_s, _ = timed(lambda: load_for_model(five), 1)
    feat_s, (seq, dur) = timed(lambda: track_frames(five, p.feature_config, NoCache()), 1)
    print(f"5-minute track: decode + loudness {decode_s:.2f} s, features {feat_s - decode_s:.2f} s, "
          f"torch {torch.get_num_threads()} threads, native bf16: {fast_cpu_inference()}")
    options = {"float32, batch 256": dict(batch=256, fast=False), "float32, batch 64": dict(batch=64, fast=False),
               "bf16 autocast, batch 64": dict(batch=64, fast=True)}
    real = sorted(Path(args.audio).glob("*.ogg"))
    real_seqs = [track_frames(r, p.feature_config, NoCache()) for r in real]
    reference = [p.trajectory_from_frames(s, d, fast=False) for s, d in real_seqs]
    for name, kw in options.items():
        seconds, _ = timed(lambda: p.trajectory_from_frames(seq, dur, **kw))
        diff = 0.0
        for (s, d), ref in zip(real_seqs, reference):
            tr = p.trajectory_from_frames(s, d, **kw)
            for a, b in ((tr.valence, ref.valence), (tr.arousal, ref.arousal)):
                diff = max(diff, float(np.nanmax(np.abs(a - b))) / 2)  # V = 2p - 1
        print(f"{name:28s} model {seconds:5.2f} s   largest probability change on {len(real)} real recordings "
              f"{diff:.4f}   {'kept' if diff <= 0.01 else 'refused'}")


if __name__ == "__main__":
    main()
