"""Four writer processes on one SQLite file: every transaction succeeds (BEGIN IMMEDIATE)."""

from __future__ import annotations

import multiprocessing

from selftaught.records import (
    Judged,
    Outcome,
    Problem,
    Sample,
    SampleSource,
    SamplingParams,
    Stage,
    Verdict,
)
from selftaught.store import Store

WRITERS = 4
TRANSACTIONS = 25  # per writer, each a handful of statements
PROBLEMS = [Problem(id=f"p{i}", prompt=f"{i}+{i}=?", answer=str(2 * i)) for i in range(5)]


def _writer(url: str, worker: int, barrier) -> None:
    barrier.wait()  # all four open the fresh file (and race to migrate it) at once
    store = Store(url)
    store.create_run("run", name="concurrent", recipe={})
    store.add_problems(PROBLEMS)
    for t in range(TRANSACTIONS):
        index = t % 3
        samples = [
            Sample(problem_id=p.id, index=worker * 1000 + t, prompt=p.prompt, completion="x",
                   source=SampleSource.GENERATE, seed=t, params=SamplingParams())
            for p in PROBLEMS
        ]  # fmt: skip
        store.add_samples("run", index, samples)
        store.add_samples("run", index, samples)  # a retry
        store.add_verdicts(
            "run", index, [Judged(s, Verdict("math", Outcome.PASS, 1.0)) for s in samples]
        )
        store.start_stage("run", index, Stage.GENERATE)
        store.finish_stage("run", index, Stage.GENERATE, seconds=0.1, metrics={"w": worker})
        store.query_samples(run_id="run", limit=5)  # a reader in between
    store.close()


def test_four_writer_processes_all_succeed(sqlite_url: str):
    # forkserver: children start clean (no inherited engines or threads, unlike fork) and,
    # unlike spawn, share one import of SQLAlchemy/Alembic (spawn cost ~10 s on a busy box)
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["selftaught.store", "alembic.command", __name__])
    barrier = ctx.Barrier(WRITERS)
    procs = [ctx.Process(target=_writer, args=(sqlite_url, w, barrier)) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * WRITERS

    store = Store(sqlite_url)
    expected = WRITERS * TRANSACTIONS * len(PROBLEMS)
    rows = store.query_samples(run_id="run", outcome=Outcome.PASS, limit=None)
    assert len(rows) == expected
    assert sum(len(store.get_samples("run", i)) for i in range(3)) == expected
    assert store.stage_status("run", 0) == {Stage.GENERATE: "done"}
    store.close()
