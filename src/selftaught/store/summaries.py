"""A round's counts for the round table and the report, computed once per finished stage
instead of per read.

What goes in: round ids. What comes out: per round ``n_samples``, ``n_generate``,
``n_rationalized``, ``n_judged`` (generate samples with at least one verdict), ``n_pass``
(of those, the samples whose every verdict passes), ``n_train`` and
``n_train_rationalized``. These are the only parts of ``round_table`` that read samples
and verdicts; stages, checkpoints and evaluations are small tables read live every time.
For the report (``round_report``): the generate samples' per-problem judged/passed counts
(``problem_pass_rates``) and score histograms in ``REPORT_BINS`` bins per judge
(``score_histogram(bins=10, source="generate")``), each in the order the database sorts
problem ids and judge names, as the live queries return them. Verdicts are each round's
own (``rejudge_store``): versions added by ``selftaught rejudge`` are counted only when
asked for (``round_table(judge_version=...)``, counted live, never cached).

The caches are ``rounds.summary`` and ``rounds.report`` (migration 0005) and keep one
invariant: each is NULL or equal to what ``round_counts`` / ``round_report`` would return
now. So

* every write that inserts samples, verdicts or training examples into a round clears it,
  in the writing transaction (``_forget_counts``): a round re-run on resume, a judge
  re-run with a new version, rationalizations added late;
* ``finish_stage`` fills them (``_remember_counts``) if empty, after locking the
  round's row (PostgreSQL: ``FOR UPDATE``; SQLite: the write lock), so a writer in
  another process either clears it after the fill or is counted by it;
* anything else (stage status, a new checkpoint or evaluation) does not touch it.

A round whose cache is empty (running, or recorded before 0005) is counted live, with the
same function. A changed ``SUMMARY_VERSION`` makes old caches count as empty.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from sqlalchemy import Connection, Integer, case, cast, func, null, select, true, update

from selftaught.records import Outcome, SampleSource
from selftaught.store.base import StoreBase
from selftaught.store.models import ProblemRow, Round, SampleRow, TrainingExampleRow, VerdictRow
from selftaught.store.rejudge_store import rejudged_versions, version_clause

SUMMARY_VERSION = 1
#: the histogram bins the report asks for, and so the ones cached
REPORT_BINS = 10
COUNT_KEYS = ("n_samples", "n_generate", "n_rationalized", "n_judged", "n_pass", "n_train",
              "n_train_rationalized")  # fmt: skip


def cached(summary: Any) -> dict[str, int] | None:
    """The counts in a ``rounds.summary`` value, or None if it is empty or out of date."""
    if isinstance(summary, dict) and summary.get("v") == SUMMARY_VERSION:
        return {k: int(summary[k]) for k in COUNT_KEYS}
    return None


def picked_verdicts(conn: Connection, ids: Sequence[int], version: str | None = None) -> Any:
    """The condition on verdicts that these rounds' counts read: each round's own verdicts,
    or ``version``'s (``rejudge_store.version_clause``); ``true()`` when any verdict will do."""
    picked = version_clause(rejudged_versions(conn, round_ids=ids), version)
    return true() if picked is None else picked


def round_counts(conn: Connection, round_ids: Iterable[int], version: str | None = None) -> dict[int, dict[str, int]]:
    """Count samples, verdicts (the round's own, or ``version``'s) and training examples of
    these rounds (``COUNT_KEYS``)."""
    ids = sorted(set(round_ids))
    out = {rid: dict.fromkeys(COUNT_KEYS, 0) for rid in ids}
    if not ids:
        return out
    in_rounds = SampleRow.round_id.in_(ids)
    for rid, source, n in conn.execute(
        select(SampleRow.round_id, SampleRow.source, func.count())
        .where(in_rounds)
        .group_by(SampleRow.round_id, SampleRow.source)
    ):
        out[rid]["n_samples"] += n
        if source == SampleSource.GENERATE:
            out[rid]["n_generate"] = n
        elif source == SampleSource.RATIONALIZE:
            out[rid]["n_rationalized"] = n
    # a generate sample passes when every verdict on it passes
    per_sample = (
        select(
            SampleRow.round_id.label("round_id"),
            func.min(case((VerdictRow.outcome == Outcome.PASS, 1), else_=0)).label("ok"),
        )
        .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
        .where(in_rounds, SampleRow.source == SampleSource.GENERATE, picked_verdicts(conn, ids, version))
        .group_by(SampleRow.round_id, SampleRow.id)
        .subquery()
    )
    for rid, judged, passed in conn.execute(
        select(per_sample.c.round_id, func.count(), func.sum(per_sample.c.ok))
        .group_by(per_sample.c.round_id)
    ):
        out[rid]["n_judged"], out[rid]["n_pass"] = judged, int(passed or 0)
    for rid, n, n_rat in conn.execute(
        select(
            TrainingExampleRow.round_id,
            func.count(),
            func.count(case((SampleRow.rationalized, 1))),
        )
        .outerjoin(SampleRow, SampleRow.id == TrainingExampleRow.sample_id)
        .where(TrainingExampleRow.round_id.in_(ids))
        .group_by(TrainingExampleRow.round_id)
    ):
        out[rid]["n_train"], out[rid]["n_train_rationalized"] = n, n_rat
    return out


def passes_per_sample(round_ids: Iterable[int], source: SampleSource, *cols: Any, picked: Any = None):
    """Per sample of these rounds with at least one verdict (``picked``: the condition on
    verdicts, ``picked_verdicts``): ``ok`` = every verdict passes."""
    return (
        select(*cols, func.min(case((VerdictRow.outcome == Outcome.PASS, 1), else_=0)).label("ok"))
        .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
        .where(SampleRow.round_id.in_(sorted(set(round_ids))), SampleRow.source == source,
               true() if picked is None else picked)
        .group_by(*cols, SampleRow.id)
        .subquery()
    )


def score_bucket(bins: int, pg: bool) -> Any:
    """A verdict score's bin among ``bins`` equal bins over [0, 1]."""
    scaled = VerdictRow.score * bins
    # SQLite's CAST truncates (scores are >= 0, so it floors); PostgreSQL's rounds
    raw = func.floor(scaled) if pg else cast(scaled, Integer)
    return case((VerdictRow.score >= 1, bins - 1), (VerdictRow.score <= 0, 0), else_=raw)


def round_report(conn: Connection, round_ids: Iterable[int], *, pg: bool) -> dict[int, dict]:
    """Per round: ``problems`` = [[problem_id, n_judged, n_pass], ...] and ``hist`` =
    [[judge, [count per bin]], ...] of its generate samples (see the module docstring)."""
    ids = sorted(set(round_ids))
    out: dict[int, dict] = {rid: {"problems": [], "hist": []} for rid in ids}
    if not ids:
        return out
    picked = picked_verdicts(conn, ids)
    per_sample = passes_per_sample(ids, SampleSource.GENERATE, SampleRow.round_id, SampleRow.problem_pk, picked=picked)
    for rid, pid, n, k in conn.execute(
        select(per_sample.c.round_id, ProblemRow.problem_id, func.count(), func.sum(per_sample.c.ok))
        .join(ProblemRow, ProblemRow.id == per_sample.c.problem_pk)
        .group_by(per_sample.c.round_id, ProblemRow.problem_id)
        .order_by(per_sample.c.round_id, ProblemRow.problem_id)
    ):
        out[rid]["problems"].append([pid, n, int(k or 0)])
    bucket = score_bucket(REPORT_BINS, pg)
    hist: dict[tuple[int, str], list[int]] = {}
    for rid, judge, b, n in conn.execute(
        select(SampleRow.round_id, VerdictRow.judge, bucket.label("b"), func.count())
        .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
        .where(SampleRow.round_id.in_(ids), SampleRow.source == SampleSource.GENERATE, picked)
        .group_by(SampleRow.round_id, VerdictRow.judge, bucket)
        .order_by(SampleRow.round_id, VerdictRow.judge)
    ):
        counts = hist.get((rid, judge))
        if counts is None:
            counts = hist[(rid, judge)] = [0] * REPORT_BINS
            out[rid]["hist"].append([judge, counts])
        counts[int(b)] += n
    return out


def cached_report(report: Any, *keys: str) -> bool:
    """Whether a ``rounds.report`` value (or the parts ``keys`` of it) is a usable cache."""
    return (isinstance(report, dict) and report.get("v") == SUMMARY_VERSION
            and report.get("bins") == REPORT_BINS
            and all(report.get(k) is not None for k in keys or ("problems", "hist")))  # fmt: skip


class RoundSummaryMixin(StoreBase):
    """``Store`` methods that keep ``rounds.summary`` (see the module docstring)."""

    def _forget_counts(self, conn: Connection, round_id: int) -> None:
        """Clear the round's cached counts: call in every transaction that adds its rows."""
        conn.execute(
            update(Round)
            .where(Round.id == round_id, Round.summary.is_not(None) | Round.report.is_not(None))
            .values(summary=null(), report=null())
        )

    def _remember_counts(self, run_id: str, index: int) -> None:
        """Fill the round's cache if it is empty (``finish_stage`` calls this)."""
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            locked = select(Round.summary, Round.report).where(Round.id == rid).with_for_update()
            summary, report = conn.execute(locked).one()
            if cached(summary) is not None and cached_report(report):
                return
            counts = round_counts(conn, [rid])[rid]
            report = round_report(conn, [rid], pg=self._pg)[rid]
            conn.execute(
                update(Round).where(Round.id == rid)
                .values(summary={"v": SUMMARY_VERSION, **counts},
                        report={"v": SUMMARY_VERSION, "bins": REPORT_BINS, **report})
            )  # fmt: skip
