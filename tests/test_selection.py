"""`damer-core select` (damer_core.evaluation.selection) on a small generated 4Q folder (never the
real clips): every candidate on the same grouped folds of the train + validation tracks, the
heads that read musicnn's embedding among them, and the default chosen by the rule fixed
beforehand."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from test_fourq import fourq_folder

from damer_core.evaluation.selection import DESCRIPTOR_CANDIDATES, EMBEDDING_CANDIDATES, SHIPPABLE

pytestmark = pytest.mark.slow  # featurises 32 generated songs and cross-validates every candidate

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
SONGS = [(f"MT{i:03d}", QUADRANTS[i % 4], f"Artist {i // 2}") for i in range(32)]


def select(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "damer_core.cli", "select", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return fourq_folder(tmp_path_factory.mktemp("select") / "4q", songs=SONGS)


def test_every_candidate_is_scored_on_the_same_folds_and_the_rule_chooses(data, tmp_path):
    r = select("--dataset", str(data), "--preset", "context", "--folds", "2", "--json", str(tmp_path / "s.json"),
               "--cache-dir", str(tmp_path / "cache"))
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "s.json").read_text())
    for name in (*SHIPPABLE, "late fusion: descriptor head + musicnn head (stacked)",
                 "clip-level concatenation, RBF SVM (C 1)", "class prior (baseline)"):
        assert name in report and f"| {name} |" in r.stdout
        assert len(report[name]["folds"]) == 2
    tracks = int(re.search(r"inside the (\d+) train \+ validation tracks", r.stdout).group(1))
    assert 0 < tracks < len(SONGS)  # the test part is not used
    top = max(SHIPPABLE, key=lambda n: report[n]["mean"]["macro_f1"])
    level = [n for n in SHIPPABLE
             if report[n]["mean"]["macro_f1"] >= report[top]["mean"]["macro_f1"] - report[top]["std"]["macro_f1"]]
    assert report["chosen"] in level and f"the fewest fitted numbers): {report['chosen']}" in r.stdout
    args = {**DESCRIPTOR_CANDIDATES, **EMBEDDING_CANDIDATES}
    if any("musicnn" in args[n].get("groups", ()) for n in level):  # pretrained ears first
        assert "musicnn" in args[report["chosen"]].get("groups", ())


def test_the_rule_prefers_pretrained_ears_then_fewer_fitted_numbers_among_the_level():
    import numpy as np

    from damer_core.evaluation.selection import OutOfFold, chosen, fitted_numbers

    y = np.tile(np.arange(4), 50)
    fold = np.repeat(np.arange(4), 50)

    def candidate(name: str, right: float) -> OutOfFold:
        """Right on about ``right`` of each fold's tracks, 5 points more or less fold by fold."""
        p = np.full((y.size, 4), 0.1)
        share = right + np.where(fold % 2 == 0, 0.05, -0.05)
        hit = (np.arange(y.size) % 50) < share * 50
        p[np.arange(y.size), np.where(hit, y, (y + 1) % 4)] = 0.7
        return OutOfFold(name, np.arange(y.size).astype(str), fold, y, p)

    kernel, linear = "descriptors + musicnn, kernel (C 3)", "musicnn embedding alone, linear (C 0.01)"
    assert fitted_numbers(EMBEDDING_CANDIDATES[linear]) < fitted_numbers(EMBEDDING_CANDIDATES[kernel])
    level = [candidate(kernel, 0.75), candidate(linear, 0.74), candidate("descriptor head, linear (C 0.01)", 0.74)]
    assert chosen(level).name == linear  # level on the folds: pretrained, then fewest numbers
    apart = [candidate(kernel, 0.95), candidate(linear, 0.40)]
    assert chosen(apart).name == kernel  # far behind is not level


def test_without_embeddings_the_musicnn_candidates_are_left_out(data, tmp_path):
    r = select("--dataset", str(data), "--preset", "context", "--folds", "2", "--no-embeddings",
               "--cache-dir", str(tmp_path / "cache"))
    assert r.returncode == 0, r.stderr
    assert not any(name in r.stdout for name in EMBEDDING_CANDIDATES)
    assert "descriptor head, kernel (C 1)" in r.stdout
