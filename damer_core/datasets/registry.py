"""Every data-set format, in the order ``--format auto`` tries them: each is declared once beside
its loader (a DataSetFormat: name, how it is recognised, how it loads). The CLI's ``--format``
choices, the detection and the loading all come from this list."""

from __future__ import annotations

from pathlib import Path

from damer_core.datasets import arrays, deam, emomusic, fourq, labels_csv, labels_json, pmemo
from damer_core.datasets.base import DatasetError, DataSetFormat

REGISTRY: tuple[DataSetFormat, ...] = (arrays.FORMAT, deam.FORMAT, fourq.FORMAT, pmemo.FORMAT, emomusic.FORMAT,
                                       labels_csv.FORMAT, labels_json.FORMAT)
BY_NAME = {f.name: f for f in REGISTRY}
FORMATS = ("auto", *BY_NAME)
FILE_FORMATS = {f.name: f.suffix for f in REGISTRY if f.suffix}


def detect_format(path: Path) -> str:
    """The name of the first format that recognises ``path`` (a folder, or a label file by its suffix)."""
    files = [f for f in REGISTRY if f.suffix]
    if path.is_file():
        for f in files:
            if f.detect(path):
                return f.name
        raise DatasetError(f"{path.name}: a data set is a folder, " + " or ".join(f.about for f in files))
    if not path.is_dir():
        raise DatasetError(f"{path}: no such file or folder")
    for f in REGISTRY:
        if not f.suffix and f.detect(path):
            return f.name
    raise DatasetError(f"{path}: not a recognised data set (expected " + ", ".join(f.about for f in REGISTRY[:-2])
                       + ", or " + " or ".join(f.about for f in files) + ")")
