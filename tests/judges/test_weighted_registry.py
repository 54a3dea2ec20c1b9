"""Weighted combinations and the registry that builds verifiers from a recipe's spec."""

from __future__ import annotations

import pytest

from selftaught.errors import ConfigError
from selftaught.judges import (
    VERIFIERS,
    BaseVerifier,
    FormatVerifier,
    KeywordVerifier,
    WeightedVerifier,
    get_verifier,
)
from selftaught.records import Outcome, Problem, Verdict


class Fixed(BaseVerifier):
    """A verifier that always says the same thing (to test combination rules)."""

    def __init__(self, name: str, outcome: Outcome, score: float):
        self.name, self._outcome, self._score = name, outcome, score

    def verify(self, problem, completion):
        return self.verdict(self._outcome, self._score, "fixed")


P, F, E, T = Outcome.PASS, Outcome.FAIL, Outcome.ERROR, Outcome.TIMEOUT

# (why, [(outcome, score, weight)], combined outcome, combined score)
COMBINATIONS = [
    ("both pass", [(P, 1.0, 1.0), (P, 1.0, 0.2)], P, 1.0),
    ("correct but badly formatted: weighted mean", [(P, 1.0, 1.0), (F, 0.0, 0.2)], F, 1.0 / 1.2),
    ("format alone is worth little", [(F, 0.0, 1.0), (P, 1.0, 0.2)], F, 0.2 / 1.2),
    ("a timeout is never hidden by a format bonus", [(T, 0.0, 1.0), (P, 1.0, 0.2)], T, 0.2 / 1.2),
    ("an error outranks a timeout", [(T, 0.0, 1.0), (E, 0.0, 1.0)], E, 0.0),
    ("zero weight still reports its verdict", [(P, 1.0, 1.0), (F, 0.0, 0.0)], F, 1.0),
]


@pytest.mark.parametrize("why, parts, outcome, score", COMBINATIONS, ids=[c[0] for c in COMBINATIONS])
def test_weighted_combination(why, parts, outcome, score):
    judge = WeightedVerifier([(Fixed(f"j{i}", o, s), w) for i, (o, s, w) in enumerate(parts)])
    verdict = judge.verify(Problem(id="p", prompt=""), "x")
    assert verdict.outcome is outcome
    assert verdict.score == pytest.approx(score)
    assert 0.0 <= verdict.score <= 1.0


def test_math_plus_format_on_the_arithmetic_task():
    judge = get_verifier({"math": 1.0, "format": 0.2})
    problem = Problem(id="p", prompt="Q: 23+45=? A: ", answer="68")
    right = judge.verify(problem, "<think>3+5=8 2+4=6</think> 68")
    sloppy = judge.verify(problem, "68")
    wrong = judge.verify(problem, "<think>3+5=8 2+4=6</think> 86")
    assert (right.outcome, right.score) == (Outcome.PASS, 1.0)
    assert sloppy.score == pytest.approx(1.0 / 1.2) and sloppy.outcome is Outcome.FAIL
    assert wrong.score == pytest.approx(0.2 / 1.2)
    assert "math=pass" in right.detail and "format=pass" in right.detail


def test_registry_names():
    assert set(VERIFIERS) == {"arithmetic", "math", "code", "choice", "keyword", "format", "constitution"}  # the embedded and CAI judges too


# (why, spec, options, message fragment)
BAD_SPECS = [
    ("an unknown name lists the valid ones", "maths", {}, "valid names: arithmetic, math, code"),
    ("an unknown name inside a weighted spec", {"math": 1.0, "vibes": 0.5}, {}, "unknown verifier 'vibes'"),
    ("an unknown option lists the valid ones", "format", {"partail": 0.5}, "valid options: partial"),
    ("a negative weight", {"math": -1.0}, {}, "must be a number >= 0"),
    ("all weights zero", {"math": 0.0}, {}, "positive sum"),
    ("options for a part not in the spec", {"math": 1.0}, {"format": {}}, "not in the spec"),
    ("a bad option value", "format", {"partial": 2.0}, "partial must be in [0, 1]"),
    ("a non-numeric weight in text form", "math=lots", {}, "not a number"),
    ("an empty spec", {}, {}, "non-empty"),
]


@pytest.mark.parametrize("why, spec, options, fragment", BAD_SPECS, ids=[b[0] for b in BAD_SPECS])
def test_bad_specs_raise_config_errors(why, spec, options, fragment):
    with pytest.raises(ConfigError, match=None) as info:
        get_verifier(spec, **options)
    assert fragment in str(info.value)


def test_options_reach_the_verifier():
    assert get_verifier("keyword", mode="any").mode == "any"
    combo = get_verifier("keyword=1,format=0.5", format={"partial": 0.25})
    assert isinstance(combo, WeightedVerifier)
    (kw, w1), (fmt, w2) = combo.parts
    assert isinstance(kw, KeywordVerifier) and isinstance(fmt, FormatVerifier)
    assert (w1, w2, fmt.partial) == (1.0, 0.5, 0.25)


def test_every_verdict_is_a_record():
    verdict = get_verifier("format").verify(Problem(id="p", prompt=""), "<think>a</think> b")
    assert isinstance(verdict, Verdict) and verdict.judge == "format" and verdict.judge_version
