"""One running DAMER Explorer per library: a lock file next to the database, so a second
instance never writes to the same library at the same time. A second start hands its FILE (or
just "come to the front") to the running one over a local socket and exits; only when nobody
answers there (a stale lock, an instance on another host) does it say "already running"."""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from app.library.db import LibraryLocked

MAX_MESSAGE = 64 * 1024  # one JSON line: a path is far shorter
SOCKET_DIR_MAX = 80  # characters of the socket's folder: the name adds 32, sun_path holds 107
HAND_OVER_TIMEOUT_MS = 10_000  # the running window may be busy for a moment: give it time to answer


class AlreadyRunning(LibraryLocked):
    """Another DAMER Explorer holds this library's lock."""


class InstanceLock:
    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LibraryLocked(f"{self.db_path.parent}: the app's data folder cannot be made ({e.strerror or e}); "
                                "fix its permissions or set DAMER_DATA_DIR to a folder you can write") from None
        self._lock = QLockFile(str(self.db_path) + ".lock")
        # 0: never stale by age, only when the process that made it is gone (e.g. after kill -9)
        self._lock.setStaleLockTime(0)

    def acquire(self) -> None:
        if self._lock.tryLock(200):
            return
        if self._lock.error() == QLockFile.LockError.LockFailedError:
            info = self._lock.getLockInfo()  # (pid, hostname, app name), or False
            who = "another process"
            if isinstance(info, tuple) and len(info) == 3 and info[0] > 0:
                pid, host = info[0], info[1]
                who = f"process {pid}" + (f" on {host}" if host and host != os.uname().nodename else "")
            raise AlreadyRunning(f"{self.db_path}: DAMER Explorer is already running with this library ({who}); "
                                 "switch to that window or close it first")
        raise LibraryLocked(f"{self.db_path}.lock: cannot create the lock file next to the library "
                            f"({why_unwritable(self.db_path.parent)})")

    def release(self) -> None:
        self._lock.unlock()


def why_unwritable(folder: Path) -> str:
    """What stops a file being written in ``folder``, as the system says it (a full disk, a
    read-only file system, permissions), found by trying."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder) as f:
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        return e.strerror or str(e)
    return "the system gave no reason; try again"


def server_name(db_path: Path) -> str:
    """The local socket of the instance that runs ``db_path``: one per library and user, as a full
    path in a folder only this user can enter (:func:`private_socket_dir`), so another user can
    neither squat the name (and receive the files a second start hands over) nor block it."""
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in the environment: the path alone still separates libraries
        user = ""
    key = f"{user}\0{Path(db_path).resolve()}"
    name = "damer-explorer-" + hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    folder = private_socket_dir(Path(db_path).resolve().parent)
    return str(folder / name) if folder is not None else name


def private_socket_dir(fallback: Path | None = None) -> Path | None:
    """The first private folder of: $XDG_RUNTIME_DIR, ``<tmp>/damer-explorer-<uid>`` and
    ``fallback/run`` (made 0700; each refused when another user owns it, others can enter it or it is
    a link). None where there is none (not POSIX): Qt's own name in its temporary folder then."""
    if not hasattr(os, "getuid"):
        return None
    import tempfile

    candidates = [Path(os.environ["XDG_RUNTIME_DIR"])] if os.environ.get("XDG_RUNTIME_DIR") else []
    candidates.append(Path(tempfile.gettempdir()) / f"damer-explorer-{os.getuid()}")
    if fallback is not None:
        candidates.append(fallback / "run")
    for folder in candidates:
        if len(str(folder)) > SOCKET_DIR_MAX:  # a socket's whole path must fit in sun_path (108 bytes)
            continue
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
        except OSError:
            continue
        if _private(folder):
            return folder
    return None


def _private(folder: Path) -> bool:
    """A real folder (not a link) of this user that no one else can enter."""
    try:
        st = os.lstat(folder)
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


class InstanceServer(QObject):
    """Listens for later starts of the app with the same library."""

    file_received = Signal(object)  # an absolute path to open and play
    activate_requested = Signal()  # after every message: bring the window to the front

    def __init__(self, db_path: Path, parent: QObject | None = None):
        super().__init__(parent)
        self.name = server_name(db_path)
        self._server = QLocalServer(self)
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)  # no other user's files
        self._server.newConnection.connect(self._accept)

    def listen(self) -> bool:
        """Call while holding the :class:`InstanceLock`: a socket left behind by a killed
        instance is ours to remove."""
        QLocalServer.removeServer(self.name)
        return self._server.listen(self.name)

    @property
    def error(self) -> str:
        return self._server.errorString()

    def close(self) -> None:
        self._server.close()

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(sock.deleteLater)
            self._read(sock)

    def _read(self, sock: QLocalSocket) -> None:
        if not sock.canReadLine():
            if sock.bytesAvailable() > MAX_MESSAGE:
                sock.abort()
            return
        try:
            path = json.loads(bytes(sock.readLine(MAX_MESSAGE).data()).decode())["open"]
        except (ValueError, KeyError, TypeError):
            sock.abort()
            return
        if path is not None and not isinstance(path, str):
            sock.abort()
            return
        sock.write(b"ok\n")
        sock.flush()
        sock.disconnectFromServer()
        if path:
            self.file_received.emit(path)
        self.activate_requested.emit()


def hand_over(db_path: Path, file: str | None = None, timeout_ms: int = HAND_OVER_TIMEOUT_MS) -> bool:
    """Ask the instance running with ``db_path`` to open and play ``file`` (made absolute here:
    the other process has another working directory), or, without one, to come to the front.
    True once it has answered; False when nobody listens or answers."""
    sock = QLocalSocket()
    sock.connectToServer(server_name(db_path))
    if not sock.waitForConnected(timeout_ms):
        return False
    message = {"open": os.path.abspath(file) if file else None}
    sock.write((json.dumps(message) + "\n").encode())
    sock.flush()
    while not sock.canReadLine():
        if not sock.waitForReadyRead(timeout_ms):
            sock.abort()
            return False
    answer = bytes(sock.readLine().data()).strip()
    sock.disconnectFromServer()
    return answer == b"ok"
