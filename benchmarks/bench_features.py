"""Feature-extraction speed and memory on one core.

    python benchmarks/bench_features.py

Prints x realtime (audio seconds per wall second) for the model features of a 60 s segment, the
whole-track trajectory frame sequence of a 5 min track, the display views of a 3 min track, the
peak memory of each, and the ratio to a bare numpy rfft pass over the same frames (the physical
limit: framing + FFT with nothing else).
"""

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import tracemalloc  # noqa: E402

import numpy as np  # noqa: E402
import timing  # noqa: E402  (benchmarks/timing.py, beside this script)

from damer_core.audio.synthetic import chord_music  # noqa: E402
from damer_core.features import spectra as F  # noqa: E402

SR = 22_050


REPEATS = 5


def best_time(fn, repeats=None):
    return timing.best_time(fn, REPEATS if repeats is None else repeats)


def peak_mb(fn):
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def bare_fft(y, cfg):
    def run():
        y32 = np.asarray(y, np.float32)  # the same frames the features take (no copy), windowed in chunks below
        frames = np.lib.stride_tricks.sliding_window_view(y32, cfg.frame_length)[::cfg.hop_length]
        step = max(1, (1 << 23) // (8 * (cfg.n_fft // 2 + 1)))
        for i in range(0, frames.shape[0], step):
            np.fft.rfft(frames[i:i + step], n=cfg.n_fft, axis=1)
    return run


def report(label, seconds, fn, cfg):
    t = best_time(fn)
    t_fft = best_time(bare_fft(fn.y, cfg))
    print(f"{label:<44} {seconds / t:8.0f}x realtime  {t * 1000:8.1f} ms  peak {peak_mb(fn):6.1f} MB"
          f"  {t / t_fft:4.2f}x bare rfft")


def main():
    global REPEATS
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the benchmark works (CI)")
    quick = ap.parse_args().quick
    REPEATS = 1 if quick else 5
    print(f"numpy {np.__version__}, one core (OMP/BLAS threads = 1)")
    minute = 20.0 if quick else 60.0  # --quick: every figure from a third of the audio
    track5 = np.tile(chord_music(minute, True, True, SR, seed=1), 5)
    segment = track5[int(minute / 4 * SR): int(minute * 1.25 * SR)]
    track3 = track5[: int(3 * minute * SR)]
    for cfg in (F.CLIP, F.PAPER):
        seg_fn = lambda cfg=cfg: F.frame_sequence(segment, cfg)  # noqa: E731
        seg_fn.y = segment
        report(f"model features, 60 s segment ({cfg.name})", 60.0, seg_fn, cfg)
        traj_fn = lambda cfg=cfg: F.frame_sequence(track5, cfg)  # noqa: E731
        traj_fn.y = track5
        report(f"trajectory frames, 5 min track ({cfg.name})", 300.0, traj_fn, cfg)
    disp_fn = lambda: F.display_views(track3, SR)  # noqa: E731
    disp_fn.y = track3
    report("display views, 3 min track", 180.0, disp_fn, F.DISPLAY)
    print("targets: model features >= 200x, display views >= 50x, within 3x of bare rfft")


if __name__ == "__main__":
    main()
