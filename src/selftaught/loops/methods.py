"""Every round type, and which family of stages runs it.

``Method`` is the one closed set of round types: what a recipe's ``method``/``stages`` may
name, what the demo runs and what ``rounds.CURATORS`` is keyed by.

    family       methods            stages of a round
    sft          rft, star, distill generate -> judge -> (rationalize) -> curate -> train (SFT)
    online_rl    grpo, rloo         train (the TRL trainer generates, judges and learns)
    preference   dpo                generate -> judge -> curate (pairs) -> train (DPO)

Every round ends with the held-out evaluation.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType


class Method(enum.StrEnum):
    """How a round improves the policy."""

    RFT = "rft"  # rejection-sampling fine-tuning on the policy's own correct samples
    STAR = "star"  # RFT plus rationalizations (answer given as a hint) for unsolved problems
    DISTILL = "distill"  # RFT on a teacher's verified samples
    GRPO = "grpo"  # TRL GRPOTrainer: group-normalised advantages
    RLOO = "rloo"  # TRL RLOOTrainer: leave-one-out baseline
    DPO = "dpo"  # TRL DPOTrainer on (passing, failing) pairs of verified samples


class Family(enum.StrEnum):
    SFT = "sft"
    ONLINE_RL = "online_rl"
    PREFERENCE = "preference"


FAMILY: Mapping[Method, Family] = MappingProxyType(
    {
        Method.RFT: Family.SFT,
        Method.STAR: Family.SFT,
        Method.DISTILL: Family.SFT,
        Method.GRPO: Family.ONLINE_RL,
        Method.RLOO: Family.ONLINE_RL,
        Method.DPO: Family.PREFERENCE,
    }
)
