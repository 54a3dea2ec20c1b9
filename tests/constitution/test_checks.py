"""The programmatic checks that measure the ``concise`` constitution (never shown to a model)."""

from __future__ import annotations

import pytest

from selftaught.constitution import bundled_path, load_constitution
from selftaught.constitution.checks import CHECKS, violation_report, violations

LONG = " ".join(["word"] * 61)

# (why, principle, answer, prompt tags, expected: True violated / False ok / None n/a)
ROWS = [
    ("60 words is allowed", "at-most-60-words", " ".join(["w"] * 60), (), False),
    ("61 words is too long", "at-most-60-words", LONG, (), True),
    ("'As an AI' is forbidden, any case", "no-ai-talk", "as an AI, I cannot taste food.", (), True),
    ("'language model' variant", "no-ai-talk", "As a language model I think so.", (), True),
    ("the word AI alone is fine", "no-ai-talk", "AI research began in the 1950s.", (), False),
    ("one exclamation mark violates", "no-exclamations", "Great question!", (), True),
    ("calm text passes", "no-exclamations", "Paris.", (), False),
    ("disclaimer only applies to medical/legal", "professional-disclaimer", "Paris.", ("science",), None),
    ("medical answer without disclaimer", "professional-disclaimer", "Drink water.", ("medical",), True),
    ("exact final sentence passes", "professional-disclaimer", "Rest. This is not professional advice.", ("legal",), False),
    ("case and trailing space tolerated", "professional-disclaimer", "Rest. this is NOT professional advice.  ", ("medical",), False),
    ("disclaimer in the middle does not count", "professional-disclaimer", "This is not professional advice. Rest.", ("medical",), True),
]


@pytest.mark.parametrize("why,pid,answer,tags,expected", ROWS, ids=[r[0] for r in ROWS])
def test_check(why, pid, answer, tags, expected):
    assert CHECKS[pid](answer, tags) is expected


def test_every_concise_principle_has_a_check():
    c = load_constitution(bundled_path("concise"))
    assert set(c.ids) == set(CHECKS)


def test_violation_report():
    rows = [
        ("Paris.", ()),  # clean
        ("Wow!", ()),  # exclamation
        ("Drink water.", ("medical",)),  # missing disclaimer
        (LONG + " As an AI", ()),  # long + ai talk
    ]
    r = violation_report(rows)
    assert r.n_answers == 4
    assert r.any_rate == 0.75
    assert r.by_principle["professional-disclaimer"] == 1.0 and r.applicable["professional-disclaimer"] == 1
    assert r.by_principle["no-exclamations"] == 0.25
    assert r.mean_rate == pytest.approx(4 / 13)
    assert violations("Paris.", ()) == {"at-most-60-words": False, "no-ai-talk": False, "no-exclamations": False}
