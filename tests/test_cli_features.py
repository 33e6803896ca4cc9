import json
import subprocess
import sys

import soundfile as sf

from damer_core.audio.synthetic import chord_music


def test_features_command_featurises_and_reports_bad_files(tmp_path):
    music = tmp_path / "music"
    music.mkdir()
    sf.write(music / "good.wav", chord_music(10.0, True, True, seed=2), 22_050)
    (music / "broken.mp3").write_bytes(b"not an mp3 at all" * 10)
    cache = tmp_path / "cache"
    out = subprocess.run([sys.executable, "-m", "damer_core.cli", "features", str(music), "--cache-dir", str(cache),
                          "--progress", "jsonl"], capture_output=True, text=True, check=True)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[0] == {"event": "task", "v": 1, "name": "features (clip)", "total": 2}
    skipped = [e for e in events if e["event"] == "message" and e.get("error")]
    assert len(skipped) == 1 and skipped[0]["text"].startswith("skipped broken.mp3: ")
    assert [e["done"] for e in events if e["event"] == "progress"] == [1, 2]
    assert len(list(cache.rglob("*.npz"))) == 1
