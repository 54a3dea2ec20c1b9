"""The embedded demo's settings, in one place.

``DemoConfig`` is what ``selftaught demo`` and ``benchmarks/demo_curve.py`` run:
build the tiny policy, cold-start it on gold solutions, then ``rounds`` rounds of
generate -> judge -> (rationalize) -> curate -> train -> evaluate on 2-digit
addition. The numbers were tuned on 2 shared CPU cores (1 torch thread, load
average 3-8 from other work) with ``benchmarks/demo_curve.py``:

- cold start: at most 400 SFT steps x 16 rows at lr 1e-3, stopped as soon as greedy
  accuracy on 64 unseen train-split problems reaches 35% (checked every 10 steps).
  A fixed step count was a knife edge: 150 x 32 gave 5-8% sampled accuracy and the
  rounds learned little; 200 x 16 gave 17% on seed 0 but 4% on seed 1 (whose RFT
  rounds then collapsed); 240-300 x 16 gave 40-50%, too strong to show the rounds.
- seed 0: pass@1 16.0% -> RFT 38.7 / 53.8 / 58.8%, STaR 36.9 / 53.5 / 63.8%
  (336 s wall each for build + cold start + 3 rounds, load average ~6);
  seed 1: 19.1% -> RFT 33.8 / 40.3 / 46.9%, STaR 31.1 / 36.8 / 45.9%
  (512 s and 602 s at load average ~8).

A quarter of the cold-start rows are also shown with the STaR hint so the policy
learns to use it (``cold_start_hint_fraction``); without that, a model trained from
scratch ignores the hint and STaR rationalizes almost nothing (1-2 rows a round).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from collections.abc import Sequence

from selftaught.hardware import Placement
from selftaught.loops.train import SFTSettings, StopAtAccuracy
from selftaught.records import Problem, SamplingParams


class Method(enum.StrEnum):
    """How a round curates its training set."""

    RFT = "rft"  # rejection-sampling fine-tuning: correct samples only
    STAR = "star"  # RFT plus rationalizations for problems with no correct sample


@dataclass(frozen=True)
class DemoConfig:
    """Cold start + rounds on the embedded addition task."""

    seed: int = 0  # seeds problems, model init, sampling and training
    digits: int = 2  # operand digits of the addition problems
    size: str = "tiny"  # model size from tinymodel.SIZES
    method: Method = Method.STAR  # curation method of the rounds
    rounds: int = 3  # self-improvement rounds after the cold start
    n_train: int = 768  # training-problem pool (train split only)
    prompts_per_round: int = 256  # problems sampled per round (rotating through the pool)
    n_cold_start: int = 256  # gold solutions used for the cold-start SFT
    cold_start_hint_fraction: float = 0.25  # share of them also shown with the STaR hint (see train.gold_training_set)
    cold_start_target: float = 0.35  # stop the cold start once greedy accuracy on the probe reaches this (0 = never)
    cold_start_probe: int = 64  # train-split problems after the cold-start ones, used as that probe
    cold_start_check_every: int = 10  # optimizer steps between probe checks
    n_heldout: int = 200  # held-out problems evaluated after every checkpoint
    k: int = 8  # samples per training problem per round
    eval_k: int = 8  # samples per held-out problem (pass@k, maj@k)
    eval_temperature: float = 1.0  # temperature of the held-out sampled metrics
    max_per_problem: int = 4  # curated rows kept per problem (after de-duplication)
    sampling: SamplingParams = field(
        default_factory=lambda: SamplingParams(temperature=1.0, max_new_tokens=32)
    )  # round sampling (the rationalization pass uses the same params)
    cold_start_sft: SFTSettings = field(
        default_factory=lambda: SFTSettings(lr=1e-3, steps=400, batch_size=16, warmup=0.1)
    )  # the cold-start SFT on gold solutions: at most this long, stopped early at cold_start_target
    round_sft: SFTSettings = field(
        default_factory=lambda: SFTSettings(lr=5e-4, steps=60, batch_size=32, warmup=0.1)
    )  # the SFT of each round on its curated set
    batch_size: int = 64  # prompts per generate call
    placement: Placement | None = None  # device and dtype of sampling (hardware.py); None = decided here (auto)

    def cold_start_stop(self, pool: Sequence[Problem]) -> StopAtAccuracy | None:
        """The early stop for the cold start: probe = the pool's problems after the cold-start ones."""
        if self.cold_start_target <= 0:
            return None
        probe = tuple(pool[self.n_cold_start : self.n_cold_start + self.cold_start_probe])
        if not probe:
            return None
        return StopAtAccuracy(
            problems=probe,
            target=self.cold_start_target,
            every=self.cold_start_check_every,
            max_new_tokens=self.sampling.max_new_tokens,
        )
