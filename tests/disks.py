"""A real, small disk that fills up: a 64 MiB tmpfs (root only), for the full-disk tests."""

import os
import subprocess
import tempfile
from pathlib import Path

import pytest


@pytest.fixture
def small_disk():
    """A real 64 MiB tmpfs, filled up on demand with :func:`fill`."""
    d = Path(tempfile.mkdtemp(prefix="damer-tmpfs-"))
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(d)], capture_output=True, text=True)
    if res.returncode != 0:
        os.rmdir(d)
        pytest.skip(f"cannot mount a small tmpfs here ({res.stderr.strip()})")
    yield d
    subprocess.run(["umount", "-l", str(d)], check=False)
    os.rmdir(d)


def fill(disk: Path) -> Path:
    """Write until the disk is full; delete the returned file to free the space again."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as f:
        for block in (1 << 20, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * block)
            except OSError as e:
                assert e.errno == 28  # ENOSPC
    return filler
