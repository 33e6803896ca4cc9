"""The feature cache stays small: a library's analysis keeps nothing but its predictions, views
are stored in 8 bits, and a size limit evicts the least recently used entries."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from app_helpers import tagged

from damer_core.features import extract
from damer_core.features.cache import FeatureCache, NoCache
from damer_core.features.spectra import CLIP

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "resources" / "models" / "damer-4q.pt"


def test_the_least_recently_used_entries_go_first(tmp_path):
    tracks = [tagged(tmp_path / f"t{i}.wav", 4, seed=i) for i in range(4)]
    cache = FeatureCache(tmp_path / "c", max_bytes=10**12)
    for t in tracks:
        extract.track_frames(t, CLIP, cache)
    sizes = sorted(n for _, n, _ in cache.entries())
    assert len(sizes) == 4
    old = time.time() - 1000
    for k, (_, _, p) in enumerate(sorted(cache.entries(), key=lambda e: e[2])):
        os.utime(p, (old + k, old + k))  # a known order of last use
    by_age = [p for _, _, p in sorted(cache.entries())]
    cache.get(tracks[0], CLIP, extract.CACHE_KINDS["frames"])  # reading marks it used
    used = [p for _, _, p in cache.entries() if p.stat().st_mtime > old + 100]
    assert len(used) == 1
    cache.max_bytes = sum(sizes) - 1  # one entry too many
    freed = cache.evict()
    left = {p for _, _, p in cache.entries()}
    oldest_unused = [p for p in by_age if p not in used][0]
    assert freed > 0 and oldest_unused not in left and used[0] in left and len(left) == 3
    cache.max_bytes = 0
    extract.track_frames(tagged(tmp_path / "new.wav", 4, seed=9), CLIP, cache)  # a write evicts, the new entry last
    assert len(cache.entries()) <= 1
    assert cache.clear() >= 0 and cache.entries() == []


def test_predict_keeps_nothing_in_the_cache_unless_asked(tmp_path):
    track = tagged(tmp_path / "t.flac", 6, seed=2)
    env = {**os.environ, "DAMER_CACHE_DIR": str(tmp_path / "cache")}
    run = [sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", str(BUILTIN), "--format", "csv", str(track)]
    assert subprocess.run(run, env=env, capture_output=True, timeout=600).returncode == 0
    assert FeatureCache(tmp_path / "cache").entries() == []
    assert subprocess.run(run + ["--cache"], env=env, capture_output=True, timeout=600).returncode == 0
    from damer_core.models import load_model

    kinds = load_model(BUILTIN).feature_kinds(trajectory=True)  # the built-in's: the segment's and the track's embeddings
    assert len(FeatureCache(tmp_path / "cache").entries()) == len(kinds) and "trajectory_embeddings" in kinds


def test_views_are_cached_in_8_bits_and_shown_as_stored(tmp_path):
    from damer_core.audio.decoding import load_for_model
    from damer_core.features.spectra import display_views

    track = tagged(tmp_path / "t.flac", 20, seed=5)
    exact = display_views(load_for_model(track))
    fresh = extract.track_display_views(track, NoCache())
    assert np.max(np.abs(exact.mel_db - fresh.mel_db)) <= 80 / 255 / 2 + 1e-4  # 8 bits: within 0.16 dB
    cache = FeatureCache(tmp_path / "c")
    extract.track_display_views(track, cache)
    (entry,) = [p for _, _, p in cache.entries()]
    with np.load(entry) as stored:
        assert stored["mel_u8"].dtype == np.uint8 and "mel_db" not in stored.files
    again = extract.track_display_views(track, cache)
    for a, b in ((fresh.mel_db, again.mel_db), (fresh.coch_db, again.coch_db)):
        assert a.shape == b.shape and np.array_equal(a, b)  # shown as stored, cached or not


def test_the_cache_dialog_shows_the_size_and_clears(scanned_window, qtbot, tmp_path):
    from PySide6.QtCore import Qt

    w = scanned_window
    extract.track_display_views(w.model.rows[0].path)  # the app's cache (DAMER_CACHE_DIR of the test)
    w.menu_actions["Feature cache..."].trigger()
    dlg = w.windows.cache_dialog
    qtbot.waitUntil(lambda: "entr" in dlg.in_use.text(), timeout=10_000)
    assert dlg.in_use.text().endswith("in 1 entry")
    qtbot.mouseClick(dlg.clear_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.in_use.text() == "0.0 MB in 0 entries", timeout=10_000)
    assert "freed" in dlg.clear_btn.text() and FeatureCache().entries() == []
    dlg.limit.setValue(300)
    assert w.settings.cache_limit_mb == 300 and os.environ["DAMER_CACHE_MAX_MB"] == "300"
    dlg.close()
