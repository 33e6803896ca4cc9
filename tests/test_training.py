"""Real training on CPU: DAMER learns labels that follow from the audio, resumes exactly, runs DDP."""

import json
import os
import signal
import subprocess
import sys

import pytest
import torch

from damer_core.contract import events
from damer_core.devices import DeviceError, resolve_device
from damer_core.models.checkpoint import BundleError, load_checkpoint
from damer_core.progress import Progress
from damer_core.training.config import TrainConfig
from damer_core.training.run import DataArgs, train
from damer_core.training.trainer import amp_settings

pytestmark = pytest.mark.slow  # real training runs (CPU), DDP and resume

def best_metrics(path, part="test"):
    return {d: e["metrics"][part]["fuse"] for d, e in load_checkpoint(path)["dimensions"].items()}


@pytest.mark.slow
def test_damer_learns_arousal_and_valence_from_audio(trained_bundle):
    m = best_metrics(trained_bundle)
    # the test part (never seen in training or in choosing the epoch), chance is 50 %
    assert m["arousal"]["acc"] >= 0.85 and m["valence"]["acc"] >= 0.85, m
    assert m["arousal"]["auc"] >= 0.9 and m["valence"]["auc"] >= 0.9
    rows = (trained_bundle.parent / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 16 and rows[0].startswith("dim,epoch,lr,loss_total")


@pytest.mark.slow
@pytest.mark.parametrize("off", ["dsaf", "pcl", "saml"])
def test_each_module_ablated_still_trains(synth_memo, tmp_path, off):
    tcfg = TrainConfig(epochs=8, batch_size=8, dims=("valence",)).with_ablation([off])
    best = train(DataArgs(str(synth_memo)), tcfg, tmp_path / off, "cpu")
    bundle = load_checkpoint(best)
    assert bundle["train_config"][off] is False
    assert bundle["model_config"]["cross_attention"] is (off != "dsaf")
    assert bundle["dimensions"]["valence"]["metrics"]["test"]["fuse"]["acc"] >= 0.8


class StopAfter(Progress):
    """Raises KeyboardInterrupt once `n` last.pt checkpoints are written: an interrupted run."""

    def __init__(self, n):
        super().__init__("none")
        self.n = n

    def emit(self, event):
        if isinstance(event, events.Checkpoint) and event.kind == "last":
            self.n -= 1
            if self.n == 0:
                raise KeyboardInterrupt


def test_resume_reaches_the_same_result(tiny_memo, tmp_path):
    tcfg = TrainConfig(epochs=4, batch_size=8)
    straight = train(DataArgs(str(tiny_memo)), tcfg, tmp_path / "a", "cpu")
    with pytest.raises(KeyboardInterrupt):
        train(DataArgs(str(tiny_memo)), tcfg, tmp_path / "b", "cpu", progress=StopAfter(5))  # arousal done, valence 1/4
    assert load_checkpoint(tmp_path / "b" / "last.pt")["resume"]["valence"]["epoch"] == 1
    resumed = train(None, TrainConfig(epochs=1), tmp_path / "b", "cpu", resume=True)  # settings come from last.pt
    a, b = load_checkpoint(straight), load_checkpoint(resumed)
    for dim in ("arousal", "valence"):
        assert a["dimensions"][dim]["metrics"] == b["dimensions"][dim]["metrics"]
        for k, v in a["dimensions"][dim]["state_dict"].items():
            assert torch.equal(v, b["dimensions"][dim]["state_dict"][k]), k
    assert (tmp_path / "a" / "metrics.csv").read_text().count("\n") == (tmp_path / "b" / "metrics.csv").read_text().count("\n")


def cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "damer_core.cli", *map(str, args)], capture_output=True, text=True, **kw)


def test_killed_training_resumes_to_the_same_metrics(tiny_memo, tmp_path):
    common = ["--dataset", tiny_memo, "--epochs", 3, "--batch-size", 8, "--dims", "arousal", "--device", "cpu"]
    assert cli("train", *common, "--out", tmp_path / "a", "--progress", "none").returncode == 0
    proc = subprocess.Popen([sys.executable, "-m", "damer_core.cli", "train", *map(str, common), "--out", str(tmp_path / "b"),
                             "--progress", "jsonl"], stdout=subprocess.PIPE, text=True)
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "checkpoint" and event["kind"] == "last":
            os.kill(proc.pid, signal.SIGKILL)  # kill -9 right after the first epoch's checkpoint
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    done = cli("train", "--resume", "--out", tmp_path / "b", "--progress", "none")
    assert done.returncode == 0, done.stderr
    rows_a = (tmp_path / "a" / "metrics.csv").read_text().splitlines()
    rows_b = (tmp_path / "b" / "metrics.csv").read_text().splitlines()
    strip_time = lambda rows: [r.rsplit(",", 1)[0] for r in rows]  # noqa: E731 (seconds differ)
    assert strip_time(rows_a) == strip_time(rows_b) and len(rows_a) == 4


def test_two_process_gloo_ddp_run(tiny_memo, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "damer_core.cli",
         "train", "--dataset", str(tiny_memo), "--epochs", "2", "--batch-size", "8", "--dims", "arousal",
         "--device", "cpu", "--out", str(tmp_path / "ddp"), "--progress", "jsonl"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    events = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    starts = [e for e in events if e["event"] == "start"]
    assert len(starts) == 1 and starts[0]["world_size"] == 2  # only rank 0 reports
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [1, 2]
    assert load_checkpoint(tmp_path / "ddp" / "best.pt")["dimensions"]["arousal"]["epoch"] >= 1


def test_asking_for_cuda_without_one_fails_clearly(tiny_memo, tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(DeviceError, match="expected auto, cpu"):
        resolve_device("tpu")
    # the child cannot see the monkeypatch: hide the GPUs from it so a CUDA host checks the same refusal
    res = cli("train", "--dataset", tiny_memo, "--epochs", 1, "--device", "cuda", "--out", tmp_path / "x",
              env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "no CUDA GPU" in res.stderr


@pytest.mark.parametrize("bf16,dtype,scaler", [(True, torch.bfloat16, False), (False, torch.float16, True)])
def test_mixed_precision_choice_on_cuda(monkeypatch, bf16, dtype, scaler):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    use, chosen = amp_settings(torch.device("cuda", 0), True)
    assert use and chosen == dtype and ((chosen == torch.float16) == scaler)
    assert amp_settings(torch.device("cpu"), True) == (False, None)
    assert amp_settings(torch.device("cuda", 0), False) == (False, None)


def test_fine_tuning_keeps_the_base_models_architecture_and_refuses_an_old_run(tiny_memo, tmp_path):
    base = train(DataArgs(str(tiny_memo)), TrainConfig(epochs=1, batch_size=16, dims=("arousal",), band_embedding=False),
                 tmp_path / "base", "cpu")
    assert load_checkpoint(base)["model_config"]["band_embedding"] is False
    tuned = train(DataArgs(str(tiny_memo)), TrainConfig(epochs=1, batch_size=16, dims=("arousal",)), tmp_path / "tuned",
                  "cpu", init=str(base))  # the default TrainConfig has the embedding on: the base model's wins
    assert load_checkpoint(tuned)["model_config"]["band_embedding"] is False
    old = load_checkpoint(tmp_path / "base" / "last.pt")
    del old["train_config"]["val_fraction"]  # a run from before the validation part
    torch.save(old, tmp_path / "base" / "last.pt")
    with pytest.raises(BundleError, match="older damer-core that had no validation part"):
        train(None, TrainConfig(), tmp_path / "base", "cpu", resume=True)
