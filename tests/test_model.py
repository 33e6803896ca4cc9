import pytest
import torch

from damer_core.models.network import DAMER, ModelConfig


@pytest.mark.parametrize("t", [87, 44])
def test_shapes_follow_the_config(t):
    model = DAMER(ModelConfig(n_frames=t)).eval()
    out = model(torch.randn(3, 128, t), torch.randn(3, 84, t))
    assert out.z_mel.shape == out.z_coch.shape == out.z_fuse.shape == (3, 2)
    assert out.fused.shape == (3, 256)
    with pytest.raises(ValueError, match=f"expected Mel \\[B, 128, {t}\\]"):
        model(torch.randn(3, 128, t + 1), torch.randn(3, 84, t))


@pytest.mark.parametrize("cross", [True, False])
def test_dsaf_lets_each_view_attend_to_the_other(cross):
    torch.manual_seed(0)
    model = DAMER(ModelConfig(cross_attention=cross)).eval()
    mel = torch.randn(2, 128, 87)
    coch_a, coch_b = torch.randn(2, 84, 87), torch.randn(2, 84, 87)
    with torch.no_grad():
        changed = not torch.allclose(model(mel, coch_a).z_mel, model(mel, coch_b).z_mel)
    assert changed == cross  # with DSAF off the Mel head never sees the cochleogram


def test_normalisation_is_applied_and_stored():
    model = DAMER(ModelConfig(n_layers=1)).eval()
    model.set_normalisation(torch.full((128,), 2.0), torch.full((128,), 4.0), torch.zeros(84), torch.ones(84))
    x = torch.randn(1, 128, 87)
    ref = DAMER(ModelConfig(n_layers=1)).eval()
    ref.load_state_dict({**model.state_dict(), "mel_mean": torch.zeros(128, 1), "mel_std": torch.ones(128, 1)})
    c = torch.randn(1, 84, 87)
    assert torch.allclose(model(x * 4 + 2, c).z_fuse, ref(x, c).z_fuse, atol=1e-4)
    assert "mel_std" in model.state_dict()


def test_config_round_trip():
    cfg = ModelConfig(n_frames=44, cross_attention=False)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown model-config fields: nope"):
        ModelConfig.from_dict({"nope": 1})
