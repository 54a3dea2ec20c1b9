"""Training sets: the examples an SFT round trained on, and the pairs a DPO round did.

In: a ``TrainingSet`` (or ``VerifiedPair``s) of a round whose samples are stored. Out: the
same, read back in order (``StoredPair`` for pairs). A round has one of each, written once:
a retried curate stage stores nothing twice. A part of ``Store`` (``base.py``).
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import aliased

from selftaught.records import SampleSource, TrainingExample, TrainingSet
from selftaught.store.models import ProblemRow, Round, SampleRow, TrainingExampleRow, TrainingPairRow
from selftaught.store.rows import StoredPair
from selftaught.store.summaries import RoundSummaryMixin

_TRAINING_SET_KEY = "training_set"


class TrainingStoreMixin(RoundSummaryMixin):
    """Training sets and DPO pairs (module docstring)."""

    # training sets --------------------------------------------------------------------

    def add_training_set(self, run_id: str, index: int, ts: TrainingSet) -> int:
        """Record round ``index``'s curated set, once; returns how many examples were new.

        A round has one training set: if one is already recorded this is a no-op that
        returns 0 (a retried curate stage). Examples keep their order; an example's
        ``sample_key`` must name a stored sample of this round, and an example repeating
        another's (problem, sample) is stored once. Method and stats go in the round's
        ``metrics["training_set"]``.
        """
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index, create=True)
            metrics = conn.execute(select(Round.metrics).where(Round.id == rid)).scalar_one() or {}
            if _TRAINING_SET_KEY in metrics:
                return 0
            examples = list(ts.examples)
            pks = self._problem_pks(conn, {e.problem_id for e in examples})
            keyed = [e for e in examples if e.sample_key is not None]
            sample_ids = self._sample_ids(conn, rid, [e.sample_key for e in keyed])
            by_example = {id(e): sid for e, sid in zip(keyed, sample_ids, strict=True)}
            rows = [
                {
                    "round_id": rid,
                    "position": i,
                    "problem_pk": pks[e.problem_id],
                    "sample_id": by_example.get(id(e)),
                    "prompt": e.prompt,
                    "completion": e.completion,
                    "method": ts.method,
                }
                for i, e in enumerate(examples)
            ]
            n = self._insert_ignore(conn, TrainingExampleRow.__table__, rows)
            self._forget_counts(conn, rid)
            record = {"method": ts.method, "stats": dict(ts.stats), "n_examples": len(rows)}
            conn.execute(
                update(Round).where(Round.id == rid)
                .values(metrics={**metrics, _TRAINING_SET_KEY: record})
            )  # fmt: skip
            return n

    def get_training_set(self, run_id: str, index: int) -> TrainingSet | None:
        """The round's training set as recorded, or None if curate never recorded one."""
        sample_problem = aliased(ProblemRow)
        with self._read() as conn:
            found = conn.execute(
                select(Round.id, Round.metrics).where(Round.run_id == run_id, Round.index == index)
            ).one_or_none()
            if found is None or _TRAINING_SET_KEY not in (found.metrics or {}):
                return None
            record = found.metrics[_TRAINING_SET_KEY]
            rows = conn.execute(
                select(
                    TrainingExampleRow.prompt,
                    TrainingExampleRow.completion,
                    ProblemRow.problem_id,
                    SampleRow.source,
                    SampleRow.index,
                    sample_problem.problem_id.label("sample_problem_id"),
                )
                .join(ProblemRow, ProblemRow.id == TrainingExampleRow.problem_pk)
                .outerjoin(SampleRow, SampleRow.id == TrainingExampleRow.sample_id)
                .outerjoin(sample_problem, sample_problem.id == SampleRow.problem_pk)
                .where(TrainingExampleRow.round_id == found.id)
                .order_by(TrainingExampleRow.position)
            ).all()
        examples = tuple(
            TrainingExample(
                prompt=r.prompt,
                completion=r.completion,
                problem_id=r.problem_id,
                sample_key=None
                if r.source is None
                else (SampleSource(r.source).value, r.sample_problem_id, r.index),
            )
            for r in rows
        )
        return TrainingSet(method=record["method"], examples=examples, stats=record["stats"])

    def add_training_pairs(self, run_id: str, index: int, pairs: Sequence[Any]) -> int:
        """Record the DPO pairs round ``index`` trains on (``VerifiedPair``s), in order, once;
        returns how many were new (0 when the round has them already: a retried curate)."""
        if not pairs:
            return 0
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index, create=True)
            if conn.execute(select(TrainingPairRow.id).where(TrainingPairRow.round_id == rid).limit(1)).first():
                return 0
            pks = self._problem_pks(conn, {p.problem_id for p in pairs})
            chosen = self._sample_ids(conn, rid, [p.chosen_key for p in pairs])
            rejected = self._sample_ids(conn, rid, [p.rejected_key for p in pairs])
            rows = [
                {"round_id": rid, "position": i, "problem_pk": pks[p.problem_id], "chosen_sample_id": c,
                 "rejected_sample_id": r, "prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected}
                for i, (p, c, r) in enumerate(zip(pairs, chosen, rejected, strict=True))
            ]  # fmt: skip
            return self._insert_ignore(conn, TrainingPairRow.__table__, rows)

    def get_training_pairs(self, run_id: str, index: int) -> list[StoredPair] | None:
        """The round's recorded DPO pairs in order (problem_id, prompt, chosen, rejected and
        the two sample ids), or None if it recorded none."""
        with self._read() as conn:
            rows = conn.execute(
                select(ProblemRow.problem_id, TrainingPairRow.prompt, TrainingPairRow.chosen, TrainingPairRow.rejected,
                       TrainingPairRow.chosen_sample_id, TrainingPairRow.rejected_sample_id)
                .join(ProblemRow, ProblemRow.id == TrainingPairRow.problem_pk)
                .join(Round, Round.id == TrainingPairRow.round_id)
                .where(Round.run_id == run_id, Round.index == index)
                .order_by(TrainingPairRow.position)
            ).all()  # fmt: skip
        return [StoredPair(*r) for r in rows] or None
