"""The R1 pipeline as one recipe through `selftaught run`: a method per round, rollouts in the
store, each round from the previous checkpoint, and a resumed finished run re-runs nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.records import SampleSource
from selftaught.store import Store
from tests.conftest import tiny_recipe_text
from tests.helpers import cli_env, run_cli

PIPELINE = tiny_recipe_text(
    name="tiny-r1",
    method="rft",
    rounds="3",
    stages="[grpo, rft, dpo]",
    grpo="{lr: 1.0e-4, steps: 2, prompts_per_step: 2, num_generations: 2, max_completion_length: 16}",
    dpo="{steps: 2, batch_size: 4}",
    curriculum="{low: 0.0, high: 0.99}",
)


def _sources(url: str, run_id: str) -> list[tuple]:
    with sa.create_engine(url).connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT r.\"index\", s.source, count(*), count(DISTINCT s.step) FROM samples s "
                "JOIN rounds r ON r.id = s.round_id WHERE r.run_id = :run GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            {"run": run_id},
        ).all()


@pytest.mark.slow
def test_r1_pipeline_recipe_runs_and_resumes_without_rerunning(tmp_path, prefect_server):
    recipe = tmp_path / "r1.yaml"
    recipe.write_text(PIPELINE)
    env = cli_env(tmp_path, prefect_server)
    url = env["SELFTAUGHT_DB_URL"]
    run_cli(["run", str(recipe), "--run-id", "r1"], env, tmp_path / "cli.log")

    store = Store(url, upgrade=False, home=env["SELFTAUGHT_HOME"])
    rows = _sources(url, "r1")
    by = {(i, src): (n, steps) for i, src, n, steps in rows}
    assert by[(1, SampleSource.ROLLOUT.value)] == (2 * 4, 2)  # 2 steps x (2 prompts x 2), steps 0 and 1
    assert (1, SampleSource.GENERATE.value) not in by  # GRPO generates inside the trainer
    assert (2, SampleSource.GENERATE.value) in by and (3, SampleSource.GENERATE.value) in by
    judged = store.get_judged("r1", 1, SampleSource.ROLLOUT)
    assert len(judged) == 8 and judged[0].verdict.judge == "1*arithmetic+0.2*format"

    chain = store.checkpoint_chain("r1/r3")
    assert [c.id for c in chain] == ["r1/r3", "r1/r2", "r1/r1", "r1/r0"]
    methods = [verify_checkpoint(c.path)["meta"].get("method") for c in chain[:3]]
    assert methods == ["dpo", "rft", "grpo"]
    for index in range(4):
        assert all(v == "done" for v in store.stage_status("r1", index).values())
    stamps = store.round_table("r1")

    run_cli(["run", str(recipe), "--resume", "r1"], env, tmp_path / "cli2.log")
    assert _sources(url, "r1") == rows
    assert Store(url, upgrade=False).round_table("r1") == stamps  # nothing ran again
