"""MSD_musicnn in PyTorch: Pons & Serra's musically motivated CNN for music tagging (musicnn
0.1.0, ISC licence, trained on the Million Song Dataset's 50 top tags), read top to bottom next
to the original's ``musicnn/models.py``. Its weights were converted once from the package's
TensorFlow checkpoint by ``packaging/convert_musicnn.py``; nothing here needs TensorFlow.

Input: patches ``[B, 187, 96]`` (3 s of 16 kHz audio, 96 log-mel bands; :func:`log_mel` makes
them). Output: the 50 tags' logits and the 200-d penultimate layer, the embedding that the
emotion heads use (docs/SPEC.md section 5b).

The order of each block is the original's: conv -> ReLU -> batch norm (epsilon 1e-3).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SAMPLE_RATE = 16_000
N_FFT = 512
HOP = 256
N_MELS = 96
MIDEND_CHANNELS = 192  # the mid-end's three layers of 64: DAMER's Mel stream when it listens through musicnn
FRONT_CHANNELS = 561
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
EMBEDDING_SIZE = 200
BN_EPS = 1e-3

MSD_TAGS = ("rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
            "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
            "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
            "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
            "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
            "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy")


PATCH_SAMPLES = PATCH_FRAMES * HOP  # 47,872: a patch's own audio gives 188 centred frames, of which 187 are kept
PATCH_SECONDS = PATCH_SAMPLES / SAMPLE_RATE


def mel_power(y: np.ndarray) -> np.ndarray:
    """``[..., frames, 96]`` float16: librosa's (Slaney) mel power spectrogram of 16 kHz mono ``y``
    (``[..., samples]``), cast to float16 as the original stores it."""
    from damer_core.features.numba_env import configure_numba_cache

    configure_numba_cache()  # before librosa (and numba) is first imported: where its compiled code is kept
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(y, np.float32), sr=SAMPLE_RATE, hop_length=HOP, n_fft=N_FFT,
                                         n_mels=N_MELS)
    return np.swapaxes(mel, -1, -2).astype(np.float16)


def log_compress(power):
    """log10(10000 x + 1) of :func:`mel_power` (an array or a tensor), taken in float32: the
    original's float16 product overflows to inf above x = 6.55 (a loud tone)."""
    if isinstance(power, torch.Tensor):
        return torch.log10(10000.0 * power.float() + 1.0)
    return np.log10(10000.0 * np.asarray(power, np.float32) + 1.0)


def log_mel(y: np.ndarray) -> np.ndarray:
    """``[..., frames, 96]`` the original's input for 16 kHz mono ``y`` (``[..., samples]``)."""
    return log_compress(mel_power(y))


class MusicnnOutput(NamedTuple):
    logits: torch.Tensor  # [B, 50] the MSD tags (sigmoid: the taggram)
    penultimate: torch.Tensor  # [B, 200]


class FrequencyMaxBlock(nn.Module):
    """A front-end branch: conv over (time, frequency) -> ReLU -> BN, then max over frequency."""

    def __init__(self, filters: int, kernel: tuple[int, int], time_pad: tuple[int, int],
                 norm: type[nn.BatchNorm2d] = nn.BatchNorm2d):
        super().__init__()
        self.time_pad = time_pad
        self.conv = nn.Conv2d(1, filters, kernel)
        self.bn = norm(filters, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, 1, T, F] -> [B, filters, T]
        x = self.conv(F.pad(x, (0, 0, *self.time_pad)))
        if self.bn.training:  # batch statistics: the batch norm must see every frequency
            return self.bn(F.relu(x)).amax(dim=3)
        # ReLU then a fixed per-channel affine map is monotone in each channel (rising where its
        # scale is positive, falling where negative), so the max over frequency of the outcome is
        # the outcome of the max or the min: the same numbers with the elementwise work done on
        # 1/F of the values. Reduced as [B, T, F, C], the conv's channels-last layout: 4x faster.
        by_time = x.permute(0, 2, 3, 1)
        rising = self.bn.weight >= 0  # the norm's scale is its weight over a positive root of the variance
        extreme = torch.where(rising, by_time.amax(dim=2), by_time.amin(dim=2)).transpose(1, 2)  # [B, C, T]
        return self.bn(F.relu(extreme).unsqueeze(3)).squeeze(3)


def same_padding(kernel: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of an even kernel: one more after than before."""
    return (kernel - 1) // 2, kernel - 1 - (kernel - 1) // 2


class MidEndLayer(nn.Module):
    """Conv1d over time (kernel 7, padded 3 each side) -> ReLU -> BN."""

    def __init__(self, channels_in: int, channels: int, norm: type[nn.BatchNorm1d] = nn.BatchNorm1d):
        super().__init__()
        self.conv = nn.Conv1d(channels_in, channels, 7, padding=3)
        self.bn = norm(channels, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))


def run_midend(layers: nn.ModuleList, front: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
    """``[B, 192, T]`` the mid-end's three layers of 64 (residuals on the 2nd and 3rd) over the
    front end's ``[B, 561, T]``. ``keep`` ``[B, 1, T]`` (1 or 0): columns that are zero padding
    between pieces of different patches, made zero again after every layer, so each piece sees
    the zero padding the original sees at its patch's edges (damer_core.features.midend_windows)."""
    masked = (lambda x: x) if keep is None else (lambda x: x * keep)  # noqa: E731
    first = masked(layers[0](masked(front)))
    second = masked(layers[1](first)) + first
    third = masked(layers[2](second)) + second
    return torch.cat([first, second, third], dim=1)


def add_front_end(module: nn.Module, norm: type[nn.BatchNorm2d] = nn.BatchNorm2d) -> None:
    """musicnn's front end as ``module``'s own layers, under the names the converted weights carry
    (``input_bn``, ``timbral``, ``temporal``)."""
    module.input_bn = norm(1, eps=BN_EPS)
    timbral, temporal = int(1.6 * 128), int(1.6 * 32)  # 204 and 51 filters
    module.timbral = nn.ModuleList([FrequencyMaxBlock(timbral, (7, int(share * N_MELS)), (3, 3), norm)
                                    for share in (0.4, 0.7)])
    module.temporal = nn.ModuleList([FrequencyMaxBlock(temporal, (k, 1), same_padding(k), norm)
                                     for k in (128, 64, 32)])


def run_front_end(module: Any, patches: torch.Tensor) -> torch.Tensor:  # Any: the layers are set at run time
    """``[B, 187, 96]`` log-mel patches -> ``[B, 561, T]``: :func:`add_front_end`'s branches side by side."""
    x = module.input_bn(patches.unsqueeze(1))
    return torch.cat([branch(x) for branch in (*module.timbral, *module.temporal)], dim=1)


class FrontEnd(nn.Module):
    """musicnn's front end alone (its weights' names as in :class:`Musicnn`)."""

    def __init__(self, norm: type[nn.BatchNorm2d] = nn.BatchNorm2d):
        super().__init__()
        add_front_end(self, norm)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return run_front_end(self, patches)


class Musicnn(nn.Module):
    def __init__(self, n_tags: int = len(MSD_TAGS), midend: int = 64, units: int = EMBEDDING_SIZE):
        super().__init__()
        add_front_end(self)
        front = FRONT_CHANNELS
        self.midend = nn.ModuleList([MidEndLayer(front, midend), MidEndLayer(midend, midend),
                                     MidEndLayer(midend, midend)])
        pooled = 2 * (front + 3 * midend)  # [max, mean] of 753 channels
        self.pool_bn = nn.BatchNorm1d(pooled, eps=BN_EPS)
        self.dense = nn.Linear(pooled, units)
        self.dense_bn = nn.BatchNorm1d(units, eps=BN_EPS)
        self.tags = nn.Linear(units, n_tags)

    def front_end(self, patches: torch.Tensor) -> torch.Tensor:
        """``[B, 561, T]``: the timbral and temporal branches, side by side."""
        return run_front_end(self, patches)

    def features(self, patches: torch.Tensor) -> torch.Tensor:
        """``[B, 753, T]``: the front-end's 561 channels and the mid-end's three layers of 64."""
        front = self.front_end(patches)
        return torch.cat([front, run_midend(self.midend, front)], dim=1)

    def forward(self, patches: torch.Tensor) -> MusicnnOutput:
        """``patches`` ``[B, 187, 96]`` (time, mel band)."""
        feats = self.features(patches)
        # The original flattens [753, 2] = (channel, [max, mean]): the two interleave channel by channel.
        pooled = torch.stack([feats.amax(dim=2), feats.mean(dim=2)], dim=2).flatten(1)
        penultimate = self.dense_bn(F.relu(self.dense(self.pool_bn(pooled))))
        return MusicnnOutput(self.tags(penultimate), penultimate)


WEIGHTS = "musicnn/msd_musicnn.pt"  # under resources/models (packaging/convert_musicnn.py made it)


def weights_path() -> Path:
    from damer_core.contract.paths import resources_dir

    return resources_dir() / "models" / WEIGHTS


_loaded: dict[str, Musicnn] = {}


def load_musicnn(path: str | os.PathLike | None = None) -> Musicnn:
    """The port with the converted MSD weights, in eval mode; loaded weights-only, once per process.
    bf16 autocast is hardly faster since the front end reduces first (29 against 31 ms a patch) and
    moves the penultimate by 0.04; torch.compile (23 ms) costs its compile time in every worker:
    neither is used (benchmarks/bench_musicnn.py)."""
    path = weights_path() if path is None else path
    key = str(path)
    if key not in _loaded:
        bundle = torch.load(path, map_location="cpu", weights_only=True)
        net = Musicnn()
        missing, unexpected = net.load_state_dict(bundle["state_dict"], strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]  # not saved: unused in eval mode
        if missing or unexpected or bundle.get("format") != "musicnn-weights":
            raise ValueError(f"{path}: not musicnn's weights ({len(missing)} missing, {len(unexpected)} unexpected)")
        # channels-last convolutions: the same values, a fifth faster on one CPU thread (bench_musicnn.py)
        _loaded[key] = net.eval().to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # accepted at run time, missing from the stubs
    return _loaded[key]


# How far the port may be from the TensorFlow original on the reference patches. The taggram
# agrees to 3e-4. The penultimate agrees to 3e-3, not 1e-3: the original's own float32 rounding
# (a few 1e-6 relative in the mid-end) is amplified up to 122 times by its batch_normalization_9;
# the port in float64 and in float32 agree to 3e-6, and from the original's own pooled features the
# port's back-end gives its penultimate to 6e-7 (packaging/convert_musicnn.py, checked once).
TAGGRAM_TOLERANCE = 1e-3
PENULTIMATE_TOLERANCE = 5e-3


def differences_from_reference(net: Musicnn, reference: str | os.PathLike) -> tuple[float, float]:
    """The largest differences of the port's taggram and penultimate from the TensorFlow
    original's on the reference patches (tests/data/musicnn_reference.npz)."""
    with np.load(reference, allow_pickle=False) as z:
        patches, taggram, penultimate = z["input"].astype(np.float32), z["taggram"], z["penultimate"]
    with torch.no_grad():
        out = net.eval()(torch.from_numpy(patches))
    return (float(np.abs(torch.sigmoid(out.logits).numpy() - taggram).max()),
            float(np.abs(out.penultimate.numpy() - penultimate).max()))


class PatchStream:
    """Audio that arrives in blocks at any rate, resampled to 16 kHz as it comes and cut into the
    track's 3 s patches, side by side from its start (the original's default, no overlap); the
    patches a subclass queues go through the network :attr:`BATCH` at a time, and only what it
    keeps of them is held (a long file decoded in a stream and one held in memory give the same
    values)."""

    BATCH = 8  # patches per forward pass: about 160 MB of activations, as fast per patch as 32

    def __init__(self, rate: int, net: Musicnn | None = None):
        import soxr

        self.net = net if net is not None else load_musicnn()
        self.resampler = None if rate == SAMPLE_RATE else soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32")
        self.pending = np.zeros(0, np.float32)  # until a patch is full: all of a track shorter than one
        self.index = 0  # the next whole patch's place on the track's grid
        self.queued: list[tuple[np.ndarray, object]] = []  # (patch, what the subclass needs to place it)

    def feed(self, block: np.ndarray, last: bool = False) -> None:
        block = np.asarray(block, np.float32).reshape(-1)
        if self.resampler is not None:
            block = self.resampler.resample_chunk(block, last=last)
        self.pending = np.concatenate([self.pending, block])
        whole = self.pending.size // PATCH_SAMPLES
        for patch in self.pending[:whole * PATCH_SAMPLES].reshape(whole, PATCH_SAMPLES):
            self._take(patch)
            self.index += 1
        self.pending = self.pending[whole * PATCH_SAMPLES:]
        if len(self.queued) >= self.BATCH:
            self._run()

    def _take(self, patch: np.ndarray) -> None:
        """Patch number :attr:`index` of the track: queue it (with its place) or let it go."""
        raise NotImplementedError

    def _use(self, mel: torch.Tensor, places: list) -> None:
        """Put a batch of queued patches' log-mel ``[B, 187, 96]`` through the network, in order."""
        raise NotImplementedError

    def _network_input(self, patches: np.ndarray) -> np.ndarray:
        """The network's input of 16 kHz patches: their log-mel."""
        return log_mel(patches)

    def _repeated(self) -> np.ndarray:
        """A track shorter than one patch, repeated to fill it (never padded with silence)."""
        return np.resize(self.pending, PATCH_SAMPLES)

    def _run(self) -> None:
        """The queued patches through the network, at most :attr:`BATCH` at a time (a patch's
        activations take about 20 MB: a whole track at once would take gigabytes)."""
        queued, self.queued = self.queued, []
        for i in range(0, len(queued), self.BATCH):
            part = queued[i:i + self.BATCH]
            mel = self._network_input(np.stack([patch for patch, _ in part]))[:, :PATCH_FRAMES]
            with torch.inference_mode():
                self._use(torch.from_numpy(mel), [place for _, place in part])


class BlockEmbeddings(PatchStream):
    """The penultimate layer of every 3 s patch of a track: only the patches' 200 numbers are kept.
    A track shorter than one patch is repeated to fill it."""

    def __init__(self, rate: int, net: Musicnn | None = None, within: tuple[float, float] | None = None):
        """``within``: only the patches whose centre lies in that span of seconds go through the
        network (a static segment's, on the track's own patch grid)."""
        super().__init__(rate, net)
        self.within = within
        self.kept: list[int] = []
        self.rows: list[np.ndarray] = []

    def _take(self, patch: np.ndarray) -> None:
        if self.within is None or self.within[0] <= patch_centre(self.index) < self.within[1]:
            self.queued.append((patch, self.index))

    def _use(self, mel: torch.Tensor, places: list) -> None:
        self.rows.append(self.net(mel).penultimate.numpy())
        self.kept.extend(places)

    def finish(self) -> dict[str, np.ndarray]:
        """``{"patches": [P, 200], "centres": [P]}``: each patch's embedding and its centre in
        seconds from the track's start."""
        self.feed(np.zeros(0, np.float32), last=True)
        if not self.rows and not self.queued:
            if self.index or self.pending.size == 0:
                raise ValueError("no patch to embed" if self.index else "no audio to embed")
            self.queued = [(self._repeated(), 0)]
        self._run()
        return {"patches": np.concatenate(self.rows).astype(np.float32), "centres": patch_centre(np.array(self.kept))}


def patch_centre(index):
    """The centre in seconds of the track's patch number ``index`` (patches lie side by side from 0)."""
    return (np.asarray(index) + 0.5) * PATCH_SECONDS


def embed(y: np.ndarray, rate: int, within: tuple[float, float] | None = None) -> dict[str, np.ndarray]:
    """:class:`BlockEmbeddings` of audio held in memory."""
    acc = BlockEmbeddings(rate, within=within)
    acc.feed(y)
    return acc.finish()


def patches_within(embedded: dict[str, np.ndarray], within: tuple[float, float]) -> dict[str, np.ndarray]:
    """The patches of a whole track's embedding whose centre lies in ``within`` (seconds), with
    their centres counted from its start: what :class:`BlockEmbeddings` with ``within`` gives."""
    keep = (embedded["centres"] >= within[0]) & (embedded["centres"] < within[1])
    return {"patches": embedded["patches"][keep], "centres": embedded["centres"][keep] - within[0]}


def nearest_patches(centres: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each of ``times`` (seconds), the index of the patch whose centre is nearest."""
    centres = np.asarray(centres, np.float64)
    i = np.clip(np.searchsorted(centres, times), 1, max(len(centres) - 1, 1))
    left = np.clip(i - 1, 0, len(centres) - 1)
    right = np.clip(i, 0, len(centres) - 1)
    return np.where(np.abs(centres[left] - times) <= np.abs(centres[right] - times), left, right)




class MidEndFrames(PatchStream):
    """musicnn's front and mid-end as a frame sequence for DAMER's Mel stream (docs/SPEC.md
    section 5b): the mid-end's 192 channels of every 3 s patch (the track's last part is the patch
    that ends where the track ends, of which only the frames past the last whole patch count), each
    16 ms frame averaged into the frame of the track's own grid (``hop_s``, frames centred at
    ``j * hop_s``) that it falls in. Only the ``[n_frames, 192]`` sums are held."""

    def __init__(self, rate: int, n_frames: int, hop_s: float, net: Musicnn | None = None):
        super().__init__(rate, net)
        self.n_frames, self.hop_s = n_frames, hop_s
        self.sums = np.zeros((n_frames, MIDEND_CHANNELS), np.float32)
        self.counts = np.zeros(n_frames, np.int64)
        self.last_patch = np.zeros(0, np.float32)  # the latest whole patch: the tail patch's first part

    def _take(self, patch: np.ndarray) -> None:
        start = self.index * PATCH_SAMPLES
        self.queued.append((patch, (start, start)))  # (its first sample, the first sample whose frames count)
        self.last_patch = patch

    def _flush(self) -> np.ndarray:
        """Every patch through the network, the tail patch last; ``[n_frames]`` the frame each
        frame of the grid takes its values from: itself, or where no musicnn frame fell in it (at
        an edge) its nearest filled neighbour."""
        self.feed(np.zeros(0, np.float32), last=True)
        done = self.index * PATCH_SAMPLES
        if self.pending.size and self.index:
            tail = np.concatenate([self.last_patch, self.pending])[-PATCH_SAMPLES:]
            self.queued.append((tail, (done + self.pending.size - PATCH_SAMPLES, done)))
        elif self.pending.size:
            self.queued.append((self._repeated(), (0, 0)))
        self._run()
        filled = np.flatnonzero(self.counts)
        if filled.size == 0:
            raise ValueError("no audio to describe")
        return filled[nearest_patches(filled, np.arange(self.n_frames))]  # empty frames lie at the edges only: no ties

    def finish(self) -> np.ndarray:
        """``[192, n_frames]``: each frame's mean (an empty frame its source's, :meth:`_flush`)."""
        source = self._flush()
        filled = self.counts > 0
        self.sums[filled] /= self.counts[filled, None]
        return np.ascontiguousarray(self.sums[source].T)

    def _placed(self, first: int, counts_from: int) -> tuple[np.ndarray, np.ndarray]:
        """The grid frame of each of a patch's 187 frames, and whether it counts there (its
        samples start at ``first``; those before ``counts_from`` belong to an earlier patch)."""
        samples = first + np.arange(PATCH_FRAMES) * HOP  # each frame's centre
        bins = np.rint(samples / SAMPLE_RATE / self.hop_s).astype(np.int64)
        keep = (samples >= counts_from) & (bins < self.n_frames)
        self.counts += np.bincount(bins[keep], minlength=self.n_frames)
        return bins, keep

    def _use(self, mel: torch.Tensor, places: list) -> None:
        out = self.net.features(mel)[:, FRONT_CHANNELS:].numpy()  # [B, 192, 187]
        for (first, counts_from), frames in zip(places, out, strict=True):
            bins, keep = self._placed(first, counts_from)
            np.add.at(self.sums, bins[keep], frames[:, keep].T)


def midend_frames(y: np.ndarray, rate: int, n_frames: int, hop_s: float, net: Musicnn | None = None) -> np.ndarray:
    """:class:`MidEndFrames` of audio held in memory."""
    acc = MidEndFrames(rate, n_frames, hop_s, net)
    acc.feed(y)
    return acc.finish()
