"""Store ingest speed: ``Store.add_samples`` + ``add_verdicts`` vs raw ``sqlite3`` executemany.

Both sides start from the same records (N samples, K=8 per problem, one verdict each) and
end with the same rows on disk: the same columns, unique keys and indexes, WAL with
``synchronous=NORMAL``, one transaction for the samples and one for the verdicts, and the
verdicts' sample ids looked up by natural key. The raw side is the ceiling; the store adds
SQLAlchemy Core, enum/JSON/timestamp processing and natural-key resolution.

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

RAW_SCHEMA = """
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


def bench_raw(path: Path, problems: list[Problem], judged: list[Judged]) -> tuple[float, float]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.executescript(RAW_SCHEMA)
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
    conn.executemany(
        'INSERT INTO samples (round_id, problem_pk, source, "index", prompt, completion, '
        "checkpoint_id, seed, params, n_tokens, step, rationalized, created_at) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
        rows,
    )
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
    conn.executemany(
        "INSERT INTO verdicts (sample_id, judge, judge_version, outcome, score, detail, "
        "created_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
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
    args = ap.parse_args()
    if args.url and args.repeat > 1:
        ap.error("--url writes into an existing database: use --repeat 1")

    problems, judged = make_records(args.n)
    store_runs, raw_runs = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.url or f"sqlite:///{Path(tmp) / 'store.db'}"
            store_runs.append(bench_store(url, problems, judged))
            raw_runs.append(bench_raw(Path(tmp) / "raw.db", problems, judged))
    store_s, store_v = min(store_runs, key=sum)
    raw_s, raw_v = min(raw_runs, key=sum)

    n = args.n
    store_rate, raw_rate = n / (store_s + store_v), n / (raw_s + raw_v)
    print(f"N = {n:,} samples + {n:,} verdicts; store at {url.split('://')[0]}; "
          f"best of {args.repeat}")  # fmt: skip
    print(f"{'':24}{'samples/s':>12}{'verdicts/s':>12}{'both (samples/s)':>18}")
    print(f"{'Store.add_*':24}{n / store_s:>12,.0f}{n / store_v:>12,.0f}{store_rate:>18,.0f}")
    print(f"{'raw sqlite3 executemany':24}{n / raw_s:>12,.0f}{n / raw_v:>12,.0f}{raw_rate:>18,.0f}")
    print(f"ratio store/raw: {store_rate / raw_rate:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
