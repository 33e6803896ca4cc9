"""The desktop build (packaging/build.sh -> dist/damer-explorer/) and its freedesktop files.

The build tests run the built programs, not the source: the window opening a real recording,
the analysis of that track by the built `damer-core` child with a real trained model, and what
is (and is not) inside the folder. Without a build they are skipped (CI builds first, see .ci/run);
DAMER_BUILD_DIR points them at another build."""

import configparser
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = Path(os.environ.get("DAMER_BUILD_DIR") or ROOT / "dist" / "damer-explorer")
APP_ID = "org.damerexplorer.DamerExplorer"
TRACK = ROOT / "tests" / "data" / "vibe_ace.ogg"  # a real recording (see tests/data/ATTRIBUTION.md)

needs_build = pytest.mark.skipif(not (BUILD / "damer-explorer").is_file(),
                                 reason=f"no desktop build in {BUILD}: run `bash packaging/build.sh`")


def built_env(tmp_path: Path, **extra) -> dict:
    """The environment a user's desktop gives the build: no PYTHONPATH, no venv, own folders."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "NUMBA", "DAMER_BUILTIN_MODEL"))}  # the build's own model
    env.update(QT_QPA_PLATFORM="offscreen", DAMER_DATA_DIR=str(tmp_path / "data"),
               DAMER_CONFIG_DIR=str(tmp_path / "config"), DAMER_CACHE_DIR=str(tmp_path / "cache"),
               XDG_CACHE_HOME=str(tmp_path / "xdg-cache"), PATH="/usr/bin:/bin")
    env.update(extra)
    return env


def desktop_entry(path: Path) -> configparser.SectionProxy:
    cp = configparser.ConfigParser(interpolation=None)
    cp.optionxform = str
    cp.read(path)
    return cp["Desktop Entry"]


# -- the freedesktop files (always) -------------------------------------------------------------
def test_desktop_entry_and_metainfo_describe_the_app():
    entry = desktop_entry(ROOT / "packaging" / "linux" / f"{APP_ID}.desktop")
    assert entry["Type"] == "Application" and entry["Name"] == "DAMER Explorer"
    assert entry["Exec"].split()[0] == "damer-explorer" and entry["Icon"] == APP_ID
    assert "Audio" in entry["Categories"].split(";")
    meta = ET.parse(ROOT / "packaging" / "linux" / f"{APP_ID}.metainfo.xml").getroot()
    assert meta.get("type") == "desktop-application" and meta.findtext("id") == APP_ID
    assert meta.find("launchable").text == f"{APP_ID}.desktop"
    assert {b.text for b in meta.iter("binary")} == {"damer-explorer", "damer-core"}
    assert meta.find("releases/release").get("version") == __import__("damer_core").__version__
    for name in ("damer-explorer.png", "damer-explorer.svg"):
        assert (ROOT / "resources" / name).stat().st_size > 1000
    if shutil.which("desktop-file-validate"):
        res = subprocess.run(["desktop-file-validate", str(ROOT / "packaging" / "linux" / f"{APP_ID}.desktop")],
                             capture_output=True, text=True)
        assert res.returncode == 0 and "error" not in res.stdout, res.stdout
    if shutil.which("appstreamcli"):
        res = subprocess.run(["appstreamcli", "validate", "--no-net",
                              str(ROOT / "packaging" / "linux" / f"{APP_ID}.metainfo.xml")], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout


# -- the build ----------------------------------------------------------------------------------
@needs_build
def test_built_app_opens_analyses_and_exits_cleanly(tmp_path):
    """A first start of the build, as a user makes it (a real X11 display where xvfb-run exists;
    one run, where three used to repeat each other): no settings and no import; the window shows the
    recording's spectrograms and, from the built `damer-core` worker with the built-in model, its
    V-A trajectory; it quits cleanly and keeps the settings."""
    display = ["xvfb-run", "-a"] if shutil.which("xvfb-run") else []
    env = built_env(tmp_path, DAMER_EXPLORER_SMOKE="300", DAMER_EXPLORER_SMOKE_TIMEOUT="240",
                    **({"QT_QPA_PLATFORM": "xcb"} if display else {}))
    res = subprocess.run([*display, str(BUILD / "damer-explorer"), str(TRACK)], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "damer-explorer: views of vibe_ace.ogg: shown" in res.stdout
    assert "damer-explorer: trajectory of vibe_ace.ogg: shown" in res.stdout
    assert "damer-explorer: window shown (vibe_ace.ogg - DAMER Explorer)" in res.stdout
    assert "Traceback" not in res.stderr
    settings = json.loads((tmp_path / "config" / "settings.json").read_text())
    assert settings["volume"] == pytest.approx(0.8)  # settings were saved on the way out
    # the analysis ran librosa's numba code: its cache goes where damer_core puts it
    # (damer_core/features/numba_locator.py), not ~/.cache/numba
    assert (tmp_path / "xdg-cache" / "damer-explorer" / "numba").is_dir()
    assert not (tmp_path / "xdg-cache" / "numba").exists()


@needs_build
def test_built_core_runs_on_its_own(tmp_path, trained_bundle):
    env = built_env(tmp_path)
    info = subprocess.run([str(BUILD / "damer-core"), "info", "--json", str(trained_bundle)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert info.returncode == 0, info.stderr
    assert set(json.loads(info.stdout)["dimensions"]) == {"arousal", "valence"}
    pred = subprocess.run([str(BUILD / "damer-core"), "predict", "--checkpoint", str(trained_bundle), str(TRACK)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert pred.returncode == 0, pred.stderr
    assert "vibe_ace.ogg" in pred.stdout
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a bundle")
    refused = subprocess.run([str(BUILD / "damer-core"), "info", str(bad)], capture_output=True, text=True, timeout=120, env=env)
    assert refused.returncode == 2 and "bad.pt" in refused.stderr and "Traceback" not in refused.stderr


@needs_build
def test_build_holds_what_the_app_needs_and_not_what_it_does_not():
    internal = BUILD / "_internal"
    assert (internal / "resources" / "emotion_terms.json").is_file()
    assert (internal / "resources" / "models" / "damer-4q.pt").is_file()  # the built-in model
    plugins = internal / "PySide6" / "Qt" / "plugins" / "platforms"
    assert (plugins / "libqxcb.so").is_file() and (plugins / "libqoffscreen.so").is_file()
    names = [p.name for p in BUILD.rglob("*")]
    for unwanted in ("WebEngine", "Qt6Quick", "Qt6Qml", "Qt6Pdf", "Qt6Multimedia", "tkinter", "matplotlib", "sklearn"):
        assert not [n for n in names if unwanted.lower() in n.lower()], unwanted
    assert not (internal / "torch" / "test").exists() and not list((internal / "torch" / "bin").glob("test_*"))
    share = BUILD / "share"
    assert desktop_entry(share / "applications" / f"{APP_ID}.desktop")["Icon"] == APP_ID
    assert (share / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png").is_file()
    assert (share / "metainfo" / f"{APP_ID}.metainfo.xml").is_file()


@needs_build
def test_desktop_entry_installer_points_at_the_build(tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "share"))
    res = subprocess.run(["bash", str(BUILD / "install-desktop-entry.sh")], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    entry = desktop_entry(tmp_path / "share" / "applications" / f"{APP_ID}.desktop")
    assert entry["Exec"] == f'"{BUILD.resolve()}/damer-explorer" %f'
    assert (tmp_path / "share" / "icons" / "hicolor" / "256x256" / "apps" / f"{APP_ID}.png").is_file()
    subprocess.run(["bash", str(BUILD / "install-desktop-entry.sh"), "--remove"], check=True, env=env, capture_output=True)
    assert not (tmp_path / "share" / "applications" / f"{APP_ID}.desktop").exists()


def fake_apt(tmp_path: Path, locked_times: int, error: str = "E: Could not get lock /var/lib/dpkg/lock-frontend") -> Path:
    """An apt-get that fails ``locked_times`` times (another apt holds the lock), then succeeds."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    count = tmp_path / "calls"
    (bin_dir / "apt-get").write_text(
        f"#!/bin/bash\nn=$(cat {count} 2>/dev/null || echo 0); echo $((n + 1)) > {count}\n"
        f"if [ $n -lt {locked_times} ]; then echo '{error}' >&2; exit 100; fi\necho \"installed $*\"\n")
    (bin_dir / "apt-get").chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("locked, max_s, code, said", [
    (2, "60", 0, "waiting for it to finish"),  # waits, says so once, then installs
    (0, "60", 0, None),
    (50, "5", 1, "still locked by another program after 5 s"),  # gives up in words
])
def test_install_waits_for_another_apt_instead_of_failing(tmp_path, locked, max_s, code, said):
    bin_dir = fake_apt(tmp_path, locked)
    r = subprocess.run(["bash", "-c", f"sed 's/sleep \"$step\"/sleep 0.01/' {ROOT / 'packaging' / 'apt_wait.sh'} > s.sh; "
                                      ". ./s.sh; apt_get install -y x"],
                       cwd=tmp_path, capture_output=True, text=True, timeout=60,
                       env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "APT_WAIT_MAX_S": max_s})
    assert r.returncode == code, r.stderr
    out = r.stdout + r.stderr
    assert (said in out) if said else "waiting" not in out
    assert out.count("waiting for it to finish") <= 1 and "Could not get lock" not in out


def test_install_passes_other_apt_errors_through(tmp_path):
    bin_dir = fake_apt(tmp_path, 1, error="E: Unable to locate package nope")
    r = subprocess.run(["bash", "-c", f". {ROOT / 'packaging' / 'apt_wait.sh'}; apt_get install nope"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=60, env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert r.returncode == 1 and "Unable to locate package nope" in r.stderr
