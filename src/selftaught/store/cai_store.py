"""Constitutional AI records in the store: constitution versions, critiques, revisions and
AI-feedback preference pairs. A mixin of ``Store`` (it uses the store's transactions and
natural-key lookups: ``base.StoreBase``); callers see only ``Store``."""

from __future__ import annotations

import math
from typing import Iterable, Sequence

from sqlalchemy import Connection, String, select, type_coerce
from sqlalchemy.orm import aliased

from selftaught.errors import StoreError
from selftaught.records import Critique, PreferencePair, Revision
from selftaught.store.base import StoreBase
from selftaught.store.models import (
    ConstitutionRow,
    CritiqueRow,
    PreferencePairRow,
    ProblemRow,
    RevisionRow,
    Round,
    SampleRow,
    utcnow,
)
from selftaught.store.rows import CaiRecords, StoredConstitution


class CaiStoreMixin(StoreBase):
    def add_constitution(self, hash: str, name: str, text: str) -> bool:
        """Record one constitution version (keyed by its content hash), once; True if new.

        ``text`` is its canonical JSON (``constitution.canonical_json``). Re-adding a hash
        with a different text raises ``StoreError`` (the hash must be of that text).
        """
        with self._write() as conn:
            old = conn.execute(
                select(ConstitutionRow.text).where(ConstitutionRow.hash == hash)
            ).scalar_one_or_none()
            if old is not None:
                if old != text:
                    raise StoreError(f"constitution {hash[:12]} is already stored with a different text")
                return False
            row = {"hash": hash, "name": name, "text": text, "created_at": utcnow()}
            return self._insert_ignore(conn, ConstitutionRow.__table__, [row]) == 1

    def get_constitution(self, hash: str) -> StoredConstitution | None:
        """A stored version, or None."""
        with self._read() as conn:
            row = conn.execute(
                select(ConstitutionRow.hash, ConstitutionRow.name, ConstitutionRow.text, ConstitutionRow.created_at)
                .where(ConstitutionRow.hash == hash)
            ).one_or_none()
        return None if row is None else StoredConstitution(*row)

    def add_critiques(self, run_id: str, index: int, critiques: Sequence[Critique]) -> int:
        """Store critiques of answers stored in round ``index``; returns how many were new.

        Keyed by (sample, pass); the critiqued sample and the constitution version must be
        stored already (``add_samples``, ``add_constitution``), or nothing is written.
        """
        critiques = list(critiques)
        if not critiques:
            return 0
        now = utcnow()
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            self._require_constitutions(conn, {c.constitution_hash for c in critiques})
            ids = self._sample_ids(conn, rid, [c.sample_key for c in critiques])
            rows = [
                {"sample_id": sid, "pass_index": c.pass_index, "principle_id": c.principle_id,
                 "constitution_hash": c.constitution_hash, "answer": c.answer, "text": c.text,
                 "seed": c.seed}
                for c, sid in zip(critiques, ids, strict=True)
            ]  # fmt: skip
            return self._insert_ignore(conn, CritiqueRow.__table__, rows, created_at=now)

    def add_revisions(self, run_id: str, index: int, revisions: Sequence[Revision]) -> int:
        """Store revisions of answers stored in round ``index`` (keyed by sample, pass)."""
        revisions = list(revisions)
        if not revisions:
            return 0
        now = utcnow()
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            self._require_constitutions(conn, {r.constitution_hash for r in revisions})
            ids = self._sample_ids(conn, rid, [r.sample_key for r in revisions])
            rows = [
                {"sample_id": sid, "pass_index": r.pass_index, "principle_id": r.principle_id,
                 "constitution_hash": r.constitution_hash, "text": r.text, "seed": r.seed}
                for r, sid in zip(revisions, ids, strict=True)
            ]  # fmt: skip
            return self._insert_ignore(conn, RevisionRow.__table__, rows, created_at=now)

    def add_preference_pairs(
        self, run_id: str, index: int, pairs: Sequence[PreferencePair],
        kept: Iterable[PreferencePair] = (),
    ) -> int:  # fmt: skip
        """Store AI-feedback pairs of round ``index`` (keyed by round, problem, principle).

        Both answers must be stored samples of the round; ``kept`` is the subset that
        passed the confidence threshold (stored as ``kept``). Returns how many were new.
        """
        pairs = list(pairs)
        if not pairs:
            return 0
        keep = set(kept)
        now = utcnow()
        with self._write() as conn:
            rid = self._round_id(conn, run_id, index)
            self._require_constitutions(conn, {p.constitution_hash for p in pairs})
            pks = self._problem_pks(conn, {p.problem_id for p in pairs})
            chosen = self._sample_ids(conn, rid, [p.chosen_key for p in pairs])
            rejected = self._sample_ids(conn, rid, [p.rejected_key for p in pairs])
            rows = [
                {"round_id": rid, "problem_pk": pks[p.problem_id], "chosen_sample_id": c,
                 "rejected_sample_id": r, "principle_id": p.principle_id,
                 "constitution_hash": p.constitution_hash, "p_chosen": float(p.p_chosen),
                 "kept": p in keep, "feedback_model": p.feedback_model,
                 "option_logprobs": [[v if math.isfinite(v) else None for v in row]
                                     for row in p.option_logprobs]}
                for p, c, r in zip(pairs, chosen, rejected, strict=True)
            ]  # fmt: skip
            return self._insert_ignore(conn, PreferencePairRow.__table__, rows, created_at=now)

    def get_cai(self, run_id: str, index: int) -> CaiRecords:
        """The round's constitution hash, critiques, revisions and preference pairs."""
        with self._read() as conn:
            found = conn.execute(
                select(Round.id, Round.constitution_hash).where(Round.run_id == run_id, Round.index == index)
            ).one_or_none()
            if found is None:
                raise StoreError(f"run {run_id!r} has no round {index}")
            rid, chash = found
            key = (ProblemRow.problem_id, type_coerce(SampleRow.source, String()), SampleRow.index)
            crit = conn.execute(
                select(*key, CritiqueRow.__table__)
                .join(SampleRow, SampleRow.id == CritiqueRow.sample_id)
                .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
                .where(SampleRow.round_id == rid)
                .order_by(ProblemRow.problem_id, SampleRow.source, SampleRow.index, CritiqueRow.pass_index)
            ).all()
            revs = conn.execute(
                select(*key, RevisionRow.__table__)
                .join(SampleRow, SampleRow.id == RevisionRow.sample_id)
                .join(ProblemRow, ProblemRow.id == SampleRow.problem_pk)
                .where(SampleRow.round_id == rid)
                .order_by(ProblemRow.problem_id, SampleRow.source, SampleRow.index, RevisionRow.pass_index)
            ).all()
            ch, rj = aliased(SampleRow), aliased(SampleRow)
            prs = conn.execute(
                select(
                    ProblemRow.problem_id, PreferencePairRow.__table__,
                    ch.prompt.label("prompt"), ch.completion.label("chosen"),
                    type_coerce(ch.source, String()).label("c_source"), ch.index.label("c_index"),
                    rj.completion.label("rejected"),
                    type_coerce(rj.source, String()).label("r_source"), rj.index.label("r_index"),
                )
                .join(ProblemRow, ProblemRow.id == PreferencePairRow.problem_pk)
                .join(ch, ch.id == PreferencePairRow.chosen_sample_id)
                .join(rj, rj.id == PreferencePairRow.rejected_sample_id)
                .where(PreferencePairRow.round_id == rid)
                .order_by(ProblemRow.problem_id, PreferencePairRow.principle_id)
            ).all()
        critiques = tuple(
            Critique(r.problem_id, (r.source, r.problem_id, r.index), r.pass_index, r.principle_id,
                     r.constitution_hash, r.answer, r.text, r.seed)
            for r in crit
        )  # fmt: skip
        revisions = tuple(
            Revision(r.problem_id, (r.source, r.problem_id, r.index), r.pass_index, r.principle_id,
                     r.constitution_hash, r.text, r.seed)
            for r in revs
        )  # fmt: skip
        pairs: list[PreferencePair] = []
        kept: list[PreferencePair] = []
        for r in prs:
            pair = PreferencePair(
                problem_id=r.problem_id, prompt=r.prompt, principle_id=r.principle_id,
                constitution_hash=r.constitution_hash, chosen=r.chosen, rejected=r.rejected,
                chosen_key=(r.c_source, r.problem_id, r.c_index),
                rejected_key=(r.r_source, r.problem_id, r.r_index),
                p_chosen=r.p_chosen, feedback_model=r.feedback_model,
                option_logprobs=tuple(
                    tuple(-math.inf if v is None else v for v in row) for row in r.option_logprobs or ()
                ),
            )  # fmt: skip
            pairs.append(pair)
            if r.kept:
                kept.append(pair)
        return CaiRecords(chash, critiques, revisions, tuple(pairs), tuple(kept))

    def _require_constitutions(self, conn: Connection, hashes: Iterable[str]) -> None:
        wanted = sorted(set(hashes))
        found = set(
            conn.execute(select(ConstitutionRow.hash).where(ConstitutionRow.hash.in_(wanted))).scalars()
        )
        missing = [h for h in wanted if h not in found]
        if missing:
            raise StoreError(
                f"constitution {missing[0][:12]} is not in the store: add_constitution first"
            )
