"""DPO pairs: a passing and a failing verified sample of the same problem, deterministic."""

from __future__ import annotations

import pytest

from selftaught.errors import DataError
from selftaught.loops.dpo import build_pairs, pair_stats
from selftaught.records import Outcome

from .conftest import judged

P, F, E, T = Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT


@pytest.mark.parametrize(
    "why, rows, max_pairs, expected",
    [
        ("one right, one wrong: one pair", [("a", P), ("b", F)], 4, [("a", "b")]),
        ("all right: no preference, no pair", [("a", P), ("a2", P)], 4, []),
        ("all wrong: no pair", [("b", F), ("c", F)], 4, []),
        ("the larger side is used once each, the smaller cycles", [("a", P), ("b", F), ("c", F)], 4,
         [("a", "b"), ("a", "c")]),
        ("capped per problem", [("a", P), ("b", F), ("c", F), ("d", F)], 2, [("a", "b"), ("a", "c")]),
        ("duplicate completions count once", [("a", P), ("a", P), ("b", F), ("b", F)], 4, [("a", "b")]),
        ("a judge error is not a wrong answer", [("a", P), ("x", E), ("y", T)], 4, []),
        ("errors are skipped, real failures still pair", [("a", P), ("x", E), ("b", F)], 4, [("a", "b")]),
        ("the same text passing and failing (two judges) is never its own rejected",
         [("a", P), ("a", F), ("b", F)], 4, [("a", "b")]),
    ],
)
def test_pairs(why, rows, max_pairs, expected, two_problems):
    p = two_problems[0]
    js = [judged(p.id, i, text, outcome, p.prompt) for i, (text, outcome) in enumerate(rows)]
    pairs = build_pairs(js, {p.id: p}, max_pairs_per_problem=max_pairs)
    assert [(x.chosen, x.rejected) for x in pairs] == expected, why
    assert all(x.prompt == p.prompt and x.problem_id == p.id for x in pairs)


def test_pairs_keep_sample_keys_and_problem_order(two_problems):
    a, b = two_problems
    js = [judged(b.id, 0, "w", F), judged(b.id, 1, "r", P), judged(a.id, 0, "r", P), judged(a.id, 5, "w", F)]
    pairs = build_pairs(js, {a.id: a, b.id: b})
    assert [x.problem_id for x in pairs] == sorted([a.id, b.id])
    first = next(x for x in pairs if x.problem_id == a.id)
    assert first.chosen_key == ("generate", a.id, 0) and first.rejected_key == ("generate", a.id, 5)
    stats = pair_stats(js, pairs)
    assert stats["n_pairs"] == 2 and stats["n_problems_paired"] == 2 and stats["n_correct"] == 2


def test_unknown_problem_is_a_data_error(two_problems):
    with pytest.raises(DataError, match="unknown problem"):
        build_pairs([judged("nope", 0, "x", P)], {p.id: p for p in two_problems})
