"""Batches made ahead of their step, pinned for a GPU copy. No CUDA GPU here: where the code
branches on one, torch's pinning and copying are replaced by recorders (the only mock)."""

import threading

import numpy as np
import pytest
import torch

from damer_core.models.network.loader import host_batch, prefetched


class Arrays:
    def __init__(self, n: int):
        self.mel = np.arange(n * 4 * 3, dtype=np.float32).reshape(n, 4, 3)
        self.coch = -self.mel


def test_batches_come_in_order_and_the_next_is_made_while_one_is_used():
    made_ahead = threading.Event()
    calls = []

    def make(i: int) -> int:
        calls.append(i)
        if i == 1:
            made_ahead.set()
        return i * 10

    got = []
    for value in prefetched(make, 5):
        if value == 0:
            assert made_ahead.wait(60), "batch 1 was not made while batch 0 was in use"
        got.append(value)
    assert got == [0, 10, 20, 30, 40] and sorted(calls) == [0, 1, 2, 3, 4]
    assert list(prefetched(make, 0)) == []


def test_an_error_making_a_batch_surfaces_at_its_step():
    def make(i: int) -> int:
        if i == 2:
            raise ValueError("window 7 of track.npz is not finite")
        return i

    seen = []
    with pytest.raises(ValueError, match="not finite"):
        for v in prefetched(make, 4):
            seen.append(v)
    assert seen == [0, 1]


def test_host_batch_sorts_and_pins_only_for_a_gpu(monkeypatch):
    pinned = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: pinned.append(self.shape) or self)
    fs = Arrays(6)
    mel, coch, order = host_batch(fs, np.array([4, 1, 3]), pin=False)
    assert order.tolist() == [1, 3, 4] and torch.equal(mel, torch.from_numpy(fs.mel[[1, 3, 4]])) and not pinned
    host_batch(fs, np.array([4, 1, 3]), pin=True)
    assert pinned == [(3, 4, 3), (3, 4, 3)]


def test_inference_copies_through_pinned_memory_without_blocking_on_a_gpu(monkeypatch):
    from damer_core.models.networks import DamerNetworks

    copies = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: copies.append("pin") or self)
    monkeypatch.setattr(torch.Tensor, "to", lambda self, *a, **k: copies.append((str(a[0]), k)) or self)
    p = DamerNetworks.__new__(DamerNetworks)
    p.device = torch.device("cuda")
    p._to_device(np.zeros((2, 4, 3), np.float64))
    assert copies == ["pin", ("cuda", {"non_blocking": True})]
    copies.clear()
    p.device = torch.device("cpu")
    out = p._to_device(np.zeros((2, 4, 3), np.float64))
    assert copies == [("cpu", {})] and out.dtype == torch.float32
