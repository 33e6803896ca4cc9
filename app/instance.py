"""One running DAMER Explorer per library: a lock file next to the database, so a second
instance says so instead of writing to the same library at the same time."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QLockFile

from app.library_db import LibraryLocked


class InstanceLock:
    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
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
            raise LibraryLocked(f"{self.db_path}: DAMER Explorer is already running with this library ({who}); "
                                "switch to that window or close it first")
        raise LibraryLocked(f"{self.db_path}: cannot create the lock file next to the library "
                            "(is the folder read-only?)")

    def release(self) -> None:
        self._lock.unlock()
