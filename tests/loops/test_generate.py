"""generate: K samples per problem with replay metadata; batching, seeding, prompt override."""

from __future__ import annotations

import pytest

from selftaught.loops.generate import batch_seed, generate
from selftaught.loops.policy import FakePolicy, load_policy
from selftaught.records import SampleSource, SamplingParams


def test_k_samples_per_problem_in_order_with_replay_metadata(fake_policy, three_problems):
    params = SamplingParams(temperature=0.7, max_new_tokens=20)
    samples = generate(fake_policy, three_problems, k=3, params=params, seed=5, checkpoint_id="ck")
    assert [(s.problem_id, s.index) for s in samples] == [(p.id, j) for p in three_problems for j in range(3)]
    assert {(s.seed, s.params, s.checkpoint_id, s.source) for s in samples} == {
        (5, params, "ck", SampleSource.GENERATE)
    }
    assert samples[0].prompt == three_problems[0].prompt
    assert all(s.n_tokens == len(s.completion) + 1 for s in samples)


def test_batches_get_derived_seeds_and_report_progress(fake_policy, three_problems):
    done = []
    generate(fake_policy, three_problems, k=2, params=SamplingParams(), seed=9, batch_size=2, progress=done.append)
    assert done == [2, 3]
    assert [(len(texts), n, s) for texts, n, s in fake_policy.calls] == [
        (2, 2, batch_seed(9, 0)), (1, 2, batch_seed(9, 1)),
    ]
    assert batch_seed(9, 0) != batch_seed(9, 1) != batch_seed(10, 1)


def test_prompts_override_the_text_but_not_the_problem(three_problems):
    fake = FakePolicy({"hinted": [" 1"]})
    samples = generate(fake, three_problems[:1], k=2, params=SamplingParams(), seed=0,
                       source=SampleSource.RATIONALIZE, prompts=["hinted"])
    assert [(s.problem_id, s.prompt, s.completion, s.source) for s in samples] == [
        (three_problems[0].id, "hinted", " 1", SampleSource.RATIONALIZE)
    ] * 2
    with pytest.raises(ValueError, match="prompts"):
        generate(fake, three_problems, k=1, params=SamplingParams(), seed=0, prompts=["a"])


def test_no_problems_no_samples(fake_policy):
    assert generate(fake_policy, [], k=4, params=SamplingParams(), seed=0) == []


def test_real_model_is_deterministic_given_seed_and_greedy_repeats(micro_policy_path, three_problems):
    policy = load_policy(micro_policy_path, threads=1)
    params = SamplingParams(max_new_tokens=8)
    a = generate(policy, three_problems, k=3, params=params, seed=1, batch_size=2)
    b = generate(policy, three_problems, k=3, params=params, seed=1, batch_size=2)
    c = generate(policy, three_problems, k=3, params=params, seed=2, batch_size=2)
    assert a == b and a != c
    assert len(a) == 9 and all(0 < s.n_tokens <= 8 for s in a)
    greedy = generate(policy, three_problems, k=2, params=SamplingParams(max_new_tokens=8, do_sample=False), seed=0)
    assert [s.completion for s in greedy[0::2]] == [s.completion for s in greedy[1::2]]
