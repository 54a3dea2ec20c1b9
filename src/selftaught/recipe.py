"""A recipe: what to improve, with which method, for how many rounds. One YAML file.

    name: arithmetic-star
    method: star          # rft | star (STaR adds rationalization)
    rounds: 3
    seed: 0
    task:
      kind: arithmetic    # the embedded task; or `kind: file` with train/heldout JSONL paths
      digits: 2
    policy:
      init: tiny          # build the embedded tiny model and cold-start it; or a checkpoint path
    generate: {k: 8, temperature: 1.0, max_new_tokens: 40}
    train: {lr: 5.0e-4, steps: 60, batch_size: 32}
    evaluate: {k: 8}

Other round types (``method:`` grpo | rloo | dpo | distill | sl-cai | rl-cai) take their
settings from the ``grpo:``, ``rloo:``, ``dpo:``, ``teacher:`` and ``constitution:`` sections
(Constitutional AI: ``recipe_cai.py``, which also reads old CAI recipe files); ``reward:`` weights the verifiers
that score RL rollouts; ``lora:`` switches every trainer to low-rank adapters;
``curriculum:`` keeps only prompts whose pass rate lies in a band; ``stages:`` lists one
method per round (the R1 pipeline: ``[grpo, rft, grpo, dpo]``), each round starting from
the previous round's checkpoint. ``device:`` and ``dtype:`` say where every stage runs its
model (``hardware.py``; by default a GPU in bf16 when torch sees one, else the CPU in
float32).

A real model: ``policy: {init: models/smollm2-135m-instruct}`` (a saved HF folder, or a hub
name where there is network). ``profile`` (``auto`` in a file) then fills every key the
recipe leaves out with that model's defaults (``profiles.py``), and the ``prompt:`` section
says how problems are shown to it -- the chat template, a system message, the answer-format
instruction -- and how strictly the judge reads the answer (``loops/prompting.py``).

Every field has a default (the measured demo configuration for the tiny model), unknown keys
are errors, and relative paths are resolved against the recipe file's folder. ``load_recipe``
fails with file, line and reason before anything runs: a model folder without
``config.json``, a chat prompt for a tokenizer with no template, a judge or reward that does
not fit the task, an offline hub name, a vLLM backend (``generate.backend`` or GRPO/RLOO's
``backend``) where vLLM or a CUDA GPU is missing.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from selftaught.errors import ConfigError
from selftaught.loops.defaults import DemoConfig
from selftaught.loops.prompting import CHAT_HINT
from selftaught.loops.methods import CAI_FAMILIES, FAMILY, Family, RoundMethod
from selftaught.recipe_cai import ConstitutionSpec, check_cai, is_cai, is_old_cai, translate_old, with_cai_defaults

Method = RoundMethod  # the recipe's closed set of round types (rft, star, distill, grpo, rloo, dpo, sl-cai, rl-cai)
from selftaught.records import SamplingParams
from selftaught.yamlfile import line_of, parse_yaml, validate


_D = DemoConfig()  # the measured demo configuration: every default below comes from it


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_micro(batch: int, micro: int | None, what: str) -> None:
    if micro is not None and (micro > batch or batch % micro):
        raise ValueError(f"micro_batch_size {micro} must divide {what} ({batch})")


def _check_processes(processes: int, info: ValidationInfo) -> int:
    """``processes`` divides the batch, and the micro-batch divides each process's share."""
    batch, micro = info.data.get("batch_size"), info.data.get("micro_batch_size")
    if batch is None or processes == 1:
        return processes
    if batch % processes:
        raise ValueError(f"{processes} processes must divide batch_size ({batch}): each process takes batch_size / processes rows")
    if micro is not None and (batch // processes) % micro:
        raise ValueError(f"micro_batch_size {micro} must divide the per-process batch ({batch} / {processes} = {batch // processes})")
    return processes


class TaskSpec(_Strict):
    kind: Literal["arithmetic", "file", "prompts"] = "arithmetic"
    "`arithmetic`: the embedded task; `file`: problems from JSONL files; `prompts`: CAI prompts without answers (the bundled split, or train/heldout JSONL of {id, prompt, tags})."
    digits: int = Field(_D.digits, ge=1, le=6)
    "Arithmetic only: digits per operand."
    n_train: int = Field(_D.n_train, ge=1)
    "Arithmetic only: size of the training-problem pool."
    n_heldout: int = Field(_D.n_heldout, ge=1)
    "Arithmetic: held-out problems (never trained on); prompts: the first N held-out prompts."
    n_cold_start: int = Field(_D.n_cold_start, ge=1)
    "Arithmetic only: worked examples for the cold-start SFT."
    prompts_per_round: int = Field(_D.prompts_per_round, ge=1)
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


class PolicySpec(_Strict):
    init: str = "tiny"
    "`tiny`: build the embedded model and cold-start it; a saved HF model folder (relative to the recipe); or a hub name such as `Qwen/Qwen2.5-0.5B-Instruct` (fetched into the HF cache when read; needs network)."
    gradient_checkpointing: bool = False
    "Recompute activations in the backward pass (every trainer): far less memory on a real model (SmolLM2 SFT, 8 rows: 5.8 -> 3.5 GB peak), at some speed (up to 35% slower measured on the tiny model)."
    master_dtype: Literal["float32", "saved"] = "float32"
    "Weights the optimizer updates, and the dtype checkpoints are saved in: float32 master weights (a bf16/fp16 checkpoint is upcast; mixed precision where the hardware has it), or the checkpoint's own saved dtype (pure half-precision training, which rounds small updates away)."
    size: str = _D.size
    "Embedded model size (tiny only)."
    cold_start_steps: int = Field(_D.cold_start_sft.steps, ge=0)
    "SFT steps on worked examples when init is `tiny` (0 = none)."
    cold_start_lr: float = Field(_D.cold_start_sft.lr, gt=0)
    cold_start_batch_size: int = Field(_D.cold_start_sft.batch_size, ge=1)


class GenerateSpec(_Strict):
    k: int = Field(_D.k, ge=1, le=256)
    "Samples per training problem."
    temperature: float = Field(_D.sampling.temperature, gt=0)
    top_p: float = Field(_D.sampling.top_p, gt=0, le=1)
    max_new_tokens: int = Field(_D.sampling.max_new_tokens, ge=1)
    "Tokens per completion (also the held-out evaluation's, unless `evaluate.max_new_tokens` is set)."
    batch_size: int = Field(_D.batch_size, ge=1)
    "Prompts per generate() call."
    backend: Literal["hf", "vllm"] = "hf"
    "Sampler of the generate, rationalize and evaluate stages: in-process HF generate, or a vLLM engine loaded from the round's checkpoint and released when the stage ends (a CUDA GPU and the `vllm` extra; checked at load; docs/vllm.md). GRPO/RLOO rollouts follow the top-level `backend`."
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1)
    "vllm only: the share of the GPU's memory the engine may take for weights and KV cache."


class TrainSpec(_Strict):
    """The SFT of rft/star/distill rounds (and the tiny model's cold start's length limit)."""

    lr: float = Field(_D.round_sft.lr, gt=0)
    steps: int = Field(_D.round_sft.steps, ge=1)
    batch_size: int = Field(_D.round_sft.batch_size, ge=1)
    "Rows per optimizer step."
    micro_batch_size: int | None = Field(None, ge=1)
    "Rows per forward/backward pass (gradients accumulate up to batch_size); None = batch_size. Lower it to save memory."
    max_length: int = Field(_D.round_sft.max_length, ge=8)
    "Tokens per row, prompt + completion (longer rows are truncated)."
    max_per_problem: int = Field(_D.max_per_problem, ge=1)
    "Distinct correct samples kept per problem."
    processes: int = Field(1, ge=1)
    "Train on N processes (DDP through `accelerate launch`; loops/launch.py): each takes batch_size / N rows of every step, so the global batch stays batch_size. 1 = in-process. The cold start always runs in-process."

    @model_validator(mode="after")
    def _micro_divides(self) -> TrainSpec:
        _check_micro(self.batch_size, self.micro_batch_size, "batch_size")
        return self

    @field_validator("processes")
    @classmethod
    def _processes_divide(cls, processes: int, info: ValidationInfo) -> int:
        return _check_processes(processes, info)


class EvaluateSpec(_Strict):
    k: int = Field(_D.eval_k, ge=1, le=256)
    "Samples per held-out problem for pass@1 / pass@k / maj@k."
    temperature: float = Field(_D.eval_temperature, gt=0)
    "Temperature of the sampled metrics (greedy accuracy is always greedy)."
    max_new_tokens: int | None = Field(None, ge=1)
    "Tokens per held-out completion; None = `generate.max_new_tokens`."


class LoRASpec(_Strict):
    r: int = Field(16, ge=1)
    "Adapter rank."
    alpha: int = Field(32, ge=1)
    "Scale numerator (scale = alpha / r)."
    dropout: float = Field(0.0, ge=0, lt=1)
    save: Literal["merged", "adapters"] = "merged"
    "merged: each checkpoint holds full weights; adapters: only the round's adapters (MBs, not the model), loaded onto the parent checkpoint, which must stay on disk."


class RLSpec(_Strict):
    """GRPO / RLOO settings (defaults: measured with benchmarks/methods_table.py, see loops/rl.py)."""

    lr: float = Field(1e-4, gt=0)
    steps: int = Field(40, ge=1)
    "Optimizer steps per round."
    prompts_per_step: int = Field(8, ge=1)
    num_generations: int = Field(8, ge=2)
    "G: completions per prompt (the group)."
    beta: float = Field(0.05, ge=0)
    "KL coefficient to the round's starting policy (at 0 GRPO drifted and lost held-out accuracy)."
    scale_rewards: Literal["group", "batch", "none"] = "none"
    "Advantage scaling: none = reward minus the group mean (Dr. GRPO); group = / group std; batch = / batch std."
    epsilon: float = Field(0.2, gt=0)
    "Clip range of the importance ratio."
    num_iterations: int = Field(1, ge=1)
    "Optimizer steps per generated batch (GRPO's mu); > 1 reuses each batch of rollouts."
    temperature: float = Field(1.0, gt=0)
    "Rollout sampling temperature."
    max_completion_length: int = Field(40, ge=1)
    "Tokens per rollout."
    micro_batch_size: int | None = Field(None, ge=1)
    "Completions per forward/backward pass (the step's prompts_per_step x num_generations accumulate); None = all at once."

    @model_validator(mode="after")
    def _micro_divides(self) -> RLSpec:
        _check_micro(self.prompts_per_step * self.num_generations, self.micro_batch_size, "prompts_per_step x num_generations")
        return self

    def settings(self, *, seed: int, lora: LoRASpec | None, backend: str) -> Any:
        from selftaught.loops.lora import LoRASettings
        from selftaught.loops.rl import RLSettings

        return RLSettings(
            **self.model_dump(), seed=seed, backend=backend,
            lora=None if lora is None else LoRASettings(**lora.model_dump()),
        )  # fmt: skip


class RLOOSpec(RLSpec):
    scale_rewards: Literal["batch", "none"] = "none"
    "none = raw leave-one-out advantages; batch = TRL's normalize_advantages (RLOO has no per-group scaling)."


class DPOSpec(_Strict):
    """Iterative DPO on verified pairs (defaults: measured; pure sigmoid made things worse)."""

    lr: float = Field(5e-4, gt=0)
    steps: int = Field(60, ge=1)
    batch_size: int = Field(32, ge=1)
    beta: float = Field(0.1, gt=0)
    loss_types: tuple[Literal["sigmoid", "hinge", "ipo", "robust", "sft", "apo_zero", "apo_down"], ...] = ("sigmoid", "sft")
    "TRL loss_type list; `sft` adds the chosen-completion NLL (RPO)."
    max_pairs_per_problem: int = Field(4, ge=1)
    micro_batch_size: int | None = Field(None, ge=1)
    "Pairs per forward/backward pass (gradients accumulate up to batch_size); None = batch_size."
    max_length: int = Field(128, ge=8)
    "Tokens per prompt + completion."
    processes: int = Field(1, ge=1)
    "Train on N processes (DDP through `accelerate launch`; loops/launch.py): each takes batch_size / N pairs of every step. 1 = in-process."

    @model_validator(mode="after")
    def _micro_divides(self) -> DPOSpec:
        _check_micro(self.batch_size, self.micro_batch_size, "batch_size")
        return self

    @field_validator("processes")
    @classmethod
    def _processes_divide(cls, processes: int, info: ValidationInfo) -> int:
        return _check_processes(processes, info)

    def settings(self, *, seed: int, lora: LoRASpec | None) -> Any:
        from selftaught.loops.dpo import DPOSettings
        from selftaught.loops.lora import LoRASettings

        return DPOSettings(
            **self.model_dump(), seed=seed,
            lora=None if lora is None else LoRASettings(**lora.model_dump()),
        )  # fmt: skip


class CurriculumSpec(_Strict):
    low: float = Field(0.1, ge=0, le=1)
    "Set aside prompts whose latest pass rate is below this (too hard for now)."
    high: float = Field(0.9, ge=0, le=1)
    "Set aside prompts whose latest pass rate is above this (mastered)."
    keep_unseen: bool = True
    "Keep prompts never sampled before."

    @model_validator(mode="after")
    def _ordered(self) -> CurriculumSpec:
        if self.low > self.high:
            raise ValueError("curriculum: low must be <= high")
        return self


class TeacherSpec(_Strict):
    path: str | None = None
    "A local HF checkpoint directory (relative to the recipe file)."
    base_url: str | None = None
    "An OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1."
    model: str | None = None
    "The endpoint's model name."
    api_key_env: str | None = None
    "Environment variable that holds the endpoint's API key."

    @model_validator(mode="after")
    def _one_source(self) -> TeacherSpec:
        if (self.path is None) == (self.base_url is None):
            raise ValueError("teacher: give exactly one of `path` or `base_url`")
        if self.base_url is not None and not self.model:
            raise ValueError("teacher: an endpoint needs `model`")
        return self


class SearchSpec(_Strict):
    """Test-time search as the generator of rft/star rounds (``selftaught.search``)."""

    method: Literal[
        "greedy", "majority", "bon-orm", "bon-prm", "vote-orm", "vote-prm", "beam", "mcts", "revise"
    ] = "bon-prm"
    budget: int = Field(4, ge=1)
    "Whole-solution equivalents per searched answer (see search/run.py)."
    aggregate: Literal["min", "last", "product"] = "min"
    "PRM step scores -> solution score."
    orm: str | None = None
    "Outcome reward model checkpoint (relative to the recipe file); bon-orm and vote-orm need it."
    prm: str | None = None
    "Process reward model checkpoint (relative to the recipe file); bon-prm, vote-prm, beam, mcts need it."
    n: int = Field(1, ge=1, le=64)
    "Searched answers per problem (each a search of its own seed)."

    @model_validator(mode="after")
    def _models_given(self) -> SearchSpec:
        from selftaught.search.run import SearchConfig, check_models

        try:
            check_models(SearchConfig(method=self.method, budget=self.budget, aggregate=self.aggregate),
                         orm=self.orm is not None, prm=self.prm is not None)  # fmt: skip
        except ConfigError as e:
            raise ValueError(e.reason.replace("--orm PATH", "`orm: PATH`").replace("--prm PATH", "`prm: PATH`"))
        return self


class PromptSpec(_Strict):
    """How a problem becomes the model's input (``loops/prompting.py``); ``auto`` values are
    settled from the model when the recipe is read (``profiles.py``)."""

    format: Literal["auto", "raw", "chat"] = "raw"
    "raw: the problem's prompt as it is; chat: the tokenizer's chat template (system + user turn); auto: chat when the model's tokenizer has a template (and it is not the tiny model)."
    system: str | None = None
    "Optional system message (chat), or a first line (raw)."
    instruction: str | None = None
    "Appended to the user turn after a blank line; unset = the answer format's own (e.g. put the final answer within \\boxed{}); null = none."
    answer_format: Literal["auto", "think", "boxed", "answer_is", "free"] = "think"
    "Where the judge reads the final answer: think (after </think>, the tiny model's), boxed (\\boxed{...}), answer_is (\"The answer is N\"), free (anywhere: boxed, answer-is, math, last number)."
    strict: bool | None = False
    "Accept only the answer format (no fall back to the last number in the text); unset = strict when an instruction asks for boxed or answer_is."
    hint: str = Field(CHAT_HINT, min_length=1)
    "STaR's hint in the chat user turn ({answer} = the gold answer); raw prompts get ' (the answer is N)' before a trailing 'A:'."

    @model_validator(mode="after")
    def _hint_names_answer(self) -> PromptSpec:
        if "{answer}" not in self.hint:
            raise ValueError("prompt.hint must contain {answer}")
        return self

    def style(self) -> Any:
        from selftaught.loops.prompting import PromptStyle

        return PromptStyle(chat=self.format == "chat", system=self.system, instruction=self.instruction or None,
                           hint=self.hint)  # fmt: skip


#: the ``Problem`` fields each task kind's problems carry (what a judge reads: its class's ``reads``)
_TASK_CARRIES = {"arithmetic": {"answer", "solution"}, "file": {"answer", "solution"}, "prompts": {"tags"}}


class Recipe(_Strict):
    name: str = "arithmetic"
    method: Method = Method(_D.method)
    "rft | star | distill | grpo | rloo | dpo | sl-cai | rl-cai (the method of every round unless `stages` is given)"
    stages: tuple[Method, ...] = ()
    "One method per round, e.g. [grpo, rft, grpo, dpo]; sets `rounds` to its length."
    rounds: int = Field(_D.rounds, ge=1, le=1000)
    seed: int = _D.seed
    device: Literal["auto", "cpu", "cuda"] = "auto"
    "Where every stage runs its model: auto (CUDA when torch sees a GPU, else the CPU), cpu, or cuda (an error at load where there is none). See hardware.py."
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    "Precision of sampling and scoring, and the trainers' mixed precision (master weights stay float32): auto = bfloat16 on a GPU that has it, else float16 on CUDA; float32 on the CPU."
    task: TaskSpec = TaskSpec()
    policy: PolicySpec = PolicySpec()
    profile: Literal["tiny", "instruct", "base"] = "tiny"
    "Model-dependent defaults (profiles.py): tiny (the embedded model), instruct (chat template), base; `auto` (in a file) picks from policy.init."
    prompt: PromptSpec = PromptSpec()
    judge: str = "arithmetic"
    "Name of the verifier that judges samples: arithmetic, math, code, choice or keyword; `constitution` (the `constitution:` section) for sl-cai/rl-cai rounds."
    reward: dict[str, float] = {"arithmetic": 1.0, "format": 0.2}
    "RL rewards: verifier name -> weight (`judge`'s name means the recipe's judge; `format` scores the prompt's answer format). Unset: {judge: 1} plus format 0.2 for the think format."
    backend: Literal["hf", "vllm"] = "hf"
    "Rollouts inside GRPO/RLOO only: in-process HF, or TRL's colocated vLLM mode (a CUDA GPU and the `vllm` extra; checked at load; untested here). The other stages' sampler is `generate.backend`."
    generate: GenerateSpec = GenerateSpec()
    train: TrainSpec = TrainSpec()
    evaluate: EvaluateSpec = EvaluateSpec()
    grpo: RLSpec = RLSpec()
    rloo: RLOOSpec = RLOOSpec()
    dpo: DPOSpec = DPOSpec()
    lora: LoRASpec | None = None
    "Low-rank adapters for every trainer (merged into each saved checkpoint)."
    curriculum: CurriculumSpec | None = None
    "Pass-rate band filter on each round's prompts (off when absent)."
    teacher: TeacherSpec | None = None
    "The teacher of `distill` rounds."
    search: SearchSpec | None = None
    "Test-time search instead of plain sampling in rft/star rounds' generate stage (off when absent)."
    constitution: ConstitutionSpec | None = None
    "Constitutional AI: the constitution and its settings (sl-cai/rl-cai rounds only; filled in for them)."
    keep_checkpoints: int | None = Field(None, ge=1)
    "Keep the weights of only the newest N checkpoints of the run (older ones are pruned; the store keeps their rows, marked pruned). None keeps all."

    @model_validator(mode="before")
    @classmethod
    def _rounds_from_stages(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("stages") and "rounds" not in data:
            data = {**data, "rounds": len(data["stages"])}
        return data

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: Any) -> Any:
        from selftaught.profiles import resolve

        return resolve(data) if isinstance(data, dict) else data

    @model_validator(mode="before")
    @classmethod
    def _cai_defaults(cls, data: Any) -> Any:  # defined after _profile_defaults: runs before it
        return with_cai_defaults(data) if isinstance(data, dict) else data

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

    @field_validator("prompt")
    @classmethod
    def _chat_needs_a_template(cls, prompt: PromptSpec, info: ValidationInfo) -> PromptSpec:
        if prompt.format == "auto" or prompt.answer_format == "auto":
            raise ValueError("`auto` is settled when a recipe file is read; give raw/chat and an answer format here")
        policy = info.data.get("policy")
        if prompt.format == "chat" and policy is not None:
            from selftaught.profiles import model_facts

            facts = model_facts(policy.init)  # None: tiny, or a folder gone since (a stored run)
            if (facts is None and policy.init == "tiny") or (facts is not None and not facts.has_chat_template):
                what = "the tiny model" if policy.init == "tiny" else f"the tokenizer of {policy.init}"
                raise ValueError(f"format chat, but {what} has no chat template (use format: raw)")
        return prompt

    @field_validator("judge")
    @classmethod
    def _known_judge_fits_task(cls, judge: str, info: ValidationInfo) -> str:
        _check_fits(judge, info.data.get("task"))
        if judge == "format":
            raise ValueError("format only scores the answer's form: it can be a reward, not the judge")
        return judge

    @field_validator("reward")
    @classmethod
    def _rewards_fit(cls, reward: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        judge = info.data.get("judge")
        for name in reward:
            _check_fits(name, info.data.get("task"), what=f"reward {name!r}")
            if judge is not None and name != judge and _verifier(name).reads:
                raise ValueError(
                    f"{name!r} judges correctness, but the recipe's judge is {judge!r}: "
                    f"name the judge itself (e.g. {{{judge}: 1.0}}), plus `format` if wanted"
                )
        prompt = info.data.get("prompt")
        if "format" in reward and prompt is not None and prompt.answer_format == "free":
            raise ValueError("'format' scores the instructed answer format, and prompt.answer_format is free")
        return reward

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        if self.stages and len(self.stages) != self.rounds:
            raise ValueError(f"rounds is {self.rounds} but stages lists {len(self.stages)} methods")
        if Method.DISTILL in self.methods() and self.teacher is None:
            raise ValueError("a distill round needs a `teacher`")
        if self.search is not None and not {Method.RFT, Method.STAR} & set(self.methods()):
            raise ValueError("search: only rft/star rounds generate by search, and this recipe has none")
        if not self.reward or any(w < 0 for w in self.reward.values()) or sum(self.reward.values()) <= 0:
            raise ValueError("reward: weights must be >= 0 with a positive sum")
        check_cai(self)
        return self

    def methods(self) -> tuple[Method, ...]:
        """The method of every round 1..rounds."""
        return self.stages or (self.method,) * self.rounds

    def method_for_round(self, index: int) -> Method:
        """Round ``index`` (1-based) runs this method."""
        return self.methods()[index - 1]

    def family_for_round(self, index: int) -> Family:
        return FAMILY[self.method_for_round(index)]

    def is_cai(self) -> bool:
        """Whether the rounds are Constitutional AI rounds (then all of them are)."""
        return FAMILY[self.methods()[0]] in CAI_FAMILIES

    def placement(self) -> Any:
        """The device and dtype every stage uses on this machine (``hardware.decide``)."""
        from selftaught.hardware import decide

        return decide(self.device, self.dtype)

    def rl_settings(self, method: Method, *, seed: int) -> Any:
        spec = {Method.GRPO: self.grpo, Method.RLOO: self.rloo}[method]
        return replace(spec.settings(seed=seed, lora=self.lora, backend=self.backend),
                       master_dtype=self.policy.master_dtype, placement=self.placement(),
                       gradient_checkpointing=self.policy.gradient_checkpointing)  # fmt: skip

    def dpo_settings(self, *, seed: int) -> Any:
        return replace(self.dpo.settings(seed=seed, lora=self.lora), master_dtype=self.policy.master_dtype,
                       placement=self.placement(), gradient_checkpointing=self.policy.gradient_checkpointing)  # fmt: skip

    def lora_settings(self) -> Any:
        if self.lora is None:
            return None
        from selftaught.loops.lora import LoRASettings

        return LoRASettings(**self.lora.model_dump())

    def teacher_settings(self) -> Any:
        from selftaught.loops.distill import TeacherSpec as Teacher

        return None if self.teacher is None else Teacher(**self.teacher.model_dump())

    def loop_config(self) -> DemoConfig:
        """The loops' own typed config for this recipe (what the stage functions take)."""
        g, t = self.generate, self.train
        placement = self.placement()
        return replace(
            _D,
            seed=self.seed,
            placement=placement,
            digits=self.task.digits,
            size=self.policy.size,
            method=self.method,
            rounds=self.rounds,
            n_train=self.task.n_train,
            prompts_per_round=self.task.prompts_per_round,
            n_cold_start=self.task.n_cold_start,
            n_heldout=self.task.n_heldout,
            k=g.k,
            eval_k=self.evaluate.k,
            eval_temperature=self.evaluate.temperature,
            max_per_problem=t.max_per_problem,
            sampling=SamplingParams(
                temperature=g.temperature, top_p=g.top_p, max_new_tokens=g.max_new_tokens
            ),
            cold_start_sft=replace(
                _D.cold_start_sft,
                lr=self.policy.cold_start_lr,
                steps=self.policy.cold_start_steps,
                batch_size=self.policy.cold_start_batch_size,
                max_length=t.max_length,
                placement=placement,
            ),
            round_sft=replace(
                _D.round_sft, lr=t.lr, steps=t.steps, batch_size=t.batch_size, max_length=t.max_length,
                micro_batch_size=t.micro_batch_size, master_dtype=self.policy.master_dtype,
                gradient_checkpointing=self.policy.gradient_checkpointing, placement=placement,
                processes=t.processes,
            ),
            batch_size=g.batch_size,
        )


def _verifier(name: str) -> Any:
    """The registered verifier class ``name`` (``judges.registry.VERIFIERS``)."""
    from selftaught.judges.registry import VERIFIERS

    if name not in VERIFIERS:
        raise ValueError(f"unknown verifier {name!r}; valid: {', '.join(VERIFIERS)}")
    return VERIFIERS[name]


def _check_fits(name: str, task: TaskSpec | None, what: str | None = None) -> None:
    """A verifier name is registered and the task's problems carry what it reads."""
    what = what or f"judge {name!r}"
    reads = _verifier(name).reads
    missing = [field for field in reads if task is not None and field not in _TASK_CARRIES[task.kind]]
    if missing:
        raise ValueError(f"{what} reads each problem's {missing[0]!r}, which a {task.kind} task's problems do not have")


def _resolve_paths(recipe: Recipe, base: Path, root, file: str) -> Recipe:
    """Make relative paths absolute against ``base`` and check that they exist."""
    task = recipe.task
    updates = {}
    for key in ("train", "heldout"):
        p = getattr(task, key)
        if p is None:
            continue
        p = p if p.is_absolute() else (base / p).resolve()
        if not p.is_file():
            raise ConfigError(f"task.{key}: file not found: {p}", file=file, line=line_of(root, ("task", key)))
        updates[key] = p
    teacher = recipe.teacher
    if teacher is not None and teacher.path is not None:
        p = Path(teacher.path)
        teacher = teacher.model_copy(update={"path": str(p if p.is_absolute() else (base / p).resolve())})
    search = recipe.search
    if search is not None:
        models = {}
        for key in ("orm", "prm"):
            if getattr(search, key) is None:
                continue
            p = Path(getattr(search, key))
            p = p if p.is_absolute() else (base / p).resolve()
            if not (p / "config.json").is_file():
                raise ConfigError(f"search.{key}: not a saved model (no config.json): {p}",
                                  file=file, line=line_of(root, ("search", key)))  # fmt: skip
            models[key] = str(p)
        search = search.model_copy(update=models)
    constitution = recipe.constitution
    if constitution is not None:
        from selftaught.constitution import BUNDLED

        name = constitution.name
        if name not in BUNDLED and not Path(name).is_absolute():
            constitution = constitution.model_copy(update={"name": str((base / name).resolve())})
    return recipe.model_copy(
        update={"task": task.model_copy(update=updates), "teacher": teacher, "search": search,
                "constitution": constitution}
    )  # fmt: skip


def _check_backends(recipe: Recipe, root, file: str) -> None:
    """``backend: vllm`` (GRPO/RLOO) or ``generate.backend: vllm`` where vLLM cannot run: one line."""
    for loc, value in ((("generate", "backend"), recipe.generate.backend), (("backend",), recipe.backend)):
        if value == "vllm":
            from selftaught.loops.vllm_sampler import vllm_unavailable

            if recipe.device == "cpu":
                why = "needs a CUDA GPU, and the recipe says device: cpu"
            else:
                why = vllm_unavailable()
            if why is not None:
                raise ConfigError(f"{'.'.join(loc)}: vllm {why}", file=file, line=line_of(root, loc))


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file (ConfigError with file:line on any problem)."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ConfigError("file not found", file=file)
    data, root = parse_yaml(path.read_text(encoding="utf-8"), file)
    base = path.parent.resolve()
    if is_old_cai(data):
        import sys

        from selftaught.recipe_cai import first_line

        line = first_line(root)
        data, root = translate_old(data, root)
        print(f"{file}:{line}: an old CAI recipe (top-level mode:, passes: ...), read as method: "
              f"{data['method']} with a constitution: section; see recipes/cai-smollm2.yaml for the new form",
              file=sys.stderr)  # fmt: skip
    policy = data.get("policy") if isinstance(data, dict) else None
    chat_name = isinstance(policy, dict) and policy.get("init") in ("smollm2", "tiny") and is_cai(data)
    if isinstance(policy, dict) and isinstance(policy.get("init"), str) and not chat_name:
        # before validation: the profile's defaults depend on what the model is
        from selftaught.profiles import resolve_init

        try:
            init = resolve_init(data["policy"]["init"], base)
        except ValueError as exc:
            raise ConfigError(f"policy.init: {exc}", file=file, line=line_of(root, ("policy", "init"))) from None
        data = {**data, "policy": {**data["policy"], "init": init}}
    recipe = validate(Recipe, data, root, file)
    _check_backends(recipe, root, file)
    return _resolve_paths(recipe, base, root, file)


def recipe_from_dict(data: dict) -> Recipe:
    """Validate a recipe given as plain data (as stored with a run; an old CAI run's is read
    in the new form)."""
    if data.get("kind") == "cai":
        data = translate_old({k: v for k, v in data.items() if k != "kind"}, None)[0]
    return validate(Recipe, data, None, "<recipe>")


def write_recipe(recipe: Recipe, path: str | Path) -> Path:
    """Write ``recipe`` as a file that ``load_recipe`` reads back to the same recipe (the keys
    that differ from their defaults). Returns ``path``."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = recipe.model_dump(mode="json", exclude_defaults=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


__all__ = ["Method", "Recipe", "load_recipe", "recipe_from_dict", "write_recipe"]
