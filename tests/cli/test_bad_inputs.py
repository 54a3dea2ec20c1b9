"""Bad inputs found by an adversarial pass (issue 14, part 5, the first ones): each is one
line on stderr, exit code 2 where nothing can be done, no traceback, and nothing written
(no store, no home) -- or, for the line-by-line commands, the bad line is reported by
number and the good ones are still handled."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "selftaught"
GOOD = '{"id": "a", "prompt": "Q: 1+1=? A:", "answer": "2"}\n'
NOT_UTF8 = b'{"id": "b", "prompt": "\xff", "answer": "3"}\n'


def _cli(args: list[str], root: Path, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SELFTAUGHT_DB_URL=f"sqlite:///{root / 'store.db'}", SELFTAUGHT_HOME=str(root / "home"))
    return subprocess.run([str(BIN), *args], capture_output=True, env=env, input=stdin, timeout=300, cwd=root)


def _task_files(root: Path, train: bytes) -> None:
    (root / "train.jsonl").write_bytes(train)
    (root / "heldout.jsonl").write_bytes(GOOD.encode())


RUNS = {
    "a problem line that is not UTF-8": (
        "name: x\ntask:\n  kind: file\n  train: train.jsonl\n  heldout: heldout.jsonl\n",
        GOOD.encode() + NOT_UTF8, "train.jsonl:2: not UTF-8 (byte 0xff"),
    "a problem line nested too deeply": (
        "name: x\ntask:\n  kind: file\n  train: train.jsonl\n  heldout: heldout.jsonl\n",
        GOOD.encode() + b"[" * 100_000 + b"]" * 100_000 + b"\n", "train.jsonl:2: not valid JSON (nested too deeply)"),
    "a problem line without an answer": (
        "name: x\ntask:\n  kind: file\n  train: train.jsonl\n  heldout: heldout.jsonl\n",
        GOOD.encode() + b'{"id": "c", "prompt": "p"}\n', "train.jsonl:2:"),
    "a task too small for its split": ("name: x\ntask:\n  digits: 1\n  n_train: 60\n", None, "only about 64 exist"),
}  # fmt: skip


@pytest.mark.parametrize("recipe, train, reason", RUNS.values(), ids=list(RUNS))
def test_run_refuses_bad_problems_before_anything_is_written(tmp_path, recipe, train, reason):
    if train is not None:
        _task_files(tmp_path, train)
    (tmp_path / "r.yaml").write_text(recipe)
    result = _cli(["run", str(tmp_path / "r.yaml")], tmp_path)
    err = result.stderr.decode()
    assert result.returncode == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and reason in err, err
    assert "Traceback" not in err and not result.stdout
    assert not (tmp_path / "store.db").exists() and not (tmp_path / "home").exists()


@pytest.mark.parametrize("option", [["--timeout", "-5"], ["--timeout", "0"], ["--workers", "0"]])
def test_verify_checks_its_numeric_options(tmp_path, option):
    result = _cli(["verify", "math", *option], tmp_path, stdin=b'{"gold": "1", "completion": "1"}\n')
    err = result.stderr.decode()
    assert result.returncode == 2 and option[0] in err and "Traceback" not in err, err
    assert not result.stdout


def test_verify_reports_a_too_deep_line_and_judges_the_next(tmp_path):
    deep = b"[" * 100_000 + b"]" * 100_000 + b"\n"
    result = _cli(["verify", "math"], tmp_path, stdin=deep + b'{"gold": "1/2", "completion": "\\\\boxed{0.5}"}\n')
    # a bad line makes the exit code 1 (documented), and judging goes on
    assert result.returncode == 1 and "Traceback" not in result.stderr.decode()
    assert result.stderr.decode() == "line 1: invalid input: JSON nested too deeply\n"
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(r["line"], r["outcome"]) for r in rows] == [(1, "error"), (2, "pass")]
    assert "nested too deeply" in rows[0]["detail"]


def test_import_reports_an_undecodable_line_and_imports_the_good_rows(tmp_path):
    src = tmp_path / "rows.jsonl"
    src.write_bytes(GOOD.encode() + NOT_UTF8 + b'{"id": "c", "prompt": "Q: 2+2=? A:", "answer": "4"}\n')
    result = _cli(["import", str(src), "--out", str(tmp_path / "out") + "/"], tmp_path)
    err = result.stderr.decode() + result.stdout.decode()
    assert "Traceback" not in err and "line 2: not UTF-8 (byte 0xff" in err, err
    ids = [json.loads(line)["id"] for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert [i.split("@")[0] for i in ids] == ["a", "c"]
