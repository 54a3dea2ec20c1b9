"""rejudge: score a run's stored samples again with another judge version, beside the old verdicts.

In: a store, a run id, a judge (any ``judges.Verifier``: ``rejudge --judge KIND --option k=v``
builds ``judges.get_verifier(KIND, **options)``) and optionally the rounds. Out: new
verdicts in the store, one per sample of each round, of the judge's version (``judges/version.py``); per round how many were added.
Read back with ``--judge-version`` (``store/rejudge_store.py``), compared with ``compare``.

Never overwrites: verdicts are keyed by (sample, judge, judge_version). A round whose own
verdicts are of this very version has nothing to add; a round with no verdicts yet (its
judge stage has not run) is skipped. Resumable after ``kill -9``: the round
is marked rejudged first, then samples without a verdict of this version are judged a
batch at a time (``verify_batch``: the math judge's worker pool, the code judge's sandbox)
and each batch is one transaction, so a rerun judges only what is still missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from selftaught.errors import DataError, StoreError
from selftaught.judges.base import Verifier
from selftaught.progress import Advance, step
from selftaught.records import Judged

#: samples judged and written per transaction
BATCH = 1024


def verdict_judge(judge: Verifier) -> str:
    """The judge name its verdicts carry (a weighted judge's is its label, ``1*math+0.2*format``)."""
    return str(getattr(judge, "label", judge.name))


def rejudge(
    store: Any, run_id: str, judge: Verifier, *, rounds: list[int] | None = None,
    options: Mapping[str, Any] | None = None, batch: int = BATCH,
    on_batch: Callable[[int, int], None] | None = None,
) -> list[dict]:  # fmt: skip
    """Add ``judge``'s verdicts to every sample of the run's rounds (or ``rounds``); returns
    ``{"round", "n_added", "own"}`` per round (``own``: the round was judged by this version).
    A round with no verdicts yet is skipped (``"skipped"``): a judge stage still to run
    would otherwise find its verdicts written and marked as another's."""
    if store.get_run(run_id) is None:
        raise StoreError(f"no run {run_id!r} in the store")
    indexes = store.round_indexes(run_id) if not rounds else list(rounds)
    name, version = verdict_judge(judge), judge.version
    sizes = {row.index: row.n_samples for row in store.round_table(run_id)}  # the bars' totals
    out = []
    for index in indexes:
        own = store.own_versions(run_id, index)
        if not own or (name, version) in own:  # not judged yet: its judge stage must write its own first
            skipped = {} if own else {"skipped": "not judged yet"}
            out.append({"round": index, "n_added": 0, "own": bool(own), **skipped})
            continue
        store.mark_rejudged(run_id, index, name, version, dict(options or {}))
        # at most this many: a resumed rejudge finishes early (its judged samples are not read again)
        with step(f"rejudge round {index}", total=sizes.get(index)) as advance:
            n = _rejudge_round(store, run_id, index, judge, name, batch, _counting(advance, on_batch))
        out.append({"round": index, "n_added": n, "own": False})
    return out


def _counting(advance: Advance, on_batch: Callable[[int, int], None] | None) -> Callable[[int, int], None]:
    """``on_batch`` that also moves the round's progress bar by each batch's samples."""
    done = 0

    def counted(index: int, n: int) -> None:
        nonlocal done
        done += n
        advance(done)
        if on_batch is not None:
            on_batch(index, n)

    return counted


def _rejudge_round(store: Any, run_id: str, index: int, judge: Verifier, name: str, batch: int,
                   on_batch: Callable[[int, int], None] | None) -> int:  # fmt: skip
    added = after = 0
    while rows := store.samples_without_verdict(run_id, index, name, judge.version, batch, after):
        after, samples = rows[-1][0], [s for _, s in rows]
        problems = {p.id: p for p in store.get_problems(sorted({s.problem_id for s in samples}))}
        missing = sorted({s.problem_id for s in samples} - set(problems))
        if missing:
            raise DataError(f"round {index}: samples of unknown problems {missing[:3]}")
        verdicts = judge.verify_batch([(problems[s.problem_id], s.completion) for s in samples])
        wrong = {(v.judge, v.judge_version) for v in verdicts} - {(name, judge.version)}
        if wrong:  # they would not count as this version's: a rerun would judge the samples again
            raise StoreError(f"judge {name} {judge.version} wrote verdicts as {sorted(wrong)}")
        n = store.add_verdicts(run_id, index, [Judged(s, v) for s, v in zip(samples, verdicts, strict=True)])
        added += n
        if on_batch is not None:
            on_batch(index, n)
    return added
