"""One test per equation of PCL and SAML (paper Eqns 9-20)."""

import math

import pytest
import torch
import torch.nn.functional as F

from damer_core.models.network import DAMER, ModelConfig
from damer_core.training.pcl import js_divergence, pcl, temperature, threshold
from damer_core.training.saml import MemoryQueue, MomentumEncoder, supervised_info_nce


def test_js_is_bounded_by_zero_and_ln2():
    g = torch.Generator().manual_seed(0)
    p = torch.softmax(torch.randn(1000, 2, generator=g) * 5, -1)
    q = torch.softmax(torch.randn(1000, 2, generator=g) * 5, -1)
    js = js_divergence(p, q)
    assert js.min() >= 0 and js.max() <= math.log(2) + 1e-6
    assert js_divergence(p, p).abs().max() < 1e-6
    one_hot = torch.tensor([[1.0, 0.0]])
    assert js_divergence(one_hot, torch.tensor([[0.0, 1.0]])).item() == pytest.approx(math.log(2), abs=1e-4)
    r = torch.exp(-js)
    assert r.min() >= 0.5 - 1e-6 and r.max() <= 1.0


def test_schedules_end_points_and_monotone():
    T = 80
    assert temperature(1, T) == pytest.approx(1.5)
    assert temperature(T + 1, T) == pytest.approx(0.7)  # rho = 1 after the last epoch
    assert temperature(T, T) == pytest.approx(0.7 + 0.8 / T)
    assert threshold(1, T) == pytest.approx(0.65)
    assert threshold(T + 1, T) == pytest.approx(0.35)
    taus = [temperature(t, T) for t in range(1, T + 1)]
    thetas = [threshold(t, T) for t in range(1, T + 1)]
    assert all(a > b for a, b in zip(taus, taus[1:])) and all(a > b for a, b in zip(thetas, thetas[1:]))


def test_pcl_selection_and_reliability_weighted_loss():
    z_mel = torch.tensor([[3.0, 0.0], [0.0, 3.0], [0.2, 0.0], [2.0, 0.0]])
    z_coch = torch.tensor([[2.5, 0.0], [0.0, 2.0], [0.0, 0.3], [0.0, 2.0]])
    z_fuse = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.3, 0.1]], requires_grad=True)
    tau, theta = 1.2, 0.6
    res = pcl(z_mel, z_coch, z_fuse, tau, theta)
    p_m, p_c = torch.softmax(z_mel / tau, -1), torch.softmax(z_coch / tau, -1)
    m = (p_m + p_c) / 2
    js = 0.5 * (p_m * (p_m / m).log()).sum(-1) + 0.5 * (p_c * (p_c / m).log()).sum(-1)
    r = torch.exp(-js)
    c = r * m.max(-1).values
    assert torch.allclose(res.reliability, r, atol=1e-5) and torch.allclose(res.confidence, c, atol=1e-5)
    assert res.mask.tolist() == (c >= theta).tolist() == [True, True, False, False]
    assert res.pseudo[:2].tolist() == [0, 1]
    sel = res.mask
    expected = (r[sel] * F.cross_entropy(z_fuse[sel], m.argmax(-1)[sel], reduction="none")).mean()
    assert res.loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert res.strength.item() == pytest.approx(m.max(-1).values[sel].mean().item(), rel=1e-5)
    res.loss.backward()
    assert z_fuse.grad[2:].abs().sum() == 0 and z_fuse.grad[:2].abs().sum() > 0


def test_pcl_with_nothing_selected_gives_zero_loss():
    z = torch.zeros(3, 2, requires_grad=True)
    res = pcl(z, z, z, 1.0, 0.99)
    assert not res.mask.any() and res.loss.item() == 0.0


def test_queue_wraps_with_circular_pointer():
    q = MemoryQueue(size=5, dim=2)
    q.enqueue(torch.tensor([[1.0, 0], [2, 0], [3, 0]]), torch.tensor([0, 1, 0]))
    assert q.ptr == 3 and q.filled == 3
    q.enqueue(torch.tensor([[0, 1.0], [0, 2], [0, 3], [0, 4]]), torch.tensor([1, 1, 0, 1]))
    assert q.ptr == 2 and q.filled == 5
    assert q.labels.tolist() == [0, 1, 0, 1, 1]  # slots 0,1 overwritten by the last two
    assert torch.allclose(q.features.norm(dim=-1), torch.ones(5))  # L2-normalised (Eqn 18)
    assert q.class_coverage() == [pytest.approx(0.4), pytest.approx(0.6)]
    assert q.label_entropy() == pytest.approx(-(0.4 * math.log(0.4) + 0.6 * math.log(0.6)))
    state = q.state_dict()
    q2 = MemoryQueue(size=5, dim=2)
    q2.load_state_dict(state)
    assert q2.ptr == 2 and torch.equal(q2.features, q.features)


def test_info_nce_lower_for_aligned_same_class_keys():
    keys = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.1], [-1.0, 0.0], [-1.0, -0.1]]), dim=-1)
    key_labels = torch.tensor([0, 0, 1, 1])
    aligned = supervised_info_nce(torch.tensor([[1.0, 0.05]]), torch.tensor([0]), keys, key_labels)
    opposed = supervised_info_nce(torch.tensor([[-1.0, 0.0]]), torch.tensor([0]), keys, key_labels)
    assert aligned < opposed
    # averaged over positives: a query with its two positives equal to log-softmax mean
    q = torch.tensor([[1.0, 0.0]])
    logits = (F.normalize(q, dim=-1) @ keys.t()) / 0.07
    expected = -torch.log_softmax(logits, -1)[0, :2].mean()
    assert supervised_info_nce(q, torch.tensor([0]), keys, key_labels).item() == pytest.approx(expected.item(), rel=1e-5)
    assert supervised_info_nce(q, torch.tensor([0]), keys[:0], key_labels[:0]).item() == 0.0


def test_momentum_encoder_is_an_ema():
    torch.manual_seed(0)
    model = DAMER(ModelConfig(n_layers=1))
    enc = MomentumEncoder(model, momentum=0.95)
    before = enc.model.proj_mel.weight.clone()
    with torch.no_grad():
        model.proj_mel.weight.add_(1.0)
    enc.update(model)
    assert torch.allclose(enc.model.proj_mel.weight, 0.95 * before + 0.05 * model.proj_mel.weight, atol=1e-6)
    assert not any(p.requires_grad for p in enc.model.parameters())
