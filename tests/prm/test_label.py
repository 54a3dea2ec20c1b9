"""Math-Shepherd labelling logic with a fake policy (canned continuations per prefix)."""

from __future__ import annotations

import pytest

from selftaught.errors import DataError
from selftaught.loops.arithmetic import make_problem
from selftaught.loops.policy import FakePolicy
from selftaught.prm.label import (
    Rollout,
    StepLabel,
    label_steps,
    rollout_rows,
    stepwise_rows,
)
from selftaught.records import Problem, Sample, SampleSource, SamplingParams

P = make_problem(27, 45, 2)  # gold: " <think>7+5=12 2+4+1=7</think> 72"
PARAMS = SamplingParams(temperature=1.0, max_new_tokens=32)


def sample(completion: str, index: int = 0, problem: Problem = P) -> Sample:
    return Sample(problem.id, index, problem.prompt, completion, SampleSource.GENERATE, 0, PARAMS)


@pytest.fixture
def fake() -> FakePolicy:
    """From "7+5=12": half the continuations right; from "7+5=12 2+4=6": none."""
    return FakePolicy(
        {
            P.prompt + " <think>7+5=12": [" 2+4+1=7</think> 72", " 2+4=6</think> 62"],
            P.prompt + " <think>7+5=12 2+4=6": ["</think> 62"],
            P.prompt + " <think>7+5=12 2+4+1=7": ["</think> 72"],
        },
        default=" <think></think> 0",
    )


def test_labels_count_successful_rollouts_per_step(fake):
    labels, stats = label_steps(fake, [sample(" <think>7+5=12 2+4=6</think> 62")], {P.id: P},
                                rollouts=4, params=PARAMS, seed=0)  # fmt: skip
    assert [(lab.step, lab.rollouts, lab.successes) for lab in labels] == [
        ("7+5=12", 4, 2),  # two of the four continuations reach 72
        ("2+4=6", 4, 0),  # the dropped carry is never recovered
        ("62", 1, 0),  # the final answer: the sample's own verdict, no rollout
    ]
    assert [lab.hard for lab in labels] == [1, 0, 0]
    assert [lab.soft for lab in labels] == [0.5, 0.0, 0.0]
    assert (stats.samples, stats.steps, stats.prefixes_rolled_out, stats.sequences_generated) == (1, 3, 2, 8)


def test_every_judged_rollout_can_be_kept_for_the_outcome_model(fake):
    kept: list = []
    labels, _ = label_steps(fake, [sample(" <think>7+5=12 2+4=6</think> 62")], {P.id: P}, rollouts=4,
                            params=PARAMS, seed=0, rollouts_out=kept)  # fmt: skip
    assert len(kept) == 8 and {r.prompt for r in kept} == {P.prompt}
    assert sum(r.passed for r in kept) == sum(lab.successes for lab in labels if lab.rollouts > 1) == 2
    assert " <think>7+5=12 2+4+1=7</think> 72" in {r.completion for r in kept if r.passed}


def test_identical_prefixes_are_rolled_out_once_and_in_one_call(fake):
    samples = [sample(" <think>7+5=12 2+4=6</think> 62", 0), sample(" <think>7+5=12 2+4+1=7</think> 72", 1)]
    labels, stats = label_steps(fake, samples, {P.id: P}, rollouts=2, params=PARAMS, seed=0)
    assert stats.prefixes_rolled_out == 3  # "7+5=12" is shared by both samples
    assert len(fake.calls) == 1 and len(fake.calls[0][0]) == 3  # one batched call
    by = {(lab.sample_key[2], lab.step_index): lab for lab in labels}
    assert by[(0, 0)].successes == by[(1, 0)].successes == 1
    assert (by[(1, 1)].successes, by[(1, 2)].successes) == (2, 1)


def test_batches_are_seeded_apart(fake):
    samples = [sample(" <think>7+5=12 2+4=6</think> 62")]
    label_steps(fake, samples, {P.id: P}, rollouts=2, params=PARAMS, seed=0, batch_size=1)
    assert len(fake.calls) == 2 and fake.calls[0][2] != fake.calls[1][2]


def test_a_cut_off_sample_is_labelled_by_rollouts_only(fake):
    labels, _ = label_steps(fake, [sample(" <think>7+5=12 2+4=6")], {P.id: P}, rollouts=2, params=PARAMS, seed=0)
    assert [(lab.rollouts, lab.successes) for lab in labels] == [(2, 1), (2, 0)]


def test_max_steps_and_delimiter():
    problem = Problem(id="u1", prompt="Say 7:", answer="7")
    fake = FakePolicy({"Say 7:think\n": ["so 7"]}, default="so 8")
    labels, _ = label_steps(fake, [sample("think\nso 8\nfinal 8", problem=problem)], {"u1": problem},
                            rollouts=3, params=PARAMS, seed=0, delimiter="\n", max_steps=2)  # fmt: skip
    assert [(lab.step, lab.successes) for lab in labels] == [("think", 3), ("so 8", 0)]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rollouts": 0}, "rollouts"),
        ({"params": SamplingParams(do_sample=False)}, "sampling"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_settings_are_errors(fake, kwargs, message):
    args = {"rollouts": 2, "params": PARAMS, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        label_steps(fake, [sample(" 72")], {P.id: P}, **args)


def test_a_sample_of_an_unknown_problem_is_a_data_error(fake):
    with pytest.raises(DataError, match="unknown problem"):
        label_steps(fake, [sample(" 72")], {}, rollouts=2, params=PARAMS, seed=0)


def test_stepwise_rows_are_trl_format_and_skip_partly_labelled_samples():
    s0, s1 = sample(" <think>7+5=12 2+4=6</think> 62", 0), sample(" <think>7+5=12</think> 12", 1)
    labels = [
        StepLabel(s0.key, 0, "7+5=12", 4, 3), StepLabel(s0.key, 1, "2+4=6", 4, 0), StepLabel(s0.key, 2, "62", 1, 0),
        StepLabel(s1.key, 0, "7+5=12", 4, 3),  # its final step has no label: left out
    ]  # fmt: skip
    hard = stepwise_rows([s0, s1], labels, {P.id: P})
    assert len(hard) == 1
    assert {k: hard[0][k] for k in ("prompt", "completions", "labels")} == {
        "prompt": P.prompt, "completions": ["7+5=12", "2+4=6", "62"], "labels": [True, False, False],
    }  # fmt: skip
    assert stepwise_rows([s0], labels, {P.id: P}, soft=True)[0]["labels"] == [0.75, 0.0, 0.0]


def test_rollout_rows_label_only_what_a_rollout_shows():
    rows = rollout_rows([
        Rollout(P.id, P.prompt, " <think>7+5=12", " 2+4+1=7</think> 72", True),  # success: every step good
        Rollout(P.id, P.prompt, " <think>7+5=12", " 2+4=6</think> 62", False),  # failure: only the answer is known
        Rollout(P.id, P.prompt, " <think>7+5=12", " 2+4", False),  # cut off: says nothing
    ])  # fmt: skip
    assert [(r["completions"], r["labels"]) for r in rows] == [
        (["7+5=12", "2+4+1=7", "72"], [True, True, True]),
        (["7+5=12", "2+4=6", "62"], [None, None, False]),
    ]


def test_unlabelled_steps_are_ignored_in_the_encoding():
    from selftaught.loops.tinymodel import build_tokenizer
    from selftaught.prm.scorers import encode_steps

    for layout in ("separator", "think"):
        _, labels, positions = encode_steps(build_tokenizer(), P.prompt, ["7+5=12", "2+4=6", "62"],
                                            [None, None, 0], layout=layout)  # fmt: skip
        assert [labels[p] for p in positions] == [-100, -100, 0]
