"""Query latency of the sample history on a large store, indexed vs a full scan.

    python benchmarks/query_latency.py                    # 1,000,000 samples in a temp SQLite file
    python benchmarks/query_latency.py --samples 100000   # a quick look
    python benchmarks/query_latency.py --db sqlite:///big.db --keep   # reuse the filled file

What it does. Fills one run of ``--rounds`` rounds, ``--k`` samples per problem per round
(a STaR-like mix: ~3% rationalized samples, one verdict per sample from the ``arithmetic``
judge, pass rate rising per round, a second ``format`` judge on every 10th sample) through
the store's own bulk path (``Store.add_samples`` / ``add_verdicts``), then times the
queries ``selftaught samples``, ``problem``, ``rounds`` and ``report`` run, each
``--repeat`` times with fresh random parameters (a random round, problem, checkpoint),
and prints p50/p95 in milliseconds.

The baseline is the *same SQL* executed with ``samples NOT INDEXED`` (SQLite: no index of
the 1M-row table may be used, so every filter on it is a full scan; joins to rounds,
problems and verdicts keep their keys). On PostgreSQL (``--db postgresql+psycopg://...``)
the baseline turns index and bitmap scans off for the session instead. The ratio column is
baseline p95 / indexed p95.

Completion substring search (``--text``) is timed for a rare, a common and a 2-character
pattern; on SQLite its index is the FTS5 trigram table of migration 0005. The baseline
builds every query as before 0005 (no FTS5 condition: ``NOT INDEXED`` cannot switch a rowid
lookup off; score order sorted, not read off the verdict indexes).
Statement building is inside the timing (the text search probes the index there).
Store-level aggregates (``round_table``, ``problem_history``) are timed through the Store
API only (several statements each). ``round_table`` reads each round's cached counts (the
fill finishes a stage per round, as a real run does); the "counted live" row is the same
counting done for every round, as for a store written before 0005, and the two are
checked to be equal.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import event, select, text

from selftaught.records import Judged, Outcome, Problem, Sample, SampleSource, SamplingParams, Stage, Verdict
from selftaught.store import ProblemPassRate, ScoreHistogram, Store
from selftaught.store.db import make_engine
from selftaught.store.models import Round
from selftaught.store.summaries import round_counts, round_report

RUN = "bench"


def fill(store: Store, n_samples: int, rounds: int, k: int, seed: int) -> float:
    """Fill the store; returns seconds. Problems = n_samples / (rounds * k)."""
    rng = random.Random(seed)
    n_problems = max(1, n_samples // (rounds * k))
    problems = [Problem(id=f"p{i:06d}", prompt=f"Q: {i % 97}+{i % 89}=? A:", answer=str(i % 97 + i % 89))
                for i in range(n_problems)]  # fmt: skip
    clock = time.perf_counter()
    store.create_run(RUN, name="query latency", recipe={"rounds": rounds})
    store.add_problems(problems)
    params = SamplingParams(temperature=1.0, max_new_tokens=40)
    done = 0
    for r in range(rounds):
        p_pass = 0.2 + 0.6 * r / max(1, rounds - 1)
        ckpt = f"{RUN}/r{r}"
        samples: list[Sample] = []
        judged: list[Judged] = []
        for p in problems:
            for i in range(k):
                rationalized = i == k - 1 and rng.random() < 0.3
                s = Sample(
                    problem_id=p.id, index=i, prompt=p.prompt,
                    completion=f"<think>{p.prompt[3:8]} {rng.randrange(1000)}</think> {rng.randrange(200)}",
                    source=SampleSource.RATIONALIZE if rationalized else SampleSource.GENERATE,
                    seed=r * 1000 + i, params=params, checkpoint_id=ckpt, n_tokens=20,
                )  # fmt: skip
                samples.append(s)
                ok = rng.random() < p_pass
                judged.append(Judged(s, Verdict("arithmetic", Outcome.PASS if ok else Outcome.FAIL,
                                                1.0 if ok else rng.random() * 0.5)))  # fmt: skip
                if (len(samples) % 10) == 0:
                    judged.append(Judged(s, Verdict("format", Outcome.PASS, 1.0)))
                if done + len(samples) >= n_samples:
                    break
            if done + len(samples) >= n_samples:
                break
        store.add_samples(RUN, r, samples)
        store.add_verdicts(RUN, r, judged)
        store.finish_stage(RUN, r, Stage.JUDGE, seconds=1.0, metrics={})  # caches the round's counts
        done += len(samples)
        print(f"  round {r}: {done:,} samples ({time.perf_counter() - clock:.0f} s)", file=sys.stderr)
        if done >= n_samples:
            break
    return time.perf_counter() - clock


def _not_indexed_hook(engine) -> None:
    """Rewrite ``FROM samples`` to ``FROM samples NOT INDEXED`` when the connection asks."""

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _rewrite(conn, cursor, statement, parameters, context, executemany):
        if conn.get_execution_options().get("full_scan") and conn.dialect.name == "sqlite":
            statement = statement.replace("FROM samples ", "FROM samples NOT INDEXED ", 1)
        return statement, parameters


def _percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return statistics.median(ordered), p95


def time_statement(engine, make_stmt, repeat: int, *, full_scan: bool) -> tuple[float, float, int]:
    times, rows = [], 0
    with engine.connect() as conn:
        conn = conn.execution_options(full_scan=full_scan)
        if full_scan and conn.dialect.name == "postgresql":
            for knob in ("enable_indexscan", "enable_bitmapscan", "enable_indexonlyscan"):
                conn.execute(text(f"SET {knob} = off"))
        for i in range(repeat + 2):
            clock = time.perf_counter()
            got = conn.execute(make_stmt(full_scan)).all()
            elapsed = time.perf_counter() - clock
            if i >= 2:  # two warm-up runs
                times.append(elapsed)
                rows = len(got)
        conn.rollback()
    p50, p95 = _percentiles(times)
    return p50 * 1000, p95 * 1000, rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--baseline-repeat", type=int, default=5, help="full scans are slow: fewer repeats")
    ap.add_argument("--db", help="store URL [default: a new SQLite file in a temp folder]")
    ap.add_argument("--keep", action="store_true", help="reuse a store that already holds the run")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    tmp = tempfile.TemporaryDirectory(prefix="selftaught-bench-")
    url = args.db or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    store = Store(url)
    if args.keep and store.get_run(RUN) is not None:
        print(f"reusing {url}", file=sys.stderr)
    else:
        print(f"filling {url} with {args.samples:,} samples ...", file=sys.stderr)
        seconds = fill(store, args.samples, args.rounds, args.k, args.seed)
        print(f"filled in {seconds:.0f} s ({args.samples / seconds:,.0f} samples/s incl. verdicts)")
    engine = make_engine(url)
    _not_indexed_hook(engine)
    # no ANALYZE: the store never runs it, so this is the plan a user gets

    rounds = [r.index for r in store.round_table(RUN)]
    n_problems = len(store.get_problems())
    rng = random.Random(args.seed + 1)

    def rnd_round() -> int:
        return rng.choice(rounds)

    def rnd_problem() -> str:
        return f"p{rng.randrange(n_problems):06d}"

    def q(full_scan: bool = False, **filters):
        if full_scan:  # the baseline: the query built as before 0005 (no text or verdict index)
            store.__dict__.update(_fts=False, _score_pages=False)
        try:
            return store.sample_query_statement(**filters)
        finally:
            store.__dict__.pop("_fts", None)
            store.__dict__.pop("_score_pages", None)

    queries = [
        ("run page (run, limit 50)", lambda f: q(f, run_id=RUN)),
        ("run failures, newest first", lambda f: q(f, run_id=RUN, outcome="fail", order_by="-id")),
        ("round page (run, round, limit 50)", lambda f: q(f, run_id=RUN, round_index=rnd_round())),
        ("round failures (+ outcome=fail)", lambda f: q(f, run_id=RUN, round_index=rnd_round(), outcome="fail")),
        ("problem across rounds (all rows)", lambda f: q(f, problem=rnd_problem(), limit=None)),
        ("problem in run, by round", lambda f: q(f, run_id=RUN, problem=rnd_problem(), order_by="round", limit=None)),
        ("checkpoint (limit 50)", lambda f: q(f, checkpoint_id=f"{RUN}/r{rnd_round()}")),
        ("rationalized in round", lambda f: q(f, run_id=RUN, round_index=rnd_round(), rationalized=True)),
        ("judge=format, newest first", lambda f: q(f, run_id=RUN, judge="format", order_by="-id")),
        ("round, score 0.2-0.4, best first", lambda f: q(f, run_id=RUN, round_index=rnd_round(), min_score=0.2,
                                                       max_score=0.4, order_by="-score")),
        ("round, best first (no score filter)", lambda f: q(f, run_id=RUN, round_index=rnd_round(), order_by="-score")),
        ("run, score 0.2-0.4, best first", lambda f: q(f, run_id=RUN, min_score=0.2, max_score=0.4, order_by="-score")),
        ("problem prompt contains (problems only)", lambda f: q(f, problem_text=f"{rng.randrange(97)}+", limit=50)),
        ("completion contains, rare (none match)", lambda f: q(f, run_id=RUN, text=f"zz{rng.randrange(9)}")),
        ("completion contains, ~0.1% of samples", lambda f: q(f, run_id=RUN, text=f" {rng.randrange(100, 1000)}</t")),
        ("completion contains, common", lambda f: q(f, run_id=RUN, text=f"<think>{rng.randrange(10)}")),
        ("completion contains, 2 chars (scans)", lambda f: q(f, run_id=RUN, text=f"z{rng.randrange(9)}")),
    ]
    print(f"\n{store.url.split('://')[0]}: {sum(r.n_samples for r in store.round_table(RUN)):,} samples, "
          f"{n_problems:,} problems, {len(rounds)} rounds; ms, {args.repeat} runs (baseline {args.baseline_repeat})")
    header = f"{'query':42} {'rows':>5} {'p50':>8} {'p95':>8} | {'scan p50':>9} {'scan p95':>9} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for name, make in queries:
        p50, p95, rows = time_statement(engine, make, args.repeat, full_scan=False)
        b50, b95, _ = time_statement(engine, make, args.baseline_repeat, full_scan=True)
        mark = " " if p95 < 100 else "!"
        print(f"{name:42} {rows:>5} {p50:>8.1f} {p95:>7.1f}{mark} | {b50:>9.1f} {b95:>9.1f} {b95 / p95:>6.1f}x")

    def round_counts_all() -> dict:  # what round_table adds for rounds without a cache
        with store._read() as conn:
            ids = conn.execute(select(Round.id).where(Round.run_id == RUN)).scalars().all()
            return round_counts(conn, ids)

    cached_table = store.round_table(RUN)
    live = [c for _, c in sorted(round_counts_all().items())]  # round ids grow with the index
    for c, row in zip(live, cached_table, strict=True):
        cells = row.as_dict()
        assert {k: cells[k] for k in c if k in cells} == {k: c[k] for k in c if k in cells}, (c, row)
        assert row.pass_rate == (c["n_pass"] / c["n_judged"] if c["n_judged"] else None)
    print(f"round_table: cached counts of {len(cached_table)} rounds equal the live counts")
    with store._read() as conn:
        ids = conn.execute(select(Round.id).where(Round.run_id == RUN).order_by(Round.index)).scalars().all()
        live_report = round_report(conn, ids, pg=store._pg)
    assert store.problem_pass_rates(RUN) == [
        ProblemPassRate(round=i, problem_id=pid, n_judged=n, n_pass=k)
        for i, rid in enumerate(ids) for pid, n, k in live_report[rid]["problems"]]  # fmt: skip
    assert store.score_histogram(RUN, bins=10, source="generate") == [
        ScoreHistogram(round=i, judge=j, counts=tuple(c)) for i, rid in enumerate(ids) for j, c in live_report[rid]["hist"]]
    print("report: cached pass rates and histograms equal the live ones")

    for name, call in (
        ("round_table (selftaught rounds RUN)", lambda: store.round_table(RUN)),
        ("round_table counts, live (no cache)", round_counts_all),
        ("problem_history (selftaught problem ID)", lambda: store.problem_history(rnd_problem())),
        ("problem_pass_rates (report, cached)", lambda: store.problem_pass_rates(RUN)),
        ("score_histogram (report, cached)", lambda: store.score_histogram(RUN, bins=10, source="generate")),
        ("score_histogram, all sources (live)", lambda: store.score_histogram(RUN)),
    ):
        reps = 5 if "live" in name else args.repeat
        times = []
        for i in range(reps + 1):
            clock = time.perf_counter()
            call()
            if i:
                times.append(time.perf_counter() - clock)
        p50, p95 = _percentiles(times)
        print(f"{name:42} {'':>5} {p50 * 1000:>8.1f} {p95 * 1000:>8.1f} | (Store API, {reps} runs)")
    engine.dispose()
    store.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
