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
    [h] = json.loads(result.stdout)  # one object per stored version: t3 has one
    assert h["problem_id"] == h["name"] == "t3"
    generated = [(r["round"], r["n_judged"], r["n_pass"]) for r in h["rounds"] if r["source"] == "generate"]
    assert generated == [(r, K, n_pass(3, r)) for r in (1, 2)]
    assert h["first_solved"] == {"run": RUN, "round": 1}
    assert h["best"][0]["outcome"] == "pass" and h["best"][0]["problem_id"] == "t3"
    assert h["latest"][0]["round"] == 2
    text = runner.invoke(app, ["problem", "t3", "--db", syn_db]).stdout
    assert "first solved: run syn round 1" in text and "pass rate per round" in text


def test_a_never_solved_problem_says_so(syn_db):
    [h] = json.loads(runner.invoke(app, ["problem", "t0", "--db", syn_db, "--json"]).stdout)
    assert h["first_solved"] is None  # t0 passes only when rationalized (hinted): not solved
    assert all(r["n_pass"] == 0 for r in h["rounds"] if r["source"] == "generate")


def test_unknown_problem_is_an_error(syn_db):
    result = runner.invoke(app, ["problem", "nope", "--db", syn_db])
    assert result.exit_code != 0 and "no problem 'nope'" in str(result.exception)


def test_every_stored_version_of_a_file_row_is_shown(tmp_path):
    from selftaught.loops.arithmetic import load_problems_jsonl
    from selftaught.store import Store

    db = f"sqlite:///{tmp_path / 's.db'}"
    with Store(db) as store:
        for prompt in ("old prompt", "new prompt"):  # one file, edited between two imports
            (tmp_path / "p.jsonl").write_text(json.dumps({"id": "w000", "prompt": prompt, "answer": "1"}) + "\n")
            store.add_problems(load_problems_jsonl(tmp_path / "p.jsonl"))
    versions = json.loads(runner.invoke(app, ["problem", "w000", "--db", db, "--json"]).stdout)
    assert [(v["name"], v["prompt"]) for v in versions] == [("w000", "old prompt"), ("w000", "new prompt")]
    assert all(v["problem_id"].startswith("w000@") for v in versions)
    text = runner.invoke(app, ["problem", "w000", "--db", db]).stdout
    assert "2 versions of 'w000'" in text and text.count("first solved: never") == 2
    assert "'old prompt'" in text and "'new prompt'" in text
