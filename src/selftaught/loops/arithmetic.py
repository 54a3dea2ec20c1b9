"""The embedded task: multi-digit addition with a ``<think>`` chain of thought.

In: a count, a split, a seed (and a digit count). Out: ``Problem`` records whose
``prompt`` is ``"Q: 23+45=? A:"``, whose ``answer`` is ``"68"`` and whose
``solution`` is the whole gold completion, column by column from the right with the
carry written out::

    Q: 27+45=? A: <think>7+5=12 2+4+1=7</think> 72

Train and held-out never mix: a problem's split is decided by a hash of its operand
pair, not by the order in which problems are drawn, so any seed, any ``n`` and any
process put ``27+45`` on the same side of the wall. Drawing is a plain rejection
sampler over the operand pairs whose hash bucket belongs to the requested split.

This module also reads user problem files (JSON lines) into the same records, under
content-scoped ids (``NAME@hash``, ``records.scope_problem``): a file that keeps an id
but changes its prompt makes a new problem, and the same file read twice makes the same
ids. The addition problems keep their plain ids (``add2-23-45``). It knows nothing
about models or judges.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

from selftaught.errors import DataError
from selftaught.judges.base import THINK_CLOSE, THINK_OPEN
from selftaught.jsonl import read_jsonl_objects
from selftaught.records import Problem, Split, scope_problem

#: Percent of operand pairs that live on the held-out side of the wall.
HELDOUT_PERCENT = 20


def format_prompt(a: int, b: int) -> str:
    """The text the policy sees.

    >>> format_prompt(23, 45)
    'Q: 23+45=? A:'
    """
    return f"Q: {a}+{b}=? A:"


def gold_completion(a: int, b: int) -> str:
    """The worked answer: one ``x+y[+1]=s`` step per column, right to left.

    >>> gold_completion(23, 45)
    ' <think>3+5=8 2+4=6</think> 68'
    >>> gold_completion(87, 45)
    ' <think>7+5=12 8+4+1=13</think> 132'
    """
    steps = [f"{x}+{y}+1={s}" if carry else f"{x}+{y}={s}" for x, y, carry, s in gold_columns(a, b)]
    return f" {THINK_OPEN}{' '.join(steps)}{THINK_CLOSE} {a + b}"


def gold_columns(a: int, b: int) -> list[tuple[int, int, bool, int]]:
    """Per column, right to left: (digit of a, digit of b, carry in, column sum).

    >>> gold_columns(87, 45)
    [(7, 5, False, 12), (8, 4, True, 13)]
    """
    da, db = str(a)[::-1], str(b)[::-1]
    out, carry = [], 0
    for i in range(max(len(da), len(db))):
        x = int(da[i]) if i < len(da) else 0
        y = int(db[i]) if i < len(db) else 0
        s = x + y + carry
        out.append((x, y, bool(carry), s))
        carry = s // 10
    return out


def split_of(a: int, b: int) -> Split:
    """The side of the wall an operand pair lives on (a pure function of the pair)."""
    h = hashlib.sha256(f"{a}+{b}".encode()).digest()
    bucket = int.from_bytes(h[:4], "big") % 100
    return Split.HELDOUT if bucket < HELDOUT_PERCENT else Split.TRAIN


def problem_id(a: int, b: int, digits: int) -> str:
    return f"add{digits}-{a}-{b}"


def make_problem(a: int, b: int, digits: int) -> Problem:
    return Problem(
        id=problem_id(a, b, digits),
        prompt=format_prompt(a, b),
        answer=str(a + b),
        split=split_of(a, b),
        solution=gold_completion(a, b),
        meta={"task": "addition", "digits": digits, "a": a, "b": b},
    )


def make_problems(n: int, split: Split, seed: int, digits: int = 2) -> list[Problem]:
    """``n`` distinct addition problems of ``digits``-digit operands from one split.

    Deterministic in ``(n, split, seed, digits)``; a smaller ``n`` with the same
    seed gives a prefix of a larger one.
    """
    if digits < 1:
        raise DataError(f"digits must be >= 1, got {digits}")
    lo, hi = 10 ** (digits - 1), 10**digits - 1
    pool = (hi - lo + 1) ** 2
    expected = pool * (HELDOUT_PERCENT if split is Split.HELDOUT else 100 - HELDOUT_PERCENT) // 100
    if n > expected * 9 // 10:
        raise DataError(
            f"asked for {n} {split.value} problems with {digits} digits; "
            f"only about {expected} exist"
        )
    rng = random.Random(f"{seed}:{digits}:{split.value}")
    seen: set[tuple[int, int]] = set()
    out: list[Problem] = []
    while len(out) < n:
        a, b = rng.randint(lo, hi), rng.randint(lo, hi)
        if (a, b) in seen:
            continue
        seen.add((a, b))
        if split_of(a, b) is split:
            out.append(make_problem(a, b, digits))
    return out


def load_problems_jsonl(path: str | Path) -> list[Problem]:
    """Read user problems: one JSON object per line with ``id``, ``prompt``, ``answer``
    and optionally ``solution``, ``split`` (``train``/``heldout``, default train),
    ``tests`` (text), ``choices`` and ``keywords`` (lists of strings).

    Each problem's ``id`` is content-scoped, ``"{row id}@{hash of its content}"``
    (``records.scoped_problem_id``), and ``meta["name"]`` is the row's own id.

    A row that is not an object, lacks a field, or repeats an id (the row's own id)
    raises ``DataError`` naming the file and line. Blank lines are skipped.
    """
    out: list[Problem] = []
    ids: set[str] = set()
    for where, row in read_jsonl_objects(path, "problem file"):
        for key in ("id", "prompt", "answer"):
            value = row.get(key)
            if value is None or (isinstance(value, str) and not value.strip()):
                raise DataError(f"{where}: row has no {key!r}")
        pid = str(row["id"])
        if pid in ids:
            raise DataError(f"{where}: duplicate id {pid!r}")
        ids.add(pid)
        try:
            split = Split(row.get("split", "train"))
        except ValueError as exc:
            raise DataError(
                f"{where}: split must be 'train' or 'heldout', got {row['split']!r}"
            ) from exc
        lists: dict[str, tuple[str, ...]] = {}
        for key in ("choices", "keywords"):
            value = row.get(key) or []
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise DataError(f"{where}: {key} must be a list of strings")
            lists[key] = tuple(value)
        solution, tests = row.get("solution"), row.get("tests")
        out.append(
            scope_problem(
                Problem(
                    id=pid,
                    prompt=str(row["prompt"]),
                    answer=str(row["answer"]),
                    split=split,
                    solution=None if solution is None else str(solution),
                    tests=None if tests is None else str(tests),
                    **lists,
                )
            )
        )
    return out
