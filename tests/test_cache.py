import os

import numpy as np
import soundfile as sf

from damer_core.audio.synthetic import chord_music
from damer_core.features import extract
from damer_core.features.cache import FeatureCache, file_identity
from damer_core.features.spectra import CLIP

SR = 22_050


def make_track(path, seed=0, seconds=8.0):
    sf.write(path, chord_music(seconds, major=True, fast=False, seed=seed), SR)
    return path


def test_put_get_round_trip_and_atomic(tmp_path):
    cache = FeatureCache(tmp_path / "c")
    track = make_track(tmp_path / "a.wav")
    arrays = {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}
    assert cache.get(track, CLIP, "k") is None
    entry = cache.put(track, CLIP, "k", arrays)
    assert entry.exists() and not list(entry.parent.glob("*.tmp"))
    np.testing.assert_array_equal(cache.get(track, CLIP, "k")["x"], arrays["x"])
    assert cache.get(track, CLIP, "other-kind") is None


def test_identity_changes_with_content_and_mtime(tmp_path):
    track = make_track(tmp_path / "a.wav")
    before = file_identity(track)
    make_track(track, seed=1)
    assert file_identity(track) != before
    st = track.stat()
    again = file_identity(track)
    os.utime(track, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert file_identity(track) != again


def test_corrupt_entry_is_deleted_and_recomputed(tmp_path):
    cache = FeatureCache(tmp_path / "c")
    track = make_track(tmp_path / "a.wav")
    seq, duration = extract.track_frames(track, CLIP, cache)
    entry = next((tmp_path / "c").rglob("*.npz"))
    raw = bytearray(entry.read_bytes())
    raw[len(raw) // 2] ^= 0xFF  # flip a byte inside the stored arrays
    entry.write_bytes(bytes(raw))
    assert cache.get(track, CLIP, extract.CACHE_KINDS["frames"]) is None
    assert not entry.exists()
    seq2, duration2 = extract.track_frames(track, CLIP, cache)
    np.testing.assert_array_equal(seq2.mel, seq.mel)
    assert duration2 == duration == 8.0 and entry.exists()
    entry.write_bytes(b"")  # truncated to nothing
    assert cache.get(track, CLIP, extract.CACHE_KINDS["frames"]) is None


def test_extract_uses_the_cache(tmp_path, monkeypatch):
    cache = FeatureCache(tmp_path / "c")
    track = make_track(tmp_path / "a.wav", seconds=20.0)
    views = extract.track_display_views(track, cache)
    assert views.mel_db.shape[0] == 128 and views.coch_db.shape[0] == 84
    mel, coch = extract.track_training_windows(track, CLIP, cache)
    assert mel.shape == (20, 128, 87) and coch.shape == (20, 84, 87)  # 20 distinct 1 s clips, none repeated
    calls = []
    monkeypatch.setattr(extract, "DecodeStream", lambda *a, **k: calls.append(a))  # no decoding at all
    mel2, _ = extract.track_training_windows(track, CLIP, cache)
    np.testing.assert_array_equal(mel, mel2)
    views2 = extract.track_display_views(track, cache)
    np.testing.assert_array_equal(views.coch_db, views2.coch_db)
    assert calls == []


def test_unwritable_cache_still_returns_features(tmp_path):
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    cache = FeatureCache(blocker / "c")  # mkdir under a file fails with OSError
    seq, duration = extract.track_frames(make_track(tmp_path / "a.wav"), CLIP, cache)
    assert seq.mel.shape[0] == 128 and duration == 8.0
