"""A large run for the report's size bound, written in seconds: run ``big``, rounds 0-3,
``N_TRAIN`` training and ``N_HELDOUT`` held-out problems, ``PER_ROUND`` generated samples
per round (plus 2 evaluation samples per held-out problem), one verdict each.

The run, its problems and one sample per round go through the Store (so the rounds exist
as the flows write them); the bulk goes in with one ``executemany`` per table on the SQLite
file (the Store's own bulk path validates every row and is ~10x slower here). The rounds'
cached counts are then cleared, so the report counts these rows live.

Every 100th completion is 3,000 characters long (the page cuts texts); a sample passes when
its id hashes into the lower third, so every round has passes and failures.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

from selftaught.records import Problem, Sample, SampleSource, SamplingParams, Split
from selftaught.store import Store

RUN = "big"
ROUNDS = 4
N_TRAIN, N_HELDOUT = 2_000, 50
PER_ROUND = 50_000
PARAMS = json.dumps({"temperature": 1.0, "top_p": 1.0, "top_k": 0, "max_new_tokens": 64, "do_sample": True, "search": None})


def total_rows() -> int:
    """(sample, verdict) rows the big run holds: all generated and evaluation samples (the
    one seed sample per round is an evaluation sample without a verdict)."""
    return ROUNDS * (PER_ROUND + 2 * N_HELDOUT + 1)


def build(path: str) -> str:
    """Write the big run into a new SQLite file at ``path``; returns the run id."""
    train = [Problem(id=f"b{i}", prompt=f"Q: {i}+{i}=? A:", answer=str(2 * i)) for i in range(N_TRAIN)]
    heldout = [Problem(id=f"bh{i}", prompt=f"Q: {i}+1=? A:", answer=str(i + 1), split=Split.HELDOUT)
               for i in range(N_HELDOUT)]  # fmt: skip
    with Store(f"sqlite:///{path}") as store:
        store.create_run(RUN, name="big", recipe={"method": "rft", "rounds": ROUNDS - 1})
        store.add_problems(train + heldout)
        for r in range(ROUNDS):  # creates the round; left unjudged on purpose
            store.add_samples(RUN, r, [Sample("bh0", 99, "seed", "seed", SampleSource.EVAL, seed=0,
                                              params=SamplingParams())])  # fmt: skip
    conn = sqlite3.connect(path)
    with conn:
        rounds = dict(conn.execute("SELECT \"index\", id FROM rounds WHERE run_id = ?", (RUN,)).fetchall())
        pks = dict(conn.execute("SELECT problem_id, id FROM problems").fetchall())
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(" ")
        samples, verdicts = [], []
        next_id = conn.execute("SELECT max(id) FROM samples").fetchone()[0] + 1
        for r in range(ROUNDS):
            rows = [(f"b{n % N_TRAIN}", n // N_TRAIN, "generate") for n in range(PER_ROUND)]
            rows += [(p.id, k, "eval") for p in heldout for k in range(2)]
            for problem_id, index, source in rows:
                sid = next_id
                next_id += 1
                long = sid % 100 == 0
                completion = ("<think>" + "7" * 3000 + "</think> 4") if long else f"<think>{sid}</think> {sid % 97}"
                passed = (sid * 2654435761) % 2**32 < 2**32 // 3
                samples.append((sid, rounds[r], RUN, pks[problem_id], source, index, f"Q: {problem_id}? A:",
                                completion, None, index, PARAMS, 0, None, 0, now))  # fmt: skip
                verdicts.append((sid, rounds[r], RUN, "arithmetic", "1", "pass" if passed else "fail",
                                 1.0 if passed else 0.0, "", now))  # fmt: skip
        conn.executemany(
            "INSERT INTO samples (id, round_id, run_id, problem_pk, source, \"index\", prompt, completion,"
            " checkpoint_id, seed, params, n_tokens, step, rationalized, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", samples,
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO verdicts (sample_id, round_id, run_id, judge, judge_version, outcome, score, detail,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", verdicts,
        )  # fmt: skip
        conn.execute("UPDATE rounds SET summary = NULL, report = NULL WHERE run_id = ?", (RUN,))
    conn.close()
    return RUN
