"""train: TRL SFT on CPU from a saved policy to an atomic checkpoint (a few real steps)."""

from __future__ import annotations

import pytest

from selftaught.errors import DataError
from selftaught.loops.arithmetic import make_problems
from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.loops.policy import load_policy
from selftaught.loops.train import SFTSettings, build_sft_config, cold_start, gold_training_set, train_sft
from selftaught.records import Problem, Split, TrainingSet

TINY_SFT = SFTSettings(lr=1e-3, steps=4, batch_size=8, max_length=64, warmup=0)


def test_sft_config_is_cpu_safe(tmp_path):
    args = build_sft_config(TINY_SFT, str(tmp_path))
    assert (args.bf16, args.fp16, args.use_cpu, args.gradient_checkpointing) == (False, False, True, False)
    assert args.report_to in ([], "none", ["none"])
    assert (args.max_steps, args.learning_rate, args.max_length) == (4, 1e-3, 64)
    assert args.completion_only_loss is True and args.save_strategy == "no"


def test_cold_start_trains_and_writes_a_loadable_checkpoint(micro_policy_path, tmp_path):
    problems = make_problems(16, Split.TRAIN, seed=0)
    steps, notes = [], []

    def progress(step, note=None):
        (notes if note else steps).append(note or step)

    ckpt = cold_start(
        micro_policy_path, problems, str(tmp_path / "cold"), cfg=TINY_SFT, checkpoint_id="cold",
        progress=progress, threads=1,
    )
    assert steps == [1, 2, 3, 4]
    # the progress bar's note: each logged step's loss (logging_steps=1), as the loss curve has it
    assert [float(n.removeprefix("loss ")) for n in notes] == pytest.approx(ckpt.config["loss_curve"], rel=1e-2)
    assert ckpt.id == "cold" and ckpt.round_index == 0 and ckpt.parent_id is None
    assert ckpt.sha256 == verify_checkpoint(ckpt.path)["sha256"]
    assert ckpt.config["method"] == "cold_start" and ckpt.config["n_examples"] == 16
    assert ckpt.config["sft"]["steps"] == 4 and not ckpt.config["skipped"]
    assert ckpt.config["train_loss"] > 0
    assert ckpt.sha256 != verify_checkpoint(micro_policy_path)["sha256"]
    load_policy(ckpt.path)  # reloads with the Auto classes


def test_empty_training_set_saves_the_parent_unchanged(micro_policy_path, tmp_path):
    ckpt = train_sft(
        micro_policy_path, TrainingSet("rft", ()), str(tmp_path / "r1"), cfg=TINY_SFT,
        checkpoint_id="r1", parent_id="init", round_index=1,
    )
    assert ckpt.config["skipped"] is True
    parent_files = verify_checkpoint(micro_policy_path)["files"]
    assert verify_checkpoint(ckpt.path)["files"]["model.safetensors"] == parent_files["model.safetensors"]


def test_cold_start_needs_solutions():
    with pytest.raises(DataError, match="worked solutions"):
        gold_training_set([Problem("x", "p", answer="1")])


def test_gold_training_set_can_teach_the_hint_format():
    problems = make_problems(4, Split.TRAIN, seed=0)
    ts = gold_training_set(problems, hint_fraction=0.5)
    assert [e.prompt for e in ts.examples[:4]] == [p.prompt for p in problems]
    assert [e.prompt for e in ts.examples[4:]] == [
        f"{p.prompt[:-3]} (the answer is {p.answer}) A:" for p in problems[:2]
    ]
    assert all(e.completion == p.solution for e, p in zip(ts.examples[4:], problems))
    assert ts.stats == {"n_examples": 6, "n_problems": 4, "n_hinted": 2}
    with pytest.raises(ValueError):
        gold_training_set(problems, hint_fraction=1.5)


def test_stop_at_accuracy_ends_training_at_the_first_check_that_reaches_the_target(micro_policy_path, tmp_path):
    from selftaught.loops.train import StopAtAccuracy

    problems = make_problems(8, Split.TRAIN, seed=0)
    probe = tuple(make_problems(12, Split.TRAIN, seed=0)[8:])
    ckpt = cold_start(
        micro_policy_path, problems, str(tmp_path / "cold"), cfg=TINY_SFT.replace(steps=6),
        checkpoint_id="cold", threads=1, stop=StopAtAccuracy(probe, target=0.0, every=2, max_new_tokens=4),
    )
    assert ckpt.config["stopped_at_step"] == 2
    assert ckpt.config["probe"] == [(2, 0.0)]
