"""Musical-descriptor speed (damer_core.features.descriptors), one thread, as the analysis worker runs.

    python benchmarks/bench_descriptors.py [--quick]

Prints the time of the frame streams (one STFT and librosa's features) and of the window
statistics for a 30 s clip (a training clip: windows every second), a 5-minute track's trajectory
(a window every 0.5 s) and the same track decoded in blocks (a long file's path), and
a kernel descriptor head (400 landmarks) on those windows. --quick: 10 s and 40 s of audio, one repeat.
"""

import argparse
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"


import numpy as np  # noqa: E402
from timing import best_time  # noqa: E402  (benchmarks/timing.py, beside this script)

from damer_core.audio.synthetic import chord_music  # noqa: E402
from damer_core.features import descriptors as D  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    clip_s, track_s, repeats = (10.0, 40.0, 1) if args.quick else (30.0, 300.0, 3)
    clip = chord_music(clip_s, True, True, D.SAMPLE_RATE, seed=0)
    track = chord_music(track_s, False, False, D.SAMPLE_RATE, seed=1)
    times = np.arange(0.0, track_s, 0.5)

    t_clip = best_time(lambda: D.clip_descriptors(clip), repeats)
    streams = D.frame_streams(track)
    t_streams = best_time(lambda: D.frame_streams(track), repeats)
    t_windows = best_time(lambda: D.descriptors_at(streams, times), repeats)

    def blocked():
        b = D.BlockDescriptors(times, chunk_s=120.0)
        for i in range(0, track.size, 1 << 16):
            b.feed(track[i:i + (1 << 16)])
        return b.finish()

    t_blocked = best_time(blocked, repeats)
    x = D.descriptors_at(streams, times)
    from damer_core.models.descriptor_head import fit_descriptor_head

    # a kernel head of the shipped size (400 landmarks) on these windows; labels are arbitrary, the cost is not
    head = fit_descriptor_head(np.vstack([x] * 2), np.arange(2 * len(x)) % 4, kind="kernel", landmarks=min(400, 2 * len(x)))
    t_head = best_time(lambda: head.probabilities(x), repeats)
    head_line = f"kernel descriptor head ({len(head.landmarks)} landmarks) on {len(times)} windows: {1000 * t_head:.1f} ms"
    print(f"{len(D.NAMES)} descriptors in {len(D.GROUPS)} groups; one thread")
    print(f"{clip_s:.0f} s clip (windows every 1 s):            {1000 * t_clip:8.1f} ms  ({clip_s / t_clip:5.0f}x realtime)")
    print(
        f"{track_s:.0f} s track, frame streams:               {1000 * t_streams:8.1f} ms  ({track_s / t_streams:5.0f}x realtime)"
    )
    print(f"{track_s:.0f} s track, {len(times)} trajectory windows:    {1000 * t_windows:8.1f} ms")
    print(f"{track_s:.0f} s track in blocks (long-file path):     {1000 * t_blocked:8.1f} ms")
    if head_line:
        print(head_line)


if __name__ == "__main__":
    main()
