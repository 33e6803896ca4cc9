"""Convert musicnn 0.1.0's MSD_musicnn TensorFlow checkpoint into damer_core's PyTorch port
(damer_core/features/musicnn.py), once, in two steps:

1. ``export`` runs in a scratch environment, never the project's (tensorflow-cpu 2.16, tf-keras,
   ``TF_USE_LEGACY_KERAS=1``, and the musicnn wheel installed with ``--no-deps``): it writes the
   checkpoint's variables (the Adam slots dropped) to an .npz, and the reference values the
   TensorFlow graph itself gives on a few patches of real recordings (the input patches, the
   50-tag taggram and the 200-d penultimate layer). The reference is made from the graph, not
   from ``musicnn.extractor.extractor()``, which returns the first patch's penultimate for every
   patch.
2. ``pack`` runs in the project's environment: it maps the variables onto the port's state dict
   (HWIO -> OIHW, dense kernels transposed), checks the port against the reference (the taggram
   to 1e-3; the penultimate layer to 5e-3, see damer_core.features.musicnn.PENULTIMATE_TOLERANCE),
   and saves a weights-only bundle with the licence notice.

    TF_USE_LEGACY_KERAS=1 scratch/bin/python packaging/convert_musicnn.py export \\
        --out /tmp/msd_musicnn_tf.npz --reference tests/data/musicnn_reference.npz \\
        tests/data/vibe_ace.ogg tests/data/hungarian_dance_5.ogg
    .venv/bin/python packaging/convert_musicnn.py pack --tf /tmp/msd_musicnn_tf.npz \\
        --reference tests/data/musicnn_reference.npz --out resources/models/musicnn/msd_musicnn.pt
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

PATCHES_PER_FILE = 3  # the reference keeps the fixture small: 3 patches (9 s) of each recording
LICENCE = (
    "musicnn 0.1.0, MSD_musicnn weights. Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019. "
    "Code developed by Jordi Pons (www.jordipons.me). Permission to use, copy, modify, and/or distribute this "
    "software for any purpose with or without fee is hereby granted, provided that the above copyright notice and "
    "this permission notice appear in all copies. THE SOFTWARE IS PROVIDED \"AS IS\" AND THE AUTHOR DISCLAIMS ALL "
    "WARRANTIES WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS. IN NO "
    "EVENT SHALL THE AUTHOR BE LIABLE FOR ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES "
    "WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN ACTION OF CONTRACT, NEGLIGENCE OR OTHER "
    "TORTIOUS ACTION, ARISING OUT OF OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE."
)
ATTRIBUTION = ("J. Pons and X. Serra, musicnn: pre-trained convolutional neural networks for music audio tagging, "
               "ISMIR 2019 late-breaking demo; https://github.com/jordipons/musicnn")


def export(out: Path, reference: Path, files: list[str]) -> None:
    import tensorflow as tf
    from musicnn import extractor, models

    tf.compat.v1.disable_eager_execution()
    folder = os.path.join(os.path.dirname(extractor.__file__), "MSD_musicnn") + "/"
    reader = tf.compat.v1.train.NewCheckpointReader(folder)
    names = [n for n in reader.get_variable_to_shape_map() if "Adam" not in n and not n.startswith("beta")]
    np.savez(out, **{n: reader.get_tensor(n) for n in names})
    print(f"{len(names)} variables, {sum(reader.get_tensor(n).size for n in names):,} numbers -> {out}")

    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        logits, *_, penultimate = models.define_model(x, is_training, "MSD_musicnn", 50)
    sess = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(sess, folder)
    inputs, taggram, pen, source = [], [], [], []
    for path in files:
        batch, _ = extractor.batch_data(path, 187, 187)
        batch = batch[:PATCHES_PER_FILE]
        t, p = sess.run([tf.nn.sigmoid(logits), penultimate], feed_dict={x: batch, is_training: False})
        inputs.append(batch.astype(np.float16))
        taggram.append(t)
        pen.append(p)
        source += [Path(path).name] * len(batch)
    np.savez_compressed(reference, input=np.concatenate(inputs), taggram=np.concatenate(taggram),
                        penultimate=np.concatenate(pen), source=np.array(source))
    print(f"reference of {len(source)} patches -> {reference}")


STATE_NAMES = {  # port's module -> the checkpoint's layer, in the original graph's order
    "input_bn": "batch_normalization",
    "timbral.0.conv": "conv2d", "timbral.0.bn": "batch_normalization_1",
    "timbral.1.conv": "conv2d_1", "timbral.1.bn": "batch_normalization_2",
    "temporal.0.conv": "conv2d_2", "temporal.0.bn": "batch_normalization_3",
    "temporal.1.conv": "conv2d_3", "temporal.1.bn": "batch_normalization_4",
    "temporal.2.conv": "conv2d_4", "temporal.2.bn": "batch_normalization_5",
    "midend.0.conv": "conv2d_5", "midend.0.bn": "batch_normalization_6",
    "midend.1.conv": "conv2d_6", "midend.1.bn": "batch_normalization_7",
    "midend.2.conv": "conv2d_7", "midend.2.bn": "batch_normalization_8",
    "pool_bn": "batch_normalization_9",
    "dense": "dense", "dense_bn": "batch_normalization_10",
    "tags": "dense_1",
}


def state_dict_from(tf_vars: dict[str, np.ndarray]) -> dict:
    import torch

    state = {}
    for module, layer in STATE_NAMES.items():
        if "bn" in module.split(".")[-1]:
            for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"),
                                 ("running_var", "moving_variance")):
                state[f"{module}.{ours}"] = tf_vars[f"{layer}/{theirs}"]
            continue
        kernel = tf_vars[f"{layer}/kernel"]
        if kernel.ndim == 2:  # dense: [in, out] -> [out, in]
            weight = kernel.T
        elif module.startswith("midend"):  # [7, C_in, 1, C_out] -> Conv1d [C_out, C_in, 7]
            weight = kernel[:, :, 0, :].transpose(2, 1, 0)
        else:  # HWIO -> OIHW
            weight = kernel.transpose(3, 2, 0, 1)
        state[f"{module}.weight"], state[f"{module}.bias"] = weight, tf_vars[f"{layer}/bias"]
    return {k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32)) for k, v in state.items()}


def pack(tf_npz: Path, reference: Path, out: Path) -> None:
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from damer_core.contract.fileutil import atomic_write
    from damer_core.features.musicnn import (
        PENULTIMATE_TOLERANCE,
        TAGGRAM_TOLERANCE,
        Musicnn,
        differences_from_reference,
    )

    with np.load(tf_npz, allow_pickle=False) as z:
        tf_vars = {k: z[k] for k in z.files}
    state = state_dict_from(tf_vars)
    net = Musicnn()
    missing = set(net.state_dict()) - set(state) - {k for k in net.state_dict() if k.endswith("num_batches_tracked")}
    if missing:
        raise SystemExit(f"not mapped: {sorted(missing)}")
    net.load_state_dict(state, strict=False)
    taggram, penultimate = differences_from_reference(net, reference)
    print(f"port vs TensorFlow on the reference: taggram within {taggram:.1e}, penultimate within {penultimate:.1e}")
    if taggram > TAGGRAM_TOLERANCE or penultimate > PENULTIMATE_TOLERANCE:
        raise SystemExit("the port does not match the original")
    bundle = {"format": "musicnn-weights", "name": "MSD_musicnn", "licence": LICENCE, "attribution": ATTRIBUTION,
              "state_dict": state}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as f:
        torch.save(bundle, f)
    print(f"{sum(v.numel() for v in state.values()):,} numbers -> {out} ({out.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("export", help="in the scratch TensorFlow environment")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("files", nargs="+")
    p = sub.add_parser("pack", help="in the project's environment")
    p.add_argument("--tf", type=Path, required=True)
    p.add_argument("--reference", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "export":
        export(args.out, args.reference, args.files)
    else:
        pack(args.tf, args.reference, args.out)


if __name__ == "__main__":
    main()
