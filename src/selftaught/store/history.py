"""The store's history queries: the round table, sample search, one problem across
rounds, pass rates and score histograms. A mixin of ``Store``; callers see only ``Store``.
All filter values reach SQL as bound parameters.

A problem is asked for by the id the user knows: problems from user files are stored
under content-scoped ids ``NAME@hash`` (``records.scoped_problem_id``), so ``w000`` finds
the stored ``w000`` itself and every ``w000@<8 characters>``, one per version of its
content (``problems_named``)."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true

from selftaught.errors import StoreError
from selftaught.records import STAGE_ORDER, Outcome, SampleSource, Split, Stage
from selftaught.store._sql import _enum
from selftaught.store.models import (
    CheckpointRow,
    EvaluationRow,
    ProblemRow,
    Round,
    SampleRow,
    StageRun,
    StageStatus,
    VerdictRow,
)
from selftaught.store.rejudge_store import RejudgeStoreMixin
from selftaught.store.rows import (
    ROUND_TABLE_KEYS,
    WALL_SECONDS_KEY,
    ExportedSample,
    ProblemHistory,
    ProblemPassRate,
    ProblemRound,
    RoundRef,
    RoundRow,
    SampleHit,
    ScoreHistogram,
    StagePlacement,
)
from selftaught.store.summaries import (
    REPORT_BINS,
    cached,
    cached_report,
    round_counts,
    round_report,
    score_bucket,
)
from selftaught.store.text_index import TextIndexMixin

__all__ = ["QUERY_ORDERS", "ROUND_TABLE_KEYS", "HistoryMixin", "problems_named"]


class HistoryMixin(RejudgeStoreMixin, TextIndexMixin):
    #: read score-ordered pages off the verdict indexes of 0005 (False: sort, as before;
    #: ``benchmarks/query_latency.py`` turns it off for its baseline)
    _score_pages = True

    def round_table(self, run_id: str, *, judge_version: str | None = None) -> list[RoundRow]:
        """One ``RoundRow`` per round of the run, in round order (see ``ROUND_TABLE_KEYS``).

        Verdict counts are of each round's own verdicts, or of ``judge_version``'s (counted
        live: the cache holds the rounds' own; ``rejudge_store``).

        Sample, verdict and training counts come from each round's cache (filled when a
        stage finishes, ``store/summaries.py``), or are counted live for a round without
        one; stages, checkpoints and evaluations are always read live. ``placement`` maps
        each stage that ran a model to its device, dtype and (CUDA) peak GPU memory in MiB."""
        with self._read() as conn:
            rounds = conn.execute(
                select(Round.id, Round.index, Round.constitution_hash, Round.summary, Round.metrics)
                .where(Round.run_id == run_id)
                .order_by(Round.index)
            ).all()
            if not rounds:
                return []
            in_run = Round.run_id == run_id
            counts = {r.id: None if judge_version else cached(r.summary) for r in rounds}
            counts.update(round_counts(conn, [rid for rid, c in counts.items() if c is None], judge_version))

            stages = conn.execute(
                select(StageRun.round_id, StageRun.stage, StageRun.status, StageRun.seconds,
                       StageRun.device, StageRun.dtype, StageRun.peak_gpu_mb)
                .join(Round, Round.id == StageRun.round_id)
                .where(in_run)
            ).all()
            checkpoints = conn.execute(
                select(CheckpointRow.round_index, CheckpointRow.id)
                .where(CheckpointRow.run_id == run_id, CheckpointRow.round_index.is_not(None))
                .order_by(CheckpointRow.created_at, CheckpointRow.id)
            ).all()
            evals = conn.execute(
                select(EvaluationRow.__table__)
                .join(Round, Round.id == EvaluationRow.round_id)
                .where(in_run, EvaluationRow.split == Split.HELDOUT)
                .order_by(EvaluationRow.k, EvaluationRow.id)
            ).all()

        by_round: dict[int, dict[str, Any]] = {}
        for r in rounds:
            by_round[r.id] = {
                "index": r.index,
                "stages_done": [],
                "stage_status": {},
                "n_samples": 0,
                "n_generate": 0,
                "n_rationalized": 0,
                "n_judged": 0,
                "pass_rate": None,
                "n_train": 0,
                "n_train_rationalized": 0,
                "checkpoint_id": None,
                "heldout_k": None,
                "heldout_greedy": None,
                "heldout_pass_at_1": None,
                "heldout_pass_at_k": None,
                "heldout_maj_at_k": None,
                "seconds": {},
                "placement": {},
                "constitution_hash": r.constitution_hash,
                "wall_seconds": (r.metrics or {}).get(WALL_SECONDS_KEY),
            }
        index_to_round = {row["index"]: row for row in by_round.values()}
        for round_id, stage, status, seconds, device, dtype, peak in sorted(
            stages, key=lambda s: STAGE_ORDER.index(Stage(s.stage))
        ):
            row = by_round[round_id]
            row["stage_status"][Stage(stage).value] = StageStatus(status)
            if status == StageStatus.DONE:
                row["stages_done"].append(Stage(stage).value)
            if seconds is not None:
                row["seconds"][Stage(stage).value] = seconds
            if device is not None:
                row["placement"][Stage(stage).value] = StagePlacement(
                    device=str(device), dtype=None if dtype is None else str(dtype), peak_gpu_mb=peak,
                )  # fmt: skip
        for round_id, c in counts.items():
            row = by_round[round_id]
            row.update({k: c[k] for k in ("n_samples", "n_generate", "n_rationalized", "n_judged",
                                          "n_train", "n_train_rationalized")})  # fmt: skip
            row["pass_rate"] = c["n_pass"] / c["n_judged"] if c["n_judged"] else None
        for round_index, ckpt_id in checkpoints:  # the latest checkpoint of a round wins
            if round_index in index_to_round:
                index_to_round[round_index]["checkpoint_id"] = ckpt_id
        for ev in evals:  # the largest k wins
            row = by_round[ev.round_id]
            row.update(
                heldout_k=ev.k,
                heldout_greedy=ev.greedy_accuracy,
                heldout_pass_at_1=ev.pass_at_1,
                heldout_pass_at_k=ev.pass_at_k,
                heldout_maj_at_k=ev.maj_at_k,
            )
        return [RoundRow(**{**by_round[r.id], "stages_done": tuple(by_round[r.id]["stages_done"])})
                for r in rounds]  # fmt: skip

    def query_samples(
        self,
        *,
        run_id: str | None = None,
        round_index: int | None = None,
        problem: str | None = None,
        outcome: Outcome | str | None = None,
        judge: str | None = None,
        source: SampleSource | str | None = None,
        rationalized: bool | None = None,
        checkpoint_id: str | None = None,
        min_score: float | None = None,
        max_score: float | None = None,
        text: str | None = None,
        problem_text: str | None = None,
        split: Split | str | None = None,
        judge_version: str | None = None,
        order_by: str = "id",
        limit: int | None = 50,
    ) -> list[SampleHit]:
        """Search the sample history: one ``SampleHit`` per (sample, verdict).

        Verdicts are each round's own, or ``judge_version``'s (``rejudge_store``).
        A sample with no verdict appears once with ``outcome``/``score``/``judge`` None,
        unless a verdict filter (outcome, judge, min_score, max_score) is given. ``text``
        is a case-insensitive substring of the completion, ``problem_text`` of the
        problem's prompt; ``split`` is the problem's split. ``order_by`` is one of
        ``QUERY_ORDERS`` (prefix ``-`` for descending); ``limit=None`` returns everything.
        """
        filters = {k: v for k, v in locals().items() if k not in ("self", "order_by", "limit")}
        stmt = self._sample_query(_QUERY_COLS, filters, order_by=order_by, limit=limit)
        with self._read() as conn:
            return [SampleHit(*r) for r in conn.execute(stmt)]

    def count_samples(self, **filters: Any) -> int:
        """How many rows ``query_samples`` returns for these filters with no limit (the
        "20 of 14,936 samples" of ``selftaught samples``)."""
        stmt = self._sample_query((SampleRow.id,), filters, order_by="id", limit=None).order_by(None)
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()

    def sample_query_statement(self, *, order_by: str = "id", limit: int | None = 50, **filters: Any) -> Select:
        """The SELECT that ``query_samples`` runs for these filters (for EXPLAIN and benchmarks)."""
        return self._sample_query(_QUERY_COLS, filters, order_by=order_by, limit=limit)

    def export_samples(self, *, limit: int | None = None, **filters: Any) -> Iterator[ExportedSample]:
        """Like ``query_samples`` (same filters, id order) plus the problem's own prompt,
        answer and split: what ``selftaught export`` turns into datasets. Streams rows."""
        cols = (*_QUERY_COLS, ProblemRow.answer.label("answer"), ProblemRow.split.label("split"))
        stmt = self._sample_query(cols, filters, order_by="id", limit=limit)
        with self._read() as conn:
            for r in conn.execution_options(yield_per=5000).execute(stmt):
                yield ExportedSample(*r)

    def _sample_query(
        self, cols: Sequence[Any], filters: dict[str, Any], *, order_by: str, limit: int | None
    ):
        """One SELECT over samples x rounds x problems (+ verdicts), filters as bound values."""
        filters = dict(filters)
        version = filters.pop("judge_version", None)
        unknown = set(filters) - set(_SAMPLE_FILTERS)
        if unknown:
            raise StoreError(f"unknown sample filter(s): {sorted(unknown)}")
        on = VerdictRow.sample_id == SampleRow.id
        with self._read() as conn:  # which verdicts: in the join, so unjudged samples stay
            picked = self._verdict_filter(conn, version, run_id=filters.get("run_id"))
        stmt = (
            select(*cols)
            .join(Round, Round.id == SampleRow.round_id)
            .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
            .outerjoin(VerdictRow, on if picked is None else and_(on, picked))
        )
        given = {k: v for k, v in filters.items() if v is not None}
        run, index = given.pop("run_id", None), given.pop("round_index", None)
        # run and round become conditions on samples' own indexed columns (the planner
        # then walks one index in id order instead of joining through rounds and sorting)
        one_round = None
        if index is not None:
            round_ids = select(Round.id).where(Round.index == int(index))
            if run is not None:
                one_round = round_ids.where(Round.run_id == str(run)).scalar_subquery()
                stmt = stmt.where(SampleRow.round_id == one_round)
            else:
                stmt = stmt.where(SampleRow.round_id.in_(round_ids))
        elif run is not None:
            stmt = stmt.where(SampleRow.run_id == str(run))
        for name, value in given.items():
            stmt = stmt.where(_SAMPLE_FILTERS[name](value))
        if "text" in given:  # an index narrows the candidates (store/text_index.py)
            candidates = self._completion_candidates(str(given["text"]), limit)
            if candidates is not None:
                stmt = stmt.where(candidates)
        descending = order_by.startswith("-")
        ties = (SampleRow.id, VerdictRow.id)
        if self._score_pages and order_by.removeprefix("-") == "score":
            # read the round's or run's verdicts in score order off ix_verdicts_round_id_score
            # / ix_verdicts_run_id_score (0005) instead of sorting them all
            in_verdicts = (
                VerdictRow.round_id == one_round if one_round is not None
                else VerdictRow.run_id == str(run) if run is not None and index is None
                else None
            )  # fmt: skip
            if in_verdicts is not None and (
                _VERDICT_FILTERS & set(given)  # only (sample, verdict) rows can match anyway
                or self._verdicts_fill_page(stmt.where(in_verdicts), descending, limit)
            ):
                stmt = stmt.where(in_verdicts)
                ties = (VerdictRow.sample_id, VerdictRow.id)  # = samples.id here: in the index
        keys = QUERY_ORDERS.get(order_by.removeprefix("-"))
        if keys is None:
            raise StoreError(
                f"cannot order samples by {order_by!r}; choose one of {sorted(QUERY_ORDERS)} "
                "(prefix - for descending)"
            )
        keys = (*keys, *ties)
        stmt = stmt.order_by(*(k.desc() if descending else k.asc() for k in keys))
        if limit is not None:
            if int(limit) < 1:
                raise StoreError(f"limit must be at least 1, not {limit}")
            stmt = stmt.limit(int(limit))
        return stmt

    def _verdicts_fill_page(self, judged: Select, descending: bool, limit: int | None) -> bool:
        """Whether a score-ordered page holds only judged rows, so that the query may drop the
        samples without a verdict: they sort last (SQLite: NULL is smallest, so in descending
        order; PostgreSQL: largest, so in ascending order) and ``judged`` alone has at least
        ``limit`` rows (one probe, stopped at ``limit`` rows)."""
        if limit is None or descending == self._pg:
            return False
        page = judged.with_only_columns(VerdictRow.id).limit(int(limit)).subquery()
        with self._read() as conn:
            return conn.execute(select(func.count()).select_from(page)).scalar_one() >= int(limit)

    def problem_history(self, problem_id: str, *, run_id: str | None = None,
                        judge_version: str | None = None) -> list[ProblemHistory]:  # fmt: skip
        """One problem across rounds, once per stored version of it (``problems_named``:
        the id itself, or a user's id of content-scoped problems), oldest first; an empty
        list if none is stored. Each: the stored ``problem_id``, the user's ``name``, the
        problem's prompt, answer and split; per (run, round) how many samples were judged
        and passed (generate and eval samples; a sample passes when every verdict on it
        passes; each round's own verdicts, or ``judge_version``'s); the first round with a
        pass; and the best and latest samples."""
        with self._read() as conn:
            found = conn.execute(
                select(ProblemRow.__table__).where(problems_named(problem_id)).order_by(ProblemRow.id)
            ).all()
        return [self._one_problem_history(prob, run_id, judge_version) for prob in found]

    def _one_problem_history(self, prob: Any, run_id: str | None, version: str | None) -> ProblemHistory:
        """``problem_history`` of one stored problem row."""
        with self._read() as conn:
            picked = self._verdict_filter(conn, version, run_id=run_id)
            per_sample = (
                select(
                    Round.run_id.label("run"),
                    Round.index.label("round"),
                    SampleRow.source.label("source"),
                    func.min(case((VerdictRow.outcome == Outcome.PASS, 1), else_=0)).label("ok"),
                    func.max(VerdictRow.score).label("score"),
                )
                .join(Round, Round.id == SampleRow.round_id)
                .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
                .where(SampleRow.problem_pk == prob.id)
                .group_by(Round.run_id, Round.index, SampleRow.source, SampleRow.id)
            )
            if run_id is not None:
                per_sample = per_sample.where(Round.run_id == run_id)
            if picked is not None:
                per_sample = per_sample.where(picked)
            sub = per_sample.subquery()
            rounds = conn.execute(
                select(sub.c.run, sub.c.round, sub.c.source, func.count(), func.sum(sub.c.ok),
                       func.avg(sub.c.score))
                .group_by(sub.c.run, sub.c.round, sub.c.source)
                .order_by(sub.c.run, sub.c.round, sub.c.source)
            ).all()  # fmt: skip
        per_round = tuple(
            ProblemRound(run=r[0], round=r[1], source=SampleSource(r[2]), n_judged=r[3],
                         n_pass=int(r[4] or 0), pass_rate=(r[4] or 0) / r[3] if r[3] else None,
                         mean_score=r[5])
            for r in rounds
        )  # fmt: skip
        first = next((r for r in per_round if r.n_pass and r.source != SampleSource.RATIONALIZE), None)
        pages: dict[str, tuple[SampleHit, ...]] = {}
        for order in ("-score", "-id"):
            stmt = self._sample_query(_QUERY_COLS, {"problem_pk": prob.id, "run_id": run_id, "judge_version": version},
                                      order_by=order, limit=5)  # fmt: skip
            with self._read() as conn:
                pages[order] = tuple(SampleHit(*r) for r in conn.execute(stmt))
        return ProblemHistory(
            problem_id=prob.problem_id,
            name=(prob.meta or {}).get("name") or prob.problem_id,
            prompt=prob.prompt,
            answer=prob.answer,
            split=Split(prob.split),
            rounds=per_round,
            first_solved=None if first is None else RoundRef(run=first.run, round=first.round),
            best=pages["-score"],
            latest=pages["-id"],
        )

    def problem_pass_rates(self, run_id: str, *, source: SampleSource | str = "generate",
                           judge_version: str | None = None) -> list[ProblemPassRate]:  # fmt: skip
        """Per (round, problem) of a run: samples judged and passed (every verdict passes; each
        round's own verdicts, or ``judge_version``'s). For generate samples (the report's) of
        the rounds' own verdicts, from each round's cache (``summaries.py``)."""
        if _enum(SampleSource, source) == SampleSource.GENERATE and judge_version is None:
            return [ProblemPassRate(round=i, problem_id=pid, n_judged=n, n_pass=k)
                    for i, problems in self._round_reports(run_id, "problems") for pid, n, k in problems]  # fmt: skip
        picked = self._picked(run_id, judge_version)
        per_sample = (
            select(
                Round.index.label("round"),
                SampleRow.problem_pk.label("problem_pk"),
                func.min(case((VerdictRow.outcome == Outcome.PASS, 1), else_=0)).label("ok"),
            )
            .join(Round, Round.id == SampleRow.round_id)
            .join(VerdictRow, VerdictRow.sample_id == SampleRow.id)
            .where(Round.run_id == run_id, SampleRow.source == _enum(SampleSource, source), picked)
            .group_by(Round.index, SampleRow.problem_pk, SampleRow.id)
            .subquery()
        )
        stmt = (
            select(per_sample.c.round, ProblemRow.problem_id, func.count(), func.sum(per_sample.c.ok))
            .join(ProblemRow, ProblemRow.id == per_sample.c.problem_pk)
            .group_by(per_sample.c.round, ProblemRow.problem_id)
            .order_by(per_sample.c.round, ProblemRow.problem_id)
        )
        with self._read() as conn:
            return [
                ProblemPassRate(round=r, problem_id=p, n_judged=n, n_pass=int(k or 0))
                for r, p, n, k in conn.execute(stmt)
            ]

    def score_histogram(
        self, run_id: str, *, bins: int = 10, source: SampleSource | str | None = None,
        judge_version: str | None = None,
    ) -> list[ScoreHistogram]:  # fmt: skip
        """Verdict scores of a run (each round's own verdicts, or ``judge_version``'s) counted
        in ``bins`` equal bins over [0, 1], per (round, judge).
        Counted in SQL; the report's histogram (generate samples, 10 bins, the rounds' own
        verdicts) comes from each round's cache (``summaries.py``)."""
        if bins < 1:
            raise StoreError(f"bins must be at least 1, not {bins}")
        if (bins == REPORT_BINS and source is not None and judge_version is None
                and _enum(SampleSource, source) == SampleSource.GENERATE):  # fmt: skip
            return [ScoreHistogram(round=i, judge=judge, counts=tuple(counts))
                    for i, hist in self._round_reports(run_id, "hist") for judge, counts in hist]  # fmt: skip
        bucket = score_bucket(bins, self._pg)
        stmt = (
            select(Round.index, VerdictRow.judge, bucket.label("b"), func.count())
            .join(SampleRow, SampleRow.id == VerdictRow.sample_id)
            .join(Round, Round.id == SampleRow.round_id)
            .where(Round.run_id == run_id, self._picked(run_id, judge_version))
            .group_by(Round.index, VerdictRow.judge, bucket)
            .order_by(Round.index, VerdictRow.judge)
        )
        if source is not None:
            stmt = stmt.where(SampleRow.source == _enum(SampleSource, source))
        out: dict[tuple[int, str], list[int]] = {}
        with self._read() as conn:
            for index, judge, b, n in conn.execute(stmt):
                out.setdefault((index, judge), [0] * bins)[int(b)] += n
        return [ScoreHistogram(round=i, judge=j, counts=tuple(c)) for (i, j), c in out.items()]

    def _picked(self, run_id: str, version: str | None) -> ColumnElement[bool]:
        """The run's verdicts that a read counts (``rejudge_store.version_clause``); true() for all."""
        with self._read() as conn:
            picked = self._verdict_filter(conn, version, run_id=run_id)
        return true() if picked is None else picked

    def _round_reports(self, run_id: str, key: str) -> list[tuple[int, list]]:
        """(round index, its ``key`` report counts) per round: cached, or counted live if not.
        Only ``key`` is read out of the cached JSON (the other part can be large)."""
        with self._read() as conn:
            rounds = conn.execute(
                select(Round.id, Round.index, Round.report["v"].as_integer().label("v"),
                       Round.report["bins"].as_integer().label("bins"), Round.report[key].label("part"))
                .where(Round.run_id == run_id)
                .order_by(Round.index)
            ).all()  # fmt: skip
            parts = {r.id: r.part for r in rounds if cached_report({"v": r.v, "bins": r.bins, key: r.part}, key)}
            missing = [r.id for r in rounds if r.id not in parts]
            parts.update((rid, rep[key]) for rid, rep in round_report(conn, missing, pg=self._pg).items())
        return [(r.index, parts[r.id]) for r in rounds]


def problems_named(name: str) -> ColumnElement[bool]:
    """Where a stored problem is ``name`` itself or a content-scoped version of it:
    ``name@`` and 8 more characters (``records.scoped_problem_id``). ``name`` reaches SQL
    as bound values only: a LIKE pattern with its ``%``, ``_`` and ``\\`` escaped, and an
    exact comparison of the prefix (SQLite's LIKE ignores ASCII case)."""
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(
        ProblemRow.problem_id == name,
        and_(
            ProblemRow.problem_id.like(f"{escaped}@{'_' * 8}", escape="\\"),
            func.substr(ProblemRow.problem_id, 1, len(name)) == name,
        ),
    )


# selected columns -------------------------------------------------------------------------

_QUERY_COLS = (
    SampleRow.id.label("sample_id"),
    Round.run_id.label("run"),
    Round.index.label("round"),
    ProblemRow.problem_id,
    SampleRow.source,
    SampleRow.index,
    SampleRow.prompt,  # the exact text the model read (chat template, hint, ...)
    ProblemRow.prompt.label("problem_prompt"),  # the problem's own prompt
    SampleRow.completion,
    VerdictRow.outcome,
    VerdictRow.score,
    VerdictRow.judge,
    VerdictRow.judge_version,
    VerdictRow.detail,
    SampleRow.rationalized,
    SampleRow.checkpoint_id,
    SampleRow.seed,
)
#: ``query_samples`` filters -> WHERE clause builders (values become bound parameters)
_SAMPLE_FILTERS: dict[str, Any] = {
    "run_id": lambda v: Round.run_id == str(v),
    "round_index": lambda v: Round.index == int(v),
    "problem": lambda v: SampleRow.problem_pk.in_(select(ProblemRow.id).where(problems_named(str(v)))),
    "problem_pk": lambda v: SampleRow.problem_pk == int(v),  # one stored problem (problem_history)
    "outcome": lambda v: VerdictRow.outcome == _enum(Outcome, v),
    "judge": lambda v: VerdictRow.judge == str(v),
    "source": lambda v: SampleRow.source == _enum(SampleSource, v),
    "rationalized": lambda v: SampleRow.rationalized.is_(bool(v)),
    "checkpoint_id": lambda v: SampleRow.checkpoint_id == str(v),
    "min_score": lambda v: VerdictRow.score >= float(v),
    "max_score": lambda v: VerdictRow.score <= float(v),
    "text": lambda v: SampleRow.completion.icontains(str(v), autoescape=True),
    "problem_text": lambda v: ProblemRow.prompt.icontains(str(v), autoescape=True),
    "split": lambda v: ProblemRow.split == _enum(Split, v),
}
#: filters that only a (sample, verdict) row can pass: samples without a verdict drop out
_VERDICT_FILTERS = {"outcome", "judge", "min_score", "max_score"}
#: ``query_samples(order_by=...)`` choices -> sort columns
QUERY_ORDERS = {
    "id": (SampleRow.id,),
    "round": (Round.index,),
    "problem": (ProblemRow.problem_id, SampleRow.source, SampleRow.index),
    "score": (VerdictRow.score,),
    "created_at": (SampleRow.created_at,),
}
