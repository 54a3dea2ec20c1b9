"""Test-time search records in the store: a search, its per-problem results, every node.

In: a ``records.SearchRecord`` (``selftaught.search.run_search`` makes them) and
optionally the run it belongs to. Out: the same record read back, or ``SearchInfo`` rows
for listings. A mixin of ``Store`` (it uses the store's transactions and natural-key
lookups); callers see only ``Store``.

A search is keyed by its id (``search.search_id``: method, budget and a hash of config,
checkpoint and problems), so storing it again stores nothing twice; its problems must be
stored already (``add_problems``), and its run too when one is given.
"""

from __future__ import annotations

from sqlalchemy import select

from selftaught.errors import StoreError
from selftaught.records import SearchMethod, SearchNode, SearchRecord, SearchResult
from selftaught.store.base import StoreBase
from selftaught.store.models import (
    ProblemRow,
    SearchNodeRow,
    SearchResultRow,
    SearchRow,
    utcnow,
)
from selftaught.store.rows import SearchInfo

_NODE_CHUNK = 5000


class SearchStoreMixin(StoreBase):
    def add_search(self, search: SearchRecord, *, run_id: str | None = None) -> bool:
        """Store a search with its results and nodes in one transaction; True if new.

        Re-adding a stored id writes nothing (and returns False); an id stored with another
        method or budget raises ``StoreError``.
        """
        with self._write() as conn:
            old = conn.execute(select(SearchRow.method, SearchRow.budget).where(SearchRow.id == search.id)).first()
            if old is not None:
                if (SearchMethod(old[0]), old[1]) != (search.method, search.budget):
                    raise StoreError(f"search {search.id!r} is already stored with another method or budget")
                return False
            if run_id is not None:
                self._require_run(conn, run_id)
            pks = self._problem_pks(conn, {r.problem_id for r in search.results})
            res = search.results
            row = {
                "id": search.id, "run_id": run_id, "method": search.method, "budget": search.budget,
                "checkpoint": search.checkpoint, "config": dict(search.config), "n_problems": len(res),
                "accuracy": search.accuracy, "samples": sum(r.samples for r in res),
                "tokens": sum(r.tokens for r in res), "created_at": utcnow(),
            }  # fmt: skip
            conn.execute(self._insert(SearchRow.__table__), [row])
            results = [
                {"search_id": search.id, "problem_pk": pks[r.problem_id], "node_index": r.node_index,
                 "completion": r.completion, "answer": r.answer, "correct": r.correct, "samples": r.samples,
                 "tokens": r.tokens, "expansions": r.expansions}
                for r in res
            ]  # fmt: skip
            self._insert_ignore(conn, SearchResultRow.__table__, results)
            unknown = {n.problem_id for n in search.nodes} - set(pks)
            if unknown:
                raise StoreError(f"search {search.id!r} has nodes of problems without a result, e.g. {sorted(unknown)[:3]}")
            nodes = [
                {"search_id": search.id, "problem_pk": pks[n.problem_id], "index": n.index,
                 "parent_index": n.parent, "depth": n.depth, "kind": n.kind, "text": n.text, "step": n.step,
                 "final": n.final, "n_tokens": n.n_tokens, "scores": dict(n.scores), "correct": n.correct,
                 "selected": n.selected}
                for n in search.nodes
            ]  # fmt: skip
            for start in range(0, len(nodes), _NODE_CHUNK):
                self._insert_ignore(conn, SearchNodeRow.__table__, nodes[start : start + _NODE_CHUNK])
            return True

    def get_search(self, search_id: str, *, nodes: bool = True) -> SearchRecord | None:
        """A stored search with its results (and, unless ``nodes=False``, every node), or None."""
        with self._read() as conn:
            head = conn.execute(select(SearchRow.__table__).where(SearchRow.id == search_id)).one_or_none()
            if head is None:
                return None
            res = conn.execute(
                select(ProblemRow.problem_id, SearchResultRow.__table__)
                .join(ProblemRow, ProblemRow.id == SearchResultRow.problem_pk)
                .where(SearchResultRow.search_id == search_id)
                .order_by(SearchResultRow.id)
            ).all()
            rows = [] if not nodes else conn.execute(
                select(ProblemRow.problem_id, SearchNodeRow.__table__)
                .join(ProblemRow, ProblemRow.id == SearchNodeRow.problem_pk)
                .where(SearchNodeRow.search_id == search_id)
                .order_by(SearchNodeRow.problem_pk, SearchNodeRow.index)
            ).all()  # fmt: skip
        results = tuple(
            SearchResult(problem_id=r.problem_id, completion=r.completion, answer=r.answer, correct=bool(r.correct),
                         samples=r.samples, tokens=r.tokens, expansions=r.expansions, node_index=r.node_index)
            for r in res
        )  # fmt: skip
        node_records = tuple(
            SearchNode(problem_id=n.problem_id, index=n.index, parent=n.parent_index, depth=n.depth, kind=n.kind,
                       text=n.text, step=n.step, final=bool(n.final), n_tokens=n.n_tokens, scores=n.scores,
                       correct=None if n.correct is None else bool(n.correct), selected=bool(n.selected))
            for n in rows
        )  # fmt: skip
        return SearchRecord(id=head.id, method=SearchMethod(head.method), budget=head.budget, config=head.config,
                            checkpoint=head.checkpoint, results=results, nodes=node_records)  # fmt: skip

    def list_searches(self, run_id: str | None = None) -> list[SearchInfo]:
        """One record per stored search (oldest first): id, run, method, budget, accuracy, cost."""
        t = SearchRow.__table__
        stmt = select(t.c.id, t.c.run_id, t.c.method, t.c.budget, t.c.checkpoint, t.c.n_problems, t.c.accuracy,
                      t.c.samples, t.c.tokens, t.c.created_at).order_by(t.c.created_at, t.c.id)  # fmt: skip
        if run_id is not None:
            stmt = stmt.where(t.c.run_id == run_id)
        with self._read() as conn:
            return [SearchInfo(*r) for r in conn.execute(stmt)]
