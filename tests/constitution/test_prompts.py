"""The bundled CAI prompts: written for this project, split train / held-out."""

from __future__ import annotations

from selftaught.constitution import load_prompts, prompt_tags
from selftaught.constitution.checks import DISCLAIMER_TAGS
from selftaught.records import Split


def test_splits_are_disjoint_and_sized():
    train, held = load_prompts("train"), load_prompts(Split.HELDOUT)
    assert len(train) >= 30 and len(held) >= 15
    assert {p.split for p in train} == {Split.TRAIN} and {p.split for p in held} == {Split.HELDOUT}
    assert not {p.id for p in train} & {p.id for p in held}
    assert not {p.prompt for p in train} & {p.prompt for p in held}
    assert len({p.id for p in train + held}) == len(train) + len(held)


def test_both_splits_have_prompts_the_disclaimer_applies_to():
    for split in ("train", "heldout"):
        tagged = [p for p in load_prompts(split) if DISCLAIMER_TAGS & set(prompt_tags(p))]
        assert len(tagged) >= 5, split
