"""The warm analysis worker: the model loaded once, jobs answered in order with typed events, one
decode for the static V-A, the trajectory and the spectrograms of a track."""

import io
from pathlib import Path

import numpy as np
import pytest
from synthdata import write_song

from damer_core.contract import display, events
from damer_core.contract.trajectory import displayed
from damer_core.features.cache import NoCache
from damer_core.inference.predictor import Predictor
from damer_core.inference.worker import Analysis, serve

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "resources" / "models" / "damer-4q.pt"  # the descriptor head: no network, no trajectory batches
MODEL = (
    ROOT / "tests" / "data" / "damer-4q-binary.pt"
)  # a DAMER network bundle (the built-in model until the descriptor head replaced it)


def run_jobs(analysis: Analysis, jobs: list[events.Job | str]) -> list[events.Event]:
    stdin = io.StringIO("".join((j if isinstance(j, str) else j.to_json()) + "\n" for j in jobs))
    out = io.StringIO()
    serve(analysis, stdin, out)
    return [events.parse(line) for line in out.getvalue().splitlines()]


@pytest.fixture(scope="module")
def song(tmp_path_factory):
    return write_song(tmp_path_factory.mktemp("songs") / "song.wav", major=True, fast=True, seconds=12.0)


@pytest.mark.parametrize("model", [MODEL, BUILTIN], ids=["damer-network", "built-in-descriptor-head"])
def test_a_track_job_gives_views_and_the_same_prediction_as_predict_file(song, tmp_path, monkeypatch, model):
    decodes = []
    import damer_core.features.extract as extract

    real = extract.DecodeStream
    monkeypatch.setattr(extract, "DecodeStream", lambda *a, **k: decodes.append(a[0]) or real(*a, **k))
    npz = tmp_path / "views.npz"
    out = run_jobs(Analysis(str(model), cache=NoCache()), [events.Job("track", str(song), str(npz))])
    assert [type(e) for e in out] == [events.Ready, events.Views, events.Prediction, events.Ready]
    assert len(decodes) == 1  # spectrograms, static and trajectory from one decode
    views = display.read_npz(npz)
    assert views.mel_db.shape[0] == 128 and views.mel_db.shape[1] == views.coch_db.shape[1] > 100
    assert -80.5 <= views.mel_db.min() and views.mel_db.max() <= 0.0
    expected = Predictor(model, "cpu", NoCache()).predict_file(song).to_dict()
    got = out[2]
    assert got.valence == pytest.approx(expected["valence"], abs=1e-6)
    assert got.arousal == pytest.approx(expected["arousal"], abs=1e-6)
    assert got.trajectory_raw["t"] == expected["trajectory_raw"]["t"]
    np.testing.assert_allclose(got.trajectory_raw["valence"], expected["trajectory_raw"]["valence"], atol=1e-4)
    shown = displayed({**got.trajectory_raw, "raw": True})  # what the app shows: smoothed there, once
    np.testing.assert_allclose(shown["valence"], expected["trajectory"]["valence"], atol=1e-4)


def test_the_static_pass_matches_the_full_prediction_and_skips_the_trajectory(song, monkeypatch):
    analysis = Analysis(str(MODEL), cache=NoCache())
    full = analysis.predictor.predict_file(song)
    calls = []
    monkeypatch.setattr(type(analysis.predictor.model), "trajectory", lambda *a, **k: calls.append(1))
    out = run_jobs(analysis, [events.Job("static", str(song))])
    static = out[1]
    assert isinstance(static, events.Static) and not calls
    assert (static.valence, static.arousal, static.confidence) == pytest.approx(
        (full.valence, full.arousal, full.confidence), abs=1e-6
    )  # JSON keeps 6 digits
    assert static.duration == pytest.approx(12.0, abs=0.01)


def test_bad_files_and_bad_lines_get_their_events_and_the_worker_goes_on(song, tmp_path):
    folder = tmp_path / "a folder.wav"
    folder.mkdir()
    out = run_jobs(Analysis(str(MODEL), cache=NoCache()), [
        events.Job("static", str(tmp_path / "missing.mp3")), "this is not json", events.Task("x", 1).to_json(),
        events.Job("static", str(folder)), events.Job("static", str(song))])
    kinds = [type(e).__name__ for e in out]
    assert kinds == ["Ready", "FileError", "Ready", "Error", "Ready", "Error", "Ready", "FileError", "Ready",
                     "Static", "Ready"], kinds
    assert "missing.mp3" in out[1].message and "a folder.wav" in out[7].message


def test_without_a_model_the_worker_draws_spectrograms_only(song, tmp_path):
    npz = tmp_path / "v.npz"
    out = run_jobs(Analysis(None, cache=NoCache()), [events.Job("views", str(song), str(npz)),
                                                     events.Job("track", str(song))])
    assert [type(e).__name__ for e in out] == ["Ready", "Views", "Ready", "Error", "Ready"]
    assert "needs a model" in out[3].message
    assert npz.is_file() and out[0].checkpoint == ""


def test_an_interrupt_stops_a_preemptible_trajectory_and_only_that(song):
    analysis = Analysis(str(MODEL), cache=NoCache())
    out = run_jobs(analysis, [events.Job("track", str(song), preemptible=True), events.Interrupt(str(song)).to_json(),
                              events.Job("static", str(song))])
    assert [type(e).__name__ for e in out] == ["Ready", "Interrupted", "Ready", "Static", "Ready"]
    assert out[1].path == str(song) and not analysis.interrupts
    out = run_jobs(analysis, [events.Job("track", str(song)), events.Interrupt(str(song)).to_json()])
    assert [type(e).__name__ for e in out] == ["Ready", "Prediction", "Ready"]  # the playing track's job is never stopped


def test_the_playing_tracks_marker_moves_before_its_whole_trajectory_is_done(tmp_path):
    song = write_song(tmp_path / "minute.wav", major=False, fast=True, seconds=60.0, seed=4)
    npz = tmp_path / "v.npz"
    out = run_jobs(Analysis(str(MODEL), cache=NoCache()), [events.Job("track", str(song), str(npz)),
                                                           events.Job("track", str(song))])
    kinds = [type(e).__name__ for e in out]
    assert kinds == ["Ready", "TrajectoryPart", "Views", "TrajectoryPart", "Prediction", "Ready", "Prediction",
                     "Ready"], kinds
    part, whole = out[3], out[4]
    assert whole.trajectory == {}  # the window values only: the app smooths, once
    assert part.points == len(whole.trajectory_raw["t"]) == 121
    n = len(part.trajectory["t"])
    assert 0 < n < part.points and part.trajectory["t"] == whole.trajectory_raw["t"][:n]
    assert part.trajectory["valence"] == whole.trajectory_raw["valence"][:n]  # the same window values, unsmoothed


@pytest.mark.parametrize("model", [MODEL, BUILTIN], ids=["damer-network", "built-in-descriptor-head"])
def test_the_playing_tracks_first_marker_comes_from_its_opening_before_anything_else(tmp_path, model):
    """Double-click on a long track: the opening is decoded and predicted first (its marker is up
    before the spectrograms), then the whole trajectory replaces it; a job that is not the playing
    track's (no views) does not spend time on it."""
    song = write_song(tmp_path / "long.wav", major=True, fast=False, seconds=40.0, seed=6)
    out = run_jobs(Analysis(str(model), cache=NoCache()), [events.Job("track", str(song), str(tmp_path / "v.npz")),
                                                           events.Job("track", str(song))])
    kinds = [type(e).__name__ for e in out]
    assert kinds[:3] == ["Ready", "TrajectoryPart", "Views"] and kinds.count("TrajectoryPart") >= 1
    opening = out[1]
    whole = next(e for e in out if isinstance(e, events.Prediction))
    n = len(opening.trajectory["t"])
    assert opening.points == len(whole.trajectory_raw["t"]) == 81
    assert opening.trajectory["t"] == whole.trajectory_raw["t"][:n] and opening.trajectory["t"][-1] <= 7.0 and n >= 10
    shown_opening, shown_whole = (displayed({**t, "raw": True}) for t in (opening.trajectory, whole.trajectory_raw))
    for dim in ("valence", "arousal"):  # provisional, but the same music: close to the whole track's, as shown
        np.testing.assert_allclose(shown_opening[dim], shown_whole[dim][:n], atol=0.35)
    second = kinds[kinds.index("Prediction") + 2:]
    assert second == ["Prediction", "Ready"]  # the library's job: no opening, no parts


def broken_bundles(tmp_path: Path) -> dict[str, Path]:
    """Generated models that cannot load: random bytes, a file that is gone."""
    import os

    noise = tmp_path / "noise.pt"
    noise.write_bytes(os.urandom(5000))
    return {"random bytes": noise, "missing file": tmp_path / "gone.pt"}


@pytest.mark.parametrize("kind", ["random bytes", "missing file"])
def test_a_model_that_cannot_load_leaves_the_spectrograms_and_says_why_once(song, tmp_path, kind):
    model = broken_bundles(tmp_path)[kind]
    npz = tmp_path / "views.npz"
    out = run_jobs(Analysis(str(model), cache=NoCache()),
                   [events.Job("track", str(song), str(npz)), events.Job("static", str(song))])
    kinds = [type(e) for e in out]
    assert kinds == [events.Error, events.Ready, events.Views, events.Ready, events.Error, events.Ready]
    assert out[0].message.startswith("the model cannot be used (") and model.name in out[0].message
    assert display.read_npz(npz).mel_db.shape[0] == 128  # the spectrograms need no model
    assert out[4].message == out[0].message


def test_a_model_that_fails_while_it_predicts_still_gives_the_views(song, tmp_path, monkeypatch):
    """A bundle whose numbers pass every check but crash the computation (a raw numpy error once)."""
    from damer_core.models.descriptor_head import DescriptorHead

    def crash(self, x):
        raise ValueError("matmul: Input operand 1 has a mismatch in its core dimension 0")

    monkeypatch.setattr(DescriptorHead, "probabilities", crash)
    monkeypatch.setattr("damer_core.inference.opening.warm_up", lambda p: None)  # found on the first track instead
    npz = tmp_path / "views.npz"
    out = run_jobs(Analysis(str(BUILTIN), cache=NoCache()), [events.Job("track", str(song), str(npz))])
    errors = [e for e in out if isinstance(e, events.Error)]
    assert len(errors) == 1 and errors[0].message.startswith("the model cannot be used (ValueError: matmul")
    assert any(isinstance(e, events.Views) for e in out) and display.read_npz(npz).mel_db.shape[0] == 128
    assert isinstance(out[-1], events.Ready)


def test_the_worker_ends_when_its_stdin_is_closed_or_missing(tmp_path):
    import subprocess
    import sys

    for stdin in (subprocess.DEVNULL, None):
        cmd = [sys.executable, "-m", "damer_core.cli", "worker"]
        if stdin is None:  # no stdin at all: file descriptor 0 closed by the parent
            cmd = ["bash", "-c", 'exec "$@" <&-', "worker", *cmd]
        r = subprocess.run(cmd, stdin=stdin, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert '"event": "ready"' in r.stdout
