"""Two runs writing at once to one store (a team's PostgreSQL database, or one SQLite file):
both finish, with every sample stored exactly once and no lock errors.

Two processes each play a whole run through the Store (what the flows do per stage):
problems (the same set, added by both at once), then per round samples (written twice,
as a Prefect retry would), verdicts, a training set, a checkpoint chained to the previous
one, an evaluation and the stage marks, with history reads in between.
"""

from __future__ import annotations

import multiprocessing

import pytest

from selftaught.records import (
    Checkpoint, Evaluation, Judged, Outcome, Problem, Sample, SampleSource, SamplingParams, Split,
    Stage, TrainingExample, TrainingSet, Verdict,
)  # fmt: skip
from selftaught.store import Store
from tests.store.factories import BACKENDS, fresh_url

RUNS = ("team-a", "team-b")
ROUNDS = 4
K = 4
PROBLEMS = [Problem(id=f"shared-{i}", prompt=f"{i}+{i}=?", answer=str(2 * i)) for i in range(40)]


def _play_run(url: str, run_id: str, barrier) -> None:
    barrier.wait()  # both start together, on a fresh database (they race to migrate it too)
    store = Store(url)
    store.create_run(run_id, name=run_id, recipe={"rounds": ROUNDS})
    store.add_problems(PROBLEMS)
    params = SamplingParams()
    parent = None
    for r in range(ROUNDS):
        samples = [Sample(p.id, k, p.prompt, f"{run_id} r{r} k{k}", SampleSource.GENERATE, seed=k, params=params,
                          checkpoint_id=parent) for p in PROBLEMS for k in range(K)]  # fmt: skip
        store.start_stage(run_id, r, Stage.GENERATE)
        store.add_samples(run_id, r, samples)
        store.add_samples(run_id, r, samples)  # a retried stage writes the same rows again
        store.finish_stage(run_id, r, Stage.GENERATE, seconds=0.1, metrics={})
        judged = [Judged(s, Verdict("arithmetic", Outcome.PASS if s.index % 2 else Outcome.FAIL, float(s.index % 2)))
                  for s in samples]  # fmt: skip
        store.add_verdicts(run_id, r, judged)
        store.add_verdicts(run_id, r, judged)
        store.add_training_set(run_id, r, TrainingSet("rft", tuple(
            TrainingExample(j.sample.prompt, j.sample.completion, j.sample.problem_id, j.sample.key)
            for j in judged if j.verdict.passed)))  # fmt: skip
        ckpt = Checkpoint(f"{run_id}/r{r}", f"/ckpt/{run_id}/{r}", sha256=f"{r:064x}", parent_id=parent, round_index=r)
        store.add_checkpoint(run_id, ckpt)
        store.add_evaluation(run_id, r, Evaluation(ckpt.id, Split.HELDOUT, 10, 2, 0.1 * r, 0.1 * r, 0.2, 0.1))
        for stage in Stage:
            store.finish_stage(run_id, r, stage, seconds=0.1, metrics={})
        store.query_samples(run_id=run_id, outcome="pass", limit=5)  # a reader in between
        store.round_table(run_id)
        parent = ckpt.id
    store.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_runs_at_once_store_every_sample_once(backend, tmp_path):
    with fresh_url(backend, tmp_path) as url:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["selftaught.store", "alembic.command", __name__])
        barrier = ctx.Barrier(len(RUNS))
        procs = [ctx.Process(target=_play_run, args=(url, run, barrier)) for run in RUNS]
        for p in procs:
            p.start()
        for p in procs:
            p.join(180)
        assert [p.exitcode for p in procs] == [0] * len(RUNS)  # no "database is locked", no deadlock

        with Store(url) as store:
            assert len(store.get_problems()) == len(PROBLEMS)
            for run in RUNS:
                rows = store.query_samples(run_id=run, limit=None)
                assert len(rows) == ROUNDS * len(PROBLEMS) * K  # one verdict each, nothing twice
                keys = {(r.round, r.problem_id, r.index) for r in rows}
                assert len(keys) == len(rows)
                assert all(r.completion.startswith(run) for r in rows)  # no cross-run rows
                table = store.round_table(run)
                assert [len(t.stages_done) for t in table] == [len(Stage)] * ROUNDS
                assert all(t.n_train == len(PROBLEMS) * K // 2 for t in table)
                chain = store.checkpoint_chain(f"{run}/r{ROUNDS - 1}")
                assert [c.id for c in chain] == [f"{run}/r{r}" for r in reversed(range(ROUNDS))]
