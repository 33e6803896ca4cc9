"""Device choice and torchrun / DistributedDataParallel set-up."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from damer_core.contract.errors import UserError

if TYPE_CHECKING:
    import torch


class DeviceError(UserError):
    """The asked-for device does not exist here (no silent fallback)."""


@dataclass
class Context:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(spec: str = "auto"):
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {spec}: no CUDA GPU is available here (use --device cpu or auto)")
        dev = torch.device(spec)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) here")
        return dev
    raise DeviceError(f"--device {spec}: expected auto, cpu, cuda or cuda:N")


def available_devices() -> list[tuple[str, str]]:
    """``[(spec, human name)]`` of what really exists: every CUDA GPU by name, then the CPU."""
    import torch

    out = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            out.append((f"cuda:{i}", f"GPU {i}: {torch.cuda.get_device_name(i)}"))
    out.append(("cpu", "CPU"))
    return out


def setup(spec: str = "auto") -> Context:
    """Single process, or one rank of ``torchrun --nproc_per_node=N`` (NCCL on GPUs, gloo on CPU)."""
    import torch
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context(resolve_device(spec))
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(spec)
    if device.type == "cuda":
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(device, rank, world, local)


def teardown(ctx: Context) -> None:
    if ctx.distributed:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
