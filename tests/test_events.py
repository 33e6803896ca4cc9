"""The typed contract between the processes: every writer's line parses into its event, the
documentation is generated from it, a newer schema is refused in words."""

import dataclasses
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from damer_core.contract import events
from damer_core.progress import Progress

ROOT = Path(__file__).resolve().parent.parent


def test_docs_events_md_is_generated_from_the_events_module():
    assert (ROOT / "docs" / "events.md").read_text(encoding="utf-8") == events.markdown(), \
        "docs/events.md is stale: python -m damer_core.contract.events > docs/events.md"


def test_every_event_round_trips_through_json():
    for kind, cls in events.EVENTS.items():
        values = {}
        for f in dataclasses.fields(cls):
            t = str(f.type)
            values[f.name] = ({} if "dict" in t else [1, 2] if "list" in t else True if t == "bool" else
                              3 if t == "int" else 0.5 if "float" in t else f"{kind}-{f.name}")
        ev = cls(**values)
        back = events.parse(ev.to_json())
        assert back == ev and type(back) is cls and back.KIND == kind


def test_progress_writes_the_events_it_is_given():
    out = io.StringIO()
    p = Progress("jsonl", stream=out)
    p.task("predicting", 2)
    p.advance(file="a.flac")
    p.emit(events.Checkpoint("best", "/runs/x/best.pt"))
    parsed = [events.parse(line) for line in out.getvalue().splitlines()]
    assert parsed == [events.Task("predicting", 2), events.Progress(1, 2, "predicting", "a.flac"),
                      events.Checkpoint("best", "/runs/x/best.pt")]


@pytest.mark.parametrize("make, words", [
    (lambda: events.Start(["valence"], 1, "cpu", 1, 10, 2, "clip", {"dsaf": True}, "", "", {}), "modules must be str"),
    (lambda: events.Progress("1", 2), "done must be int"),
    (lambda: events.Epoch("valence", 1, 2, "fast", {}, 1, 1, 1, 1, 1, 1, 1, [], {}, True, 1), "lr must be float"),
    (lambda: events.Report(1, 0, 0, "none", False), "unreadable must be list"),
])
def test_a_writer_cannot_make_an_event_with_a_field_of_the_wrong_type(make, words):
    with pytest.raises(events.EventError, match=words):
        make()


def test_numbers_from_numpy_and_a_null_float_are_of_their_declared_type():
    import numpy as np

    ev = events.Static("a.wav", np.float32(0.5), None, np.float64(0.9), np.int64(10))
    assert events.parse(ev.to_json()) == events.Static("a.wav", 0.5, None, 0.9, 10)
    with pytest.raises(events.EventError, match="total must be int"):
        events.parse('{"event": "task", "v": 1, "name": "x", "total": "many"}')  # a reader refuses it too


def test_non_finite_numbers_are_written_as_null():
    line = events.Static("a.wav", float("nan"), 0.5, 0.9, 10.0).to_json()
    assert json.loads(line)["valence"] is None and events.parse(line).valence is None


@pytest.mark.parametrize("line, words", [
    ('{"event": "task", "v": 99, "name": "x", "total": 1}', "schema 99"),
    ('{"event": "teleport", "v": 1}', "unknown event 'teleport'"),
    ('{"event": "task", "v": 1}', "without a required field"),
    ("not json", "not a JSON line"),
    ("[1, 2]", "not an event"),
])
def test_bad_lines_are_refused_in_words(line, words):
    with pytest.raises(events.EventError, match=words):
        events.parse(line)


def test_a_newer_optional_field_is_ignored():
    ev = events.parse('{"event": "task", "v": 1, "name": "x", "total": 1, "colour": "red"}')
    assert ev == events.Task("x", 1)


def test_the_cli_writes_error_and_device_events():
    env_cmd = [sys.executable, "-m", "damer_core.cli"]
    devices = subprocess.run(env_cmd + ["devices"], capture_output=True, text=True, timeout=300)
    assert any(isinstance(events.parse(line), events.Device) for line in devices.stdout.splitlines())
    bad = subprocess.run(env_cmd + ["predict", "--progress", "jsonl", "--checkpoint", "/no/such.pt", "x.wav"],
                         capture_output=True, text=True, timeout=300)
    errors = [events.parse(line) for line in bad.stdout.splitlines()]
    assert bad.returncode == 2 and isinstance(errors[-1], events.Error) and "such.pt" in errors[-1].message


def test_every_user_facing_error_shares_one_base():
    """The CLI catches UserError (and OSError) alone: an error class a user can act on that does not
    derive from it would print a traceback."""
    import app.library.db as library_db
    from damer_core.contract.errors import AudioError, BundleError, InputError, UnsupportedFormat, UsageError, UserError
    from damer_core.datasets import DatasetError
    from damer_core.devices import DeviceError
    from damer_core.training.resume import ResumeError
    from damer_core.training.run_folder import RunFolderError
    from damer_core.training.trainer import TrainingDiverged

    for cls in (UsageError, InputError, AudioError, UnsupportedFormat, BundleError, DatasetError, DeviceError,
                ResumeError, RunFolderError, TrainingDiverged, library_db.LibraryLocked, library_db.LibraryDamaged):
        assert issubclass(cls, UserError), cls
    assert issubclass(InputError, ValueError)  # code that catches ValueError still does
