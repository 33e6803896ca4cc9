"""A curator's fine-tune of the built-in model (the musicnn embedding head): the head is refitted
on their labels with musicnn frozen, the result still reads the embedding, and the report gives
before and after on their held-out tracks (a generated 4Q-layout folder, never the real clips)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from test_fourq import fourq_folder

from damer_core.contract import events
from damer_core.models import load_model
from damer_core.models.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow  # featurises 24 generated songs through musicnn

BUILTIN = ROOT / "resources" / "models" / "damer-4q.pt"
QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
SONGS = [(f"MT{i:03d}", QUADRANTS[i % 4], f"Artist {i // 2}") for i in range(24)]


def test_a_fine_tune_refits_the_head_on_the_embedding_and_reports_before_and_after(tmp_path):
    data = fourq_folder(tmp_path / "4q", songs=SONGS)
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "train", "--dataset", str(data), "--init", str(BUILTIN),
                        "--out", str(tmp_path / "ft"), "--progress", "jsonl", "--cache-dir", str(tmp_path / "cache")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    evs = [events.parse(line) for line in r.stdout.splitlines() if line.startswith("{")]
    refitted = next(e for e in evs if isinstance(e, events.Refitted))
    assert not any(isinstance(e, (events.Start, events.Epoch)) for e in evs)  # no network is trained
    tuned, base = load_model(refitted.bundle), load_model(BUILTIN)
    assert tuned.head.groups == base.head.groups == ("musicnn",) and tuned.describe().kind_name == "musicnn embedding head"
    assert np.array_equal(tuned.head.mean, base.head.mean)  # the inputs' standardisation is the base's
    assert not np.allclose(tuned.head.coef, base.head.coef)  # the labels moved the head
    tuned_bundle = load_checkpoint(refitted.bundle)
    report = tuned_bundle["report"]["fine_tune"]
    assert report["n"] == refitted.n == len(SONGS) and {"before", "after", "change"} <= set(report)  # each held out once
    assert report["prior_tracks"] == 720  # the built-in weighs the tracks it learned from
    assert tuned_bundle["created"] != load_checkpoint(BUILTIN)["created"]  # its own creation time
