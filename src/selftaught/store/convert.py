"""Records <-> rows: the one place that knows how a dataclass maps to table columns.

Rows going in are plain dicts (Core ``executemany`` parameters, the fast path); rows
coming out are SQLAlchemy ``Row`` objects with the columns selected here (``SAMPLE_COLS``,
``VERDICT_COLS``) or, for whole tables, all of them.
Surrogate keys (``round_id``, ``problem_pk``, ``sample_id``) are supplied by the caller,
which resolves natural keys first. Sample and verdict rows carry no ``created_at``: bulk
inserts bind it once per statement (``models.utc_constant``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any, Mapping, Sequence

from selftaught.homepaths import resolve_location, stored_location
from selftaught.records import (
    Checkpoint,
    Evaluation,
    Problem,
    Sample,
    SampleSource,
    SamplingParams,
    Split,
    Verdict,
)
from selftaught.store.models import DETAIL_MAX, ProblemRow, SampleRow, VerdictRow

_PARAM_FIELDS = frozenset(f.name for f in dataclasses.fields(SamplingParams))


# problems -------------------------------------------------------------------------------


def problem_to_row(p: Problem) -> dict[str, Any]:
    return {
        "problem_id": p.id,
        "prompt": p.prompt,
        "answer": p.answer,
        "split": Split(p.split),
        "solution": p.solution,
        "tests": p.tests,
        "choices": list(p.choices),
        "keywords": list(p.keywords),
        "meta": dict(p.meta),
    }


def problem_from_row(r: Any) -> Problem:
    return Problem(
        id=r.problem_id,
        prompt=r.prompt,
        answer=r.answer,
        split=Split(r.split),
        solution=r.solution,
        tests=r.tests,
        choices=tuple(r.choices or ()),
        keywords=tuple(r.keywords or ()),
        meta=dict(r.meta or {}),
    )


# samples --------------------------------------------------------------------------------


def params_to_json(params: SamplingParams) -> dict[str, Any]:
    return dataclasses.asdict(params)


def samples_to_rows(
    samples: Sequence[Sample], *, run_id: str, round_id: int, problem_pks: Mapping[str, int]
) -> list[dict[str, Any]]:
    """``sample_to_row`` for a batch; params are converted once per distinct value (a batch
    usually shares one ``SamplingParams``, and ``asdict`` was most of the ingest time)."""
    params: dict[SamplingParams, dict[str, Any]] = {}
    rows = []
    for s in samples:
        p = params.get(s.params)
        if p is None:
            p = params[s.params] = params_to_json(s.params)
        rows.append(sample_to_row(s, run_id=run_id, round_id=round_id,
                                  problem_pk=problem_pks[s.problem_id], params=p))  # fmt: skip
    return rows


def params_from_json(data: Mapping[str, Any] | None) -> SamplingParams:
    # keys a later version added are dropped rather than crash an older reader
    return SamplingParams(**{k: v for k, v in (data or {}).items() if k in _PARAM_FIELDS})


def sample_to_row(
    s: Sample,
    *,
    run_id: str,
    round_id: int,
    problem_pk: int,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    source = s.source if type(s.source) is SampleSource else SampleSource(s.source)
    return {
        "run_id": run_id,
        "round_id": round_id,
        "problem_pk": problem_pk,
        "source": source,
        "index": s.index,
        "prompt": s.prompt,
        "completion": s.completion,
        "checkpoint_id": s.checkpoint_id,
        "seed": s.seed,
        "params": params if params is not None else params_to_json(s.params),
        "n_tokens": s.n_tokens,
        "step": s.step,
        "rationalized": source is SampleSource.RATIONALIZE,
    }


def sample_from_row(r: Any) -> Sample:
    """``r`` has the samples columns plus ``problem_id`` (the natural key string)."""
    return Sample(
        problem_id=r.problem_id,
        index=r.index,
        prompt=r.prompt,
        completion=r.completion,
        source=SampleSource(r.source),
        seed=r.seed,
        params=params_from_json(r.params),
        checkpoint_id=r.checkpoint_id,
        n_tokens=r.n_tokens,
        step=r.step,
    )


# verdicts -------------------------------------------------------------------------------


def truncate_detail(detail: str) -> str:
    return detail if len(detail) <= DETAIL_MAX else detail[: DETAIL_MAX - 1] + "…"


def verdict_to_row(v: Verdict, *, sample_id: int, round_id: int, run_id: str) -> dict[str, Any]:
    return {
        "sample_id": sample_id,
        "round_id": round_id,  # the sample's round and run (denormalised, migration 0005)
        "run_id": run_id,
        "judge": v.judge,
        "judge_version": v.judge_version,
        "outcome": v.outcome,
        "score": float(v.score),
        "detail": truncate_detail(v.detail or ""),
    }


def verdict_from_row(r: Any) -> Verdict:
    return Verdict(
        judge=r.judge,
        outcome=r.outcome,
        score=r.score,
        detail=r.detail,
        judge_version=r.judge_version,
    )


# checkpoints and evaluations ------------------------------------------------------------


def checkpoint_to_row(c: Checkpoint, *, run_id: str, now: dt.datetime, home: str | Path) -> dict[str, Any]:
    """The row of ``c``: its folder recorded relative to ``home`` (``homepaths``)."""
    return {
        "id": c.id,
        "run_id": run_id,
        "round_index": c.round_index,
        "parent_id": c.parent_id,
        "path": stored_location(c.path, home),
        "sha256": c.sha256,
        "config": dict(c.config),
        "created_at": now,
        "pruned_at": c.pruned_at,
    }


def checkpoint_from_row(r: Any, home: str | Path) -> Checkpoint:
    """The checkpoint of row ``r``: its folder absolute under ``home`` (``homepaths``)."""
    return Checkpoint(
        id=r.id,
        path=resolve_location(r.path, home),
        sha256=r.sha256,
        parent_id=r.parent_id,
        round_index=r.round_index,
        config=dict(r.config or {}),
        pruned_at=r.pruned_at,
    )


_EVAL_METRICS = ("n_problems", "k", "greedy_accuracy", "pass_at_1", "pass_at_k", "maj_at_k")


def evaluation_to_row(e: Evaluation, *, round_id: int | None, now: dt.datetime) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(e, name) for name in _EVAL_METRICS}
    row.update(
        checkpoint_id=e.checkpoint_id,
        round_id=round_id,
        split=Split(e.split),
        extra=dict(e.extra),
        created_at=now,
    )
    return row


def evaluation_from_row(r: Any) -> Evaluation:
    return Evaluation(
        checkpoint_id=r.checkpoint_id,
        split=Split(r.split),
        extra=dict(r.extra or {}),
        **{name: getattr(r, name) for name in _EVAL_METRICS},
    )


# selected columns -------------------------------------------------------------------------

#: what ``sample_from_row`` reads (samples joined with problems)
SAMPLE_COLS = (
    SampleRow.id.label("sample_pk"),
    ProblemRow.problem_id,
    SampleRow.index,
    SampleRow.prompt,
    SampleRow.completion,
    SampleRow.source,
    SampleRow.seed,
    SampleRow.params,
    SampleRow.checkpoint_id,
    SampleRow.n_tokens,
    SampleRow.step,
)
#: what ``verdict_from_row`` reads
VERDICT_COLS = (
    VerdictRow.judge,
    VerdictRow.judge_version,
    VerdictRow.outcome,
    VerdictRow.score,
    VerdictRow.detail,
)
