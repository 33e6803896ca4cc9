"""Train / validation / test parts: by track or by group (artist), stratified, seeded; warnings
for parts too small or one-sided; and the selection rule that never lets an undefined AUC win."""

import numpy as np
import pytest

from damer_core.datasets.base import FeatureSet
from damer_core.datasets.split import part_warnings, split_tracks
from damer_core.features.spectra import CLIP
from damer_core.models.network.heads import selection_score


def feature_set(n_tracks, windows=3, groups=None, seed=0):
    rng = np.random.default_rng(seed)
    quadrant = np.arange(n_tracks) % 4  # balanced: Q1..Q4
    v = np.where(np.isin(quadrant, [0, 3]), 0.5, -0.5)
    a = np.where(np.isin(quadrant, [0, 1]), 0.5, -0.5)
    track = np.repeat(rng.permutation(n_tracks), windows)
    g = None if groups is None else np.asarray(groups)[track].astype(str)
    n = track.size
    return FeatureSet(np.zeros((n, 1, 1)), np.zeros((n, 1, 1)), v[track], a[track], track, CLIP, {}, g)


def tracks_of(fs, idx):
    return set(fs.track[idx].tolist())


def test_three_disjoint_parts_by_track_stratified_by_quadrant():
    fs = feature_set(200)
    sp = split_tracks(fs, seed=0)
    parts = [tracks_of(fs, sp.part(p)) for p in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == 200 and not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert [len(p) for p in parts] == pytest.approx([110, 30, 60], abs=2)
    assert not sp.by_group
    q = lambda idx: np.bincount((fs.valence[idx] > 0) * 2 + (fs.arousal[idx] > 0), minlength=4)  # noqa: E731
    assert np.ptp(q(sp.test)) <= 3 * 3 and np.ptp(q(sp.val)) <= 3 * 3  # quadrants within a track or so (3 windows each)
    # every window of a track goes with it
    assert sorted(np.concatenate([sp.train, sp.val, sp.test]).tolist()) == list(range(len(fs)))


def test_split_is_seeded():
    fs = feature_set(80)
    a, b, c = split_tracks(fs, seed=7), split_tracks(fs, seed=7), split_tracks(fs, seed=8)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.val, b.val)
    assert not np.array_equal(a.test, c.test)


def test_no_artist_crosses_the_parts():
    rng = np.random.default_rng(3)
    artist_of_track = [f"artist {k}" for k in rng.integers(0, 45, 160)]  # ~3.5 tracks per artist
    fs = feature_set(160, groups=artist_of_track)
    sp = split_tracks(fs, seed=1)
    assert sp.by_group
    artists = [set(fs.group[sp.part(p)]) for p in ("train", "val", "test")]
    assert not (artists[0] & artists[1] or artists[0] & artists[2] or artists[1] & artists[2])
    n_test = len(tracks_of(fs, sp.test))
    assert 30 <= n_test <= 66  # about 30 % of 160, in whole artists


def test_warnings_for_small_and_one_sided_parts():
    fs = feature_set(12)
    sp = split_tracks(fs, seed=0)
    text = " | ".join(part_warnings(fs, sp, "valence"))
    assert "validation part has only" in text and "test part has only" in text
    one_sided = feature_set(40)
    one_sided.valence[:] = 0.5
    warnings = part_warnings(one_sided, split_tracks(one_sided, seed=0), "valence")
    assert any("holds only high tracks; AUC is n/a" in w for w in warnings)
    assert "valence: every training track is high valence; the model cannot learn to tell valence apart" in warnings
    assert not any("training" in w for w in part_warnings(one_sided, split_tracks(one_sided, seed=0), "arousal"))
    assert part_warnings(feature_set(200), split_tracks(feature_set(200), seed=0), "valence") == []


def test_an_undefined_auc_never_wins_the_epoch():
    defined_but_poor = {"fuse": {"auc": 0.51, "nll": 0.9}}
    undefined = {"fuse": {"auc": float("nan"), "nll": 0.01}}
    assert selection_score(defined_but_poor) > selection_score(undefined)
    # among epochs where AUC is undefined (a one-class validation part), the lower log-loss wins
    assert selection_score({"fuse": {"auc": float("nan"), "nll": 0.2}}) > selection_score(
        undefined | {"fuse": {"auc": float("nan"), "nll": 0.5}}
    )
