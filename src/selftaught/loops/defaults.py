"""The embedded demo's settings, in one place: the recipe sections an SFT round reads.

``DemoConfig`` (seed, method, rounds, device/dtype and the ``task``, ``policy``, ``generate``,
``train`` and ``evaluate`` sections, each a model below or ``train.SFTSettings``) is what
``selftaught demo`` and ``benchmarks/demo_curve.py`` run: build the tiny policy, cold-start
it on gold solutions, then ``rounds`` rounds of generate -> judge -> (rationalize) -> curate
-> train -> evaluate on 2-digit addition. ``recipe.Recipe`` extends it with the other
sections, so every default below is the recipe's too, written once. The numbers were tuned on 2 shared CPU cores (1 torch thread, load
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

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from selftaught.hardware import DeviceChoice, DTypeChoice, Placement
from selftaught.loops.methods import Method
from selftaught.loops.section import Backend, MasterDtype, Section
from selftaught.loops.train import SFTSettings, StopAtAccuracy
from selftaught.records import Problem, SamplingParams


class TaskSpec(Section):
    """Where the problems come from (``arithmetic.make_problems``, JSONL files, or CAI prompts)."""

    kind: Literal["arithmetic", "file", "prompts"] = "arithmetic"
    "`arithmetic`: the embedded task; `file`: problems from JSONL files; `prompts`: CAI prompts without answers (the bundled split, or train/heldout JSONL of {id, prompt, tags})."
    digits: int = Field(2, ge=1, le=6)
    "Arithmetic only: digits per operand."
    n_train: int = Field(768, ge=1)
    "Arithmetic only: size of the training-problem pool (train split only)."
    n_heldout: int = Field(200, ge=1)
    "Arithmetic: held-out problems (never trained on), evaluated after every checkpoint; prompts: the first N held-out prompts."
    n_cold_start: int = Field(256, ge=1)
    "Arithmetic only: worked examples (gold solutions) for the cold-start SFT."
    prompts_per_round: int = Field(256, ge=1)
    "Problems drawn per round, rotating through the pool."
    train: Path | None = None
    "File: JSONL of training problems (id, prompt, answer[, solution]); prompts: JSONL of training prompts (default: the bundled split)."
    heldout: Path | None = None
    "File: JSONL of held-out problems; prompts: JSONL of held-out prompts (default: the bundled split)."

    @model_validator(mode="after")
    def _files_given_for_file_kind(self) -> TaskSpec:
        if self.kind == "file" and (self.train is None or self.heldout is None):
            raise ValueError("kind: file needs both `train` and `heldout` paths")
        return self


class PolicySpec(Section):
    """The policy the first round starts from, and the tiny model's cold start."""

    init: str = "tiny"
    "`tiny`: build the embedded model and cold-start it; a saved HF model folder (relative to the recipe); or a hub name such as `Qwen/Qwen2.5-0.5B-Instruct` (fetched into the HF cache when read; needs network)."
    gradient_checkpointing: bool = False
    "Recompute activations in the backward pass (every trainer): far less memory on a real model (SmolLM2 SFT, 8 rows: 5.8 -> 3.5 GB peak), at some speed (up to 35% slower measured on the tiny model)."
    master_dtype: MasterDtype = "float32"
    "Weights the optimizer updates, and the dtype checkpoints are saved in: float32 master weights (a bf16/fp16 checkpoint is upcast; mixed precision where the hardware has it), or the checkpoint's own saved dtype (pure half-precision training, which rounds small updates away)."
    size: str = "tiny"
    "Embedded model size (tiny only; tinymodel.SIZES)."
    cold_start_steps: int = Field(400, ge=0)
    "SFT steps on worked examples when init is `tiny`: at most this many, stopped early at cold_start_target (0 = none)."
    cold_start_lr: float = Field(1e-3, gt=0)
    "Peak learning rate of the cold-start SFT."
    cold_start_batch_size: int = Field(16, ge=1)
    "Rows per optimizer step of the cold-start SFT."
    cold_start_hint_fraction: float = Field(0.25, ge=0, le=1)
    "Share of the cold-start rows also shown with the STaR hint, so the policy learns to use it (train.gold_training_set)."
    cold_start_target: float = Field(0.35, ge=0, le=1)
    "Stop the cold start once greedy accuracy on the probe reaches this (0 = never)."
    cold_start_probe: int = Field(64, ge=0)
    "Train-split problems after the cold-start ones, used as that probe."
    cold_start_check_every: int = Field(10, ge=1)
    "Optimizer steps between probe checks."


class GenerateSpec(Section):
    """The generate (and rationalize) stage's sampling."""

    k: int = Field(8, ge=1, le=256)
    "Samples per training problem."
    temperature: float = Field(1.0, gt=0)
    "Sampling temperature (the rationalization pass uses the same)."
    top_p: float = Field(1.0, gt=0, le=1)
    "Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p."
    max_new_tokens: int = Field(32, ge=1)
    "Tokens per completion (also the held-out evaluation's, unless `evaluate.max_new_tokens` is set)."
    batch_size: int = Field(64, ge=1)
    "Prompts per generate() call."
    backend: Backend = "hf"
    "Sampler of the generate, rationalize and evaluate stages: in-process HF generate, or a vLLM engine loaded from the round's checkpoint and released when the stage ends (a CUDA GPU and the `vllm` extra; checked at load; docs/vllm.md). GRPO/RLOO rollouts follow the top-level `backend`."
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1)
    "vllm only: the share of the GPU's memory the engine may take for weights and KV cache."

    @property
    def sampling(self) -> SamplingParams:
        return SamplingParams(temperature=self.temperature, top_p=self.top_p, max_new_tokens=self.max_new_tokens)


class EvaluateSpec(Section):
    """The held-out evaluation after every checkpoint."""

    k: int = Field(8, ge=1, le=256)
    "Samples per held-out problem for pass@1 / pass@k / maj@k."
    temperature: float = Field(1.0, gt=0)
    "Temperature of the sampled metrics (greedy accuracy is always greedy)."
    max_new_tokens: int | None = Field(None, ge=1)
    "Tokens per held-out completion; None = `generate.max_new_tokens`."


class DemoConfig(Section):
    """Cold start + rounds on the embedded addition task (``recipe.Recipe`` extends it)."""

    seed: int = 0
    "Seeds problems, model init, sampling and training (each stage its own, from this)."
    method: Method = Method.STAR
    "rft | star | distill | grpo | rloo | dpo | sl-cai | rl-cai: the method of every round unless `stages` is given (loops/methods.py)."
    rounds: int = Field(3, ge=1, le=1000)
    "Self-improvement rounds after the cold start."
    device: DeviceChoice = "auto"
    "Where every stage runs its model: auto (CUDA when torch sees a GPU, else the CPU), cpu, or cuda (an error at load where there is none). See hardware.py."
    dtype: DTypeChoice = "auto"
    "Precision of sampling and scoring, and the trainers' mixed precision (master weights stay float32): auto = bfloat16 on a GPU that has it, else float16 on CUDA; float32 on the CPU."
    task: TaskSpec = TaskSpec()
    "The problems."
    policy: PolicySpec = PolicySpec()
    "The starting policy and its cold start."
    generate: GenerateSpec = GenerateSpec()
    "Sampling of the generate and rationalize stages."
    train: SFTSettings = SFTSettings()
    "The SFT of rft/star/distill rounds (and the cold start's max_length)."
    evaluate: EvaluateSpec = EvaluateSpec()
    "The held-out evaluation."

    @field_validator("device")
    @classmethod
    def _device_exists(cls, device: str) -> str:
        from selftaught.hardware import check

        check(device)  # cuda where torch sees none: one line, at load
        return device

    @field_validator("dtype")
    @classmethod
    def _dtype_fits_device(cls, dtype: str, info: ValidationInfo) -> str:
        from selftaught.hardware import check

        if "device" in info.data:  # (a bad device was reported already)
            check(info.data["device"], dtype)  # e.g. float16 on the CPU, bfloat16 on a GPU without it
        return dtype

    def placement(self) -> Placement:
        """The device and dtype every stage uses on this machine (``hardware.decide``)."""
        from selftaught.hardware import decide

        return decide(self.device, self.dtype)

    def sft_settings(self, *, seed: int) -> SFTSettings:
        """The ``train`` section as one round's SFT runs it (its stage seed, the policy's
        master weights and gradient checkpointing, this machine's placement)."""
        return self.train.replace(seed=seed, master_dtype=self.policy.master_dtype,
                                  gradient_checkpointing=self.policy.gradient_checkpointing,
                                  placement=self.placement())  # fmt: skip

    def cold_start_sft(self) -> SFTSettings:
        """The cold-start SFT on gold solutions: at most ``policy.cold_start_steps``, stopped
        early at ``policy.cold_start_target``; in-process, float32 master weights."""
        p = self.policy
        return SFTSettings(lr=p.cold_start_lr, steps=p.cold_start_steps, batch_size=p.cold_start_batch_size,
                           max_length=self.train.max_length, seed=self.seed, placement=self.placement())  # fmt: skip

    def cold_start_stop(self, pool: Sequence[Problem]) -> StopAtAccuracy | None:
        """The early stop for the cold start: probe = the pool's problems after the cold-start ones."""
        p = self.policy
        if p.cold_start_target <= 0:
            return None
        probe = tuple(pool[self.task.n_cold_start : self.task.n_cold_start + p.cold_start_probe])
        if not probe:
            return None
        return StopAtAccuracy(
            problems=probe,
            target=p.cold_start_target,
            every=p.cold_start_check_every,
            max_new_tokens=self.generate.max_new_tokens,
        )
