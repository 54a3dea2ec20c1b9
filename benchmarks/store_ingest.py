"""Store ingest speed: ``Store.add_samples`` + ``add_verdicts`` vs raw ``sqlite3`` executemany.

Both sides start from the same records (N samples, K=8 per problem, one verdict each) and
end with the same rows on disk: the same columns, unique keys and indexes, WAL with
``synchronous=NORMAL``, one transaction for the samples and one for the verdicts, and the
verdicts' sample ids looked up by natural key. The raw side is the ceiling; the store adds
SQLAlchemy Core, enum/JSON/timestamp processing and natural-key resolution.

``--raw-schema`` picks the raw side's schema: ``store`` (default) is the store's schema at
head (``samples.run_id`` and its index, the verdicts' copied ``round_id``/``run_id`` and
their score indexes, no outcome/judge indexes, the FTS5 trigram table of completions filled
by one ``INSERT ... SELECT``, all as of migration 0005), so the ratio is the store's own
overhead; ``0001`` is the schema this benchmark was first written against (no FTS5, no
copied columns, the outcome/judge indexes that 0003 dropped), kept to compare with old
figures.

    python benchmarks/store_ingest.py            # N = 100,000
    python benchmarks/store_ingest.py -n 20000 --repeat 1 --url postgresql+psycopg://...

Target: store / raw >= 0.5 on SQLite.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from selftaught.records import (
    Judged,
    Outcome,
    Problem,
    Sample,
    SampleSource,
    SamplingParams,
    Verdict,
)
from selftaught.store import Store

RAW_SCHEMA_0001 = """
CREATE TABLE problems (id INTEGER PRIMARY KEY, problem_id VARCHAR UNIQUE NOT NULL);
CREATE TABLE samples (
    id INTEGER PRIMARY KEY, round_id INTEGER NOT NULL, problem_pk INTEGER NOT NULL,
    source VARCHAR(32) NOT NULL, "index" INTEGER NOT NULL, prompt TEXT NOT NULL,
    completion TEXT NOT NULL, checkpoint_id VARCHAR, seed INTEGER NOT NULL, params JSON NOT NULL,
    n_tokens INTEGER NOT NULL, step INTEGER, rationalized BOOLEAN NOT NULL,
    created_at DATETIME NOT NULL, UNIQUE (round_id, source, problem_pk, "index"));
CREATE INDEX ix_samples_round_id ON samples (round_id);
CREATE INDEX ix_samples_problem_pk ON samples (problem_pk);
CREATE INDEX ix_samples_checkpoint_id ON samples (checkpoint_id);
CREATE TABLE verdicts (
    id INTEGER PRIMARY KEY, sample_id INTEGER NOT NULL, judge VARCHAR NOT NULL,
    judge_version VARCHAR NOT NULL, outcome VARCHAR(32) NOT NULL, score FLOAT NOT NULL,
    detail TEXT NOT NULL, created_at DATETIME NOT NULL,
    UNIQUE (sample_id, judge, judge_version));
CREATE INDEX ix_verdicts_outcome ON verdicts (outcome);
CREATE INDEX ix_verdicts_judge ON verdicts (judge);
"""


RAW_SCHEMA_STORE = """
CREATE TABLE problems (id INTEGER PRIMARY KEY, problem_id VARCHAR UNIQUE NOT NULL);
CREATE TABLE samples (
    id INTEGER PRIMARY KEY, round_id INTEGER NOT NULL, run_id VARCHAR NOT NULL,
    problem_pk INTEGER NOT NULL, source VARCHAR(32) NOT NULL, "index" INTEGER NOT NULL,
    prompt TEXT NOT NULL, completion TEXT NOT NULL, checkpoint_id VARCHAR, seed INTEGER NOT NULL,
    params JSON NOT NULL, n_tokens INTEGER NOT NULL, step INTEGER, rationalized BOOLEAN NOT NULL,
    created_at DATETIME NOT NULL, UNIQUE (round_id, source, problem_pk, "index"));
CREATE INDEX ix_samples_round_id ON samples (round_id);
CREATE INDEX ix_samples_problem_pk ON samples (problem_pk);
CREATE INDEX ix_samples_checkpoint_id ON samples (checkpoint_id);
CREATE INDEX ix_samples_run_id ON samples (run_id);
CREATE VIRTUAL TABLE samples_fts USING fts5(completion, content='samples', content_rowid='id',
    tokenize='trigram', columnsize=0);
CREATE TABLE verdicts (
    id INTEGER PRIMARY KEY, sample_id INTEGER NOT NULL, round_id INTEGER NOT NULL,
    run_id VARCHAR NOT NULL, judge VARCHAR NOT NULL, judge_version VARCHAR NOT NULL,
    outcome VARCHAR(32) NOT NULL, score FLOAT NOT NULL, detail TEXT NOT NULL,
    created_at DATETIME NOT NULL, UNIQUE (sample_id, judge, judge_version));
CREATE INDEX ix_verdicts_round_id_score ON verdicts (round_id, score, sample_id);
CREATE INDEX ix_verdicts_run_id_score ON verdicts (run_id, score, sample_id);
"""


def make_records(n: int, k: int = 8) -> tuple[list[Problem], list[Judged]]:
    problems = [Problem(id=f"p{i:06d}", prompt=f"{i}+{i}=?", answer=str(2 * i))
                for i in range((n + k - 1) // k)]  # fmt: skip
    params = SamplingParams(temperature=0.8, max_new_tokens=48)
    judged = []
    for j in range(n):
        p = problems[j // k]
        s = Sample(problem_id=p.id, index=j % k, prompt=f"Q: {p.prompt} A:",
                   completion=f" <think>{j % 10}+{j % 7}={j % 10 + j % 7}</think> {j % 17}",
                   source=SampleSource.GENERATE, seed=j, params=params,
                   checkpoint_id="ckpt-3", n_tokens=24)  # fmt: skip
        ok = j % 3 == 0
        judged.append(Judged(s, Verdict("math", Outcome.PASS if ok else Outcome.FAIL,
                                        1.0 if ok else 0.0, "" if ok else "expected 4")))
    return problems, judged


def bench_store(url: str, problems: list[Problem], judged: list[Judged]) -> tuple[float, float]:
    store = Store(url)
    store.create_run("bench", name="bench", recipe={})
    store.add_problems(problems)
    samples = [j.sample for j in judged]
    t0 = time.perf_counter()
    assert store.add_samples("bench", 0, samples) == len(samples)
    t1 = time.perf_counter()
    assert store.add_verdicts("bench", 0, judged) == len(judged)
    t2 = time.perf_counter()
    store.close()
    return t1 - t0, t2 - t1


def bench_raw(
    path: Path, problems: list[Problem], judged: list[Judged], schema: str = "store"
) -> tuple[float, float]:
    like_store = schema == "store"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(RAW_SCHEMA_STORE if like_store else RAW_SCHEMA_0001)
    conn.executemany("INSERT INTO problems (problem_id) VALUES (?)", [(p.id,) for p in problems])
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    pks = dict(conn.execute("SELECT problem_id, id FROM problems"))
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    params_json: dict[SamplingParams, str] = {}  # serialized once per distinct params
    rows = []
    for s in (j.sample for j in judged):
        p = params_json.get(s.params)
        if p is None:
            p = params_json[s.params] = json.dumps(dataclasses.asdict(s.params))
        rows.append((0, pks[s.problem_id], s.source.value, s.index, s.prompt, s.completion,
                     s.checkpoint_id, s.seed, p, s.n_tokens, s.step,
                     s.source is SampleSource.RATIONALIZE, now))  # fmt: skip
    if like_store:
        rows = [(*r, "bench") for r in rows]
        last = conn.execute("SELECT max(id) FROM samples").fetchone()[0] or 0
    conn.executemany(
        'INSERT INTO samples (round_id, problem_pk, source, "index", prompt, completion, '
        "checkpoint_id, seed, params, n_tokens, step, rationalized, created_at"
        + (", run_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)" if like_store else ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
        + " ON CONFLICT DO NOTHING",
        rows,
    )
    if like_store:
        conn.execute("INSERT INTO samples_fts(rowid, completion) SELECT id, completion FROM samples "
                     "WHERE id > ?", (last,))  # fmt: skip
    conn.execute("COMMIT")
    t1 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    pks = dict(conn.execute("SELECT problem_id, id FROM problems"))
    ids = {
        (src, ppk, idx): sid
        for src, ppk, idx, sid in conn.execute(
            'SELECT source, problem_pk, "index", id FROM samples WHERE round_id = 0'
        )
    }
    vrows = [
        (ids[(j.sample.source.value, pks[j.sample.problem_id], j.sample.index)],
         j.verdict.judge, j.verdict.judge_version, j.verdict.outcome.value, j.verdict.score,
         j.verdict.detail[:2000], now)
        for j in judged
    ]  # fmt: skip
    if like_store:
        vrows = [(v[0], 0, "bench", *v[1:]) for v in vrows]
    conn.executemany(
        "INSERT INTO verdicts (sample_id, "
        + ("round_id, run_id, " if like_store else "")
        + "judge, judge_version, outcome, score, detail, created_at) VALUES (?,?,?,?,?,?,?"
        + (",?,?)" if like_store else ")")
        + " ON CONFLICT DO NOTHING",
        vrows,
    )
    conn.execute("COMMIT")
    t2 = time.perf_counter()
    conn.close()
    return t1 - t0, t2 - t1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=100_000, help="samples (and verdicts) to write")
    ap.add_argument("--url", default=None, help="store URL (default: a temporary SQLite file)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many (noisy shared box)")
    ap.add_argument("--raw-schema", choices=("store", "0001"), default="store",
                    help="the raw side's schema: the store's at head, or the original one")
    args = ap.parse_args()
    if args.url and args.repeat > 1:
        ap.error("--url writes into an existing database: use --repeat 1")

    problems, judged = make_records(args.n)
    store_runs, raw_runs = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.url or f"sqlite:///{Path(tmp) / 'store.db'}"
            store_runs.append(bench_store(url, problems, judged))
            raw_runs.append(bench_raw(Path(tmp) / "raw.db", problems, judged, args.raw_schema))
    store_s, store_v = min(store_runs, key=sum)
    raw_s, raw_v = min(raw_runs, key=sum)

    n = args.n
    store_rate, raw_rate = n / (store_s + store_v), n / (raw_s + raw_v)
    print(f"N = {n:,} samples + {n:,} verdicts; store at {url.split('://')[0]}; "
          f"best of {args.repeat}; raw schema: {args.raw_schema}")  # fmt: skip
    print(f"{'':24}{'samples/s':>12}{'verdicts/s':>12}{'both (samples/s)':>18}")
    print(f"{'Store.add_*':24}{n / store_s:>12,.0f}{n / store_v:>12,.0f}{store_rate:>18,.0f}")
    print(f"{'raw sqlite3 executemany':24}{n / raw_s:>12,.0f}{n / raw_v:>12,.0f}{raw_rate:>18,.0f}")
    print(f"ratio store/raw: {store_rate / raw_rate:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
