"""Long files are read twice in blocks instead of held in memory: the streamed features equal the
in-memory ones (the path is switched on for a short generated track by lowering the threshold)."""

import numpy as np
import pytest

from app_helpers import tagged
from damer_core import extract
from damer_core.cache import FeatureCache
from damer_core.features import CLIP, preset


@pytest.mark.parametrize("cfg", [CLIP, preset("context")], ids=["clip", "context"])
def test_streamed_features_equal_the_in_memory_ones(tmp_path, monkeypatch, cfg):
    track = tagged(tmp_path / "long.flac", 95.0, seed=4)  # longer than the 15-75 s model segment
    kinds = ("frames", "train", "display")
    whole = extract.track_features(track, cfg, kinds, FeatureCache(tmp_path / "a"))
    streamed_calls = []
    original = extract._streamed
    monkeypatch.setattr(extract, "_streamed", lambda *a: streamed_calls.append(1) or original(*a))
    monkeypatch.setattr(extract, "LONG_SECONDS", 30)
    streamed = extract.track_features(track, cfg, kinds, FeatureCache(tmp_path / "b"))
    assert streamed_calls == [1]
    for kind in kinds:
        assert whole[kind].keys() == streamed[kind].keys()
        for name, a in whole[kind].items():
            b = streamed[kind][name]
            assert a.shape == b.shape, (kind, name)
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4, err_msg=f"{kind}.{name}")


def test_a_file_that_changes_between_the_two_passes_says_so(tmp_path, monkeypatch):
    from damer_core.audio import AudioError, DecodeStream, blocks_for_model

    track = tagged(tmp_path / "t.wav", 20.0, seed=1)
    n, _, blocks = blocks_for_model(DecodeStream(track, 22_050))
    tagged(track, 12.0, seed=2)  # rewritten shorter before the second pass
    with pytest.raises(AudioError, match="changed while it was being read"):
        for _ in blocks():
            pass
