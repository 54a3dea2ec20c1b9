"""launch: training on several processes (DDP under `accelerate launch`, two gloo CPU
processes here) returns the checkpoint a single process would, written once; a failing
worker is one line. The SFT run through a real flow is tests/flows/test_multi_process_train.py."""

from __future__ import annotations

import doctest
import json
import shutil
from pathlib import Path

import pytest

from selftaught.errors import CheckpointError, TrainError
from selftaught.loops import launch
from selftaught.loops.arithmetic import make_problems
from selftaught.loops.checkpoint import save_checkpoint, verify_checkpoint
from selftaught.loops.dpo import DPOSettings, VerifiedPair, build_dpo_config, train_dpo
from selftaught.loops.train import SFTSettings, build_sft_config, gold_training_set, per_process
from selftaught.records import Split, TrainingSet

TINY_DPO = DPOSettings(lr=5e-4, steps=4, batch_size=8, max_length=64, warmup=0)


def _pairs(n: int) -> list[VerifiedPair]:
    """``n`` pairs: the gold solution chosen, a wrong answer rejected."""
    return [
        VerifiedPair(p.id, p.prompt, p.solution or "", " <think></think> 0", ("generate", p.id, 0), ("generate", p.id, 1))
        for p in make_problems(n, Split.TRAIN, seed=0)
    ]


def test_each_process_takes_its_share_of_the_global_batch(tmp_path):
    sft = build_sft_config(SFTSettings(batch_size=8, micro_batch_size=2, processes=2), str(tmp_path))
    dpo = build_dpo_config(TINY_DPO.replace(processes=4), str(tmp_path))
    assert (sft.per_device_train_batch_size, sft.gradient_accumulation_steps) == (2, 2)  # 2 x 2 x 2 = 8
    assert (dpo.per_device_train_batch_size, dpo.gradient_accumulation_steps) == (2, 1)  # 4 x 2 = 8
    for args in (sft, dpo):  # every step's loss is logged (loss_curve); no DDP search for unused weights
        assert (args.logging_steps, args.ddp_find_unused_parameters) == (1, False)
    with pytest.raises(ValueError, match="3 processes must divide batch_size"):
        SFTSettings(batch_size=8, processes=3)  # checked when the settings are made
    with pytest.raises(ValueError, match="3 processes must divide the batch"):
        per_process(8, 3)


def test_a_secondary_rank_writes_no_checkpoint(monkeypatch, tmp_path):
    class Saves:
        def save_pretrained(self, path):
            raise AssertionError("rank 1 must not write")

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert save_checkpoint(Saves(), Saves(), tmp_path / "r1", meta={}) == ""
    assert list(tmp_path.iterdir()) == []


def test_the_command_starts_n_processes_with_its_own_accelerate_config(tmp_path):
    cmd = launch.accelerate_command(tmp_path, 2)
    # `--cpu --num_processes 2` would start one process (accelerate's multi-CPU mode needs
    # mpirun): the torchrun launcher starts two anywhere; the trainer's use_cpu picks the device
    assert "--multi_gpu" in cmd and "--cpu" not in cmd
    assert cmd[cmd.index("--num_processes") + 1] == "2" and cmd[-3:] == ["-m", launch.WORKER, str(tmp_path)]
    config = json.loads(Path(cmd[cmd.index("--config_file") + 1]).read_text())  # never the user's default
    assert (config["num_processes"], config["main_process_port"]) == (2, 0)  # 0: a free port
    assert launch.threads_per_process(4, 2) == 2 and launch.threads_per_process(1, 2) == 1
    assert doctest.testmod(launch).failed == 0


def test_nothing_to_train_stays_in_process(micro_policy_path, tmp_path):
    ckpt = launch.train_sft(
        micro_policy_path, TrainingSet("rft", ()), str(tmp_path / "r1"), cfg=SFTSettings(batch_size=8, processes=2),
        checkpoint_id="r1", parent_id="init", round_index=1,
    )  # fmt: skip
    assert ckpt.config["skipped"] is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r1"]  # no launch, no log


@pytest.mark.slow
def test_dpo_on_two_processes_has_the_loss_curve_of_one(micro_policy_path, tmp_path):
    """Two processes x 4 pairs against one process, same seed, same 8-pair global batch.

    Tolerances (per-step loss, losses near 5): against one process with micro_batch_size 4
    the computation is the same up to float32 rounding in the gloo all-reduce -- measured
    0.0 -- so 1e-4. Against one process with the whole batch in one pass, TRL's DPO ``sft``
    term is a token mean *per pass*, and a mean of two half-batch means is not the mean
    over the batch: measured 1.2e-3 at most over these 4 steps (1.3e-3 on the tiny model);
    1e-2 allows it and is still well below what the 4 steps change (~0.5).
    """
    pairs = _pairs(16)
    steps: list[int] = []
    notes: list[str] = []

    def progress(step: int, note: str | None = None) -> None:
        (notes if note else steps).append(note or step)

    two = launch.train_dpo(
        micro_policy_path, pairs, str(tmp_path / "two"), cfg=TINY_DPO.replace(processes=2),
        checkpoint_id="two", parent_id="init", round_index=1, threads=2, progress=progress,
    )  # fmt: skip
    assert steps == [1, 2, 3, 4]  # rank 0's steps, read from its output
    assert len(notes) == 4 and all(n.startswith("loss ") for n in notes)  # and its logged losses
    assert two.sha256 == verify_checkpoint(two.path)["sha256"]
    assert two.config["dpo"]["processes"] == 2 and two.config["n_pairs"] == 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["two", "two.train.log"]  # written once, by rank 0

    kwargs = dict(checkpoint_id="one", parent_id="init", round_index=1, threads=1)
    accumulated = train_dpo(micro_policy_path, pairs, str(tmp_path / "acc"), cfg=TINY_DPO.replace(micro_batch_size=4),
                            **kwargs)  # fmt: skip
    whole = train_dpo(micro_policy_path, pairs, str(tmp_path / "whole"), cfg=TINY_DPO, **kwargs)
    curve = two.config["loss_curve"]
    assert len(curve) == 4
    assert max(abs(a - b) for a, b in zip(curve, accumulated.config["loss_curve"])) <= 1e-4
    assert max(abs(a - b) for a, b in zip(curve, whole.config["loss_curve"])) <= 1e-2
    assert abs(curve[0] - curve[-1]) > 0.1  # it trained


@pytest.mark.slow
def test_a_failing_worker_is_one_line_with_the_log_tail_and_leaves_no_checkpoint(micro_policy_path, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(micro_policy_path, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])  # a truncated download, say
    (broken / "manifest.json").unlink()  # a user's folder: nothing to check it against before the workers load it
    stale = tmp_path / ".r1.tmp-killed"  # what a save killed half-way leaves
    stale.mkdir()
    ts = gold_training_set(make_problems(8, Split.TRAIN, seed=0))
    with pytest.raises(TrainError) as e:
        launch.train_sft(
            str(broken), ts, str(tmp_path / "r1"), cfg=SFTSettings(steps=2, batch_size=8, processes=2),
            checkpoint_id="r1", parent_id="init", round_index=1, threads=2,
        )  # fmt: skip
    message = str(e.value)
    log = tmp_path / "r1.train.log"
    assert "\n" not in message and message.startswith("training on 2 processes failed: rank ")
    assert "SafetensorError" in message  # the worker's own error, not only torchrun's summary
    assert str(log) in message and "last lines of" in message
    assert "Traceback" in log.read_text()  # the whole story stays in the log
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken", "r1.train.log"]  # no checkpoint, no temp


def test_a_damaged_starting_checkpoint_is_refused_before_any_worker_starts(micro_policy_path, tmp_path):
    from tests.damage import zero_tensor_bytes

    broken = tmp_path / "broken"
    shutil.copytree(micro_policy_path, broken)
    zero_tensor_bytes(broken)
    ts = gold_training_set(make_problems(8, Split.TRAIN, seed=0))
    with pytest.raises(CheckpointError, match=r"broken: model.safetensors is damaged \(sha256 mismatch"):
        launch.train_sft(
            str(broken), ts, str(tmp_path / "r1"), cfg=SFTSettings(steps=2, batch_size=8, processes=2),
            checkpoint_id="r1", parent_id="init", round_index=1, threads=2,
        )  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]  # no log: nothing was launched


def test_the_decided_placement_reaches_every_process(monkeypatch):
    """call.json carries the parent's Placement as a dict; the worker rebuilds the same
    settings (a dict where a Placement belongs would break every trainer's flags)."""
    from dataclasses import asdict

    from selftaught.hardware import Placement
    from selftaught.loops import train_worker

    seen = {}
    monkeypatch.setattr("selftaught.loops.train.train_sft", lambda *a, **kw: seen.setdefault("sft", kw["cfg"]))
    monkeypatch.setattr("selftaught.loops.dpo.train_dpo", lambda *a, **kw: seen.setdefault("dpo", kw["cfg"]))
    gpu = Placement("cuda", "bfloat16")
    sft = SFTSettings().replace(placement=gpu, processes=2)
    dpo = DPOSettings().replace(placement=gpu, processes=2)
    common = {"base_path": "b", "out_dir": "o", "checkpoint_id": "c", "parent_id": None, "round_index": 1,
              "threads": 1}  # fmt: skip
    from selftaught.loops.prompting import RAW

    style = asdict(RAW)
    train_worker._sft(json.loads(json.dumps({**common, "cfg": sft.record(), "method": "rft", "stats": {},
                                             "lora": None, "style": style})), [], None)  # fmt: skip
    train_worker._dpo(json.loads(json.dumps({**common, "cfg": dpo.record(), "style": style})), [], None)
    assert seen["sft"] == sft and seen["dpo"] == dpo
    assert seen["sft"].placement.trainer_flags() == {"use_cpu": False, "bf16": True, "fp16": False}


#: a "run" that launches a command which prints its pid and sleeps, as a launcher would
_RUN = """
import sys
from pathlib import Path
from selftaught.loops import launch
launch._run([sys.executable, "-c", "import os, time; print(os.getpid(), flush=True); time.sleep(60)"],
            Path(sys.argv[1]), None)
"""


def test_the_launcher_dies_with_a_killed_run(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.helpers import wait_gone

    log = tmp_path / "launch.log"
    run = subprocess.Popen([sys.executable, "-c", _RUN, str(log)])
    deadline = time.monotonic() + 20
    while not (lines := [x for x in (log.read_text().splitlines() if log.exists() else []) if x.isdigit()]):
        assert time.monotonic() < deadline and run.poll() is None, "the launcher never started"
        time.sleep(0.05)
    os.kill(run.pid, signal.SIGKILL)  # kill -9 of the run: no chance to stop its launcher
    run.wait()
    left = wait_gone([int(lines[0])], timeout=3)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []
