"""The one answer extractor (judges/extract.py): table-driven, each row says why it exists.

Two readings share it: the general one (math, maj@k of instruct runs) and the plain one
(``plain=True``: the arithmetic judge, the embedded demo's maj@k and best-of-N votes).
"""

from __future__ import annotations

import pytest

from selftaught.judges.extract import extract_answer, vote_key


@pytest.mark.parametrize(
    "completion, plain, expected, why",
    [
        ("<think>3+5=8 2+4=6</think> 68", False, "68", "the gold format, general reading"),
        ("<think>3+5=8 2+4=6</think> 68", True, "68", "the gold format, plain reading"),
        ("<think>3+5=8 2+4=6", False, None, "unclosed <think>, general: cut off mid-thought, no answer"),
        ("<think>3+5=8 2+4=6 68", True, "68", "unclosed <think>, plain: the tiny model dropped </think> (the demo counts it)"),
        ("<think>3+5=8", True, "8", "unclosed <think>, plain: a column sum (never a two-digit answer)"),
        ("</think> 68 (3+5)", False, "5", "general: the last number after </think>"),
        ("</think> 68 (3+5)", True, "68", "plain: the first number after </think>"),
        ("</think> \\boxed{68} 7", False, "68", "general: a box beats a later number"),
        ("</think> \\boxed{68} 7", True, "68", "plain: numbers only, the first one"),
        ("<think>a</think> x</think> 68", True, "68", "the last </think> wins"),
        ("so 67, no, 68", True, "68", "no think block: the last number"),
        ("</think> 1,024.", True, "1,024", "as written: a trailing comma or period is not the answer"),
        ("", True, None, "nothing"),
    ],
)
def test_extract_answer(completion, plain, expected, why):
    assert extract_answer(completion, plain=plain) == expected, why


@pytest.mark.parametrize("completion", ["<think>3+5=8 2+4=6 68", "68", "</think> 68"])
def test_strict_formats_ignore_the_plain_reading(completion):
    """Strict, only the instructed format counts, in either reading (an unclosed think never does)."""
    for fmt in ("think", "boxed", "answer_is"):
        assert extract_answer(completion, fmt, strict=True, plain=True) == extract_answer(completion, fmt, strict=True)


@pytest.mark.parametrize(
    "text, key",
    [("68", "68"), ("068", "68"), ("68.0", "68"), ("1,024", "1024"), ("2.50", "2.5"), (None, None),
     ("Infinity", "Infinity"), ("nan", "nan")],
)
def test_vote_key(text, key):
    """One key per number (068 and 68 vote together); words, ``inf`` and ``nan`` included, stay text."""
    assert vote_key(text) == key
