"""`selftaught search` and `selftaught searches` as a user runs them: real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / "selftaught"


def cli(*args: str, db: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, SELFTAUGHT_DB_URL=db, SELFTAUGHT_TORCH_THREADS="1")
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=300, check=False)


def test_help_has_an_example(tmp_path):
    for cmd in ("search", "searches"):
        out = cli(cmd, "--help", db=f"sqlite:///{tmp_path / 's.db'}")
        assert out.returncode == 0 and "Example" in out.stdout


def test_search_stores_and_prints_accuracy_then_shows_its_nodes(tmp_path, real_models):
    db = f"sqlite:///{tmp_path / 's.db'}"
    out = cli("search", "--checkpoint", real_models["policy"], "--method", "beam", "--budget", "2",
              "--prm", real_models["prm"], "--problems", "2", "--run", "tts", "--json", db=db)  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["method"] == "beam" and summary["n_problems"] == 2 and summary["stored"] == "new"
    assert 0.0 <= summary["accuracy"] <= 1.0 and summary["tokens_per_problem"] > 0
    listed = json.loads(cli("searches", "--run", "tts", "--json", db=db).stdout)
    assert [s["id"] for s in listed] == [summary["search"]]
    shown = cli("searches", "--show", summary["search"], db=db)
    assert shown.returncode == 0 and "partial" in shown.stdout and "selected node" in shown.stdout


def test_bad_input_is_one_line_and_stores_nothing(tmp_path):
    # refused before any model is loaded (the paths are not even read): one real subprocess
    # for the exit code and the one-line message, the other cases in-process (fast)
    from typer.testing import CliRunner

    from selftaught.cli.main import app
    from selftaught.errors import SelftaughtError

    db = f"sqlite:///{tmp_path / 's.db'}"
    policy, prm = str(tmp_path / "policy"), str(tmp_path / "prm")
    out = cli("search", "--checkpoint", policy, "--method", "beam", "--problems", "1", db=db)
    assert out.returncode == 2 and "needs a PRM" in out.stderr and "Traceback" not in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    usage_errors = [  # the command line is wrong: exit 2 (issue 17)
        (["--method", "bon-orm", "--prm", prm], "needs a ORM"),
        (["--method", "dfs"], "--method must be one of"),
        (["--method", "bon", "--aggregate", "mean", "--prm", prm], "--aggregate must be"),
    ]
    runner = CliRunner()
    for args, message in usage_errors:
        result = runner.invoke(app, ["search", "--checkpoint", policy, *args, "--problems", "1", "--db", db])
        assert result.exit_code == 2 and message in result.output, result.output
    result = runner.invoke(app, ["search", "--checkpoint", policy, "--method", "greedy", "--problems", "1", "--db", db])
    assert isinstance(result.exception, SelftaughtError) and "not a saved model" in str(result.exception), result.output
    result = runner.invoke(app, ["searches", "--show", "nope", "--db", db])
    assert isinstance(result.exception, SelftaughtError) and "no search 'nope'" in str(result.exception)
    assert runner.invoke(app, ["searches", "--json", "--db", db]).stdout.strip() == "[]"  # nothing stored
