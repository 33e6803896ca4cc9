"""Training one DAMER model for one dimension (Alg. 1): the weighted loss of Eqn 21 with PCL,
SAML and JS consistency, Adam + cosine annealing, gradient clipping, mixed precision on CUDA."""

from __future__ import annotations

import math
import time
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F

from damer_core.calibration import (
    fit_temperature,
    fit_temperature_logits,
)
from damer_core.contract.errors import InputError
from damer_core.datasets.base import FeatureSet, show_number
from damer_core.datasets.split import MIN_TRACKS, Split
from damer_core.devices import Context
from damer_core.features.spectra import MUSICNN_FULL, TUNED_PATHS
from damer_core.features.tuned_midend import load_msd_layers
from damer_core.models.network import DAMER, ModelConfig
from damer_core.models.network.heads import calibration_figures, evaluate_heads, head_logits, no_report, selection_score
from damer_core.models.network.loader import host_batch, host_descriptors, prefetched
from damer_core.models.network.maths import cuda_amp_dtype
from damer_core.targets import QUADRANT, class_labels, labelled, n_classes
from damer_core.training.augment import spec_augment
from damer_core.training.config import TrainConfig
from damer_core.training.midend_tuning import clip_gradients, mel_stream, parameter_groups, refuse_unfit_dims
from damer_core.training.pcl import pcl, temperature, threshold
from damer_core.training.saml import MemoryQueue, MomentumEncoder, supervised_info_nce

DIM_SEED_OFFSET = {"arousal": 0, "valence": 50_000, QUADRANT: 90_000}
_CHUNK = 512
MAX_FP16_OVERFLOWS = 25  # fp16 steps skipped in a row before a non-finite loss counts as divergence


class TrainingDiverged(InputError):
    """The loss, the weights or the validation outputs stopped being finite numbers: the run stops
    before anything from that epoch is saved."""


def band_stats(x: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and std over samples and time, in chunks (arrays may be memory-mapped)."""
    total = np.zeros(x.shape[1])
    total_sq = np.zeros(x.shape[1])
    count = 0
    for i in range(0, idx.size, _CHUNK):
        chunk = np.asarray(x[np.sort(idx[i:i + _CHUNK])], dtype=np.float64)
        total += chunk.sum(axis=(0, 2))
        total_sq += (chunk**2).sum(axis=(0, 2))
        count += chunk.shape[0] * chunk.shape[2]
    mean = total / count
    return mean, np.sqrt(np.maximum(total_sq / count - mean**2, 1e-12))


def descriptor_width(fs: FeatureSet, tcfg: TrainConfig) -> int:
    """ModelConfig.n_descriptors for a run: the feature set's descriptor count where the recipe
    feeds the descriptors to the fusion layer, else 0."""
    if not tcfg.descriptors:
        return 0
    if fs.descriptors is None or fs.descriptors.ndim != 2 or fs.descriptors.shape[1] == 0:
        raise InputError("this recipe feeds musical descriptors to DAMER's fusion layer, but the data set was "
                         "loaded without them")
    return int(fs.descriptors.shape[1])


def amp_settings(device: torch.device, enabled: bool) -> tuple[bool, torch.dtype | None]:
    if not enabled or device.type != "cuda":
        return False, None
    return True, cuda_amp_dtype()


class DimensionTrainer:
    """State of one network's run: one dimension (the paper) or the joint quadrant head (``dim`` =
    "quadrant", damer_core.targets); ``state_dict()`` is everything a resume needs."""

    def __init__(self, fs: FeatureSet, dim: str, tcfg: TrainConfig, ctx: Context, split: Split,
                 unlabelled: FeatureSet | None = None, init_state: dict | None = None,
                 base_temperature: float | None = None):
        self.fs, self.dim, self.tcfg, self.ctx, self.unlabelled = fs, dim, tcfg, ctx, unlabelled
        self.base_temperature = base_temperature  # of the model being fine-tuned, if any
        cfg = fs.feature_config
        self.n_classes = n_classes(dim)
        self.mcfg = ModelConfig(n_frames=cfg.n_frames, n_mel=cfg.n_mels, n_coch=cfg.n_gammatone, n_classes=self.n_classes,
                                dropout=tcfg.dropout, cross_attention=tcfg.dsaf, band_embedding=tcfg.band_embedding,
                                n_descriptors=descriptor_width(fs, tcfg), musicnn_midend=cfg.mel_path in TUNED_PATHS,
                                musicnn_front_end=cfg.mel_path == MUSICNN_FULL)
        refuse_unfit_dims(cfg, (dim,))
        self.train_idx, self.val_idx, self.test_idx = (split.for_dimension(fs, dim, p) for p in ("train", "val", "test"))
        if self.train_idx.size == 0 or (self.val_idx.size == 0 and tcfg.select_epoch == "best"):
            n = np.unique(fs.track[labelled(fs.valence, fs.arousal, dim)]).size
            raise InputError(f"{dim}: too few labelled tracks ({n}) to set apart a training and a validation part")
        self.labels = class_labels(fs.valence, fs.arousal, dim)
        torch.manual_seed(tcfg.seed + DIM_SEED_OFFSET[dim])
        model = DAMER(self.mcfg).to(ctx.device)  # first: the Mel stream below runs musicnn's layers there
        if init_state is not None:
            model.load_state_dict(init_state)  # fine-tuning keeps the pretrained normalisation
        else:
            if model.midend is not None:
                load_msd_layers(model.midend.layers, model.front_end)
            if model.midend is None:
                mel_stats = band_stats(fs.mel, self.train_idx)
            else:  # of the Mel stream the MSD layers make: the packed rows are not bands
                made = mel_stream(model, fs.mel, self.train_idx, ctx.device)
                mel_stats = band_stats(made, np.arange(made.shape[0]))
            model.set_normalisation(*mel_stats, *band_stats(fs.coch, self.train_idx))
            if self.mcfg.n_descriptors:
                train_desc = np.asarray(fs.window_descriptors[self.train_idx], np.float64)
                model.set_descriptor_normalisation(train_desc.mean(axis=0), train_desc.std(axis=0))
        self.model = model
        self.net: torch.nn.Module = self.model
        if ctx.distributed:
            from torch.nn.parallel import DistributedDataParallel

            self.net = DistributedDataParallel(self.model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
        self.optim = torch.optim.Adam(parameter_groups(self.model, tcfg), lr=tcfg.lr, weight_decay=tcfg.weight_decay)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.optim, T_max=tcfg.epochs)
        self.use_amp, self.amp_dtype = amp_settings(ctx.device, tcfg.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp and self.amp_dtype == torch.float16)
        self._fp16_overflows = 0  # consecutive skipped fp16 steps
        self.queue = MemoryQueue(tcfg.queue_size, self.mcfg.fusion_dim, ctx.device, self.n_classes)
        self.key_net = MomentumEncoder(self.model, tcfg.momentum)
        self.epoch = 0
        self.best_score = -math.inf
        self.best_epoch = 0
        self.best_state: dict | None = None
        self.best_val: dict = {}
        self.history: list[dict] = []
        self.final: dict | None = None  # temperature, calibration and val/test reports, after finish()

    # -- resume -----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optim.state_dict(),
                "scheduler": self.sched.state_dict(), "scaler": self.scaler.state_dict(),
                "queue": self.queue.state_dict(), "key_net": self.key_net.model.state_dict(),
                "epoch": self.epoch, "best_score": self.best_score, "best_epoch": self.best_epoch,
                "best_state": self.best_state, "best_val": self.best_val, "history": self.history,
                "final": self.final}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optim.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.queue.load_state_dict(state["queue"])
        self.key_net.model.load_state_dict(state["key_net"])
        self.epoch, self.best_score, self.best_epoch = int(state["epoch"]), float(state["best_score"]), int(state["best_epoch"])
        self.best_state, self.best_val = state["best_state"], dict(state["best_val"])
        self.history = list(state["history"])
        self.final = state.get("final") if self.epoch >= self.tcfg.epochs else None  # more epochs: not finished
        if self.sched.T_max != self.tcfg.epochs:
            self._stretch_schedule()

    def _stretch_schedule(self) -> None:
        """A resume with more epochs: the cosine runs to the new end. The scheduler's steps are
        recursive (each multiplies the last rate, 0 at the old end), so the rate of this epoch on
        the new curve is set in closed form; the steps after it follow that curve."""
        self.sched.T_max = self.tcfg.epochs
        t = self.sched.last_epoch
        for group in self.optim.param_groups:
            base = group.get("initial_lr", self.tcfg.lr)
            group["lr"] = self.sched.eta_min + (base - self.sched.eta_min) * (1 + math.cos(math.pi * t / self.tcfg.epochs)) / 2
        self.sched._last_lr = [group["lr"] for group in self.optim.param_groups]

    @property
    def done(self) -> bool:
        return self.epoch >= self.tcfg.epochs

    # -- one epoch ----------------------------------------------------------------------------
    def _order(self, n: int, epoch: int, salt: int) -> np.ndarray:
        """This rank's share of a permutation seeded by (seed, epoch): the same on resume."""
        g = torch.Generator().manual_seed(self.tcfg.seed * 1_000_003 + epoch * 7919 + salt + DIM_SEED_OFFSET[self.dim])
        perm = torch.randperm(n, generator=g).numpy()
        per_rank = int(math.ceil(n / self.ctx.world_size))
        perm = np.resize(perm, per_rank * self.ctx.world_size)  # pad by wrapping, as DistributedSampler does
        return perm[self.ctx.rank::self.ctx.world_size]

    def train_epoch(self, on_step=None) -> dict:
        t0 = time.perf_counter()
        tc, dev = self.tcfg, self.ctx.device
        self.epoch += 1
        epoch = self.epoch
        torch.manual_seed(tc.seed * 7 + epoch * 104_729 + DIM_SEED_OFFSET[self.dim] + self.ctx.rank)
        tau = temperature(epoch, tc.epochs, tc.tau_min, tc.tau_max) if tc.pcl else 1.0
        theta = threshold(epoch, tc.epochs, tc.theta_0, tc.theta_min)
        order = self.train_idx[self._order(self.train_idx.size, epoch, 0)]
        u_order = None
        if self.unlabelled is not None and tc.pcl:
            u_order = self._order(len(self.unlabelled), epoch, 1)
        self.model.train()
        sums: dict[str, float] = {}
        counted = 0
        n_steps = int(math.ceil(order.size / tc.batch_size))
        pin = dev.type == "cuda"

        def host(step: int):
            b = order[step * tc.batch_size:(step + 1) * tc.batch_size]
            mel, coch, sorted_b = host_batch(self.fs, b, pin and u_order is None)
            desc = host_descriptors(self.fs, sorted_b, pin and u_order is None) if uses_desc else None
            y = torch.from_numpy(self.labels[sorted_b])
            if u_order is not None:
                ub = u_order[(step * tc.batch_size) % u_order.size:][:tc.batch_size]
                umel, ucoch, u_sorted = host_batch(self.unlabelled, ub, False)
                mel, coch = torch.cat([mel, umel]), torch.cat([coch, ucoch])
                if desc is not None:
                    desc = torch.cat([desc, host_descriptors(self.unlabelled, u_sorted, False)])
                if pin:
                    mel, coch = mel.pin_memory(), coch.pin_memory()
                    desc = None if desc is None else desc.pin_memory()
            return mel, coch, desc, y

        uses_desc = self.mcfg.n_descriptors > 0
        for step, (mel, coch, desc, y) in enumerate(prefetched(host, n_steps)):
            mel, coch = mel.to(dev, non_blocking=True), coch.to(dev, non_blocking=True)
            desc = None if desc is None else desc.to(dev, non_blocking=True)
            y = y.to(dev)
            n_lab = y.shape[0]
            where = f"epoch {epoch}/{tc.epochs}, step {step + 1}/{n_steps}"
            stats = self._step(mel, coch, desc, y, n_lab, tau, theta, where=where)
            if stats is not None:  # None: an fp16 overflow step the scaler skipped
                counted += 1
                for k, v in stats.items():
                    sums[k] = sums.get(k, 0.0) + v
            if on_step is not None:
                on_step(step + 1, n_steps)
        self.sched.step()
        means = {k: v / max(counted, 1) for k, v in sums.items()}
        record = {
            "dim": self.dim, "epoch": epoch, "epochs": tc.epochs, "lr": self.optim.param_groups[0]["lr"],
            "loss": {k: means[k] for k in ("total", "cls", "pl", "cons", "cont")},
            "tau": tau, "theta": theta,
            "confidence": means["confidence"], "reliability": means["reliability"],
            "mask_ratio": means["mask_ratio"], "pl_strength": means["pl_strength"],
            "queue_entropy": self.queue.label_entropy(), "queue_coverage": self.queue.class_coverage(),
        }
        self._check_weights(epoch)
        # a recipe that keeps its last epoch may have no validation part (fitted on every track)
        record["val"] = self.evaluate() if self.val_idx.size else no_report(self.n_classes)
        if self.val_idx.size:
            self._check_outputs(record["val"], epoch)
        score = selection_score(record["val"]) if tc.select_epoch == "best" else float(epoch)
        record["best"] = score > self.best_score or self.best_state is None
        if record["best"]:
            self.best_score = score
            self.best_epoch = epoch
            self.best_state = {k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()}
            self.best_val = record["val"]
        record["seconds"] = time.perf_counter() - t0
        self.history.append(record)
        return record

    def _step(self, mel, coch, desc, y, n_lab: int, tau: float, theta: float,
              where: str = "a step") -> dict[str, float] | None:
        tc = self.tcfg
        autocast = torch.autocast("cuda", dtype=self.amp_dtype) if self.use_amp else nullcontext()
        with autocast:
            mel = self.model.unpack(mel)  # first: the masking below hides the Mel stream's channels, not packed rows
            if tc.spec_augment:
                mel, coch = spec_augment(mel, coch, self.model.mel_mean.to(mel.dtype), self.model.coch_mean)
            out = self.net(mel, coch, desc)
        z_mel, z_coch, z_fuse, fused = (t.float() for t in out)
        lab = slice(0, n_lab)
        ls = tc.label_smoothing
        l_cls = (F.cross_entropy(z_mel[lab], y, label_smoothing=ls) + F.cross_entropy(z_coch[lab], y, label_smoothing=ls)
                 + F.cross_entropy(z_fuse[lab], y, label_smoothing=ls))  # Eqn 22
        res = pcl(z_mel, z_coch, z_fuse, tau, theta)  # Eqns 10-17 on every batch (Alg. 1)
        l_pl = res.loss if tc.pcl else z_fuse.sum() * 0.0
        l_cons = res.consistency  # Eqn 23
        keys, key_labels = self.queue.keys()
        l_cont = (supervised_info_nce(fused[lab], y, keys, key_labels, tc.tau_cont)
                  if tc.saml else fused.sum() * 0.0)  # Eqns 19-20
        loss = tc.lambda_cls * l_cls + tc.lambda_pl * l_pl + tc.lambda_cons * l_cons + tc.lambda_cont * l_cont
        finite = self._finite_everywhere(loss)
        if not finite and self.scaler.is_enabled() and self._fp16_overflows < MAX_FP16_OVERFLOWS:
            # fp16 autocast overflows now and then: skip the step and halve the scale, as
            # GradScaler does for an overflowing gradient; only a run of them means divergence
            self._fp16_overflows += 1
            self.optim.zero_grad(set_to_none=True)
            self.scaler.update(self.scaler.get_scale() / 2)
            return None
        self._fp16_overflows = 0 if finite else self._fp16_overflows
        if not finite:  # before the update: the weights stay as the last good step left them
            terms = {"cls": l_cls, "pl": l_pl, "cons": l_cons, "cont": l_cont}
            bad = [k for k, v in terms.items() if not torch.isfinite(v.detach()).all()]
            value = float(loss.detach())
            what = show_number(value) if not math.isfinite(value) else "not finite in another process"
            self._diverged(f"the training loss became {what} at {where}"
                           + (f" (not finite: {', '.join(bad)})" if bad else ""))
        self.optim.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optim)
        clip_gradients(self.optim, tc.grad_clip)
        self.scaler.step(self.optim)
        self.scaler.update()
        if tc.saml:
            self.key_net.update(self.model)
            keys = self.key_net.keys(mel[:n_lab], coch[:n_lab], None if desc is None else desc[:n_lab])
            self.queue.enqueue(keys, y)  # Eqn 18
        return {"total": float(loss.detach()), "cls": float(l_cls.detach()), "pl": float(l_pl.detach()),
                "cons": float(l_cons.detach()), "cont": float(l_cont.detach()),
                "confidence": float(res.confidence.mean()), "reliability": float(res.reliability.mean()),
                "mask_ratio": float(res.mask.float().mean()), "pl_strength": float(res.strength)}

    # -- divergence ---------------------------------------------------------------------------
    def _finite_everywhere(self, t: torch.Tensor) -> bool:
        """Finite on every rank: a rank that stopped alone would leave the others waiting."""
        ok = torch.isfinite(t.detach()).all().to(torch.float32).reshape(1)
        if self.ctx.distributed:
            import torch.distributed as dist

            dist.all_reduce(ok, op=dist.ReduceOp.MIN)
        return bool(ok.item())

    def _check_weights(self, epoch: int) -> None:
        params = [p.detach() for p in self.model.parameters()]
        if not torch.stack([torch.isfinite(p).all() for p in params]).all():
            self._diverged(f"the model weights stopped being finite numbers during epoch {epoch}/{self.tcfg.epochs}")

    def _check_outputs(self, val: dict, epoch: int) -> None:
        """A finite log-loss on every head (AUC and F1 may be undefined; the log-loss never is, for
        finite outputs on a non-empty validation part)."""
        bad = [h for h, r in val.items() if not math.isfinite(r["nll"])]
        if bad:
            self._diverged(f"the validation outputs of the {', '.join(bad)} head(s) stopped being finite numbers "
                           f"after epoch {epoch}/{self.tcfg.epochs}")

    def _diverged(self, what: str) -> None:
        raise TrainingDiverged(f"{self.dim}: {what}; training stopped and nothing from this epoch was saved "
                               f"(try a learning rate below {self.tcfg.lr:g}, or check the data)")

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self) -> dict[str, dict[str, float]]:
        """The validation part's per-track report for each head (what chooses the epoch, unless
        the recipe takes the last one)."""
        return evaluate_heads(self.model, self.fs, self.val_idx, self.labels, self.ctx.device)

    @property
    def final_report(self) -> dict:
        """What :meth:`finish` computed (temperature, calibration, reports); RuntimeError before it."""
        if self.final is None:
            raise RuntimeError(f"{self.dim}: training has not finished, so it has no final report")
        return self.final

    def finish(self) -> dict:
        """After the last epoch: the chosen epoch's temperature (fitted on the validation part) and
        its validation and test reports with calibrated probabilities. The test part is scored here
        once, for the chosen epoch only."""
        model = self.best_model()
        val_logits = head_logits(model, self.fs, self.val_idx, self.ctx.device)["fuse"]
        val_y = self.labels[np.sort(self.val_idx)]
        temp, source = self._temperature(val_logits, val_y)
        calib = {"val": calibration_figures(val_logits, val_y, temp)}
        reports = {"val": evaluate_heads(model, self.fs, self.val_idx, self.labels, self.ctx.device, temp)}
        if self.test_idx.size:
            test_logits = head_logits(model, self.fs, self.test_idx, self.ctx.device)["fuse"]
            calib["test"] = calibration_figures(test_logits, self.labels[np.sort(self.test_idx)], temp)
            reports["test"] = evaluate_heads(model, self.fs, self.test_idx, self.labels, self.ctx.device, temp,
                                             intervals=True)
        self.final = {"temperature": temp, "temperature_source": source, "calibration": calib, "metrics": reports}
        return self.final

    def best_model(self) -> DAMER:
        """The chosen epoch's network, in eval mode, on the run's device."""
        if self.best_state is None:
            raise RuntimeError(f"{self.dim}: no epoch has been trained yet, so there is no chosen network")
        model = DAMER(self.mcfg).to(self.ctx.device)
        model.load_state_dict(self.best_state)
        return model.eval()

    def _temperature(self, logits: np.ndarray, y: np.ndarray) -> tuple[float, str]:
        """Fitted on the validation part, unless it is too small or one-sided to fit: then a
        fine-tuned model keeps its base model's temperature (1.0 from scratch), so a curator's
        dozen labels do not put every marker back on the rim."""
        n_tracks = np.unique(self.fs.track[self.val_idx]).size
        if n_tracks >= MIN_TRACKS and np.unique(y).size >= 2:
            if self.n_classes == 2:
                return fit_temperature(logits[:, 1] - logits[:, 0], y), "validation part"
            return fit_temperature_logits(logits, y), "validation part"
        if self.base_temperature is not None:
            return float(self.base_temperature), "base model (validation part too small to fit one)"
        return 1.0, "default (validation part too small to fit one)"


