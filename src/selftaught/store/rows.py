"""What the store's reads return: frozen records, one per kind of row, and its status enums.

In: nothing (plain data). Out: ``RunInfo`` (a run), ``RoundRow`` (one line of the round
table), ``SampleHit`` / ``ExportedSample`` (a sample search hit, a sample to export),
``ProblemHistory`` (one problem across rounds), a round's CAI records (``CaiRecords``),
and the small rows of the report, the rejudge summary, reward models and searches. The
write side takes the records of ``selftaught.records`` (``Sample``, ``Checkpoint``, ...);
these are only read back.

Each record is a frozen dataclass whose fields are in the order the CLI prints and writes
them; ``as_dict()`` gives the JSON-ready dict (nested records and tuples as dicts and
lists) that ``--json`` output and Prefect artifacts use. Enum fields are ``StrEnum``s: they
compare equal to, format and serialise as their values.

Imports the standard library and ``selftaught.records`` only.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, fields
from typing import Any, Mapping

from selftaught.records import (
    Checkpoint,
    Critique,
    Outcome,
    PreferencePair,
    Revision,
    SampleSource,
    SearchMethod,
    Split,
)


class RunStatus(enum.StrEnum):
    """Where a run stands (``runs.status``, migration 0013)."""

    CREATED = "created"  # recorded, no round started yet
    RUNNING = "running"
    DONE = "done"  # every stage it recorded is done
    FAILED = "failed"
    SUPERSEDED = "superseded"  # holds rounds moved aside by --retrain-from (supersede.py)


class StageStatus(enum.StrEnum):
    """Where one stage of one round stands. A stage with no row never started."""

    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def _plain(value: Any) -> Any:
    if isinstance(value, _Record):
        return value.as_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class _Record:
    def as_dict(self) -> dict[str, Any]:
        """The record as a JSON-ready dict, fields in order (nested records as dicts)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class RunInfo(_Record):
    """One run as stored (``Store.get_run``, ``Store.list_runs``)."""

    id: str
    name: str
    recipe: dict[str, Any]
    created_at: dt.datetime
    status: RunStatus


@dataclass(frozen=True)
class StagePlacement(_Record):
    """Where a stage ran its model (None: it ran none)."""

    device: str
    dtype: str | None
    peak_gpu_mb: float | None  # CUDA only, MiB


@dataclass(frozen=True)
class RoundRow(_Record):
    """One round of a run as ``Store.round_table`` summarises it (``ROUND_TABLE_KEYS``)."""

    index: int
    stages_done: tuple[str, ...]  # Stage values, in stage order
    stage_status: Mapping[str, StageStatus]  # Stage value -> status; absent: never started
    n_samples: int
    n_generate: int
    n_rationalized: int
    n_judged: int  # generate samples with a verdict
    pass_rate: float | None  # of the judged; None when none was judged
    n_train: int
    n_train_rationalized: int
    checkpoint_id: str | None  # the round's latest checkpoint
    heldout_k: int | None  # the held-out evaluation with the largest k
    heldout_greedy: float | None
    heldout_pass_at_1: float | None
    heldout_pass_at_k: float | None
    heldout_maj_at_k: float | None
    seconds: Mapping[str, float]  # Stage value -> seconds it took
    placement: Mapping[str, StagePlacement]  # Stage value -> where it ran its model
    constitution_hash: str | None
    # the round flow's wall time as the process that ran it measured it (Prefect and the
    # store's bookkeeping included; ``Store.record_round_wall``); None: not recorded
    wall_seconds: float | None = None

    @property
    def orchestration_share(self) -> float | None:
        """The share of the round's wall time spent outside the stage bodies (what the run
        printed as ``orch``), or None when the wall time was not recorded."""
        if not self.wall_seconds:
            return None
        return max(0.0, self.wall_seconds - sum(self.seconds.values())) / self.wall_seconds


#: where ``Round.metrics`` keeps a round's wall time (``Store.record_round_wall``)
WALL_SECONDS_KEY = "wall_seconds"

#: the round table's columns, in order
ROUND_TABLE_KEYS = tuple(f.name for f in fields(RoundRow))


@dataclass(frozen=True)
class SampleHit(_Record):
    """One (sample, verdict) row of a sample search (``Store.query_samples``); a sample with
    no verdict has ``outcome``, ``score``, ``judge``, ``judge_version`` and ``detail`` None."""

    sample_id: int
    run: str
    round: int
    problem_id: str
    source: SampleSource
    index: int
    prompt: str  # the exact text the model read (chat template, hint, ...)
    problem_prompt: str  # the problem's own prompt
    completion: str
    outcome: Outcome | None
    score: float | None
    judge: str | None
    judge_version: str | None
    detail: str | None
    rationalized: bool
    checkpoint_id: str | None
    seed: int | None


@dataclass(frozen=True)
class ExportedSample(SampleHit):
    """A ``SampleHit`` plus the problem's answer and split (``Store.export_samples``)."""

    answer: str | None
    split: Split


@dataclass(frozen=True)
class ProblemRound(_Record):
    """One problem in one (run, round, source): samples judged and passed."""

    run: str
    round: int
    source: SampleSource
    n_judged: int
    n_pass: int
    pass_rate: float | None
    mean_score: float | None


@dataclass(frozen=True)
class RoundRef(_Record):
    run: str
    round: int


@dataclass(frozen=True)
class ProblemHistory(_Record):
    """One stored version of a problem across rounds (``Store.problem_history``)."""

    problem_id: str  # as stored (``NAME@hash`` for a user's content-scoped problem)
    name: str  # the id the user knows
    prompt: str
    answer: str | None
    split: Split
    rounds: tuple[ProblemRound, ...]
    first_solved: RoundRef | None  # the first round with a pass (rationalize samples aside)
    best: tuple[SampleHit, ...]  # the five best-scored samples
    latest: tuple[SampleHit, ...]  # the five newest samples


@dataclass(frozen=True)
class ProblemPassRate(_Record):
    """One (round, problem) of a run: samples judged and passed (``Store.problem_pass_rates``)."""

    round: int
    problem_id: str
    n_judged: int
    n_pass: int


@dataclass(frozen=True)
class SampleCount(_Record):
    """How many (sample, verdict) rows of one (round, outcome, judge) a run holds, counted
    in SQL (``Store.sample_counts``); ``outcome`` and ``judge`` are None for samples that
    have no verdict."""

    round: int
    outcome: Outcome | None
    judge: str | None
    n: int


@dataclass(frozen=True)
class ProblemSolved(_Record):
    """One (round, held-out problem): whether any of the round's evaluation samples of it
    passed (every verdict on the sample passes; ``Store.heldout_solved``)."""

    round: int
    problem_id: str
    solved: bool


@dataclass(frozen=True)
class ScoreHistogram(_Record):
    """Verdict scores of one (round, judge) in equal bins over [0, 1] (``Store.score_histogram``)."""

    round: int
    judge: str
    counts: tuple[int, ...]


@dataclass(frozen=True)
class StoredConstitution(_Record):
    """One constitution version (``Store.get_constitution``)."""

    hash: str
    name: str
    text: str  # canonical JSON
    created_at: dt.datetime


@dataclass(frozen=True)
class CaiRecords:
    """What ``Store.get_cai`` reads back for one round (records of ``selftaught.records``)."""

    constitution_hash: str | None  # the round's
    critiques: tuple[Critique, ...]
    revisions: tuple[Revision, ...]
    pairs: tuple[PreferencePair, ...]
    kept: tuple[PreferencePair, ...]  # the pairs marked kept (above the threshold)


@dataclass(frozen=True)
class RewardModelInfo(_Record):
    """A reward-model checkpoint (``Store.get_reward_model``, ``list_reward_models``)."""

    checkpoint: Checkpoint | None
    kind: str  # "orm" or "prm"
    data: dict[str, Any]
    metrics: dict[str, Any]
    run_id: str
    created_at: dt.datetime


@dataclass(frozen=True)
class VerdictFlips(_Record):
    """One round compared under its own verdicts and a new judge version (``Store.verdict_flips``)."""

    round: int
    n_compared: int
    pass_to_fail: int
    fail_to_pass: int


@dataclass(frozen=True)
class StaleCheckpoint(_Record):
    """A round checkpoint trained on samples a new judge version fails (``Store.stale_checkpoints``)."""

    round: int
    checkpoint_id: str | None
    n_train: int
    n_no_longer_pass: int


@dataclass(frozen=True)
class SearchInfo(_Record):
    """One stored search, without its results (``Store.list_searches``)."""

    id: str
    run_id: str | None
    method: SearchMethod
    budget: int
    checkpoint: str  # path or id of the policy
    n_problems: int
    accuracy: float
    samples: int
    tokens: int
    created_at: dt.datetime


@dataclass(frozen=True)
class StoredPair(_Record):
    """One DPO pair a round trained on (``Store.get_training_pairs``)."""

    problem_id: str
    prompt: str
    chosen: str
    rejected: str
    chosen_sample_id: int | None
    rejected_sample_id: int | None
