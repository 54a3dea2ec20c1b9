"""Comparing runs of one store on their held-out problems (``selftaught compare``).

In: a ``Store`` and two or more run ids. Out: everything the command prints, as one
JSON-ready dict (``compare_runs``): held-out metrics per round of each run (greedy, pass@1,
pass@k, maj@k at the largest k evaluated, as ``Store.round_table`` gives them), per run the
held-out problems it solved in its latest evaluated round and those no other run solved,
and whether the runs evaluated the same problems; plus each run's round table (for the
plot). A problem is *solved* when its greedy completion or any of its K sampled completions
passes (greedy correct or pass@1 > 0), every verdict counted (``Store.problem_pass_rates``
over ``eval`` samples). Only the store is read; an unknown run id is a ``StoreError``.
"""

from __future__ import annotations

from typing import Any

METRICS = ("greedy", "pass_at_1", "pass_at_k", "maj_at_k")
SOLVED_HELP = "greedy correct or pass@1 > 0 (one of its K samples passes), in the run's latest evaluated round"


def heldout_metrics(rows: list[dict]) -> list[dict]:
    """Round-table rows -> ``{index, k, greedy, pass_at_1, pass_at_k, maj_at_k}`` per round."""
    return [{"index": r.index, "k": r.heldout_k, **{m: getattr(r, f"heldout_{m}") for m in METRICS}} for r in rows]


def solved_heldout(store: Any, run_id: str) -> dict | None:
    """``{round, n_evaluated, evaluated, solved}`` of the run's latest round with held-out eval
    samples (sorted problem ids; solved: see the module docstring); None if it has none."""
    from selftaught.records import Split

    rates = store.problem_pass_rates(run_id, source="eval")
    heldout = {p.id for p in store.get_problems(sorted({r.problem_id for r in rates}), split=Split.HELDOUT)}
    rates = [r for r in rates if r.problem_id in heldout]
    if not rates:
        return None
    latest = max(r.round for r in rates)
    mine = [r for r in rates if r.round == latest]
    solved = sorted(r.problem_id for r in mine if r.n_pass > 0)
    return {"round": latest, "n_evaluated": len(mine), "evaluated": [r.problem_id for r in mine], "solved": solved}


def comparison(store: Any, tables: dict[str, list[dict]]) -> dict:
    """Everything ``compare`` prints, as one JSON-ready dict, from each run's round table
    (``only``: solved by this run, by none of the others that have held-out samples;
    ``same_problems``: whether those runs evaluated the same held-out problems)."""
    run_ids = list(tables)
    solved = {r: solved_heldout(store, r) for r in run_ids}
    sets = {r: set(s["solved"]) for r, s in solved.items() if s is not None}
    only = {r: sorted(mine - set().union(*(v for o, v in sets.items() if o != r))) for r, mine in sets.items()}
    return {
        "runs": run_ids,
        "definition": SOLVED_HELP,
        "metrics": {r: heldout_metrics(rows) for r, rows in tables.items()},
        "solved": solved,
        "only": only,
        "same_problems": len({tuple(s["evaluated"]) for s in solved.values() if s is not None}) <= 1,
    }


def compare_runs(store: Any, run_ids: list[str], db: str) -> tuple[dict[str, list[dict]], dict]:
    """(each run's round table, ``comparison``) for ``run_ids`` of the store at ``db``."""
    from selftaught.errors import StoreError

    for r in run_ids:
        if store.get_run(r) is None:
            raise StoreError(f"no run {r!r} in {db}")
    tables = {r: store.round_table(r) for r in run_ids}
    return tables, comparison(store, tables)
