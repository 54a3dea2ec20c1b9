"""Every round type, and which family of stages runs it.

``defaults.Method`` names the two SFT curation methods of the embedded demo (rft, star);
``RoundMethod`` is the full closed set a recipe may name. Members with the same value
compare and hash equal (both are ``StrEnum``s), so ``rounds.CURATORS[RoundMethod.RFT]``
finds the RFT curator.

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


class RoundMethod(enum.StrEnum):
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


FAMILY: Mapping[RoundMethod, Family] = MappingProxyType(
    {
        RoundMethod.RFT: Family.SFT,
        RoundMethod.STAR: Family.SFT,
        RoundMethod.DISTILL: Family.SFT,
        RoundMethod.GRPO: Family.ONLINE_RL,
        RoundMethod.RLOO: Family.ONLINE_RL,
        RoundMethod.DPO: Family.PREFERENCE,
    }
)
