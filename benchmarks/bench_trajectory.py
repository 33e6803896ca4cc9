"""The 5-minute trajectory: the built-in model's, then a DAMER network's option by option, and how
far each option moves the predictions.

    python benchmarks/bench_trajectory.py [--audio tests/data] [--model tests/data/damer-4q-binary.pt]

First the built-in model (the descriptor head: decode, descriptors of the 601 windows, the head)
on a generated 5-minute track, as the worker computes it. Then the DAMER bundle --model (by default
the former built-in, two networks): its whole-track trajectory (601 points on the 0.5 s grid) for
each option, and the largest change in probability against float32 over the real recordings in
--audio. An option is kept only if it changes no probability by more than 0.01. Decoding and
features are timed separately.
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


REPEATS = [3]  # best of; --quick: 1


def timed(fn, repeats: int | None = None) -> tuple[float, object]:
    fn()  # warm-up
    best, out = float("inf"), None
    for _ in range(repeats or REPEATS[0]):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


class OnnxModel:
    """A DAMER model run by ONNX Runtime (optional: pip install onnxruntime onnx), int8 when ``quantise``."""

    def __init__(self, model, n_frames: int, quantise: bool, threads: int):
        import onnxruntime as ort
        import torch

        from damer_core.models.network import ModelOutput

        class Heads(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, mel, coch):
                o = self.m(mel, coch)
                return o.z_mel, o.z_coch, o.z_fuse

        folder = Path(tempfile.mkdtemp())
        path = folder / "damer.onnx"
        example = (torch.zeros(2, model.cfg.n_mel, n_frames), torch.zeros(2, model.cfg.n_coch, n_frames))
        torch.onnx.export(Heads(model).eval(), example, str(path), input_names=["mel", "coch"], output_names=["zm", "zc", "zf"],
                          dynamic_axes={"mel": {0: "b"}, "coch": {0: "b"}}, opset_version=17, dynamo=False)
        if quantise:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(path), str(folder / "q.onnx"), weight_type=QuantType.QInt8)
            path = folder / "q.onnx"
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        self.output = ModelOutput

    def __call__(self, mel, coch):
        import torch

        zm, zc, zf = self.session.run(None, {"mel": mel.float().numpy(), "coch": coch.float().numpy()})
        return self.output(torch.from_numpy(zm), torch.from_numpy(zc), torch.from_numpy(zf), None)


def options(p) -> dict:
    """name -> (networks to use, keyword arguments of trajectory_from_frames); None where unavailable.
    ``p``: damer_core.models.networks.DamerNetworks."""
    import torch

    base = dict(p.networks)
    threads = torch.get_num_threads()
    out = {"float32, batch 256": (base, dict(batch=256, fast=False)),
           "float32, batch 64": (base, dict(batch=64, fast=False)),
           "bf16 autocast, batch 64": (base, dict(batch=64, fast=True)),
           "int8 dynamic (torch), batch 64": ({d: torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
                                                for d, m in base.items()}, dict(batch=64, fast=False))}
    out["torch.compile + bf16 autocast, batch 64 (compiled once per model)"] = (
        {d: torch.compile(m) for d, m in base.items()}, dict(batch=64, fast=True))
    out["bf16 autocast, batch 64, 1 thread (the app's worker on 2 cores)"] = (base, dict(batch=64, fast=True, threads=1))
    try:
        import onnxruntime  # noqa: F401

        n = p.feature_config.n_frames
        out["ONNX Runtime float32, batch 64"] = ({d: OnnxModel(m, n, False, threads) for d, m in base.items()},
                                                 dict(batch=64, fast=False))
        out["ONNX Runtime int8, batch 64"] = ({d: OnnxModel(m, n, True, threads) for d, m in base.items()},
                                              dict(batch=64, fast=False))
    except ImportError:
        out["ONNX Runtime (not installed: pip install onnxruntime onnx)"] = None
    return out


def builtin_model(five: Path, decode_s: float) -> None:
    """The built-in model's whole 5-minute prediction, as the worker makes it (one decode)."""
    from damer_core.features.cache import NoCache
    from damer_core.features.extract import track_features
    from damer_core.inference.predictor import Predictor

    p = Predictor(ROOT / "resources" / "models" / "damer-4q.pt", "cpu", NoCache())
    kinds = p.kinds(trajectory=True)
    whole_s, pred = timed(lambda: p.predict_file(five))
    feats = track_features(five, p.feature_config, kinds, NoCache())
    head_s, _ = timed(lambda: p.predict_from_features(five, feats))
    print(f"built-in model ({p.model.describe().title}): 5-minute track, "
          f"{len(pred.trajectory.times)} points: {whole_s:.2f} s in all (decode + loudness {decode_s:.2f} s, "
          f"features {whole_s - decode_s - head_s:.2f} s, model {head_s:.3f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audio", default=str(ROOT / "tests" / "data"))
    ap.add_argument("--model", default=str(ROOT / "tests" / "data" / "damer-4q-binary.pt"), help="a DAMER bundle")
    ap.add_argument("--quick", action="store_true", help="a small run that only checks the benchmark works (CI)")
    args = ap.parse_args()
    if args.quick:
        REPEATS[0] = 1
    import soundfile as sf
    import torch

    from damer_core.audio.decoding import load_for_model
    from damer_core.audio.synthetic import chord_music
    from damer_core.features.cache import NoCache
    from damer_core.features.extract import track_frames
    from damer_core.inference.predictor import Predictor, fast_cpu_inference
    from damer_core.models.networks import DamerNetworks

    five = Path(tempfile.mkdtemp()) / "five.flac"
    sf.write(five, chord_music(12.0 if args.quick else 300.0, True, True, 22_050, seed=3), 22_050)  # --quick: 12 s
    decode_s, _ = timed(lambda: load_for_model(five), 1)
    builtin_model(five, decode_s)
    predictor = Predictor(args.model, "cpu", NoCache())
    p = predictor.model  # DAMER networks: their trajectory from frames, the networks swapped per option
    if not isinstance(p, DamerNetworks):
        raise SystemExit(f"{args.model}: a bundle of DAMER networks is needed (this is a {p.describe().kind_name})")
    feat_s, (seq, dur) = timed(lambda: track_frames(five, p.feature_config, NoCache()), 1)
    print(f"5-minute track: decode + loudness {decode_s:.2f} s, features {feat_s - decode_s:.2f} s, "
          f"torch {torch.get_num_threads()} threads, native bf16: {fast_cpu_inference()}")
    real = sorted(Path(args.audio).glob("*.ogg"))[:1 if args.quick else None]
    real_seqs = [track_frames(r, p.feature_config, NoCache()) for r in real]
    reference = [p.trajectory_from_frames(s, d, fast=False) for s, d in real_seqs]
    base = dict(p.networks)
    results = []
    for name, option in options(p).items():
        if args.quick and not name.startswith(("float32, batch 64", "bf16 autocast, batch 64")):  # the script runs
            option = None
        if option is None:
            print(f"{name:40s} skipped")
            continue
        p.networks, kw = option
        kw = dict(kw)
        threads = kw.pop("threads", None)
        if threads:
            default_threads = torch.get_num_threads()
            torch.set_num_threads(threads)
        t0 = time.perf_counter()
        p.trajectory_from_frames(seq, dur, **kw)  # compiles where it must
        first = time.perf_counter() - t0
        seconds, _ = timed(lambda kw=kw: p.trajectory_from_frames(seq, dur, **kw))
        if threads:
            torch.set_num_threads(default_threads)
        if first > 3 * seconds + 5:
            name += f" [first call {first:.0f} s]"
        diff = 0.0
        for (s, d), ref in zip(real_seqs, reference):
            tr = p.trajectory_from_frames(s, d, **kw)
            for a, b in ((tr.valence, ref.valence), (tr.arousal, ref.arousal)):
                diff = max(diff, float(np.nanmax(np.abs(a - b))) / 2)  # V = 2p - 1
        kept = diff <= 0.01
        results.append((seconds, name, kept))
        print(f"{name:40s} model {seconds:5.2f} s   largest probability change on {len(real)} real recordings "
              f"{diff:.4f}   {'kept' if kept else 'refused'}")
    p.networks = base
    best = min(r for r in results if r[2])
    chosen = "bf16 autocast, batch 64" if fast_cpu_inference() else "float32, batch 64"
    print(f"fastest within 0.01: {best[1]} ({best[0]:.2f} s); the app uses: {chosen} "
          f"(torch only: no extra dependency); 5-minute trajectory with decode and features: "
          f"{feat_s + dict((n, s) for s, n, _ in results)[chosen]:.2f} s (target < 1 s)")


if __name__ == "__main__":
    main()
