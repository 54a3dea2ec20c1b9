"""`selftaught problem ID`: one problem across rounds."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from selftaught.cli.main import app
from tests.history.synthetic import K, RUN, n_pass

runner = CliRunner()


def test_pass_rate_per_round_first_solved_best_and_latest(syn_db):
    result = runner.invoke(app, ["problem", "t3", "--db", syn_db, "--json"])
    assert result.exit_code == 0, result.output
    h = json.loads(result.stdout)
    generated = [(r["round"], r["n_judged"], r["n_pass"]) for r in h["rounds"] if r["source"] == "generate"]
    assert generated == [(r, K, n_pass(3, r)) for r in (1, 2)]
    assert h["first_solved"] == {"run": RUN, "round": 1}
    assert h["best"][0]["outcome"] == "pass" and h["best"][0]["problem_id"] == "t3"
    assert h["latest"][0]["round"] == 2
    text = runner.invoke(app, ["problem", "t3", "--db", syn_db]).stdout
    assert "first solved: run syn round 1" in text and "pass rate per round" in text


def test_a_never_solved_problem_says_so(syn_db):
    h = json.loads(runner.invoke(app, ["problem", "t0", "--db", syn_db, "--json"]).stdout)
    assert h["first_solved"] is None  # t0 passes only when rationalized (hinted): not solved
    assert all(r["n_pass"] == 0 for r in h["rounds"] if r["source"] == "generate")


def test_unknown_problem_is_an_error(syn_db):
    result = runner.invoke(app, ["problem", "nope", "--db", syn_db])
    assert result.exit_code != 0 and "no problem 'nope'" in str(result.exception)
