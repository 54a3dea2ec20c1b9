"""The real paths: a real (micro, untrained) Llama policy rolls out, real classifiers are
trained with transformers' Trainer, saved as checkpoints and loaded back as scorers.

Each test takes seconds on one core: micro model, a handful of problems, a few steps.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from selftaught.errors import CheckpointError
from selftaught.loops.arithmetic import make_problems
from selftaught.prm.scorers import OutcomeScorer, StepScorer, load_orm, load_prm
from selftaught.prm.train import RMSettings, train_orm, train_prm
from selftaught.records import Sample, SampleSource, SamplingParams, Split

FAST = RMSettings(lr=3e-3, steps=30, batch_size=16, warmup=0)
GARBAGE = " <think>zz</think> 0"


def test_label_steps_with_a_real_policy_is_batched_and_reproducible(micro_policy):
    from selftaught.loops.policy import load_policy
    from selftaught.prm.label import label_steps

    policy = load_policy(micro_policy, threads=1)
    problems = make_problems(3, Split.TRAIN, 0)
    params = SamplingParams(temperature=1.0, max_new_tokens=12)
    samples = [Sample(p.id, 0, p.prompt, p.solution, SampleSource.GENERATE, 0, params) for p in problems]
    by_id = {p.id: p for p in problems}
    labels, stats = label_steps(policy, samples, by_id, rollouts=3, params=params, seed=5)
    again, _ = label_steps(policy, samples, by_id, rollouts=3, params=params, seed=5)
    assert labels == again
    n_steps = sum(len(p.solution.split()) for p in problems)  # "<think>a", ..., "b</think>", answer
    assert stats.steps == len(labels) == n_steps
    finals = [lab for lab in labels if lab.rollouts == 1]
    assert len(finals) == 3 and all(lab.successes == 1 for lab in finals)  # gold answers pass
    assert stats.sequences_generated == 3 * stats.prefixes_rolled_out


@pytest.mark.parametrize("objective", ["pairwise", "classify"])
def test_orm_trains_saves_and_scores(micro_policy, tmp_path, objective):
    train, held = make_problems(48, Split.TRAIN, 1), make_problems(8, Split.HELDOUT, 1)
    rows = [(p.prompt, p.solution, True) for p in train] + [(p.prompt, GARBAGE, False) for p in train]
    result = train_orm(micro_policy, rows, str(tmp_path / "orm"), cfg=replace(FAST, objective=objective), threads=1)
    assert result.rows == 96 and result.positive_fraction == 0.5
    assert result.targets == (48 if objective == "pairwise" else 96)  # one (correct, wrong) pair per prompt
    orm = load_orm(result.path, threads=1)
    assert isinstance(orm, OutcomeScorer)
    good = orm.score([p.prompt for p in held], [p.solution for p in held])
    bad = orm.score([p.prompt for p in held], [GARBAGE] * len(held))
    assert all(0.0 <= x <= 1.0 for x in good + bad)
    assert min(good) > max(bad)  # it learned the signal it was given, on unseen problems
    manifest = json.loads((tmp_path / "orm" / "manifest.json").read_text())
    assert manifest["meta"]["kind"] == "orm" and manifest["meta"]["objective"] == objective
    with pytest.raises(CheckpointError, match="not a 'prm'"):
        load_prm(result.path)


def test_reward_models_train_in_float32_and_load_on_the_placement(no_cuda, micro_policy, tmp_path):
    import torch

    from selftaught.hardware import Placement

    train = make_problems(8, Split.TRAIN, 1)
    rows = [(p.prompt, p.solution, True) for p in train] + [(p.prompt, GARBAGE, False) for p in train]
    result = train_orm(micro_policy, rows, str(tmp_path / "orm"), cfg=replace(FAST, steps=2), threads=1)
    meta = json.loads((tmp_path / "orm" / "manifest.json").read_text())["meta"]
    assert meta["settings"]["placement"] == {"device": "cpu", "dtype": "float32"}  # decided, recorded
    for placement, dtype in ((None, torch.float32), (Placement("cpu", "bfloat16"), torch.bfloat16)):
        orm = load_orm(result.path, threads=1, placement=placement)
        assert {(p.dtype, p.device.type) for p in orm.model.parameters()} == {(dtype, "cpu")}
        assert len(orm.score([train[0].prompt], [train[0].solution])) == 1


def test_pairwise_orm_needs_a_prompt_with_both_classes(micro_policy, tmp_path):
    from selftaught.errors import DataError

    rows = [("Q: 1+1=? A:", " 2", True), ("Q: 1+2=? A:", " 4", False)]
    with pytest.raises(DataError, match="both a correct and a wrong"):
        train_orm(micro_policy, rows, str(tmp_path / "orm"), cfg=FAST, threads=1)
    assert not (tmp_path / "orm").exists()


@pytest.mark.parametrize("layout, balance", [("separator", "class"), ("think", "class"), ("separator", "prompt")])
def test_prm_trains_on_stepwise_rows_and_scores_every_step(micro_policy, tmp_path, layout, balance):
    train, held = make_problems(48, Split.TRAIN, 2), make_problems(6, Split.HELDOUT, 2)

    def rows(problems):
        out = []
        for p in problems:
            steps = p.solution.replace("<think>", "").replace("</think>", " ").split()
            out.append({"prompt": p.prompt, "completions": steps, "labels": [True] * len(steps)})
            out.append({"prompt": p.prompt, "completions": [steps[0], "zz", "0"], "labels": [True, False, False]})
        return out

    cfg = replace(FAST, layout=layout, balance=balance)
    result = train_prm(micro_policy, rows(train), str(tmp_path / "prm"), cfg=cfg, threads=1)
    assert result.targets == sum(len(r["labels"]) for r in rows(train))
    prm = load_prm(result.path, threads=1)
    assert prm.layout == layout  # read back from the manifest
    assert isinstance(prm, StepScorer)
    held_rows = rows(held)
    scores = prm.score_steps([r["prompt"] for r in held_rows], [r["completions"] for r in held_rows])
    assert [len(s) for s in scores] == [len(r["completions"]) for r in held_rows]
    good = [s for r, ss in zip(held_rows, scores) for s, lab in zip(ss, r["labels"]) if lab]
    bad = [s for r, ss in zip(held_rows, scores) for s, lab in zip(ss, r["labels"]) if not lab]
    assert sum(good) / len(good) > 0.5 > sum(bad) / len(bad)
    assert prm.score_steps([], []) == []


def test_prompt_balancing_with_no_mixed_prompt_is_a_data_error(micro_policy, tmp_path):
    from selftaught.errors import DataError

    rows = [{"prompt": "Q: 1+1=? A:", "completions": ["1+1=2", "2"], "labels": [True, True]},
            {"prompt": "Q: 1+2=? A:", "completions": ["1+2=4", "4"], "labels": [False, False]}]  # fmt: skip
    with pytest.raises(DataError, match="weight 0"):
        train_prm(micro_policy, rows, str(tmp_path / "prm"), cfg=replace(FAST, balance="prompt"), threads=1)
    assert not (tmp_path / "prm").exists()
    assert train_prm(micro_policy, rows, str(tmp_path / "prm"), cfg=FAST, threads=1).targets == 4  # class: fine


def test_training_on_nothing_is_a_data_error(micro_policy, tmp_path):
    from selftaught.errors import DataError

    with pytest.raises(DataError, match="no judged samples"):
        train_orm(micro_policy, [], str(tmp_path / "o"))
    with pytest.raises(DataError, match="lists of one length"):
        train_prm(micro_policy, [{"prompt": "p", "completions": ["a"], "labels": [1, 0]}], str(tmp_path / "p"))
    assert not (tmp_path / "o").exists() and not (tmp_path / "p").exists()


def test_build_reward_models_in_one_call(micro_policy, tmp_path):
    from selftaught.prm.pipeline import BuildSettings, build_reward_models

    # an untrained policy is never right, so no prompt has a (correct, wrong) pair: classify
    settings = BuildSettings(n_problems=4, k=2, rollouts=2, max_new_tokens=12, n_eval_problems=3, eval_k=2,
                             orm_problems=3, orm_k=2,
                             orm=RMSettings(steps=3, batch_size=4, objective="classify"),
                             prm=RMSettings(steps=3, batch_size=4))  # fmt: skip
    built = build_reward_models(micro_policy, tmp_path, settings=settings, threads=1)
    orm_path, prm_path = built
    assert load_orm(orm_path) and load_prm(prm_path)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["labelling"]["samples"] == 8 and report["orm_heldout"]["n"] == 6
    assert report["orm_sampling"]["samples"] == 6 and report["orm_train"]["rows"] >= 8 + 6
    assert report["prm_heldout"]["solutions"] >= 1 and "accuracy_vs_exact" in report["prm_heldout"]
    rows = [json.loads(line) for line in (tmp_path / "stepwise.jsonl").read_text().splitlines()]
    assert rows and all(len(r["completions"]) == len(r["labels"]) for r in rows)
