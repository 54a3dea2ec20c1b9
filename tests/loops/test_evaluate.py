"""Held-out metrics: the pure helpers and ``evaluate`` on a fake policy."""

from __future__ import annotations

from math import comb

import pytest

from selftaught.loops.evaluate import evaluate, majority_answer, pass_at_k
from selftaught.records import SampleSource, Split


@pytest.mark.parametrize("n, c, k", [(8, 0, 1), (8, 1, 1), (8, 3, 4), (8, 5, 4), (8, 8, 8), (10, 2, 3), (4, 1, 4)])
def test_pass_at_k_matches_the_combinatorial_definition(n, c, k):
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


def test_pass_at_1_is_the_pass_rate():
    assert pass_at_k(8, 3, 1) == pytest.approx(3 / 8)


@pytest.mark.parametrize("n, c, k", [(4, 5, 1), (4, 1, 0), (4, 1, 5), (4, -1, 1)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


@pytest.mark.parametrize(
    "answers, winner, why",
    [
        (["1", "2", "2"], "2", "plain majority"),
        (["1", "2", "2", "1"], "1", "a tie goes to the answer seen first"),
        ([None, None, "3"], "3", "no answer never wins"),
        ([None, None], None, "nothing to vote for"),
        (["068", "68", "7"], "68", "equal numbers vote together"),
    ],
)
def test_majority_answer(answers, winner, why):
    assert majority_answer(answers) == winner, why


def test_evaluate_on_a_fake_policy(fake_policy, three_problems):
    ev, samples, judged = evaluate(fake_policy, three_problems, k=4, seed=0, checkpoint_id="c")
    # 23+45 never right; 27+45 right at 2 of 4; 87+45 right at 3 of 4 (greedy = first canned row)
    assert ev.pass_at_1 == pytest.approx((0 + 2 / 4 + 3 / 4) / 3)
    assert ev.pass_at_k == pytest.approx(2 / 3)
    assert ev.greedy_accuracy == pytest.approx(2 / 3)
    # maj@4: 23+45 wrong; 27+45 ties 72 vs 62 and 72 came first; 87+45 votes 132
    assert ev.maj_at_k == pytest.approx(2 / 3)
    assert ev.n_problems == 3 and ev.k == 4
    splits = {p.split for p in three_problems}
    assert ev.split is (splits.pop() if len(splits) == 1 else Split.HELDOUT)
    assert ev.extra["pass_at"]["1"] == pytest.approx(ev.pass_at_1)
    assert len(samples) == len(judged) == 3 * 5
    assert {s.source for s in samples} == {SampleSource.EVAL}
    keys = [s.key for s in samples]
    assert len(set(keys)) == len(keys)  # greedy is index k, sampled 0..k-1
    greedy = [s for s in samples if not s.params.do_sample]
    assert [s.index for s in greedy] == [4, 4, 4]
