"""The store's tables, as typed SQLAlchemy 2 models.

One row per thing that happened, keyed so that a re-run cannot duplicate it. Every table
has a natural key (a unique constraint) that the writers in ``store.py`` upsert on with
``ON CONFLICT DO NOTHING``; surrogate integer ``id`` columns exist only so that foreign
keys stay small.

    runs ─< rounds ─< stages
              │
              ├─< samples >── problems
              │      └─< verdicts
              ├─< training_examples, training_pairs (DPO)
              └─< evaluations >── checkpoints ─┐ (parent_id, self)
                                      └────────┘

Naming: a surrogate primary key is ``id``; a foreign key is ``<table>_id``, except
``problem_pk`` (because ``problems.problem_id`` is the problem's own natural-key string,
the one every record and query uses).

Closed sets (``Split``, ``Outcome``, ``SampleSource``, ``Stage``, ``RunStatus``,
``StageStatus``, ``StageDevice``, ``StageDType``) are
``Enum`` columns stored as their *values* in a VARCHAR (``native_enum=False``, fixed
length), portable across SQLite and PostgreSQL and stable when a member is added.

Constitutional AI (0004): ``constitutions`` (one row per version, keyed by content hash);
``critiques`` and ``revisions`` keyed by (sample, pass); ``preference_pairs`` keyed by
(round, problem, principle). They hang off ``samples.id`` and ``rounds.id`` like verdicts
do, and name the constitution version they were made under.

History speed (0005): ``verdicts.round_id``/``run_id`` are copies of the sample's, so that
a round's or run's verdicts can be read in score order; ``rounds.summary`` and
``rounds.report`` cache a round's counts (``summaries.py``). The completion search index (SQLite FTS5 table, or a
PostgreSQL trigram index) lives outside these models (``UNMODELLED``, ``text_index.py``).

Checkpoint pruning (0008): ``checkpoints.pruned_at`` stamps a checkpoint whose weights were
deleted to save disk (``keep_checkpoints``); its row stays, so lineage never breaks.

DPO training sets (0012): ``training_pairs`` holds the pairs a DPO round trained on, in
order, with the samples they came from, as ``training_examples`` does for SFT rounds.

Placement (0009): ``stages.device``, ``stages.dtype`` and ``stages.peak_gpu_mb`` say where a
stage ran its model (``selftaught.hardware``) and, on CUDA, the most GPU memory it held;
NULL for a stage that loads no model (judge, curate), and for rows written before 0009.

Run leases (0010): ``runs.lease_*`` name the one process working on a run (host, pid and the
process's start time), a token new at each acquisition, and when it was taken, last renewed
and expires (``lease_store.py``, ``flows/lease.py``). All NULL: nobody holds it, as for
every run written before 0010.

Run status (0013): ``runs.status`` is a ``RunStatus`` enum column (it was free text,
holding the same values).

Judge versions (0011): ``verdicts.judge_version`` is a hash of the judge's options and code
version (``judges/version.py``); verdicts written before 0011 say ``unknown`` (or
``unknown:LABEL``). A sample may hold verdicts of several versions (``selftaught rejudge``
adds them beside the old ones); a round's own version is that of its first verdict.

This module imports SQLAlchemy but nothing else heavy; it knows nothing about records
(conversion lives in ``convert.py``).
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Double,
    Enum,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    bindparam,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from selftaught.records import Outcome, SampleSource, SearchMethod, Split, Stage
from selftaught.store.rows import RunStatus, StageStatus

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: VARCHAR length of every enum column: adding a member never changes the schema.
ENUM_LENGTH = 32
#: ``verdicts.detail`` is cut to this many characters (a reason, not a transcript).
DETAIL_MAX = 2000
#: name prefixes of search objects that migration 0005 creates outside these models (SQLite's
#: FTS5 table ``samples_fts`` and its shadow tables, PostgreSQL's trigram index):
#: ``alembic/env.py`` leaves them out of ``alembic check``
UNMODELLED = ("samples_fts", "ix_samples_completion_trgm")


class StageDevice(enum.StrEnum):
    """Where a stage ran its model (``hardware.Placement.device``)."""

    CPU = "cpu"
    CUDA = "cuda"


class StageDType(enum.StrEnum):
    """The dtype a stage sampled in, or its trainer's mixed precision (``hardware.Placement.dtype``)."""

    FLOAT32 = "float32"
    BFLOAT16 = "bfloat16"
    FLOAT16 = "float16"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is stored as
    naive UTC and given ``tzinfo=UTC`` back on the way out. Naive input is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: store timezone-aware UTC times")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utc_constant(now: dt.datetime, dialect_name: str) -> BindParameter[Any]:
    """``now`` as one statement-level bound value that a ``UTCDateTime`` column reads back.

    For bulk inserts: a value in every row costs two type conversions per row (a third of
    the ingest time on SQLite); this is converted once. On SQLite it is the exact text
    SQLAlchemy's DATETIME writes for naive UTC.
    """
    if dialect_name == "sqlite":
        text = now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return bindparam("created_now", text, type_=String())
    return bindparam("created_now", now, type_=UTCDateTime())


def _enum(cls: type[enum.Enum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=ENUM_LENGTH,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
        float: Double(),
        str: String(),
    }


class Run(Base):
    """One orchestrated run: a recipe applied round after round."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(primary_key=True)  # the run id users type
    name: Mapped[str]
    recipe: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[RunStatus] = mapped_column(_enum(RunStatus), default=RunStatus.CREATED)
    # the lease of the process working on the run (0010); all NULL: nobody holds it
    lease_token: Mapped[str | None]
    lease_host: Mapped[str | None]
    lease_pid: Mapped[int | None]
    lease_pid_start: Mapped[str | None]  # the owner process's start time (a reused pid differs)
    lease_acquired_at: Mapped[dt.datetime | None]
    lease_heartbeat_at: Mapped[dt.datetime | None]
    lease_expires_at: Mapped[dt.datetime | None]


class Round(Base):
    """Round ``index`` of a run. ``metrics`` also holds the curated set's method/stats."""

    __tablename__ = "rounds"
    __table_args__ = (UniqueConstraint("run_id", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    index: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    constitution_hash: Mapped[str | None]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the round's sample/verdict/training counts as of its last finished stage (0005),
    # so `selftaught rounds` never re-counts a finished round; NULL = count live
    # (cleared by every write of samples, verdicts or training examples: store/summaries.py)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    # the same for the report: per-problem pass counts and score histograms (0005)
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))


class StageRun(Base):
    """One stage of one round: its status, timing, metrics and error."""

    __tablename__ = "stages"
    __table_args__ = (UniqueConstraint("round_id", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    stage: Mapped[Stage] = mapped_column(_enum(Stage))
    status: Mapped[StageStatus] = mapped_column(_enum(StageStatus))
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    seconds: Mapped[float | None]
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    # where the stage ran its model (0009); NULL: no model, or recorded before 0009
    device: Mapped[StageDevice | None] = mapped_column(_enum(StageDevice))
    dtype: Mapped[StageDType | None] = mapped_column(_enum(StageDType))
    peak_gpu_mb: Mapped[float | None]  # torch.cuda.max_memory_allocated over the stage, MiB


class ProblemRow(Base):
    """A problem, keyed by its own ``problem_id``."""

    __tablename__ = "problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[str] = mapped_column(unique=True)
    prompt: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    split: Mapped[Split] = mapped_column(_enum(Split), index=True)
    solution: Mapped[str | None] = mapped_column(Text)
    tests: Mapped[str | None] = mapped_column(Text)
    choices: Mapped[list[Any]] = mapped_column(default=list)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SampleRow(Base):
    """One completion, with everything needed to replay it (checkpoint, seed, params)."""

    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("round_id", "source", "problem_pk", "index"),
        Index("ix_samples_round_id", "round_id"),
        Index("ix_samples_problem_pk", "problem_pk"),
        Index("ix_samples_checkpoint_id", "checkpoint_id"),
        Index("ix_samples_run_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    # rounds.run_id, copied (migration 0002): a run's samples in id order come from one
    # index, so a run-wide page (`selftaught samples --run R`) never sorts the whole run
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    problem_pk: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    source: Mapped[SampleSource] = mapped_column(_enum(SampleSource))
    index: Mapped[int]
    prompt: Mapped[str] = mapped_column(Text)
    completion: Mapped[str] = mapped_column(Text)
    # not a foreign key: a sample may come from a base model that was never registered
    checkpoint_id: Mapped[str | None]
    seed: Mapped[int]
    params: Mapped[dict[str, Any]]
    n_tokens: Mapped[int] = mapped_column(default=0)
    step: Mapped[int | None]
    # derived from source, stored so that it can be filtered on and indexed
    rationalized: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class VerdictRow(Base):
    """What one judge (at one version) concluded about one sample."""

    __tablename__ = "verdicts"
    __table_args__ = (
        # verdicts are reached through their sample (this leads with sample_id); no index
        # on outcome or judge: a few values each, they misled SQLite's planner (0003)
        UniqueConstraint("sample_id", "judge", "judge_version"),
        # a round's or a run's verdicts in score order: `--sort -score` reads a page (0005)
        # (sample_id: the tie-break of that order, so ties are read in order too, not sorted)
        Index("ix_verdicts_round_id_score", "round_id", "score", "sample_id"),
        Index("ix_verdicts_run_id_score", "run_id", "score", "sample_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"))
    # the sample's round and run, copied (migration 0005) so that the indexes above can
    # exist; written only by ``Store.add_verdicts``, from the sample's own, so no foreign
    # keys (each one cost an extra lookup per inserted verdict)
    round_id: Mapped[int]
    run_id: Mapped[str]
    judge: Mapped[str]
    judge_version: Mapped[str]
    outcome: Mapped[Outcome] = mapped_column(_enum(Outcome))
    score: Mapped[float]
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TrainingExampleRow(Base):
    """One row of a round's curated training set, in order (``position``)."""

    __tablename__ = "training_examples"
    __table_args__ = (
        UniqueConstraint("round_id", "problem_pk", "sample_id"),
        UniqueConstraint("round_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    position: Mapped[int]
    problem_pk: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"), index=True)
    prompt: Mapped[str] = mapped_column(Text)
    completion: Mapped[str] = mapped_column(Text)
    method: Mapped[str]


class TrainingPairRow(Base):
    """One DPO pair a round trained on, in order (``position``): the prompt, the chosen and
    rejected completions and the samples they came from (0012)."""

    __tablename__ = "training_pairs"
    __table_args__ = (UniqueConstraint("round_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    position: Mapped[int]
    problem_pk: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    chosen_sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"))
    rejected_sample_id: Mapped[int | None] = mapped_column(ForeignKey("samples.id"))
    prompt: Mapped[str] = mapped_column(Text)
    chosen: Mapped[str] = mapped_column(Text)
    rejected: Mapped[str] = mapped_column(Text)


class CheckpointRow(Base):
    """A saved policy: where it is, its hash, its parent and the config that trained it."""

    __tablename__ = "checkpoints"

    id: Mapped[str] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    round_index: Mapped[int | None]
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("checkpoints.id"))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str]
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # when its weights were deleted (keep_checkpoints, `selftaught prune`; 0008); the row,
    # its lineage and its folder's manifest stay. NULL = never pruned
    pruned_at: Mapped[dt.datetime | None]


class EvaluationRow(Base):
    """Metrics of one checkpoint on one split at one k."""

    __tablename__ = "evaluations"
    __table_args__ = (UniqueConstraint("checkpoint_id", "split", "k"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checkpoint_id: Mapped[str] = mapped_column(ForeignKey("checkpoints.id"))
    round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"), index=True)
    split: Mapped[Split] = mapped_column(_enum(Split))
    n_problems: Mapped[int]
    k: Mapped[int]
    greedy_accuracy: Mapped[float]
    pass_at_1: Mapped[float]
    pass_at_k: Mapped[float]
    maj_at_k: Mapped[float]
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Constitutional AI (migration 0004) ---------------------------------------------------------


class ConstitutionRow(Base):
    """One version of a constitution, stored once: its hash, name and canonical JSON text."""

    __tablename__ = "constitutions"

    hash: Mapped[str] = mapped_column(primary_key=True)  # sha256 of ``text``
    name: Mapped[str]
    text: Mapped[str] = mapped_column(Text)  # canonical JSON (``constitution.canonical_json``)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CritiqueRow(Base):
    """Pass ``pass_index`` of the critique chain of one answer (a stored sample)."""

    __tablename__ = "critiques"
    __table_args__ = (UniqueConstraint("sample_id", "pass_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"))
    pass_index: Mapped[int]
    principle_id: Mapped[str]
    constitution_hash: Mapped[str] = mapped_column(ForeignKey("constitutions.hash"))
    answer: Mapped[str] = mapped_column(Text)  # the text critiqued
    text: Mapped[str] = mapped_column(Text)
    seed: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RevisionRow(Base):
    """The revision written after critique ``pass_index`` of one answer."""

    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("sample_id", "pass_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"))
    pass_index: Mapped[int]
    principle_id: Mapped[str]
    constitution_hash: Mapped[str] = mapped_column(ForeignKey("constitutions.hash"))
    text: Mapped[str] = mapped_column(Text)
    seed: Mapped[int]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PreferencePairRow(Base):
    """An AI-feedback comparison of two stored answers under one principle."""

    __tablename__ = "preference_pairs"
    __table_args__ = (UniqueConstraint("round_id", "problem_pk", "principle_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    problem_pk: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    chosen_sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"))
    rejected_sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"))
    principle_id: Mapped[str]
    constitution_hash: Mapped[str] = mapped_column(ForeignKey("constitutions.hash"))
    p_chosen: Mapped[float]  # the feedback model's probability that ``chosen`` is better
    kept: Mapped[bool] = mapped_column(Boolean, default=False)  # p_chosen >= threshold
    feedback_model: Mapped[str]
    option_logprobs: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Step labels and reward models (migration 0006) --------------------------------------------


class RewardModelKind(enum.StrEnum):
    """What a reward-model checkpoint scores."""

    ORM = "orm"  # outcome: P(the whole completion is correct)
    PRM = "prm"  # process: per step, P(still on a path to the correct answer)


class StepLabelRow(Base):
    """The Math-Shepherd estimate for step ``step_index`` of one stored sample.

    ``rollouts`` continuations from the step's prefix, ``successes`` of them correct (a
    final-answer step: 1 rollout, the sample itself). Hard label = successes > 0, soft =
    successes / rollouts. ``params`` holds how the rollouts were drawn (checkpoint, seed,
    sampling params, delimiter)."""

    __tablename__ = "step_labels"
    __table_args__ = (UniqueConstraint("sample_id", "step_index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"))
    step_index: Mapped[int]
    step: Mapped[str] = mapped_column(Text)
    rollouts: Mapped[int]
    successes: Mapped[int]
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RewardModelRow(Base):
    """A checkpoint that is a reward model (``kind`` orm/prm), not a policy.

    The checkpoint itself is an ordinary ``checkpoints`` row (path, hash, parent = the
    policy it was initialised from); this row says what kind it is, what it was trained
    on (``data``: run, rounds, row counts) and how good it is on held-out data
    (``metrics``)."""

    __tablename__ = "reward_models"

    checkpoint_id: Mapped[str] = mapped_column(ForeignKey("checkpoints.id"), primary_key=True)
    kind: Mapped[RewardModelKind] = mapped_column(_enum(RewardModelKind))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


# Test-time search (migration 0007) ----------------------------------------------------------


class SearchRow(Base):
    """One test-time search over a problem set (``selftaught search``): method, budget,
    config, the policy it searched with, and its totals (accuracy, samples, tokens)."""

    __tablename__ = "searches"

    id: Mapped[str] = mapped_column(primary_key=True)  # search.run.search_id: method-budget-hash
    run_id: Mapped[str | None] = mapped_column(ForeignKey("runs.id"), index=True)
    method: Mapped[SearchMethod] = mapped_column(_enum(SearchMethod))
    budget: Mapped[int]
    checkpoint: Mapped[str] = mapped_column(Text)  # path or id of the policy
    config: Mapped[dict[str, Any]] = mapped_column(default=dict)  # SearchConfig + reward models
    n_problems: Mapped[int]
    accuracy: Mapped[float]
    samples: Mapped[int]  # complete solutions generated, all problems
    tokens: Mapped[int]  # generated tokens, all problems
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SearchResultRow(Base):
    """What one search selected for one problem, whether it is right, what it cost."""

    __tablename__ = "search_results"
    __table_args__ = (UniqueConstraint("search_id", "problem_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("searches.id"))
    problem_pk: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    node_index: Mapped[int | None]  # the selected search_nodes.index
    completion: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text)
    correct: Mapped[bool] = mapped_column(Boolean)
    samples: Mapped[int]
    tokens: Mapped[int]
    expansions: Mapped[int]


class SearchNodeRow(Base):
    """One candidate, partial step path or rollout of a search (``records.SearchNode``)."""

    __tablename__ = "search_nodes"
    __table_args__ = (UniqueConstraint("search_id", "problem_pk", "index"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    search_id: Mapped[str] = mapped_column(ForeignKey("searches.id"))
    problem_pk: Mapped[int] = mapped_column(ForeignKey("problems.id"))
    index: Mapped[int]
    parent_index: Mapped[int | None]
    depth: Mapped[int]
    kind: Mapped[str]
    text: Mapped[str] = mapped_column(Text)
    step: Mapped[str] = mapped_column(Text)
    final: Mapped[bool] = mapped_column(Boolean)
    n_tokens: Mapped[int]
    scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    correct: Mapped[bool | None] = mapped_column(Boolean)
    selected: Mapped[bool] = mapped_column(Boolean, default=False)
