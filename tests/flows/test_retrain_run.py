"""The issue's scenario end to end, with the tiny model and the CLI as a user runs it.

A 2-round RFT run; round 1's ``model.safetensors`` zeroed in place (same size) and round 2
left unfinished, as a run killed in round 2 would be. Then, each a real subprocess:
``run --resume`` refuses in one line (exit 1) before any stage runs; ``checkpoint verify``
names the file (exit 1); ``eval --checkpoint`` refuses it (exit 1); ``run --resume
--retrain-from 1`` rebuilds rounds 1 and 2 from round 0 -- with the same seeds, so the
rebuilt run reaches exactly the numbers of the run before the damage -- and the superseded
rounds stay readable under ``RUN~superseded-1``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from selftaught.loops.checkpoint import forget_verified, verify_checkpoint
from selftaught.records import Stage
from selftaught.store import Store
from tests.conftest import tiny_recipe_text
from tests.damage import zero_tensor_bytes
from tests.helpers import cli_env, run_cli

BIN = Path(sys.executable).parent / "selftaught"


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=600)


def _heldout(store: Store, run: str) -> list[tuple]:
    return [(r.index, r.heldout_greedy, r.heldout_pass_at_1) for r in store.round_table(run)]


@pytest.mark.slow  # a real 2-round run, 5 CLI processes, both rounds rebuilt: 27 s idle, ~80 s on a loaded 2-core box
def test_a_damaged_round_is_refused_everywhere_then_rebuilt_from_the_last_good_one(tmp_path, prefect_server):
    from prefect.settings import PREFECT_API_URL, PREFECT_LOGGING_TO_API_ENABLED, temporary_settings

    from selftaught.flows.context import local_run_settings
    from selftaught.flows.rounds import run_flow
    from selftaught.recipe import load_recipe

    recipe_file = tmp_path / "recipe.yaml"
    recipe_file.write_text(tiny_recipe_text(
        name="damaged", method="rft",
        task="{n_train: 16, prompts_per_round: 6, n_heldout: 4, n_cold_start: 16}",
        policy="{cold_start_steps: 6, cold_start_batch_size: 8}",
        generate="{k: 2, max_new_tokens: 24, batch_size: 16}", train="{steps: 2, batch_size: 4}",
        evaluate="{k: 1}",
    ))  # fmt: skip
    env = cli_env(tmp_path, prefect_server)
    url, home = env["SELFTAUGHT_DB_URL"], Path(env["SELFTAUGHT_HOME"])
    settings = {PREFECT_API_URL: prefect_server, PREFECT_LOGGING_TO_API_ENABLED: False}
    with temporary_settings(updates=settings), local_run_settings():
        run_flow("d", load_recipe(recipe_file).model_dump(mode="json"), url, str(home), threads=1)
    store = Store(url, upgrade=False, home=home)
    before = _heldout(store, "d")
    shas = {c.id: c.sha256 for c in store.list_checkpoints("d")}

    round1 = home / "runs" / "d" / "round-001"
    zero_tensor_bytes(round1)
    forget_verified()
    with sa.create_engine(url).begin() as conn:  # round 2 interrupted: none of its stages done
        conn.execute(sa.text("DELETE FROM stages WHERE round_id = (SELECT id FROM rounds WHERE run_id = 'd' "
                             "AND \"index\" = 2)"))  # fmt: skip

    refused = _cli(["run", str(recipe_file), "--resume", "d"], env)
    assert refused.returncode == 1, refused.stderr  # a runtime error (issue 17)
    assert "Traceback" not in refused.stderr and "SafetensorError" not in refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert f"{round1}: model.safetensors is damaged (sha256 mismatch; expected" in line
    assert "round 2 of run d needs it" in line and "--resume d --retrain-from 1" in line
    assert store.stage_status("d", 2) == {}  # refused before any stage ran

    verify = _cli(["checkpoint", "verify", "d", "--json"], env)
    assert verify.returncode == 1, verify.stderr
    rows = {r["id"]: r for r in json.loads(verify.stdout)}
    assert [rows[f"d/r{i}"]["status"] for i in range(3)] == ["ok", "damaged", "ok"]
    assert rows["d/r1"]["file"] == "model.safetensors" and rows["d/r1"]["why"].startswith("is damaged (sha256 mismatch")

    problems = tmp_path / "p.jsonl"
    problems.write_text('{"id": "a", "prompt": "Q: 1+1=? A:", "answer": "2"}\n')
    evaluated = _cli(["eval", "--checkpoint", str(round1), "--problems", str(problems)], env)
    assert evaluated.returncode == 1 and "Traceback" not in evaluated.stderr, evaluated.stderr
    assert "model.safetensors is damaged (sha256 mismatch" in evaluated.stderr and evaluated.stdout == ""

    log = tmp_path / "retrain.log"
    run_cli(["run", str(recipe_file), "--resume", "d", "--retrain-from", "1"], env, log)
    assert "rounds 1, 2 of d moved to run d~superseded-1" in log.read_text()
    assert store.get_run("d").status == "done"
    assert all(set(store.stage_status("d", i).values()) == {"done"} and len(store.stage_status("d", i)) == len(Stage)
               for i in range(3))  # fmt: skip
    chain = store.checkpoint_chain("d/r2")
    assert [c.id for c in chain] == ["d/r2", "d/r1", "d/r0"]
    for ckpt in chain:
        assert verify_checkpoint(ckpt.path)["sha256"] == ckpt.sha256
    # same parent, same seeds: the rebuilt rounds are the rounds the damage destroyed
    assert store.get_checkpoint("d/r1").sha256 == shas["d/r1"]
    assert _heldout(store, "d") == before
    assert [r.index for r in store.round_table("d~superseded-1")] == [1, 2]
    assert _cli(["checkpoint", "verify", "d"], env).returncode == 0
    store.close()
