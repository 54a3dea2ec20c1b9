"""Curation: RFT keeps correct de-duplicated samples; STaR adds hint-free rationalizations."""

from __future__ import annotations

import pytest

from selftaught.loops.curate import (
    curate_rft,
    curate_star,
    rationalization_prompt,
    rationalization_prompts,
    unsolved_problems,
)
from selftaught.loops.generate import generate
from selftaught.loops.policy import FakePolicy
from selftaught.loops.verify import judge_all
from selftaught.records import Problem, SampleSource, SamplingParams


@pytest.fixture
def judged(fake_policy, three_problems):
    """k=4 from the fake policy: 23+45 never right, 27+45 right twice, 87+45 right 3 times (2 distinct)."""
    samples = generate(fake_policy, three_problems, k=4, params=SamplingParams(), seed=0)
    return judge_all(samples, {p.id: p for p in three_problems})


def test_rft_keeps_correct_deduplicated_samples_with_the_problems_prompt(judged, three_problems):
    by_id = {p.id: p for p in three_problems}
    ts = curate_rft(judged, by_id)
    assert ts.method == "rft"
    # 27+45: the solution appears at indices 0 and 2 -> one row; 87+45: index 0,1,3 same text -> one row
    assert [(e.problem_id, e.completion) for e in ts.examples] == [
        (three_problems[1].id, three_problems[1].solution),
        (three_problems[2].id, three_problems[2].solution),
    ]
    assert all(e.prompt == by_id[e.problem_id].prompt for e in ts.examples)
    assert ts.examples[0].sample_key == ("generate", three_problems[1].id, 0)
    assert ts.stats == {
        "n_samples": 12, "n_correct": 2 + 3, "n_problems": 3, "n_problems_solved": 2,
        "n_rationalized": 0, "n_examples": 2,
    }


def test_rft_caps_rows_per_problem(three_problems):
    p = three_problems[0]
    fake = FakePolicy({p.prompt: [f" <think>{i}</think> 68" for i in range(6)]})
    judged = judge_all(generate(fake, [p], k=6, params=SamplingParams(), seed=0), {p.id: p})
    ts = curate_rft(judged, {p.id: p}, max_per_problem=4)
    assert [e.completion for e in ts.examples] == [f" <think>{i}</think> 68" for i in range(4)]


def test_rationalization_prompt_puts_the_hint_before_the_answer_slot(three_problems):
    assert rationalization_prompt(three_problems[0]) == "Q: 23+45=? (the answer is 68) A:"
    assert rationalization_prompt(Problem("x", "Say 2.", answer="2")) == "Say 2. (the answer is 2)"
    assert rationalization_prompts(three_problems)[2] == "Q: 87+45=? (the answer is 132) A:"


def test_unsolved_problems_are_those_with_no_passing_sample(judged, three_problems):
    assert unsolved_problems(judged, {p.id: p for p in three_problems}) == [three_problems[0]]


def test_star_adds_hint_free_rationalizations_for_unsolved_problems_only(judged, three_problems):
    by_id = {p.id: p for p in three_problems}
    p0, p1, _ = three_problems
    hinted = {
        rationalization_prompt(p0): [
            " <think>3+5=8 2+4=6</think> 68",  # reaches the answer: kept
            " <think>the answer is 68</think> 68",  # fine: does not quote the hint itself
            " <think>(the answer is 68)</think> 68",  # quotes the hint: dropped
            " <think>3+5=8 2+4=6</think> 67",  # wrong: dropped
        ],
        rationalization_prompt(p1): [p1.solution],  # p1 was solved without a hint: ignored
    }
    fake = FakePolicy(hinted)
    todo = [p0, p1]
    rat = judge_all(
        generate(fake, todo, k=4, params=SamplingParams(), seed=0, source=SampleSource.RATIONALIZE,
                 prompts=rationalization_prompts(todo)),
        by_id,
    )
    assert all(j.sample.rationalized for j in rat)
    assert "(the answer is 68)" in rat[0].sample.prompt  # the model saw the hint...
    ts = curate_star(judged, rat, by_id)
    rft = curate_rft(judged, by_id)
    assert ts.method == "star"
    assert ts.examples[: len(rft.examples)] == rft.examples
    extra = ts.examples[len(rft.examples):]
    assert [e.completion for e in extra] == [
        " <think>3+5=8 2+4=6</think> 68", " <think>the answer is 68</think> 68",
    ]
    for e in ts.examples:  # ...but no training row contains the hint
        assert e.prompt == by_id[e.problem_id].prompt
        assert "(the answer is" not in e.prompt + e.completion
    assert extra[0].sample_key == ("rationalize", p0.id, 0)
    assert ts.stats["n_rationalized"] == 2
    assert ts.stats["n_problems_rationalized"] == 1
    assert ts.stats["n_examples"] == len(rft.examples) + 2


def test_star_with_nothing_to_rationalize_equals_rft_rows(judged, three_problems):
    by_id = {p.id: p for p in three_problems}
    assert curate_star(judged, [], by_id).examples == curate_rft(judged, by_id).examples
