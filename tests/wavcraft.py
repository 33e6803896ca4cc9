"""Hand-made WAV headers and other bad files for the fuzz tests."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np


def wav_bytes(samples: np.ndarray | None = None, rate: int = 22_050, channels: int = 1,
              declared_data: int | None = None, bits: int = 16) -> bytes:
    data = b"" if samples is None else (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    block_align = max(channels, 0) * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * block_align, block_align, bits)
    size = len(data) if declared_data is None else declared_data
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size & 0xFFFFFFFF) + data
    return b"RIFF" + struct.pack("<I", (len(body)) & 0xFFFFFFFF) + body


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
