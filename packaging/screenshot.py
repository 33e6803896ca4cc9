"""Start the real app offscreen, add the shared recordings, play one, and save a screenshot.

    python packaging/screenshot.py [--audio ../shared/audio] [--model best.pt] [--out docs/screenshot.png]

Without --model the app uses its built-in model (trained on the 4Q data set, see
docs/MODEL_CARD.md), as on a user's first start: no import. ``demo_model`` below trains a small
model on synthetic chords for the curator screenshots' training panel.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def demo_model(work: Path) -> Path:
    import numpy as np

    from damer_core.audio.decoding import normalise_loudness
    from damer_core.audio.synthetic import chord_music
    from damer_core.features.spectra import CLIP, segment_features

    rng = np.random.default_rng(0)
    memo = work / "demo" / "memo"
    (memo / "labels").mkdir(parents=True)
    mels, cochs, la, lv = [], [], [], []
    for i in range(300):
        major, fast = bool(rng.integers(2)), bool(rng.integers(2))
        y = normalise_loudness(chord_music(3.0, major, fast, seed=i), 22_050)
        m, c = segment_features(y[22_050:44_100], CLIP)
        mels.append(m)
        cochs.append(c)
        la.append(rng.uniform(0.2, 1) * (1 if fast else -1))
        lv.append(rng.uniform(0.2, 1) * (1 if major else -1))
    np.save(memo / "mel_spec.npy", np.stack(mels))
    np.save(memo / "cochlegram.npy", np.stack(cochs))
    np.save(memo / "labels" / "label_a.npy", np.array(la))
    np.save(memo / "labels" / "label_v.npy", np.array(lv))
    out = work / "demo-run"
    subprocess.run([sys.executable, "-m", "damer_core.cli", "train", "--dataset", str(work / "demo"), "--epochs", "8",
                    "--batch-size", "8", "--out", str(out), "--progress", "none"], check=True)
    return out / "best.pt"


def isolated_offscreen(prefix: str) -> Path:
    """A temporary home for the app's config and data, and a 1600x1000 offscreen screen."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    screen = work / "screen.json"
    screen.write_text(json.dumps({"screens": [{"name": "shot", "x": 0, "y": 0, "width": 1600, "height": 1000,
                                               "logicalDpi": 96, "physicalDpi": 96}]}))
    os.environ.setdefault("QT_QPA_PLATFORM", f"offscreen:configfile={screen}")
    os.environ["DAMER_CONFIG_DIR"] = str(work / "config")
    os.environ["DAMER_DATA_DIR"] = str(work / "data")
    return work


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--audio", default=str(ROOT.parent / "shared" / "audio"))
    ap.add_argument("--model")
    ap.add_argument("--track", default="sugar_plum_fairy")
    ap.add_argument("--seconds", type=float, default=8.0, help="how long to play before the screenshot")
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    args = ap.parse_args()
    isolated_offscreen("damer-shot-")
    model = args.model

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.windows.main_window import MainWindow

    app = QApplication([])
    w = MainWindow()
    w.resize(1600, 1000)
    w.show()
    w.add_folder(args.audio)
    state = {"phase": "scan"}

    def poll() -> None:
        if state["phase"] == "scan" and not w.library_busy:
            state["phase"] = "analyse"
            if model:
                w.windows.import_model(model)
        elif state["phase"] == "analyse" and not w.analysis.running and not w.db.unanalysed(w.state.model.key):
            state["phase"] = "play"
            path = next(r.path for r in w.model.rows if args.track in r.path)
            w.open_track(path, autoplay=True)
            QTimer.singleShot(int(args.seconds * 1000), shoot)

    def shoot() -> None:
        w.player.pause()
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        w.grab().save(args.out)
        print(f"saved {args.out}")
        w.close()
        app.quit()

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(200)
    QTimer.singleShot(600_000, app.quit)
    app.exec()
    return 0


if __name__ == "__main__":
    sys.exit(main())
