"""Every round type, its family, and the one table of which stages each family runs.

``Method`` is the one closed set of round types: what a recipe's ``method``/``stages`` may
name, what the demo runs and what ``rounds.CURATORS`` is keyed by.

A round has six stage slots (``records.Stage``: generate, judge, rationalize, curate, train,
evaluate). ``PLANS`` says, per family, which ``Step`` fills each slot, or why the slot is
empty (``Skip``: the stage is recorded done with that reason, so resume logic is the same
for every round). ``flows/rounds.py`` maps every ``Step`` to its Prefect task through one
dict; ``loops/rounds.run_round`` (the in-memory sft round) reads the same table.

    family      methods             generate  judge     rationalize  curate  train  evaluate
    sft         rft, star, distill  sample    verify    rationalize  sft     sft    accuracy
    preference  dpo                 sample    verify    rationalize  pairs   dpo    accuracy
    online_rl   grpo, rloo          -         -         -            -       rl     accuracy
    sl-cai      sl-cai              answer    -         revise       revs    sft    violations
    rl-cai      rl-cai              answer x2 feedback  -            pairs   dpo    violations

The rationalize step of sft/preference rounds rationalizes only for STaR (others record
"does not rationalize"). A constitution is the judge of CAI rounds: in RL-CAI it compares
two answers (AI feedback -> preference pairs, which go through the same curate/train steps
as DPO's verified pairs); in SL-CAI its critiques are written in the revise step, one per
pass, interleaved with the revisions (a pass's critique reads the previous pass's revision).

Round 0 (``START``) registers or builds the starting policy and evaluates it: the embedded
tasks cold-start (or register a given checkpoint); CAI registers a chat model.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from selftaught.records import Stage


class Method(enum.StrEnum):
    """How a round improves the policy."""

    RFT = "rft"  # rejection-sampling fine-tuning on the policy's own correct samples
    STAR = "star"  # RFT plus rationalizations (answer given as a hint) for unsolved problems
    DISTILL = "distill"  # RFT on a teacher's verified samples
    GRPO = "grpo"  # TRL GRPOTrainer: group-normalised advantages
    RLOO = "rloo"  # TRL RLOOTrainer: leave-one-out baseline
    DPO = "dpo"  # TRL DPOTrainer on (passing, failing) pairs of verified samples
    SL_CAI = "sl-cai"  # Constitutional AI, supervised: critique -> revise -> SFT on the revisions
    RL_CAI = "rl-cai"  # Constitutional AI, RL from AI feedback: two answers -> preference -> DPO


class Family(enum.StrEnum):
    SFT = "sft"
    ONLINE_RL = "online_rl"
    PREFERENCE = "preference"
    SL_CAI = "sl-cai"
    RL_CAI = "rl-cai"


FAMILY: Mapping[Method, Family] = MappingProxyType(
    {
        Method.RFT: Family.SFT,
        Method.STAR: Family.SFT,
        Method.DISTILL: Family.SFT,
        Method.GRPO: Family.ONLINE_RL,
        Method.RLOO: Family.ONLINE_RL,
        Method.DPO: Family.PREFERENCE,
        Method.SL_CAI: Family.SL_CAI,
        Method.RL_CAI: Family.RL_CAI,
    }
)

#: the families whose judge is a constitution and whose task is prompts (no reference answers)
CAI_FAMILIES: frozenset[Family] = frozenset({Family.SL_CAI, Family.RL_CAI})


class Step(enum.StrEnum):
    """What fills one stage slot of a round (``flows/rounds.py`` maps each to its task)."""

    COLD_START = "cold-start"  # round 0: build + cold-start the tiny policy, or register a given one
    REGISTER_CHAT = "register-chat"  # round 0 of CAI: register a chat model (smollm2, tiny, a folder)
    SAMPLE = "sample"  # k samples per problem from the policy (distill: from the teacher)
    VERIFY = "verify"  # the recipe's verifier judges every sample
    RATIONALIZE = "rationalize"  # STaR: hinted re-tries of the unsolved problems
    CURATE_SFT = "curate-sft"  # passing (and rationalized) samples -> an SFT training set
    CURATE_PAIRS = "curate-pairs"  # (chosen, rejected) pairs -> the DPO training pairs
    TRAIN_SFT = "train-sft"  # TRL SFT on the training set
    TRAIN_DPO = "train-dpo"  # TRL DPO on the pairs
    TRAIN_RL = "train-rl"  # GRPO/RLOO: the trainer samples, scores (reward) and learns
    EVALUATE = "evaluate"  # held-out accuracy (greedy, pass@1, pass@k, maj@k)
    ANSWER = "answer"  # CAI: the policy answers every prompt (RL-CAI: twice, sampled)
    REVISE = "revise"  # SL-CAI: constitution critique -> revision, ``passes`` times per answer
    FEEDBACK = "feedback"  # RL-CAI: the constitution (asked of the policy) prefers one answer
    CURATE_REVISIONS = "curate-revisions"  # SL-CAI: (prompt, last revision) rows
    EVALUATE_VIOLATIONS = "evaluate-violations"  # CAI: held-out violation rate of the checks


@dataclass(frozen=True)
class Skip:
    """A stage slot a family leaves empty: recorded done with ``reason`` (``{method}`` is filled in)."""

    reason: str


Plan = Mapping[Stage, "Step | Skip"]

_ONLINE = Skip("{method}: the trainer generates and judges its own rollouts")

#: rounds >= 1: which step fills each stage slot, per family (the table of the docstring)
PLANS: Mapping[Family, Plan] = MappingProxyType(
    {
        Family.SFT: {
            Stage.GENERATE: Step.SAMPLE, Stage.JUDGE: Step.VERIFY, Stage.RATIONALIZE: Step.RATIONALIZE,
            Stage.CURATE: Step.CURATE_SFT, Stage.TRAIN: Step.TRAIN_SFT, Stage.EVALUATE: Step.EVALUATE,
        },
        Family.PREFERENCE: {
            Stage.GENERATE: Step.SAMPLE, Stage.JUDGE: Step.VERIFY, Stage.RATIONALIZE: Step.RATIONALIZE,
            Stage.CURATE: Step.CURATE_PAIRS, Stage.TRAIN: Step.TRAIN_DPO, Stage.EVALUATE: Step.EVALUATE,
        },
        Family.ONLINE_RL: {
            Stage.GENERATE: _ONLINE, Stage.JUDGE: _ONLINE, Stage.RATIONALIZE: _ONLINE, Stage.CURATE: _ONLINE,
            Stage.TRAIN: Step.TRAIN_RL, Stage.EVALUATE: Step.EVALUATE,
        },
        Family.SL_CAI: {
            Stage.GENERATE: Step.ANSWER,
            Stage.JUDGE: Skip("sl-cai: the constitution's critiques are written in the revise step, one per pass"),
            Stage.RATIONALIZE: Step.REVISE, Stage.CURATE: Step.CURATE_REVISIONS, Stage.TRAIN: Step.TRAIN_SFT,
            Stage.EVALUATE: Step.EVALUATE_VIOLATIONS,
        },
        Family.RL_CAI: {
            Stage.GENERATE: Step.ANSWER, Stage.JUDGE: Step.FEEDBACK,
            Stage.RATIONALIZE: Skip("rl-cai: answers are compared, not revised"),
            Stage.CURATE: Step.CURATE_PAIRS, Stage.TRAIN: Step.TRAIN_DPO, Stage.EVALUATE: Step.EVALUATE_VIOLATIONS,
        },
    }
)  # fmt: skip

_COLD = Skip("cold start")
_START_CAI = Skip("round 0: the starting policy")

#: round 0, by the family of the run's rounds: the embedded tasks' cold start, or CAI's registration
START: Mapping[bool, Plan] = MappingProxyType(
    {
        False: {Stage.GENERATE: _COLD, Stage.JUDGE: _COLD, Stage.RATIONALIZE: _COLD, Stage.CURATE: _COLD,
                Stage.TRAIN: Step.COLD_START, Stage.EVALUATE: Step.EVALUATE},
        True: {Stage.GENERATE: _START_CAI, Stage.JUDGE: _START_CAI, Stage.RATIONALIZE: _START_CAI,
               Stage.CURATE: _START_CAI, Stage.TRAIN: Step.REGISTER_CHAT, Stage.EVALUATE: Step.EVALUATE_VIOLATIONS},
    }
)  # fmt: skip


def plan_for(family: Family, index: int) -> Plan:
    """The plan of round ``index`` of a run whose rounds are of ``family`` (round 0: ``START``)."""
    return START[family in CAI_FAMILIES] if index == 0 else PLANS[family]
