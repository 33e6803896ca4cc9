"""Training and inference speed and memory.

    python benchmarks/bench_train.py [--device cpu|cuda]

Prints training samples/s at batch 32 and 256, the time of one Memo2496-sized epoch (1,747
training samples from in-memory features, every module on), inference latency for one window and
for a 5-minute trajectory (features + both dimensions), and peak memory.
Targets on CPU: epoch < 30 s, trajectory < 1 s.
"""

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from damer_core.audio.synthetic import chord_music
from damer_core.datasets.base import FeatureSet
from damer_core.datasets.split import split_tracks
from damer_core.devices import Context, resolve_device
from damer_core.features.spectra import CLIP, frame_sequence
from damer_core.inference.predictor import Predictor
from damer_core.models.checkpoint import save_atomic
from damer_core.training.config import TrainConfig
from damer_core.training.run import DataArgs, make_bundle
from damer_core.training.trainer import DimensionTrainer


def synthetic_set(n: int) -> FeatureSet:
    rng = np.random.default_rng(0)
    mel = rng.normal(size=(n, 128, 87)).astype(np.float32)
    coch = rng.normal(size=(n, 84, 87)).astype(np.float32)
    lab = rng.uniform(-1, 1, size=n)
    return FeatureSet(mel, coch, lab, -lab, np.arange(n), CLIP, {"name": "bench"})


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the benchmark works (CI)")
    args = ap.parse_args()
    device = resolve_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"torch {torch.__version__} on {name}")

    fs = synthetic_set(96 if args.quick else 2496)  # --quick: a tiny set, one batch size
    # a Memo2496-sized epoch as in the paper: 70 % of 2,496 tracks trained, 30 % scored
    split = split_tracks(fs, 0, test_fraction=0.0, val_fraction=0.3)
    for batch in (16,) if args.quick else (32, 256):
        t = DimensionTrainer(fs, "arousal", TrainConfig(epochs=80, batch_size=batch), Context(device), split)
        labels = torch.from_numpy(t.labels[:batch]).to(device)
        mel = torch.from_numpy(fs.mel[:batch]).to(device)
        coch = torch.from_numpy(fs.coch[:batch]).to(device)
        for _ in range(2):  # warm-up, and the SAML queue gets keys
            t._step(mel, coch, None, labels, batch, 1.5, 0.65)
        steps = 2 if args.quick else max(3, 2048 // batch)
        start = time.perf_counter()
        for _ in range(steps):
            t._step(mel, coch, None, labels, batch, 1.5, 0.65)
        if device.type == "cuda":
            torch.cuda.synchronize()
        rate = steps * batch / (time.perf_counter() - start)
        print(f"training, batch {batch:>3}: {rate:8.1f} samples/s (forward + backward, PCL + SAML + key network)")

    t = DimensionTrainer(fs, "arousal", TrainConfig(epochs=80, batch_size=32), Context(device), split)
    start = time.perf_counter()
    rec = t.train_epoch()
    epoch_s = time.perf_counter() - start
    print(f"one Memo2496-sized epoch ({t.train_idx.size} samples, batch 32, + validation of {t.val_idx.size}): {epoch_s:6.2f} s")

    with tempfile.TemporaryDirectory() as tmp:
        dims = {
            d: {"state_dict": t.model.state_dict(), "metrics": {"val": rec["val"]}, "epoch": 1} for d in ("arousal", "valence")
        }
        path = save_atomic(make_bundle(fs, t.tcfg, t.mcfg.to_dict(), dims, DataArgs("bench")), Path(tmp) / "b.pt")
        pred = Predictor(path, str(device)).model  # DAMER networks: their windows, directly
        one_m, one_c = fs.mel[:1], fs.coch[:1]
        pred.predict_windows(one_m, one_c)
        reps = 20
        start = time.perf_counter()
        for _ in range(reps):
            pred.predict_windows(one_m, one_c)
        print(f"inference, one window (both dimensions): {(time.perf_counter() - start) / reps * 1000:7.1f} ms")
        y = np.tile(chord_music(6.0 if args.quick else 60.0, True, True, seed=1), 5)
        start = time.perf_counter()
        seq = frame_sequence(y, CLIP)
        feat_s = time.perf_counter() - start
        traj = pred.trajectory_from_frames(seq, y.size / CLIP.sample_rate)
        total = time.perf_counter() - start
        print(f"5-minute trajectory: {total:6.2f} s ({len(traj.times)} points; features {feat_s:.2f} s, "
              f"model {total - feat_s:.2f} s)")
    print(f"peak memory (max RSS): {peak_rss_mb():.0f} MB")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MB")
    print("targets on CPU: epoch < 30 s, trajectory < 1 s")


if __name__ == "__main__":
    main()
