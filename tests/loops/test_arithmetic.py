"""The embedded addition task: gold chains, determinism, and the train/held-out wall."""

from __future__ import annotations

import json

import pytest

from selftaught.errors import DataError
from selftaught.loops.arithmetic import (
    gold_completion,
    load_problems_jsonl,
    make_problems,
    split_of,
)
from selftaught.records import Split


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (23, 45, " <think>3+5=8 2+4=6</think> 68"),  # no carry
        (27, 45, " <think>7+5=12 2+4+1=7</think> 72"),  # carry into the tens
        (87, 45, " <think>7+5=12 8+4+1=13</think> 132"),  # carry out of the top column
        (905, 7, " <think>5+7=12 0+0+1=1 9+0=9</think> 912"),  # operands of unequal length
    ],
)
def test_gold_completion_shows_every_column_and_carry(a, b, expected):
    assert gold_completion(a, b) == expected


def test_problem_fields():
    (p,) = make_problems(1, Split.TRAIN, seed=0)
    a, b = p.meta["a"], p.meta["b"]
    assert p.id == f"add2-{a}-{b}"
    assert p.prompt == f"Q: {a}+{b}=? A:"
    assert p.answer == str(a + b)
    assert p.solution == gold_completion(a, b)
    assert p.split is Split.TRAIN and 10 <= a <= 99 and 10 <= b <= 99


def test_same_seed_same_problems_and_prefix_property():
    assert make_problems(50, Split.TRAIN, seed=3) == make_problems(50, Split.TRAIN, seed=3)
    assert make_problems(20, Split.TRAIN, seed=3) == make_problems(50, Split.TRAIN, seed=3)[:20]
    assert make_problems(50, Split.TRAIN, seed=3) != make_problems(50, Split.TRAIN, seed=4)


def test_problems_are_distinct():
    ps = make_problems(2000, Split.TRAIN, seed=0)
    assert len({p.id for p in ps}) == 2000


@pytest.mark.parametrize("digits", [2, 3])
def test_train_and_heldout_never_overlap_across_seeds(digits):
    train = {p.id for s in range(3) for p in make_problems(500, Split.TRAIN, seed=s, digits=digits)}
    heldout = {p.id for s in range(3) for p in make_problems(300, Split.HELDOUT, seed=s, digits=digits)}
    assert train and heldout and not train & heldout


def test_split_is_a_function_of_the_pair_not_of_draw_order():
    for p in make_problems(200, Split.HELDOUT, seed=7):
        assert p.split is Split.HELDOUT
        assert split_of(p.meta["a"], p.meta["b"]) is Split.HELDOUT
    share = sum(split_of(a, b) is Split.HELDOUT for a in range(10, 100) for b in range(10, 100)) / 8100
    assert 0.15 < share < 0.25


def test_asking_for_more_problems_than_exist_is_a_data_error():
    with pytest.raises(DataError, match="only about"):
        make_problems(80, Split.HELDOUT, seed=0, digits=1)


def _write(tmp_path, rows):
    path = tmp_path / "problems.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_load_problems_jsonl(tmp_path):
    path = _write(
        tmp_path,
        [
            {"id": "a", "prompt": "Q: 1+1=? A:", "answer": 2},
            "",
            {"id": "b", "prompt": "Q: 2+2=? A:", "answer": "4", "split": "heldout", "solution": " 4"},
        ],
    )
    a, b = load_problems_jsonl(path)
    assert (a.meta["name"], a.answer, a.split, a.solution) == ("a", "2", Split.TRAIN, None)
    assert (b.meta["name"], b.answer, b.split, b.solution) == ("b", "4", Split.HELDOUT, " 4")
    assert a.id.startswith("a@") and b.id.startswith("b@")  # content-scoped: NAME@hash


def test_file_problems_get_stable_content_scoped_ids(tmp_path):
    rows = [{"id": "w000", "prompt": "p", "answer": "1"}, {"id": "w001", "prompt": "q", "answer": "2"}]
    first = load_problems_jsonl(_write(tmp_path, rows))
    again = load_problems_jsonl(_write(tmp_path, rows))
    assert [p.id for p in first] == [p.id for p in again]  # resume reads the same ids
    changed = load_problems_jsonl(_write(tmp_path, [{**rows[0], "prompt": "p, reworded"}, rows[1]]))
    assert changed[0].id != first[0].id and changed[1].id == first[1].id
    assert changed[0].meta["name"] == first[0].meta["name"] == "w000"
    moved = load_problems_jsonl(_write(tmp_path, [{**rows[0], "split": "heldout"}]))
    assert moved[0].id == first[0].id  # the split is not content: the wall is kept elsewhere
    extra = load_problems_jsonl(_write(tmp_path, [{**rows[0], "choices": ["a", "b"], "tests": "assert 1"}]))
    assert (extra[0].choices, extra[0].tests) == (("a", "b"), "assert 1")
    assert extra[0].id != first[0].id  # choices and tests are content: a new id


def test_embedded_problems_keep_their_plain_ids():
    assert [p.id for p in make_problems(2, Split.TRAIN, seed=0)] == [p.id for p in make_problems(2, Split.TRAIN, seed=0)]
    assert all("@" not in p.id and p.id.startswith("add2-") for p in make_problems(5, Split.TRAIN, seed=0))


@pytest.mark.parametrize(
    "bad_row, message",
    [
        ({"id": "x", "prompt": "p"}, "no 'answer'"),  # the case users hit most
        ({"id": "x", "prompt": "p", "answer": ""}, "no 'answer'"),  # blank counts as missing
        ({"prompt": "p", "answer": "1"}, "no 'id'"),
        ({"id": "a", "prompt": "p", "answer": "1"}, "duplicate id"),  # repeats row 1's id
        ({"id": "x", "prompt": "p", "answer": "1", "split": "test"}, "split must be"),
        ({"id": "x", "prompt": "p", "answer": "1", "choices": "ab"}, "choices must be a list"),
        ("[1, 2]", "expected a JSON object"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path, bad_row, message):
    path = _write(tmp_path, [{"id": "a", "prompt": "p", "answer": "1"}, bad_row])
    with pytest.raises(DataError, match=message) as info:
        load_problems_jsonl(path)
    assert f"{path}:2:" in str(info.value)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_problems_jsonl(tmp_path / "nope.jsonl")
