"""`selftaught samples`: every filter, sorting, limits, table / --json / --jsonl, bound parameters only."""

from __future__ import annotations

import json
import os

import pytest
from typer.testing import CliRunner

from selftaught.cli.main import app
from selftaught.store import Store
from tests.cli.test_cli import cli

runner = CliRunner()


def samples(db: str, *args: str) -> list[dict]:
    result = runner.invoke(app, ["samples", "--db", db, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "args, check",
    [
        (["--run", "syn", "--round", "2", "--limit", "0"], lambda r: r["round"] == 2),
        (["--problem", "t3", "--limit", "0"], lambda r: r["problem_id"] == "t3"),
        (["--prompt-contains", "3+3", "--limit", "0"], lambda r: r["problem_id"] == "t3"),  # problem text
        (["--outcome", "fail", "--limit", "0"], lambda r: r["outcome"] == "fail"),
        (["--judge", "arithmetic", "--min-score", "0.2", "--max-score", "0.3", "--limit", "0"],
         lambda r: r["score"] == 0.25),
        (["--checkpoint", "syn/r1", "--limit", "0"], lambda r: r["checkpoint_id"] == "syn/r1"),
        (["--rationalized", "--limit", "0"], lambda r: r["source"] == "rationalize"),
        (["--not-rationalized", "--source", "eval", "--limit", "0"], lambda r: r["source"] == "eval"),
        (["--split", "heldout", "--limit", "0"], lambda r: r["problem_id"].startswith("h")),
        (["--text", "hint", "--limit", "0"], lambda r: "hint" in r["completion"]),
    ],
    ids=["round", "problem", "search", "outcome", "score-range", "checkpoint", "rationalized",
         "source", "split", "text"],
)
def test_each_filter_selects_only_matching_rows(syn_db, args, check):
    rows = samples(syn_db, *args)
    assert rows and all(check(r) for r in rows)


def test_sorting_limits_and_jsonl(syn_db):
    by_score = samples(syn_db, "--round", "1", "--sort", "-score", "--limit", "0")
    assert [r["score"] for r in by_score] == sorted((r["score"] for r in by_score), reverse=True)
    assert len(samples(syn_db, "--limit", "7")) == 7
    everything = samples(syn_db, "--limit", "0")
    with Store(syn_db) as store:
        assert len(everything) == len(store.query_samples(limit=None)) > 20
    lines = runner.invoke(app, ["samples", "--db", syn_db, "--jsonl", "--limit", "5"]).stdout.splitlines()
    assert [json.loads(line)["sample_id"] for line in lines] == [r["sample_id"] for r in everything[:5]]
    table = runner.invoke(app, ["samples", "--db", syn_db, "--limit", "3"]).stdout
    assert f"3 of {len(everything)} samples" in table and "completion" in table  # a page says how many matched
    with Store(syn_db) as store:
        assert store.count_samples(round_index=1, outcome="pass") == len(store.query_samples(round_index=1, outcome="pass", limit=None))
    whole = runner.invoke(app, ["samples", "--db", syn_db, "--round", "1", "--limit", "0"]).stdout
    assert f"{len(by_score)} samples" in whole and " of " not in whole.splitlines()[0]


def test_sql_looking_input_is_only_ever_a_value(syn_db, tmp_path):
    hostile = ["x' OR '1'='1", "t1'; DROP TABLE samples; --", "%", "_", "\\"]
    for value in hostile:
        for option in ("--run", "--problem", "--prompt-contains", "--text", "--judge", "--checkpoint"):
            assert samples(syn_db, option, value, "--limit", "0") == [], (option, value)
    with Store(syn_db) as store:
        assert len(store.query_samples(limit=None)) > 20  # nothing dropped
    # a sort key is checked against a closed set: one line, exit 2, no traceback
    env = {"SELFTAUGHT_DB_URL": syn_db, "PATH": "/usr/bin:/bin"}
    if "PYTHONPATH" in os.environ:  # a checkout run with PYTHONPATH=src: the CLI must read the same code
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    bad = cli("samples", "--sort", "id; DROP TABLE samples", env=env)
    assert bad.returncode == 2 and "cannot order samples" in bad.stderr and "Traceback" not in bad.stderr
