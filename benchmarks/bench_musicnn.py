"""musicnn's embedding (damer_core.features.musicnn), as the analysis worker computes it.

    python benchmarks/bench_musicnn.py [--quick] [--threads 1] [--device cpu|cuda]

Prints the time of one 3 s patch (log-mel + network) in float32, with bf16 autocast and with
torch.compile, and how far each option moves the penultimate and the taggram on real-like audio
(an option is worth keeping only if it moves nothing by more than 0.01); then a 30 s clip's
static patches and a 5-minute track's trajectory patches (side by side, no overlap), in float32,
in memory and decoded in blocks. Last, what fine-tuning musicnn would cost: one training step
(train mode, forward and backward, batch 8) per patch, against a forward pass in eval mode, and
what fine-tuning its mid-end alone, or its front and mid-end, inside DAMER costs per 4 s
training window (on --device).
--quick: 6 s and 15 s of audio, one repeat, no compile.
"""

import argparse
import copy
import os

import numpy as np
from timing import best_time  # benchmarks/timing.py, beside this script


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the app's worker uses 1 on 2 cores)")
    ap.add_argument("--device", default="cpu", help="where the fine-tuning steps run (cpu, cuda): the last two lines")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from damer_core.audio.synthetic import chord_music
    from damer_core.features import musicnn

    rate = 22_050
    clip_s, track_s, repeats = (6.0, 15.0, 1) if args.quick else (30.0, 300.0, 3)
    clip = chord_music(clip_s, True, True, rate, seed=0)
    track = chord_music(track_s, False, False, rate, seed=1)
    net = musicnn.load_musicnn()
    batch = torch.from_numpy(musicnn.log_mel(np.resize(clip, (8, musicnn.PATCH_SAMPLES)))[:, :musicnn.PATCH_FRAMES])

    def run(model, bf16=False):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(batch)
        return torch.sigmoid(out.logits.float()).numpy(), out.penultimate.float().numpy()

    ref_tags, ref_pen = run(net)
    mel_s = best_time(lambda: musicnn.log_mel(np.resize(clip, (8, musicnn.PATCH_SAMPLES))), repeats) / 8
    print(f"log-mel: {1000 * mel_s:.1f} ms per 3 s patch")
    options = {"float32": (net, False), "bf16 autocast": (net, True)}
    if not args.quick:
        options["torch.compile, float32"] = (torch.compile(net), False)
    for name, (model, bf16) in options.items():
        seconds = best_time(lambda m=model, b=bf16: run(m, b), repeats) / len(batch)
        tags, pen = run(model, bf16)
        print(f"{name:24s} {1000 * seconds:6.1f} ms per patch (batch 8, {args.threads} thread(s)); "
              f"moves the taggram by {np.abs(tags - ref_tags).max():.4f}, the penultimate by {np.abs(pen - ref_pen).max():.4f}")

    t_clip = best_time(lambda: musicnn.embed(clip, rate), repeats)
    t_track = best_time(lambda: musicnn.embed(track, rate), repeats)
    n_track = len(musicnn.embed(track, rate)["patches"])

    def blocked():
        acc = musicnn.BlockEmbeddings(rate, net)
        for i in range(0, track.size, 1 << 16):
            acc.feed(track[i:i + (1 << 16)])
        return acc.finish()

    t_blocked = best_time(blocked, repeats)
    print(f"{clip_s:.0f} s clip (static): {len(musicnn.embed(clip, rate)['patches'])} patches in {t_clip:.2f} s")
    print(f"{track_s / 60:.1f}-minute track (trajectory): {n_track} patches in {t_track:.2f} s in memory, "
          f"{t_blocked:.2f} s decoded in blocks")
    train_step = training_step_seconds(net, batch, repeats)
    print(f"fine-tuning musicnn: a training step costs {1000 * train_step:.1f} ms per patch ({args.threads} thread(s)); "
          f"1,000 training windows of 3 s: {train_step * 1000 / 60:.1f} min an epoch")
    where = args.device if args.device != "cpu" else f"{args.threads} thread(s)"
    for preset, layers in [("context-musicnn-tuned", "the mid-end only"), ("context-musicnn-full", "front and mid-end")]:
        step, n_windows = layers_step_seconds(clip, preset, repeats, args.device)
        print(f"fine-tuning {layers} inside DAMER ({preset}): musicnn's part of a training step costs "
              f"{1000 * step:.1f} ms per 4 s window ({n_windows} packed windows a batch, {where}); "
              f"a 4Q fold's 5,100 windows: {step * 5100 / 60:.1f} min an epoch")
    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs")


def layers_step_seconds(clip, preset: str, repeats: int, device: str) -> tuple[float, int]:
    """Seconds per window of forward + backward through the musicnn layers a DAMER trains with
    ``preset`` (its mid-end, or front and mid-end: damer_core.models.network) on the clip's packed
    training windows, which is all that preset adds to a DAMER step."""
    import torch

    from damer_core.features.midend_windows import training_windows_of
    from damer_core.features.spectra import MUSICNN_FULL, PRESETS
    from damer_core.features.tuned_midend import load_msd_layers
    from damer_core.models.network import DAMER, ModelConfig

    cfg = PRESETS[preset]
    packed, _ = training_windows_of(clip, cfg)
    model = DAMER(ModelConfig(n_frames=cfg.n_frames, n_mel=cfg.n_mels, n_classes=4, musicnn_midend=True,
                              musicnn_front_end=cfg.mel_path == MUSICNN_FULL))
    load_msd_layers(model.midend.layers, model.front_end)
    model.to(device).train()
    batch = torch.from_numpy(packed.astype(np.float32)).to(device)

    def step():
        model.zero_grad(set_to_none=True)
        model.unpack(batch).sum().backward()
        if batch.is_cuda:
            torch.cuda.synchronize()

    with torch.enable_grad():
        return best_time(step, repeats) / len(batch), len(batch)


def training_step_seconds(net, batch, repeats: int) -> float:
    """Seconds per patch of forward + backward in train mode (batch statistics, every weight
    trainable), on a copy: the loaded network stays in eval mode."""
    import torch

    trainable = copy.deepcopy(net).train()
    for w in trainable.parameters():
        w.requires_grad_(True)

    def step():
        trainable.zero_grad(set_to_none=True)
        out = trainable(batch)
        (out.logits.sum() + out.penultimate.sum()).backward()

    with torch.enable_grad():
        return best_time(step, repeats) / len(batch)


if __name__ == "__main__":
    main()
