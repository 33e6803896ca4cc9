"""Batches made ahead of the step that uses them. Gathering a batch's windows (from a
memory-mapped array on disk, for Memo2496-sized data) runs in a thread while the model steps on
the previous one; on CUDA the batch is put in pinned memory, so its copy to the GPU is
asynchronous (``non_blocking``) and overlaps the computation as well."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")


def host_batch(fs, idx: np.ndarray, pin: bool) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Mel and cochleagram windows ``idx`` as CPU tensors (pinned for a CUDA copy when ``pin``), and
    the sample order they are in (sorted, so a memory-mapped array is read forwards)."""
    order = np.sort(idx)
    mel = torch.from_numpy(np.ascontiguousarray(fs.mel[order], dtype=np.float32))
    coch = torch.from_numpy(np.ascontiguousarray(fs.coch[order], dtype=np.float32))
    if pin:
        mel, coch = mel.pin_memory(), coch.pin_memory()
    return mel, coch, order


def host_descriptors(fs, order: np.ndarray, pin: bool) -> torch.Tensor:
    """The musical descriptors of windows ``order`` (as :func:`host_batch` returned it); a
    DatasetError where the feature set was loaded without them."""
    d = torch.from_numpy(np.ascontiguousarray(fs.window_descriptors[order], dtype=np.float32))
    return d.pin_memory() if pin else d


def prefetched(make: Callable[[int], T], n: int, ahead: int = 2) -> Iterator[T]:
    """``make(0) .. make(n - 1)`` in order, each made up to ``ahead`` steps before it is used.
    An error in ``make`` surfaces at the step that needs its batch."""
    if n <= 0:
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="batches") as pool:
        pending = [pool.submit(make, i) for i in range(min(ahead, n))]
        for i in range(n):
            batch = pending.pop(0).result()
            if i + ahead < n:
                pending.append(pool.submit(make, i + ahead))
            yield batch


def device_batch(
    fs, idx: np.ndarray, device, descriptors: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, np.ndarray]:
    """The mel and cochleagram inputs of samples ``idx`` on ``device`` (and their musical
    descriptors, for a model that takes them), and the sample order they are in."""
    pin = torch.device(device).type == "cuda"
    mel, coch, order = host_batch(fs, idx, pin=pin)
    desc = host_descriptors(fs, order, pin) if descriptors else None
    return (mel.to(device, non_blocking=True), coch.to(device, non_blocking=True),
            None if desc is None else desc.to(device, non_blocking=True), order)
