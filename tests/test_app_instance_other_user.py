"""What another user on the same machine can do: squat the instance socket's name, or own files the
app reads. The socket lives in a folder only its user can enter; permissions are checked as a real
second user (``nobody`` through setpriv) where the tests run as root, as in CI; skipped elsewhere."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from app.instance import InstanceServer, private_socket_dir, server_name

ROOT = Path(__file__).resolve().parent.parent
NOBODY = 65534
as_root = pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0 or shutil.which("setpriv") is None,
                             reason="needs root (to act as a second user) and setpriv")


@pytest.fixture
def short_tmp():
    """A short folder under /tmp that every user can traverse (pytest's own is private to root,
    and a socket's whole path must stay under 108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="dx-", dir="/tmp"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def own_tmp(short_tmp, monkeypatch):
    """A temporary folder of this test's own, as the system's: squatting it cannot disturb others."""
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    (short_tmp / "tmp").mkdir()
    os.chmod(short_tmp / "tmp", 0o1777)
    monkeypatch.setattr(tempfile, "tempdir", str(short_tmp / "tmp"))
    return short_tmp / "tmp"


def test_the_socket_lives_in_a_folder_only_its_user_can_enter(own_tmp, short_tmp):
    name = server_name(short_tmp / "library.sqlite3")
    folder = Path(name).parent
    assert folder == own_tmp / f"damer-explorer-{os.getuid()}"
    st = os.lstat(folder)
    assert st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) == 0o700


@pytest.mark.parametrize("squat", ["open to all", "a link", "a file"])
def test_a_squatted_socket_folder_is_never_used(squat, own_tmp, short_tmp, qtbot):
    tmp_path = short_tmp
    folder = own_tmp / f"damer-explorer-{os.getuid()}"
    if squat == "open to all":
        folder.mkdir(mode=0o777)
        os.chmod(folder, 0o777)
    elif squat == "a link":
        (tmp_path / "elsewhere").mkdir(mode=0o700)
        folder.symlink_to(tmp_path / "elsewhere")
    else:
        folder.write_text("squatted")
    db = tmp_path / "data" / "library.sqlite3"
    db.parent.mkdir()
    chosen = private_socket_dir(db.parent)
    assert chosen == db.parent / "run" and stat.S_IMODE(os.lstat(chosen).st_mode) == 0o700
    server = InstanceServer(db)
    assert server.listen(), server.error
    assert Path(server._server.fullServerName()).parent == db.parent / "run"
    server.close()


@as_root
def test_a_folder_squatted_by_another_user_is_refused(own_tmp, short_tmp, qtbot):
    tmp_path = short_tmp
    folder = own_tmp / f"damer-explorer-{os.getuid()}"
    folder.mkdir(mode=0o700)
    os.chown(folder, NOBODY, NOBODY)  # another user made it first, private to them
    db = tmp_path / "library.sqlite3"
    assert Path(server_name(db)).parent == tmp_path / "run"
    server = InstanceServer(db)
    assert server.listen(), server.error
    server.close()


def _as_nobody(code: str, *args: str, home: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOME=str(home), DAMER_DATA_DIR=str(home / "data"),
               DAMER_CONFIG_DIR=str(home / "config"), NUMBA_CACHE_DIR=str(home / "numba"))
    env.pop("XDG_RUNTIME_DIR", None)
    return subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", sys.executable,
                           "-c", code, *args], capture_output=True, text=True, env=env, timeout=120)


@as_root
def test_a_library_owned_by_another_user_is_refused_in_words(short_tmp):
    tmp_path = short_tmp
    from app.library.db import LibraryDB

    db_path = tmp_path / "shared" / "library.sqlite3"
    db_path.parent.mkdir()
    LibraryDB(db_path).close()
    os.chmod(db_path.parent, 0o755)
    os.chmod(db_path, 0o644)  # readable by others, writable by its owner only
    home = tmp_path / "nobody-home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    code = ("import sys\nfrom app.library.db import LibraryDB, LibraryLocked\n"
            "try:\n    LibraryDB(sys.argv[1])\nexcept LibraryLocked as e:\n    print('refused:', e)\n")
    out = _as_nobody(code, str(db_path), home=home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"refused: {db_path}: the library database is read-only"), out.stdout + out.stderr
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)  # a folder the second user cannot even enter
    out = _as_nobody(code, str(hidden / "library.sqlite3"), home=home)
    assert "refused:" in out.stdout and "cannot be reached" in out.stdout and "Traceback" not in out.stderr, out.stderr


@as_root
def test_predict_output_into_a_folder_of_another_user_fails_before_any_work(short_tmp):
    tmp_path = short_tmp
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    home = tmp_path / "nobody-home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    code = "import sys\nfrom damer_core.cli.main import main\nsys.exit(main(sys.argv[1:]))\n"
    out = _as_nobody(code, "predict", "--checkpoint", str(ROOT / "resources" / "models" / "damer-4q.pt"),
                     "--output", str(theirs / "r.csv"), str(ROOT / "tests" / "data" / "vibe_ace.ogg"), home=home)
    assert out.returncode == 2 and "Permission denied" in out.stderr and str(theirs) in out.stderr, out.stderr
    assert "Traceback" not in out.stderr and list(theirs.iterdir()) == []
