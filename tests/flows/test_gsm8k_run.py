"""The user's own data, end to end: GSM8K-format rows imported with one command, then a
round trained and evaluated on them with the math judge (the embedded tiny model, so it runs
in seconds; the instruct path is tests/flows/test_smollm2_rounds.py)."""

from __future__ import annotations

import json

import pytest

from selftaught.records import SampleSource
from selftaught.store import Store
from tests.helpers import cli_env, run_cli
from tests.history.test_import_gsm8k import GSM8K_ROWS


@pytest.mark.slow
def test_imported_gsm8k_rows_train_and_evaluate_with_the_math_judge(tmp_path, prefect_server):
    rows = tmp_path / "gsm8k.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in GSM8K_ROWS))
    env = cli_env(tmp_path, prefect_server)
    run_cli(["import", str(rows), "--preset", "gsm8k", "--heldout", "2", "--out", str(tmp_path / "data")], env,
            tmp_path / "import.log")  # fmt: skip
    recipe = tmp_path / "gsm8k.yaml"
    recipe.write_text(
        "name: gsm8k-tiny\nmethod: rft\nrounds: 1\njudge: math\n"
        f"task: {{kind: file, train: {tmp_path}/data/train.jsonl, heldout: {tmp_path}/data/heldout.jsonl}}\n"
        "policy: {init: tiny, size: micro, cold_start_steps: 4, cold_start_batch_size: 3}\n"
        "generate: {k: 2, max_new_tokens: 16}\ntrain: {steps: 2, batch_size: 2, max_length: 256}\nevaluate: {k: 1}\n"
    )
    run_cli(["run", str(recipe), "--run-id", "gsm"], env, tmp_path / "run.log")

    store = Store(env["SELFTAUGHT_DB_URL"])
    problems = {p.id: p for p in store.get_problems()}
    assert {p.meta["name"] for p in problems.values()} == {f"gsm8k-{i}" for i in (1, 2, 3, 5, 6)}
    judged = store.get_judged("gsm", 1, SampleSource.GENERATE)
    assert len(judged) == 3 * 2 and {j.verdict.judge for j in judged} == {"math"}
    gold = {problems[j.sample.problem_id].answer for j in judged}
    assert gold <= {"72", "10", "14400", "624", "48"}  # "#### 14,400" arrives as 14400
    assert sorted(dict(store.get_evaluations("gsm"))) == [0, 1]
