"""A damaged library database or settings file never stops the app: it starts, says which file is
damaged and what it did, keeps the file (moved aside, renamed with the date), starts a new one and
offers to rescan the folders the damaged library listed (app.library.recovery)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from app.library.db import LibraryDamaged, LibraryDB
from app.library.recovery import damaged_files

ROOT = Path(__file__).resolve().parent.parent


def _library(path: Path, folders: list[str], tracks: int = 300) -> Path:
    db = LibraryDB(path)
    for folder in folders:
        fid = db.add_folder(folder)
        db.upsert_tracks(fid, [{"path": f"{folder}/t{i}.ogg", "title": f"T{i}", "artist": "A", "album": "",
                                "duration": 60.0, "size": i, "mtime": 0.0} for i in range(tracks)])
    for i in range(tracks):
        db.store_prediction(f"{folders[0]}/t{i}.ogg", "m", 0.1, 0.2, 0.5,
                            {"t": list(range(50)), "valence": [0.1] * 50, "arousal": [0.2] * 50})
    db.close()
    return path


def _variants(tmp_path: Path) -> dict[str, bytes]:
    """Damaged libraries of every kind the probe met: random bytes, a text file, cut-off files."""
    good = _library(tmp_path / "good.sqlite3", ["/music/a", "/music/b"]).read_bytes()
    rng = random.Random(3)
    out = {f"random {n} bytes": bytes(rng.getrandbits(8) for _ in range(n)) for n in (1, 100, 4096, 100_000)}
    out["text file"] = b"these are my notes, not a database\n" * 50
    out["json"] = b'{"library": []}'
    out["header only"] = good[:100]
    for share in (0.02, 0.1, 0.3):
        out[f"cut at {share:.0%}"] = good[: int(len(good) * share)]
    out["zeroed middle"] = good[:4096] + bytes(len(good) - 8192) + good[-4096:]
    return out


def test_every_damaged_library_is_named_moved_aside_and_replaced(tmp_path):
    variants = _variants(tmp_path)
    for name, data in variants.items():
        home = tmp_path / name.replace(" ", "-").replace("%", "")
        home.mkdir()
        db_path = home / "library.sqlite3"
        db_path.write_bytes(data)
        recoveries = damaged_files(db_path, home / "settings.json")
        assert len(recoveries) == 1, name
        r = recoveries[0]
        assert r.what == "library database" and r.moved_to is not None and r.moved_to.read_bytes() == data, name
        assert r.moved_to.name.startswith("library.sqlite3.damaged-") and str(db_path) in r.text
        assert not db_path.exists()
        fresh = LibraryDB(db_path)  # what the window opens next: a new, empty library
        assert fresh.track_count() == 0
        fresh.close()
    assert len(variants) == 11


def test_a_damaged_library_still_offers_the_folders_it_can_read(tmp_path):
    db_path = _library(tmp_path / "library.sqlite3", ["/music/a", "/music/b"], tracks=2000)
    data = db_path.read_bytes()
    db_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LibraryDamaged, match="damaged"):
        LibraryDB(db_path)
    (r,) = damaged_files(db_path, tmp_path / "settings.json")
    assert r.folders == ["/music/a", "/music/b"] and "Rescan" not in r.text


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]", b"null", b'"text"',
                                     b"[" * 100_000])
def test_a_damaged_settings_file_is_moved_aside(tmp_path, content):
    settings = tmp_path / "settings.json"
    settings.write_bytes(content)
    (r,) = damaged_files(tmp_path / "library.sqlite3", settings)
    assert r.what == "settings file" and r.moved_to.read_bytes() == content and not settings.exists()


def test_good_files_are_left_alone(tmp_path):
    db_path = _library(tmp_path / "library.sqlite3", ["/music/a"])
    settings = tmp_path / "settings.json"
    settings.write_text('{"volume": 0.5}')
    assert damaged_files(db_path, settings) == [] and db_path.exists() and settings.exists()


def test_the_app_starts_on_a_damaged_library_and_settings(tmp_path):
    config, data = tmp_path / "config", tmp_path / "data"
    config.mkdir()
    data.mkdir()
    (data / "library.sqlite3").write_bytes(os.urandom(50_000))
    (config / "settings.json").write_text("{ broken")
    env = dict(os.environ, DAMER_CONFIG_DIR=str(config), DAMER_DATA_DIR=str(data), DAMER_EXPLORER_SMOKE="100",
               DAMER_BUILTIN_MODEL="none", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "app.main"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Traceback" not in out.stderr and "window shown" in out.stdout
    assert f"The library database {data / 'library.sqlite3'} is damaged" in out.stderr
    assert f"The settings file {config / 'settings.json'} is damaged" in out.stderr
    assert len(list(data.glob("library.sqlite3.damaged-*"))) == 1 and len(list(config.glob("settings.json.damaged-*"))) == 1
    assert LibraryDB(data / "library.sqlite3").track_count() == 0


def test_the_dialog_names_the_files_and_rescans_the_folders_when_asked(qtbot, tmp_path, monkeypatch):
    from app_helpers import answer_dialog, fresh_window, music_folder

    from app.library.recovery import recover_library
    from app.main import _report_recoveries

    music = music_folder(tmp_path / "music")
    old = _library(tmp_path / "old.sqlite3", [str(music)], tracks=2000)
    data = old.read_bytes()
    old.write_bytes(data[: len(data) // 2])
    recovery = recover_library(old, "database disk image is malformed")
    w = fresh_window(qtbot, tmp_path, monkeypatch)
    seen = answer_dialog("Rescan the folder")
    _report_recoveries(w, [recovery], smoke=None)
    assert "old.sqlite3 is damaged (database disk image is malformed)" in seen[0] and "moved aside" in seen[0]
    qtbot.waitUntil(lambda: not w.library_busy and w.db.track_count() == 3, timeout=30_000)
    assert [p for _, p in w.db.folders()] == [str(music)]
    w.close()


def test_a_feature_cache_that_is_a_file_or_holds_garbage_never_stops_a_prediction(tmp_path):
    from app_helpers import tagged

    from damer_core.features.cache import FeatureCache
    from damer_core.inference.predictor import Predictor

    model = str(ROOT / "resources" / "models" / "damer-4q.pt")
    track = tagged(tmp_path / "t.ogg", 5.0, seed=4)
    plain = Predictor(model, "cpu").predict_file(track).to_dict()
    not_a_folder = tmp_path / "cache-file"
    not_a_folder.write_text("a file where the cache folder should be")
    assert Predictor(model, "cpu", FeatureCache(not_a_folder)).predict_file(track).to_dict()["valence"] == plain["valence"]
    cache = FeatureCache(tmp_path / "cache")
    Predictor(model, "cpu", cache).predict_file(track)
    for entry in (tmp_path / "cache").rglob("*.npz"):  # every entry overwritten with garbage
        entry.write_bytes(os.urandom(300))
    again = Predictor(model, "cpu", cache).predict_file(track).to_dict()
    assert again["valence"] == plain["valence"] and not again["warning"]
    assert not_a_folder.read_text().startswith("a file")  # never written over


def test_damaged_table_pages_and_an_absurd_page_count_are_caught_quickly(tmp_path):
    db_path = _library(tmp_path / "library.sqlite3", ["/music/a"], tracks=3000)
    data = bytearray(db_path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    data[40 * page:43 * page] = b"\xff" * (3 * page)  # three table pages overwritten
    db_path.write_bytes(bytes(data))
    (r,) = damaged_files(db_path, tmp_path / "settings.json")
    assert r.what == "library database" and r.folders == ["/music/a"]
    huge = _library(tmp_path / "huge.sqlite3", ["/music/b"], tracks=50)
    data = bytearray(huge.read_bytes())
    data[28:32] = (8_000_000).to_bytes(4, "big")  # a header that claims 30 GB
    huge.write_bytes(bytes(data[: len(data) // 2]))
    from app.library.db import folders_listed

    assert folders_listed(huge) == ["/music/b"]  # read from the file as it is: no padding to 30 GB


@pytest.mark.parametrize("settings", ['{"volume": NaN}', '{"volume": 1e400}', '{"volume": -3}',
                                      '{"window_geometry": "abc"}', '{"window_state": "!!not base64"}',
                                      '{"splitters": {"main": 5}}', '{"splitters": {"main": "@@@"}}',
                                      '{"cache_limit_mb": 99999999999999999999}', '{"last_folder": "a\\u0000b"}'])
def test_damaged_setting_values_fall_back_and_the_window_opens(settings, tmp_path, qtbot, monkeypatch):
    from app_helpers import fresh_window

    from app.settings import Settings

    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text(settings)
    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))
    s = Settings.load()
    assert 0.0 <= s.volume <= 1.0 and all(isinstance(v, str) for v in s.splitters.values())
    w = fresh_window(qtbot, tmp_path, monkeypatch)  # restores geometry, state and splitters from it
    assert w.isVisible()
    w.close()
