"""Messages that tell the truth: a full disk names the file, broken samples are called what they
are (non-finite, overflowing) rather than near-silent, a short file's length has enough digits."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from damer_core.audio.decoding import MIN_SECONDS, load_for_model
from damer_core.audio.synthetic import chord_music
from damer_core.contract.errors import AudioError

MODEL = str(Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt")
SR = 22_050


@pytest.mark.parametrize("seconds", [0.5, 2.9, 2.99, 2.999, 2.9995, 2.99999])
def test_a_short_file_says_its_length_to_the_millisecond(tmp_path, seconds):
    path = tmp_path / "short.wav"
    sf.write(path, chord_music(seconds, True, True, SR, seed=1)[: int(seconds * SR)], SR)
    with pytest.raises(AudioError) as caught:
        load_for_model(path)
    shown = str(caught.value).split("(")[1].split(" s;")[0]
    assert float(shown) < MIN_SECONDS and float(shown) <= seconds and "3.0 s" not in str(caught.value)


def _float_wav(path: Path, fault: str, share: float) -> Path:
    y = chord_music(8.0, True, True, SR, seed=2).astype(np.float32)
    idx = np.random.default_rng(0).choice(y.size, max(1, int(share * y.size)), replace=False)
    y[idx] = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "overflow": 1e30, "huge": 3e4}[fault]
    sf.write(path, y, SR, subtype="FLOAT")
    return path


FAULTS = [(f, s) for f in ("nan", "inf", "-inf", "overflow", "huge") for s in (1.0, 0.5, 1e-3, 0.0)]


@pytest.fixture(scope="module")
def predictor():
    from damer_core.inference.predictor import Predictor

    return Predictor(MODEL, "cpu")


@pytest.mark.parametrize("fault,share", FAULTS)
def test_broken_samples_are_called_what_they_are(fault, share, tmp_path, predictor):
    result = predictor.predict_file(_float_wav(tmp_path / f"{fault}.wav", fault, share)).to_dict()
    words = "non-finite samples" if fault in ("nan", "inf", "-inf") else "overflowing samples"
    assert words in result["warning"] and "near-silent" not in result["warning"], result["warning"]
    assert result["confidence"] == 0.0 and result["valence"] == 0.0


def test_digital_silence_is_still_near_silent(tmp_path, predictor):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(8 * SR, np.float32), SR, subtype="FLOAT")
    assert predictor.predict_file(path).to_dict()["warning"].startswith("near-silent audio")


def test_a_full_stdout_is_named(tmp_path):
    path = tmp_path / "ok.wav"
    sf.write(path, chord_music(4.0, True, True, SR, seed=3), SR)
    for fmt in ("csv", "json", "trajectory-csv"):
        with open("/dev/full", "w") as full:
            out = subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", MODEL, "--format",
                                  fmt, str(path)], stdout=full, stderr=subprocess.PIPE, text=True, timeout=300)
        assert out.returncode == 2 and "standard output: No space left on device" in out.stderr, out.stderr


def test_a_full_disk_during_predict_output_names_the_part_file(tmp_path, monkeypatch, capsys):
    import damer_core.inference.sharded as sharded
    from damer_core.cli.main import main

    path = tmp_path / "ok.wav"
    sf.write(path, chord_music(4.0, True, True, SR, seed=3), SR)

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sharded, "safe_row", full)
    assert main(["predict", "--checkpoint", MODEL, "--output", str(tmp_path / "r.csv"), str(path)]) == 2
    assert f"{tmp_path / 'r.csv.part0'}: No space left on device" in capsys.readouterr().err
