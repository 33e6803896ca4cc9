"""The app's one owner of shared state: the current track and the model in use, each announced
once when it changes, the model computed once per choice and remembered in the settings."""

from app_helpers import app_state

from app.settings import Settings


def test_a_track_is_announced_with_its_id_and_title(qtbot):
    state = app_state()
    heard = []
    state.track_changed.connect(heard.append)
    state.open_track("/music/a.flac", 7, "A")
    assert heard == [state.track] and (state.track.path, state.track.track_id, state.track.title) == ("/music/a.flac", 7, "A")


def test_choosing_a_model_saves_it_and_announces_the_one_before(qtbot, tmp_path):
    first, second = str(tmp_path / "first.pt"), str(tmp_path / "second.pt")
    state = app_state(first)
    app_state(second)  # makes the file
    heard = []
    state.model_changed.connect(lambda now, before: heard.append((now.path, before.path)))
    state.choose_model(second)
    assert heard == [(second, first)] and Settings.load().active_model == second
    assert state.previous_key.startswith(first) and state.model.key.startswith(second)
    state.choose_model(second)  # the same model again: announced (the rest is analysed), nothing greyed anew
    assert heard[-1] == (second, second) and state.previous_key.startswith(first)


def test_a_chosen_model_whose_file_is_gone_leaves_no_model_and_says_why(qtbot, tmp_path):
    state = app_state()
    state.choose_model(str(tmp_path / "gone.pt"))
    assert state.model.path == "" and state.model.key == "" and "gone.pt" in state.model.why_none
