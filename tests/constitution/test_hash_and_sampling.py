"""The constitution hash follows meaning, not formatting; principles are drawn by weight."""

from __future__ import annotations

import collections
import random

import pytest

from selftaught.constitution import (
    bundled_path,
    constitution_hash,
    load_constitution,
    parse_constitution,
    sample_principle,
)

A = """\
name: tiny
description: two principles
principles:
  - {id: short, critique_request: "Is it long?", revision_request: Make it short., comparison_question: "Which is shorter?", weight: 3}
  - {id: kind, critique_request: "Is it rude?", revision_request: Make it kind., comparison_question: "Which is kinder?", weight: 1, applies_to: [medical]}
"""

# the same content: block style, other key order, comments, default weight spelled out
A_REFORMATTED = """\
# a comment
description: "two principles"
name: tiny
principles:
  - id: short
    weight: 3.0
    comparison_question: Which is shorter?
    revision_request: Make it short.
    critique_request: Is it long?
  - revision_request: Make it kind.
    id: kind
    critique_request: "Is it rude?"
    comparison_question: Which is kinder?
    applies_to:
      - medical
    weight: 1
"""


def test_hash_is_stable_under_formatting():
    assert constitution_hash(parse_constitution(A)) == constitution_hash(parse_constitution(A_REFORMATTED))


@pytest.mark.parametrize(
    "old,new",
    [("Make it short.", "Make it brief."), ("weight: 3}", "weight: 2}"), ("name: tiny", "name: tiny2")],
    ids=["request text", "weight", "name"],
)
def test_hash_changes_with_meaning(old, new):
    assert constitution_hash(parse_constitution(A)) != constitution_hash(parse_constitution(A.replace(old, new)))


def test_hash_is_sha256_hex():
    h = constitution_hash(load_constitution(bundled_path("default")))
    assert len(h) == 64 and int(h, 16) >= 0


def test_sampling_follows_weights_and_applies_to():
    c = parse_constitution(A)
    rng = random.Random(0)
    untagged = collections.Counter(sample_principle(c, rng).id for _ in range(2000))
    assert set(untagged) == {"short"}  # "kind" applies to medical prompts only
    medical = collections.Counter(sample_principle(c, rng, ("medical",)).id for _ in range(4000))
    assert 0.70 < medical["short"] / 4000 < 0.80  # weights 3:1


def test_sampling_is_reproducible():
    c = load_constitution(bundled_path("default"))
    draw = lambda: [sample_principle(c, random.Random(7)).id for _ in range(5)]  # noqa: E731
    assert draw() == draw()
