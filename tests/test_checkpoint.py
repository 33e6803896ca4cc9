"""Bundles can never run code; broken files give one-line errors naming the file."""

import pytest
import torch

from damer_core.models.checkpoint import FORMAT, BundleError, build_models, load_checkpoint, save_atomic
from damer_core.models.network import DAMER, ModelConfig


class Payload:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def tiny_bundle():
    cfg = ModelConfig(n_layers=1)
    return {"format": FORMAT, "format_version": 1, "feature_config": {}, "model_config": cfg.to_dict(),
            "dimensions": {"arousal": {"state_dict": DAMER(cfg).state_dict(), "metrics": {}, "epoch": 1}}}


def test_round_trip_and_models(tmp_path):
    path = save_atomic(tiny_bundle(), tmp_path / "m.pt")
    models = build_models(load_checkpoint(path))
    assert list(models) == ["arousal"] and not models["arousal"].training
    assert not list(tmp_path.glob(".*.tmp"))


def test_pickled_code_payload_is_refused(tmp_path):
    marker = tmp_path / "code-ran"
    bundle = tiny_bundle()
    bundle["extra"] = Payload(str(marker))
    path = tmp_path / "evil.pt"
    torch.save(bundle, path)
    with pytest.raises(BundleError) as err:
        load_checkpoint(path)
    assert not marker.exists()
    assert str(err.value).startswith("evil.pt: refused") and "\n" not in str(err.value)


def test_truncated_file_is_a_clear_error(tmp_path):
    path = save_atomic(tiny_bundle(), tmp_path / "m.pt")
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="cut.pt: truncated or corrupt"):
        load_checkpoint(cut)


@pytest.mark.parametrize("content,reason", [
    (b"", "empty"),
    (b"hello world, not a checkpoint", "truncated or corrupt"),
])
def test_garbage_files(tmp_path, content, reason):
    p = tmp_path / "g.pt"
    p.write_bytes(content)
    with pytest.raises(BundleError, match=reason):
        load_checkpoint(p)


def test_not_a_bundle_and_incomplete_and_mismatched(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "plain.pt")
    with pytest.raises(BundleError, match="not a DAMER model bundle"):
        load_checkpoint(tmp_path / "plain.pt")
    b = tiny_bundle()
    del b["model_config"]
    torch.save(b, tmp_path / "inc.pt")
    with pytest.raises(BundleError, match="missing 'model_config'"):
        load_checkpoint(tmp_path / "inc.pt")
    b = tiny_bundle()
    b["model_config"]["d_model"] = 64
    torch.save(b, tmp_path / "mis.pt")
    with pytest.raises(BundleError, match="weights for arousal do not fit"):
        build_models(load_checkpoint(tmp_path / "mis.pt"), tmp_path / "mis.pt")
    with pytest.raises(BundleError, match="file not found"):
        load_checkpoint(tmp_path / "nope.pt")


def test_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = save_atomic({"v": 1}, tmp_path / "c.pt")

    def boom(obj, f):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError):
        save_atomic({"v": 2}, path)
    monkeypatch.undo()
    assert torch.load(path, weights_only=True) == {"v": 1}
    assert not list(tmp_path.glob(".*.tmp"))
