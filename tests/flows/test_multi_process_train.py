"""`train: {processes: 2}` through a real `selftaught run`: the round's SFT runs on two CPU
processes (DDP, gloo) under `accelerate launch`, and the run records one verified checkpoint
whose per-step losses are those of the same SFT on one process.

The task is made easy on purpose (every answer is 50, the gold completion says so at once;
sampling at a low temperature) so that the round has 24 rows to train on, a multiple of the
batch: rows that fill whole global batches are the case where 1 and 2 processes see exactly
the same rows at every step (see docs/multi-process.md for the epoch-tail case).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from selftaught.hardware import Placement
from selftaught.loops.arithmetic import format_prompt
from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.loops.train import SFTSettings, train_sft
from selftaught.records import Stage
from selftaught.store import Store
from tests.helpers import cli_env, run_cli

STEPS = 4
#: per-step loss, 2 processes vs 1 at the same global batch. Measured: 0.0 (the same float32
#: values to the last digit) on this CPU, weights within 1.2e-7. The processes sum their two
#: half-batch gradients in a gloo all-reduce where one process sums them in its backward, so
#: the float32 rounding may differ; 1e-4 (relative ~3e-5 on losses near 3) allows that to
#: compound over a few steps and is still far below what a different batch gives (0.05 at
#: one step whose batch differs by four rows, measured).
TOLERANCE = 1e-4


def _rows(numbers, tag: str) -> str:
    return "".join(
        json.dumps({"id": f"{tag}{a}", "prompt": format_prompt(a, 50 - a), "answer": "50",
                    "solution": " <think></think> 50"}) + "\n"
        for a in numbers
    )  # fmt: skip


@pytest.mark.slow
def test_two_processes_train_one_recorded_checkpoint_with_the_one_process_loss_curve(tmp_path, prefect_server):
    (tmp_path / "train.jsonl").write_text(_rows(range(10, 34), "t"))
    (tmp_path / "heldout.jsonl").write_text(_rows(range(34, 38), "h"))
    recipe = tmp_path / "mp.yaml"
    recipe.write_text(
        "name: mp\nmethod: rft\nrounds: 1\nseed: 0\n"
        "task: {kind: file, train: train.jsonl, heldout: heldout.jsonl, prompts_per_round: 24, n_cold_start: 24}\n"
        "policy: {cold_start_steps: 12, cold_start_batch_size: 8}\n"
        "generate: {k: 2, temperature: 0.3, max_new_tokens: 12, batch_size: 24}\n"
        f"train: {{steps: {STEPS}, batch_size: 8, max_per_problem: 1, processes: 2}}\n"
        "evaluate: {k: 1}\n"
    )
    env = cli_env(tmp_path, prefect_server)
    run_cli(["run", str(recipe), "--run-id", "mp"], env, tmp_path / "cli.log")

    with Store(env["SELFTAUGHT_DB_URL"], upgrade=False, home=env["SELFTAUGHT_HOME"]) as store:
        assert store.get_run("mp").status == "done"
        assert store.stage_status("mp", 1)[Stage.TRAIN] == "done"
        checkpoints = store.list_checkpoints("mp")
        ts = store.get_training_set("mp", 1)
    assert [c.id for c in checkpoints] == ["mp/r0", "mp/r1"]  # recorded once
    ckpt, parent = checkpoints[1], checkpoints[0]
    assert verify_checkpoint(ckpt.path)["sha256"] == ckpt.sha256
    assert ckpt.config["sft"]["processes"] == 2 and ckpt.config["n_examples"] == len(ts.examples)
    assert len(ts.examples) == 24, "the easy task should give one row per prompt (see the module docstring)"
    run_dir = Path(ckpt.path).parent
    assert sorted(p.name for p in run_dir.iterdir()) == ["round-000", "round-001", "round-001.train.log"]
    log = (run_dir / "round-001.train.log").read_text()
    assert "accelerate.commands.launch" in log and "--num_processes 2" in log

    # the same call on one process: the same rows, seed, global batch and placement
    stored = {**ckpt.config["sft"], "placement": Placement(**ckpt.config["sft"]["placement"])}
    one = train_sft(
        parent.path, ts, str(tmp_path / "one"), cfg=SFTSettings(**stored).replace(processes=1),
        checkpoint_id="one", parent_id=parent.id, round_index=1, threads=1,
    )  # fmt: skip
    two_curve, one_curve = ckpt.config["loss_curve"], one.config["loss_curve"]
    assert len(two_curve) == len(one_curve) == STEPS
    diff = max(abs(a - b) for a, b in zip(two_curve, one_curve))
    assert diff <= TOLERANCE, (one_curve, two_curve)
