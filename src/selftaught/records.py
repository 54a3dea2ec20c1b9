"""The records that flow between stages of a round.

Every stage takes records and returns new ones; none is ever half filled in. A
``Sample`` is what the policy wrote, a ``Verdict`` is what a judge said about it,
and "not yet judged" is simply the absence of a Verdict, never a score of zero.

    Problem --generate--> Sample --judge--> Verdict --curate--> TrainingSet
        --train--> Checkpoint --evaluate--> Evaluation

These are plain frozen dataclasses: no Prefect, no SQLAlchemy, no torch. The store
maps them to rows; the loops produce and consume them.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import Any, Mapping


class Split(enum.StrEnum):
    """Which side of the train / held-out wall a problem lives on."""

    TRAIN = "train"
    HELDOUT = "heldout"


class Outcome(enum.StrEnum):
    """What a judge concluded. ``ERROR`` and ``TIMEOUT`` are not wrong answers."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    TIMEOUT = "timeout"


class SampleSource(enum.StrEnum):
    """Why a sample was generated (part of its natural key)."""

    GENERATE = "generate"  # K samples per training problem
    RATIONALIZE = "rationalize"  # STaR: re-prompted with the answer as a hint
    EVAL = "eval"  # held-out evaluation
    ROLLOUT = "rollout"  # generated inside an RL trainer (GRPO/RLOO)
    SEARCH = "search"  # the answer a test-time search selected (selftaught.search)


class Stage(enum.StrEnum):
    """The stages of a round, in order."""

    GENERATE = "generate"
    JUDGE = "judge"
    RATIONALIZE = "rationalize"  # STaR only; recorded as done with nothing to do otherwise
    CURATE = "curate"
    TRAIN = "train"
    EVALUATE = "evaluate"


STAGE_ORDER: tuple[Stage, ...] = tuple(Stage)


@dataclass(frozen=True)
class Problem:
    """One prompt with whatever reference the judges need.

    ``id`` is stable and unique within a problem set (it is the natural key, unique in
    the store). Problems read from user files carry a content-scoped id ``NAME@hash``
    (``scope_problem``), the user's own id in ``meta["name"]``, so that a file that
    reuses an id with a changed prompt makes a new problem instead of a conflict.
    ``answer`` is the gold final answer for math-like tasks; ``solution`` is an
    optional worked chain of thought (used for cold-start SFT only).
    """

    id: str
    prompt: str
    answer: str | None = None
    split: Split = Split.TRAIN
    solution: str | None = None
    tests: str | None = None  # code problems: test source run against the completion
    choices: tuple[str, ...] = ()  # multiple choice options, in order (A, B, ...)
    keywords: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)


#: the fields a content-scoped id hashes: what the problem says, not where it lives
#: (``split``) nor what is said about it (``meta``)
CONTENT_FIELDS = ("prompt", "answer", "solution", "tests", "choices", "keywords")


def scoped_problem_id(problem: Problem) -> str:
    """``"{problem.id}@{h}"``: ``h`` is the first 8 hex digits of the sha256 of the
    problem's content fields (``CONTENT_FIELDS``) as canonical JSON. The one place such
    ids are made: the same row read twice gets the same id, a changed prompt another one.

    >>> scoped_problem_id(Problem(id="w000", prompt="2+2?", answer="4"))
    'w000@ecb03318'
    >>> scoped_problem_id(Problem(id="w000", prompt="2+2?", answer="4", split=Split.HELDOUT))
    'w000@ecb03318'
    >>> scoped_problem_id(Problem(id="w000", prompt="3+3?", answer="6"))
    'w000@f82a53b3'
    """
    content = {name: getattr(problem, name) for name in CONTENT_FIELDS}
    content["choices"], content["keywords"] = list(problem.choices), list(problem.keywords)
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return f"{problem.id}@{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"


def scope_problem(problem: Problem) -> Problem:
    """A user's problem under its content-scoped id, the user's id kept in ``meta["name"]``.

    >>> p = scope_problem(Problem(id="w000", prompt="2+2?", answer="4"))
    >>> p.id, dict(p.meta)
    ('w000@ecb03318', {'name': 'w000'})
    """
    return replace(problem, id=scoped_problem_id(problem), meta={**problem.meta, "name": problem.id})


@dataclass(frozen=True)
class SamplingParams:
    """Everything needed to replay a sample, together with its seed and checkpoint."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 64
    do_sample: bool = True
    search: str | None = None  # the stored search that selected it (id: METHOD-bBUDGET-hash); None = sampled


@dataclass(frozen=True)
class Sample:
    """One completion written by the policy.

    ``prompt`` is the text actually given to the model (for a rationalized sample it
    contains the hint); the training text is always built from the problem's own
    prompt, never from this field.
    """

    problem_id: str
    index: int
    prompt: str
    completion: str
    source: SampleSource
    seed: int
    params: SamplingParams
    checkpoint_id: str | None = None
    n_tokens: int = 0
    step: int | None = None  # training step, for RL rollouts

    @property
    def rationalized(self) -> bool:
        return self.source is SampleSource.RATIONALIZE

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.source.value, self.problem_id, self.index)


@dataclass(frozen=True)
class Verdict:
    """A judge's conclusion about one completion.

    ``score`` is in [0, 1]. ``detail`` is a short human-readable reason (bounded
    length; never the str() of an untrusted parsed object).
    """

    judge: str
    outcome: Outcome
    score: float
    detail: str = ""
    judge_version: str = "1"

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS


@dataclass(frozen=True)
class Judged:
    """A sample together with its verdict (the judge stage's output)."""

    sample: Sample
    verdict: Verdict


@dataclass(frozen=True)
class TrainingExample:
    """One SFT row in TRL's prompt/completion format, with where it came from."""

    prompt: str
    completion: str
    problem_id: str
    sample_key: tuple[str, str, int] | None = None


@dataclass(frozen=True)
class TrainingSet:
    """What the curate stage hands to the trainer."""

    method: str
    examples: tuple[TrainingExample, ...]
    stats: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Checkpoint:
    """A saved policy. ``path`` loads with ``AutoModelForCausalLM.from_pretrained``."""

    id: str
    path: str
    sha256: str
    parent_id: str | None = None
    round_index: int | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    #: when its weights were deleted to save disk (``keep_checkpoints``); None: never pruned.
    #: A pruned checkpoint keeps its id, lineage and manifest, but cannot be loaded.
    pruned_at: dt.datetime | None = None

    @property
    def pruned(self) -> bool:
        return self.pruned_at is not None


@dataclass(frozen=True)
class Evaluation:
    """Held-out metrics of one checkpoint on one problem split."""

    checkpoint_id: str
    split: Split
    n_problems: int
    k: int
    greedy_accuracy: float
    pass_at_1: float  # mean sampled accuracy at temperature > 0
    pass_at_k: float
    maj_at_k: float
    extra: Mapping[str, Any] = field(default_factory=dict)


# --- Constitutional AI (SL-CAI critiques and revisions, RL-CAI preference pairs) ---------
#
# An initial answer is an ordinary ``Sample``; the records below point back at it through
# ``sample_key``. Every one carries the principle it was made under and the hash of the
# constitution that principle came from, so history shows which text produced what.


class CaiStep(enum.StrEnum):
    """A step of a Constitutional AI round that called a model (and so can fail)."""

    ANSWER = "answer"
    CRITIQUE = "critique"
    REVISE = "revise"
    COMPARE = "compare"


@dataclass(frozen=True)
class Critique:
    """A model's critique of ``answer`` under one principle (pass ``pass_index``, from 0)."""

    problem_id: str
    sample_key: tuple[str, str, int]
    pass_index: int
    principle_id: str
    constitution_hash: str
    answer: str  # the text critiqued: the initial answer, or the previous pass's revision
    text: str
    seed: int


@dataclass(frozen=True)
class Revision:
    """The answer rewritten after ``Critique`` of the same key and pass."""

    problem_id: str
    sample_key: tuple[str, str, int]
    pass_index: int
    principle_id: str
    constitution_hash: str
    text: str
    seed: int


@dataclass(frozen=True)
class PreferencePair:
    """A feedback model's judgement between two answers to one prompt, under one principle.

    ``p_chosen`` is the feedback model's probability (from option log-probabilities, both
    orders averaged when debiased) that ``chosen`` is the better answer; it is >= 0.5.
    Every compared pair is recorded; only those above a confidence threshold are trained on.
    """

    problem_id: str
    prompt: str
    principle_id: str
    constitution_hash: str
    chosen: str
    rejected: str
    chosen_key: tuple[str, str, int]
    rejected_key: tuple[str, str, int]
    p_chosen: float
    feedback_model: str
    option_logprobs: tuple[tuple[float, ...], ...] = ()  # raw scores, one row per order asked


@dataclass(frozen=True)
class CaiFailure:
    """A model call that failed for good (after retries); recorded, never raised."""

    problem_id: str
    step: CaiStep
    error: str
    principle_id: str | None = None
    sample_key: tuple[str, str, int] | None = None
    pass_index: int | None = None


# --- Test-time search (issue 7: best-of-N, revision, beam search, MCTS) ------------------
#
# A search over one problem set leaves one ``SearchRecord``: per problem a ``SearchResult``
# (the selected answer, whether it is right, what it cost) and every ``SearchNode`` it made
# (whole candidates, partial step paths, rollouts) with their scores, so that a search can
# be inspected afterwards. ``selftaught.search`` produces them; the store keeps them.


class SearchMethod(enum.StrEnum):
    """How a search spends its budget and picks an answer."""

    GREEDY = "greedy"  # one greedy completion (the budget-independent baseline)
    MAJORITY = "majority"  # N samples, the most common final answer
    BON_ORM = "bon-orm"  # N samples, the highest outcome-reward-model score
    BON_PRM = "bon-prm"  # N samples, the highest aggregated process-reward-model score
    VOTE_ORM = "vote-orm"  # N samples, the final answer with the largest sum of ORM scores
    VOTE_PRM = "vote-prm"  # N samples, the final answer with the largest sum of aggregated PRM scores
    BEAM = "beam"  # beam search over steps, pruned by the PRM
    MCTS = "mcts"  # Monte-Carlo tree search over steps (UCB), PRM or rollout value
    REVISE = "revise"  # answer, check with a reward model, regenerate from the first doubtful step


@dataclass(frozen=True)
class SearchNode:
    """One thing a search generated for one problem: a whole candidate, a partial step
    path (tree/beam node) or a rollout. ``index`` counts from 0 per problem in creation
    order; ``parent`` is the index of the node it extends (None from the prompt).
    ``text`` is the whole completion so far; ``step`` the text this node added.
    ``scores`` holds what was computed about it (``prm`` step scores, ``orm``, ``agg``,
    MCTS ``value``/``visits``); ``correct`` is the verifier's verdict on a final node
    (measurement only: never used to select), None for a partial one."""

    problem_id: str
    index: int
    parent: int | None
    depth: int
    kind: str  # candidate | partial | truncated | rollout | revision | greedy | fallback
    text: str
    step: str
    final: bool
    n_tokens: int
    scores: Mapping[str, Any] = field(default_factory=dict)
    correct: bool | None = None
    selected: bool = False


@dataclass(frozen=True)
class SearchResult:
    """What a search chose for one problem and what that cost (generated samples and tokens)."""

    problem_id: str
    completion: str
    answer: str | None
    correct: bool
    samples: int  # complete solutions generated (candidates, rollouts, revisions)
    tokens: int  # every generated token, partial steps and rollouts included
    expansions: int = 0  # step generations (beam/MCTS)
    node_index: int | None = None


@dataclass(frozen=True)
class SearchRecord:
    """One search over a problem set: its configuration, per-problem results and nodes."""

    id: str
    method: SearchMethod
    budget: int
    config: Mapping[str, Any]
    checkpoint: str
    results: tuple[SearchResult, ...]
    nodes: tuple[SearchNode, ...] = ()

    @property
    def accuracy(self) -> float:
        return sum(r.correct for r in self.results) / len(self.results) if self.results else 0.0


@dataclass(frozen=True)
class RunLease:
    """Which process works on a run (``flows/lease.py``): its owner, renewed by a heartbeat.

    ``token`` is new at every acquisition, so a write can check that the lease it holds is
    still the run's. ``pid_start`` is the owner process's start time as its OS reports it
    (Linux: ``/proc/PID/stat`` field 22), so a pid reused by another process is not mistaken
    for the owner; None where unknown."""

    token: str
    host: str
    pid: int
    pid_start: str | None
    acquired_at: dt.datetime
    heartbeat_at: dt.datetime
    expires_at: dt.datetime

    @property
    def owner(self) -> str:
        return f"{self.host}:{self.pid}"


@dataclass(frozen=True)
class StepLabel:
    """The Monte-Carlo estimate for one step of one sample."""

    sample_key: tuple[str, str, int]  # Sample.key: (source, problem_id, index)
    step_index: int  # 0-based position in split_steps(completion)
    step: str  # the step's text
    rollouts: int  # continuations judged (1 for a final-answer step: the sample itself)
    successes: int  # of those, how many reached the correct answer

    @property
    def hard(self) -> int:
        """1 when any rollout succeeded (Math-Shepherd's hard estimate)."""
        return int(self.successes > 0)

    @property
    def soft(self) -> float:
        """The fraction of successful rollouts (the soft estimate)."""
        return self.successes / self.rollouts if self.rollouts else 0.0
