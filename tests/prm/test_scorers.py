"""Aggregating step scores, and the token layout shared by PRM training and scoring."""

from __future__ import annotations

import pytest

from selftaught.prm.scorers import STEP_SEPARATOR, aggregate, encode_steps


@pytest.mark.parametrize(
    "scores, how, expected",
    [
        ([0.9, 0.5, 0.8], "min", 0.5),  # the weakest step
        ([0.9, 0.5, 0.8], "last", 0.8),  # the last step alone
        ([0.9, 0.5, 0.8], "product", 0.36),  # every step must hold
        ([0.7], "product", 0.7),  # one step: all three agree
        ([], "min", 0.0),  # no steps at all
    ],
)
def test_aggregate(scores, how, expected):
    assert aggregate(scores, how) == pytest.approx(expected)


def test_aggregate_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate([0.5], "mean")  # type: ignore[arg-type]


def test_encode_steps_puts_each_label_on_the_separator_after_its_step():
    from selftaught.loops.tinymodel import build_tokenizer

    tok = build_tokenizer()
    ids, labels, positions = encode_steps(tok, "Q: 27+45=? A:", ["7+5=12", " 2+4+1=7 ", "72"], [1, 0, 1])
    sep = tok(STEP_SEPARATOR, add_special_tokens=False)["input_ids"]
    assert len(sep) == 1
    assert [ids[p] for p in positions] == sep * 3
    assert [labels[p] for p in positions] == [1, 0, 1]
    assert sum(lab != -100 for lab in labels) == 3
    assert tok.decode(ids) == "Q: 27+45=? A: 7+5=12|2+4+1=7|72|"  # steps stripped
    _, unlabelled, _ = encode_steps(tok, "Q: 27+45=? A:", ["7+5=12"])
    assert set(unlabelled) == {-100}


@pytest.mark.parametrize(
    "steps, text, at",
    [
        (["7+5=12", "2+4+1=7", "72"], "Q: 27+45=? A: <think>7+5=12 2+4+1=7</think> 72", ["2", "7", "2"]),  # whole
        (["7+5=12", "2+4+1=7"], "Q: 27+45=? A: <think>7+5=12 2+4+1=7", ["2", "7"]),  # a prefix: no answer yet
        (["72"], "Q: 27+45=? A: <think></think> 72", ["2"]),  # an answer with no steps
    ],
)
def test_the_think_layout_is_the_policy_text_labelled_at_each_step_end(steps, text, at):
    from selftaught.loops.tinymodel import build_tokenizer

    tok = build_tokenizer()
    ids, labels, positions = encode_steps(tok, "Q: 27+45=? A:", steps, [1] * len(steps), layout="think")
    assert tok.decode(ids) == text
    assert [tok.decode([ids[p]]) for p in positions] == at
    assert sum(lab != -100 for lab in labels) == len(steps)


def test_an_unknown_layout_is_an_error():
    from selftaught.loops.tinymodel import build_tokenizer

    with pytest.raises(ValueError, match="unknown layout"):
        encode_steps(build_tokenizer(), "p", ["a"], layout="xml")  # type: ignore[arg-type]
