"""``selftaught verify KIND`` as a real subprocess: JSON lines in, verdict lines out."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .marks import needs_bwrap

CLI = [sys.executable, "-m", "selftaught.cli.main"]


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, text=True, timeout=120, env=env
    )


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_help_has_an_example():
    result = run_cli("verify", "--help")
    assert result.returncode == 0
    assert "Example" in result.stdout and "selftaught verify math" in result.stdout


def test_math_lines_and_a_bad_line_in_the_middle():
    stdin = "\n".join(
        [
            json.dumps({"gold": "1/2", "completion": "so \\boxed{0.5}"}),
            "{not json",
            json.dumps({"id": "t1", "answer": "68", "completion": "<think>3+5=8 2+4=6</think> 68"}),
            json.dumps({"gold": "3", "completion": "4"}),
        ]
    )
    result = run_cli("verify", "math", stdin=stdin)
    out = lines(result.stdout)
    assert [row["line"] for row in out] == [1, 2, 3, 4]
    assert [row["outcome"] for row in out] == ["pass", "error", "pass", "fail"]
    assert out[2]["id"] == "t1" and out[0]["judge"] == "math"
    assert "line 2:" in result.stderr
    assert result.returncode == 1


@needs_bwrap
def test_code_kind():
    row = {"tests": "assert add(1, 2) == 3", "completion": "def add(a, b):\n    return a + b"}
    result = run_cli("verify", "code", "--timeout", "5", stdin=json.dumps(row) + "\n")
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout)[0]["outcome"] == "pass"


@pytest.mark.parametrize(
    "why, args, row, outcome, score",
    [
        ("multiple choice", ["choice"], {"choices": ["x", "y"], "answer": "B", "completion": "Answer: B"}, "pass", 1.0),
        ("keywords", ["keyword"], {"keywords": ["Paris"], "completion": "paris"}, "pass", 1.0),
        ("a weighted spec with a part option", ["math=1,format=1", "--option", "format.partial=0.5"],
         {"gold": "2", "completion": "Sure <think>1+1</think> 2"}, "fail", 0.75),
    ],
)
def test_other_kinds(why, args, row, outcome, score):
    result = run_cli("verify", *args, stdin=json.dumps(row) + "\n")
    assert result.returncode == 0, result.stderr
    got = lines(result.stdout)[0]
    assert (got["outcome"], got["score"]) == (outcome, score)


def test_unknown_kind_is_one_line_and_exit_2():
    result = run_cli("verify", "maths", stdin="{}\n")
    assert result.returncode == 2
    assert "valid names: arithmetic, math, code, choice, keyword, format" in result.stderr
    assert "Traceback" not in result.stderr
