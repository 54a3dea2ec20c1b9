"""`rounds` and `samples` on a finished run: what a user reads after the rounds."""

from __future__ import annotations

import json
import re

from tests.cli.test_cli import cli


def test_rounds_lists_runs_and_shows_a_table(finished_run):
    _, env, run_id = finished_run
    listing = json.loads(cli("rounds", "--json", env=env).stdout)
    assert [r["id"] for r in listing] == [run_id]
    table = json.loads(cli("rounds", run_id, "--json", env=env).stdout)
    assert [r["index"] for r in table] == [0, 1, 2]
    assert all(r["heldout_pass_at_1"] is not None for r in table)
    assert table[1]["n_generate"] == 12 * 3  # prompts_per_round x k
    text = cli("rounds", run_id, env=env).stdout
    assert "pass@1" in text and "round" in text


def test_every_stage_that_ran_a_model_says_where(finished_run):
    import torch

    _, env, run_id = finished_run
    table = json.loads(cli("rounds", run_id, "--json", env=env).stdout)
    # judge and curate run no model; the cold start's round 0 trains and evaluates
    assert set(table[0]["placement"]) == {"train", "evaluate"}
    assert set(table[1]["placement"]) == {"generate", "rationalize", "train", "evaluate"}
    where = "cuda/bf16" if torch.cuda.is_available() else "cpu/float32"  # the recipe says device: auto
    if where == "cpu/float32":
        assert {(p["device"], p["dtype"], p["peak_gpu_mb"]) for r in table for p in r["placement"].values()} == {
            ("cpu", "float32", None)}  # fmt: skip
    assert f"{run_id} on {where}" in cli("rounds", run_id, env=env).stdout


def test_rounds_of_an_unknown_run_is_one_line(finished_run):
    _, env, _ = finished_run
    result = cli("rounds", "nope", env=env)
    assert result.returncode == 1 and "no run 'nope'" in result.stderr  # a runtime error (issue 17)


def _orch_column(text: str) -> list[str]:
    """The last cell (orch) of each round row of a printed rounds table."""
    return [line.split()[-1] for line in text.splitlines() if re.match(r"\s*\d+\s", line) and line.rstrip()[-1:] in "%-"]


def test_rounds_shows_the_orchestration_share_the_run_printed(finished_run):
    root, env, run_id = finished_run
    printed = (root / "cli.log").read_text().rsplit(f"run {run_id}", 1)[-1]  # the table the run printed last
    shown = cli("rounds", run_id, env=env).stdout
    assert _orch_column(shown) == _orch_column(printed) and len(_orch_column(shown)) == 3
    assert all(cell.endswith("%") for cell in _orch_column(shown))  # not "-": the store kept each round's wall time
    table = json.loads(cli("rounds", run_id, "--json", env=env).stdout)
    assert all(r["wall_seconds"] > sum(r["seconds"].values()) * 0.5 for r in table)


def test_samples_says_how_many_matched_and_problem_titles_its_tables(finished_run):
    _, env, run_id = finished_run
    every = json.loads(cli("samples", "--run", run_id, "--limit", "0", "--json", env=env).stdout)
    page = cli("samples", "--run", run_id, "--limit", "4", env=env)
    assert f"4 of {len(every):,} samples" in page.stdout, page.stdout
    shown = cli("problem", every[0]["problem_id"], env=env).stdout
    assert re.search(r"best \d+ samples \(highest score\)", shown) and re.search(r"latest \d+ samples \(newest first\)", shown)


def test_samples_filters_combine(finished_run):
    _, env, run_id = finished_run
    rows = json.loads(cli("samples", "--run", run_id, "--round", "1", "--source", "generate", "--limit", "1000", "--json", env=env).stdout)
    assert len(rows) == 36 and {r["round"] for r in rows} == {1} and {r["source"] for r in rows} == {"generate"}
    failing = json.loads(cli("samples", "--run", run_id, "--outcome", "fail", "--limit", "5", "--json", env=env).stdout)
    assert failing and all(r["outcome"] == "fail" for r in failing)
    rationalized = json.loads(cli("samples", "--rationalized", "--limit", "1000", "--json", env=env).stdout)
    assert all(r["rationalized"] and r["source"] == "rationalize" for r in rationalized)
    # the hint is in the prompt the model saw, never in what was trained on
    assert all("(the answer is" in r["prompt"] for r in rationalized)


def test_samples_rejects_an_unknown_outcome(finished_run):
    _, env, _ = finished_run
    result = cli("samples", "--outcome", "maybe", env=env)
    assert result.returncode == 2 and "maybe" in result.stderr
