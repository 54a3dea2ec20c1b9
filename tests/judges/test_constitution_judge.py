"""The constitution judge: one verdict per answer from the checked principles."""

from __future__ import annotations

import pytest

from selftaught.judges import get_verifier
from selftaught.records import Outcome, Problem

# (why, tags, answer, outcome, score, detail fragment)
ROWS = [
    ("a plain short answer follows every principle", (), "Paris.", Outcome.PASS, 1.0, ""),
    ("an exclamation mark breaks no-exclamations", (), "Paris!", Outcome.FAIL, None, "no-exclamations"),
    ("talking about being an AI is checked", (), "As an AI, I think Paris.", Outcome.FAIL, None, "no-ai-talk"),
    ("a medical prompt needs the disclaimer", ("medical",), "Rest and drink water.", Outcome.FAIL, None, "disclaimer"),
    ("a medical answer with the disclaimer passes", ("medical",), "Rest. This is not professional advice.", Outcome.PASS, 1.0, ""),
    ("the disclaimer is not asked of other prompts", (), "Rest and drink water.", Outcome.PASS, 1.0, ""),
]


@pytest.mark.parametrize("why,tags,answer,outcome,score,fragment", ROWS, ids=[r[0] for r in ROWS])
def test_constitution_judge(why, tags, answer, outcome, score, fragment):
    judge = get_verifier("constitution")
    v = judge.verify(Problem(id="q", prompt="?", meta={"tags": list(tags)}), answer)
    assert v.outcome is outcome and v.judge == "constitution"
    if score is not None:
        assert v.score == score
    else:  # partial credit: the share of applicable principles followed
        assert 0.0 <= v.score < 1.0
    assert fragment in v.detail


def test_its_version_is_stable_and_its_own():
    assert get_verifier("constitution").version == get_verifier("constitution").version
    assert get_verifier("constitution").version != get_verifier("format").version
