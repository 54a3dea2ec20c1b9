"""`selftaught import --preset gsm8k --heldout N --out DIR`: GSM8K rows to task files in one command."""

from __future__ import annotations

import doctest
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import selftaught.service.problems
import selftaught.records
from selftaught.service.problems import parse_gsm8k_answer
from selftaught.cli.main import app
from selftaught.errors import DataError
from selftaught.loops.arithmetic import load_problems_jsonl
from selftaught.store import Store
from tests.cli.test_cli import cli

#: rows as GSM8K writes them (``question``, ``answer`` ending in ``#### N``; no id)
GSM8K_ROWS = [
    {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips "
                 "in May. How many clips did Natalia sell altogether in April and May?",
     "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips "
               "altogether in April and May.\n#### 72"},
    {"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
                 "How much did she earn?",
     "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she earned "
               "0.2 x 50 = $<<0.2*50=10>>10.\n#### 10"},
    {"question": "A house costs $1,200 a month. How much is that a year?",
     "answer": "12 months cost 1200*12 = <<1200*12=14400>>14,400 dollars.\n#### 14,400"},
    {"question": "A row someone edited by hand", "answer": "The answer is 5."},  # no ####: rejected
    {"question": "James writes a 3-page letter to 2 different friends twice a week. How many pages does he "
                 "write a year?",
     "answer": "He writes each friend 3*2=<<3*2=6>>6 pages a week.\nSo he writes 6*2=<<6*2=12>>12 pages every "
               "week.\nThat means he writes 12*52=<<12*52=624>>624 pages a year.\n#### 624"},
    {"question": "Albert buys 2 large pizzas and 2 small pizzas. A large pizza has 16 slices and a small one 8. "
                 "How many slices does he eat?",
     "answer": "He eats 2*16=<<2*16=32>>32 large slices and 2*8=<<2*8=16>>16 small ones.\n"
               "That is 32+16=<<32+16=48>>48 pieces.\n#### 48"},
]  # fmt: skip


@pytest.fixture
def gsm8k_file(tmp_path: Path) -> Path:
    """A GSM8K-format JSONL file of six rows, the fourth without ``####``."""
    path = tmp_path / "gsm8k_train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in GSM8K_ROWS))
    return path


@pytest.mark.parametrize(
    "text, solution, answer",
    [
        pytest.param("Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72",
                     "Natalia sold 48/2 = 24 clips in May.", "72", id="calculator-annotations-removed"),
        pytest.param("a\n#### 1,000", "a", "1000", id="thousands-comma-dropped"),
        pytest.param("a\n#### 1,000,000", "a", "1000000", id="every-thousands-comma-dropped"),
        pytest.param("a\n#### 12,34", "a", "12,34", id="a-comma-that-groups-no-thousands-stays"),
        pytest.param("a\n#### -3.5", "a", "-3.5", id="negative-and-decimal-answers-kept-as-written"),
        pytest.param("a  \n\n####   8  \n", "a", "8", id="whitespace-around-both-parts-stripped"),
        pytest.param("x #### 1\ny\n#### 2", "x #### 1\ny", "2", id="only-the-last-marker-gives-the-answer"),
        pytest.param("<<2*3=6>>6 <<6+1=7>>7\n#### 7", "6 7", "7", id="several-annotations-on-one-line"),
        pytest.param("#### 4", "", "4", id="no-rationale-is-an-empty-solution"),
    ],
)
def test_parse_gsm8k_answer(text, solution, answer):
    assert parse_gsm8k_answer(text) == (solution, answer)


@pytest.mark.parametrize(
    "text, message",
    [
        pytest.param("The answer is 5.", "no '####'", id="no-marker-is-not-gsm8k"),
        pytest.param("a\n####   \n", "nothing after", id="a-marker-with-no-answer"),
    ],
)
def test_parse_gsm8k_answer_rejects(text, message):
    with pytest.raises(DataError, match=message):
        parse_gsm8k_answer(text)


@pytest.mark.parametrize("module", [selftaught.service.problems, selftaught.records])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted and not result.failed


def test_one_command_writes_train_and_heldout_task_files(gsm8k_file, tmp_path):
    db, out = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "data"
    args = ("import", str(gsm8k_file), "--preset", "gsm8k", "--heldout", "2", "--out", str(out), "--db", db)
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    assert "line 4: answer has no '####'" in result.stderr and "Traceback" not in result.stderr
    assert "imported 5 problems" in result.stdout and "rejected 1" in result.stdout

    train, heldout = ([json.loads(line) for line in (out / f"{s}.jsonl").read_text().splitlines()]
                      for s in ("train", "heldout"))  # fmt: skip
    names = ["gsm8k-1", "gsm8k-2", "gsm8k-3", "gsm8k-5", "gsm8k-6"]  # ids: prefix + row number
    smallest = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())[:2]
    assert sorted(r["id"] for r in heldout) == sorted(smallest) and all(r["split"] == "heldout" for r in heldout)
    assert [r["id"] for r in train] == [n for n in names if n not in smallest]  # file order kept
    rows = {r["id"]: r for r in train + heldout}
    assert rows["gsm8k-1"]["answer"] == "72" and rows["gsm8k-3"]["answer"] == "14400"
    assert rows["gsm8k-1"]["solution"] == ("Natalia sold 48/2 = 24 clips in May.\n"
                                           "Natalia sold 48+24 = 72 clips altogether in April and May.")
    assert rows["gsm8k-1"]["prompt"] == GSM8K_ROWS[0]["question"]

    # the recipe's `task: {kind: file}` reads these files as the very problems stored
    loaded = load_problems_jsonl(out / "train.jsonl") + load_problems_jsonl(out / "heldout.jsonl")
    with Store(db) as store:
        stored = {p.id: p for p in store.get_problems()}
    assert {p.id: p for p in loaded} == stored

    again = cli(*args)  # deterministic: the same files, nothing new
    assert again.returncode == 0 and "0 new" in again.stdout.replace("\n", " "), again.stderr
    assert sorted(r["id"] for r in map(json.loads, (out / "heldout.jsonl").read_text().splitlines())) == sorted(smallest)


def test_out_file_still_writes_one_jsonl(gsm8k_file, tmp_path):
    result = CliRunner().invoke(app, ["import", str(gsm8k_file), "--preset", "gsm8k", "--id-prefix", "g",
                                      "--out", str(tmp_path / "all.jsonl"), "--db", f"sqlite:///{tmp_path / 's.db'}"])
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["id"] for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    assert ids == ["g1", "g2", "g3", "g5", "g6"]


@pytest.mark.parametrize(
    "args, message, code",
    [
        (["--preset", "gsm8k", "--heldout", "5"], "only 5 usable rows", 1),  # nothing left to train on: runtime
        # the command line itself is wrong: usage errors, exit 2 (issue 17)
        (["--preset", "gsm8k", "--heldout", "2", "--split", "train"], "choose one of --split and --heldout", 2),
        (["--preset", "gsm8k", "--map", "prompt=question"], "leave out --map", 2),
        (["--preset", "math"], "--preset must be one of gsm8k", 2),
    ],
)
def test_bad_options_are_one_line_and_store_nothing(gsm8k_file, tmp_path, args, message, code):
    db = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(app, ["import", str(gsm8k_file), *args, "--db", db])
    said = str(result.exception) if code == 1 else result.output  # CliRunner: a SelftaughtError is raised
    assert result.exit_code == code and message in said, result.output
    if (tmp_path / "s.db").exists():
        with Store(db) as store:
            assert store.get_problems() == []


def test_help_shows_the_gsm8k_example():
    result = CliRunner().invoke(app, ["import", "--help"])
    text = " ".join(result.stdout.split())  # rich wraps long lines
    assert result.exit_code == 0 and "--preset gsm8k --heldout 40 --out data/" in text
    assert "task: {kind: file, train: data/train.jsonl, heldout: data/heldout.jsonl}" in text
