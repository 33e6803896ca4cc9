"""The library stores each trajectory's window values and smooths them when they are shown
(damer_core.contract.trajectory.displayed): the same picture as before, and a change of the smoothing shows
on every analysed track without analysing it again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import tagged

from damer_core.contract import trajectory

MODEL = str(Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt")


def test_displayed_raw_values_match_what_the_model_smoothed(tmp_path):
    from damer_core.inference.predictor import Predictor

    result = Predictor(MODEL, "cpu").predict_file(tagged(tmp_path / "t.ogg", 20.0, seed=2)).to_dict()
    shown = trajectory.displayed({**result["trajectory_raw"], "raw": True})
    for key in ("valence", "arousal", "confidence"):
        assert np.allclose(shown[key], result["trajectory"][key], atol=2e-4, equal_nan=True)
    assert trajectory.displayed(result["trajectory"]) is result["trajectory"]  # stored smoothed before: as it is


def test_a_new_smoothing_shows_on_an_analysed_track_without_analysing_it_again(qtbot, tmp_path, monkeypatch):
    from app_helpers import fresh_window

    monkeypatch.setenv("DAMER_BUILTIN_MODEL", MODEL)
    music = tmp_path / "music"
    track = tagged(music / "t.ogg", 30.0, seed=4, major=False)
    w = fresh_window(qtbot, tmp_path, monkeypatch)
    w.add_folder(str(music))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=30_000)
    qtbot.waitUntil(lambda: not w.analysis.running and w.db.without_trajectory(w.state.model.key) == [], timeout=120_000)
    row = w.db.track(str(track), w.state.model.key)
    stored = w.db.trajectory(row.id, w.state.model.key)
    assert stored["raw"] is True
    w.open_track(str(track))
    qtbot.waitUntil(lambda: w.track.trajectory is not None, timeout=30_000)
    before = w.track.trajectory["valence"].copy()
    monkeypatch.setattr(trajectory, "SMOOTHING_SIGMA_S", 6.0)  # a wider smoothing, as a new release might set
    jobs = []
    w.analysis.queue.job_started.connect(lambda op, path: jobs.append(op))
    w.track.load_trajectory()
    after = w.track.trajectory["valence"]
    raw = np.array([np.nan if v is None else v for v in stored["valence"]])
    assert not np.allclose(before, after) and np.allclose(after, trajectory.smooth(raw, 6.0), atol=1e-4)
    assert np.std(after) < np.std(before)  # smoother
    qtbot.wait(300)
    assert jobs == [] and w.db.trajectory(row.id, w.state.model.key) == stored
    w.close()


@pytest.mark.parametrize("sigma", [0.0, 0.5, 3.0])
def test_displayed_keeps_what_is_not_predicted_unknown(sigma):
    stored = {"raw": True, "t": [0.0, 0.5, 1.0, 1.5], "valence": [0.2, None, 0.4, 0.6], "arousal": [None] * 4,
              "confidence": [0.5, 0.5, 0.5, 0.5]}
    shown = trajectory.displayed(stored, sigma)
    assert shown["arousal"] == [None] * 4 and shown["valence"][1] is None and "raw" not in shown
