"""What libmpg123 (inside libsndfile) prints on fd 2 about damaged MP3 frames it conceals goes to
the ``damer_core.audio.decoding`` log, one line per file, never to the user's terminal."""

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from damer_core.audio.decoding import NativeStderr, decode
from damer_core.audio.synthetic import chord_music

ROOT = Path(__file__).resolve().parent.parent
SR = 22_050
needs_mp3 = pytest.mark.skipif("MP3" not in sf.available_formats(), reason="this libsndfile cannot write MP3")

# Decodes each argument in a thread of its own (the app decodes in worker threads), then writes
# to fd 2 itself: that must reach the terminal again.
DECODE = """
import logging, os, sys, threading
logging.basicConfig(stream=sys.stdout, format="LOG %(name)s %(levelname)s %(message)s")
from damer_core.audio.decoding import decode
def one(path):
    n = decode(path, 22050).samples.shape[0]
    sys.stdout.write(f"decoded {os.path.basename(path)} {n}\\n")  # one write: print() may interleave with the log
    sys.stdout.flush()
threads = [threading.Thread(target=one, args=(p,)) for p in sys.argv[1:]]
for t in threads: t.start()
for t in threads: t.join()
os.write(2, b"fd 2 is back\\n")
"""


def damaged_mp3(path: Path) -> Path:
    """A real MP3 with 400 random bytes in its middle frames: it still decodes, with complaints."""
    sf.write(path, chord_music(6.0, True, True, SR, seed=0), SR, format="MP3")
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(1)
    for i in rng.integers(len(data) // 4, 3 * len(data) // 4, 400):
        data[i] = int(rng.integers(0, 256))
    path.write_bytes(bytes(data))
    return path


def python(code: str, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))


@needs_mp3
def test_libmpg123_warnings_go_to_the_log_not_the_terminal(tmp_path):
    bad = damaged_mp3(tmp_path / "damaged.mp3")
    raw = python("import sys, soundfile; soundfile.read(sys.argv[1])", bad)
    assert raw.returncode == 0 and "[src/libmpg123/" in raw.stderr, raw.stderr  # the file makes it talk
    clean = tmp_path / "clean.flac"
    sf.write(clean, chord_music(4.0, True, True, SR, seed=2), SR)
    res = python(DECODE, bad, clean, bad)  # the same file twice, at once: still one log line
    assert res.returncode == 0, res.stdout + res.stderr
    assert "libmpg123" not in res.stderr and "fd 2 is back" in res.stderr, res.stderr
    assert sorted(line.split()[1] for line in res.stdout.splitlines() if line.startswith("decoded")) == [
        "clean.flac", "damaged.mp3", "damaged.mp3"]
    logged = [line for line in res.stdout.splitlines() if line.startswith("LOG")]
    assert len(logged) == 1, res.stdout
    assert re.fullmatch(rf"LOG damer_core\.audio\.decoding WARNING {re.escape(str(bad))}: decoder warnings: "
                        r"(\[src/libmpg123/\S+\] error: |Note: ).+ \(\d+ lines?\)", logged[0]), logged[0]


@needs_mp3
def test_decoding_works_without_fd2(tmp_path):
    bad = damaged_mp3(tmp_path / "damaged.mp3")
    res = python("import os; os.close(2)\n" + DECODE.replace('os.write(2, b"fd 2 is back\\n")', ""), bad)
    assert res.returncode == 0 and "decoded damaged.mp3" in res.stdout, res.stdout


def test_fd2_is_restored_when_the_native_call_fails(tmp_path, capfd, caplog):
    before = os.fstat(2)
    native = NativeStderr(tmp_path / "x.mp3")
    with pytest.raises(RuntimeError), native.capture():
        os.write(2, b"[src/libmpg123/layer3.c:1] error: made up\n\n")  # a C-level write, as the decoder's
        raise RuntimeError("the decoder failed")
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
    os.write(2, b"after\n")
    with caplog.at_level(logging.WARNING, logger="damer_core.audio.decoding"):
        native.report()
    assert capfd.readouterr().err == "after\n"
    assert caplog.messages == [(f"{tmp_path / 'x.mp3'}: decoder warnings: [src/libmpg123/layer3.c:1] error: "
                                "made up (1 line)")]


@needs_mp3
def test_clean_files_log_nothing(tmp_path, capfd, caplog):
    paths = [tmp_path / "clean.mp3", tmp_path / "clean.ogg"]
    for p in paths:
        sf.write(p, chord_music(4.0, True, True, SR, seed=3), SR, format=p.suffix[1:].upper())
    with caplog.at_level(logging.DEBUG, logger="damer_core.audio.decoding"):
        for p in paths:
            assert decode(p, SR).samples.shape[0] > 3 * SR
    assert caplog.records == [] and capfd.readouterr().err == ""


CHATTER = [b"[src/libmpg123/layer3.c:2] error: part2_3_length too large", b"Vorbis: warning: hole in data",
           b"FLAC__STREAM_DECODER_ERROR_STATUS_LOST_SYNC", b"libsndfile: ignoring chunk 'junk'", b"ogg: page CRC mismatch",
           b"opus: corrupted stream", b"\x1b]0;title\x07 escape from a codec"]


@pytest.mark.parametrize("n", [1, 3, len(CHATTER)])
def test_any_librarys_chatter_goes_to_the_log_and_python_text_to_the_terminal(tmp_path, n):
    """Whatever a native library writes on fd 2 while a file decodes is that file's chatter, for the
    log; Python's own text (another thread's progress line) still reaches the terminal."""
    code = f"""
import logging, os, sys
logging.basicConfig(stream=sys.stdout, format="LOG %(message)s")
from damer_core.audio.native_stderr import NativeStderr
native = NativeStderr("y.mp3")
with native.capture():
    sys.stderr.write("featurising [#####     ] 5/10\\n")
    for line in {CHATTER[:n]!r}:
        os.write(2, line + b"\\n")
native.report()
"""
    out = python(code)
    assert out.stderr == "featurising [#####     ] 5/10\n", out.stderr
    assert out.stdout.count("LOG y.mp3: decoder warnings: ") == 1 and f"({n} line" in out.stdout
