"""rl: one round of online RL (GRPO or RLOO) with TRL, every rollout kept as a record.

In: the path of the policy to start from, the round's training problems, an
``RLSettings``, and a verifier (our judges: correctness plus a small ``<think>`` format
weight, ``{"arithmetic": 1.0, "format": 0.2}``). Out: an ``RLResult`` -- the new
``Checkpoint`` (written atomically, LoRA adapters merged) and every completion the trainer
generated as a ``Judged`` rollout: a ``Sample(source=ROLLOUT, step=...)`` with the verdict
the reward came from. The flow writes those to the store, so ``selftaught samples`` shows
GRPO's rollouts like any other samples.

There is no generate/judge/curate stage for these methods: TRL's ``GRPOTrainer`` and
``RLOOTrainer`` sample ``num_generations`` completions per prompt themselves, score them
through our reward adapter (``judges.as_reward_function``), and update the policy. We
write no loss: the difference between the two methods is TRL's, namely

- GRPO: advantages are rewards minus the group mean of G completions (``scale_rewards``:
  ``none``, as in Dr. GRPO; TRL's default ``group`` also divides by the group's std), a
  clipped importance ratio (epsilon) and a per-token KL penalty to the reference (beta);
- RLOO: the baseline of each completion is the mean reward of the other G-1 in its group
  (leave-one-out), with a KL penalty folded into the reward (beta).

The reference model for beta > 0 is the round's starting policy; with LoRA it is the same
weights with the adapters disabled (see ``lora.py``), not a second copy.

Recording rollouts: the reward adapter calls ``on_verdict(problem_id, completion,
verdict)`` for each completion, in order; ``RolloutRecorder`` wraps the reward function so
it also sees TRL's ``trainer_state`` (the optimizer step) and ``completion_ids`` (token
counts). Indices count a problem's rollouts within the round (0, 1, 2, ...), so a re-run
with the same seed yields the same keys and the store's upsert keeps one copy. The
rollouts are also written into the checkpoint directory (``rollouts.jsonl``, covered by
the manifest), so a checkpoint found complete after a crash still carries them.

Defaults (both methods: lr 1e-4, beta 0.05, scale_rewards none, 40 steps of 8 prompts x
8 completions at T=1, the temperature of the held-out metric) were measured with
``benchmarks/methods_table.py``'s cold start (12.8% held-out pass@1 at T=1, 23% greedy),
one 40-step round each, seed 0:

- the old defaults (lr 3e-5, GRPO beta 0) barely moved the policy (measured on the
  previous cold start: GRPO 18.1% -> 17.9%, RLOO -> 19.0%): Adam's step is ~lr, and
  40 x 3e-5 is tiny next to the SFT rounds' 60 x 5e-4 (with num_iterations=1 the ratio is
  1, so clipping never acts and only the advantage-weighted log-likelihood moves weights);
- GRPO at lr 2e-4 with beta 0 lost accuracy (7.2%; 13.9% without the format reward and
  with batch scaling) while its training rollouts improved: without a KL term it drifted;
  beta 0.05 gave 16.5% (group scaling) / 19.1% (no scaling);
- TRL's per-group std scaling makes the 0.2-weight format reward as loud as correctness
  in groups where no completion is right; without it (reward minus group mean, as RLOO)
  GRPO did better in the one matched comparison (16.5% vs 19.1% above, a gap near the
  ~3-point noise) and at lr 1e-4, beta 0.05 reached 20.6% (35% greedy; 22.9% with batch
  scaling and no format reward);
- RLOO: lr 3e-4 9.5%, 2e-4 18.4%, 1e-4 22.4% (35.5% greedy), 6e-5 20.6%; beta 0.1 at 2e-4
  17.4%; 60 steps instead of 40 at 1e-4 23.1% (+0.7 for 50% more time);
- the defaults with training seed 1: GRPO 21.7%, RLOO 22.8%; 16 prompts per step instead
  of 8 (twice the time): GRPO 22.3%, RLOO 23.8%.

Groups almost never had all-equal rewards (TRL's frac_reward_zero_std <= 0.013 in the
logged steps), completions were rarely truncated (clipped ratio < 3% at 40 tokens; the gold
answers are <= 23 tokens) and the KL stayed ~0.05-0.1.

Generation backend: in-process HF ``generate`` by default. ``backend="vllm"`` sets TRL's
``use_vllm=True`` (colocated); it needs a GPU and the ``vllm`` extra and has not been run
by this project's tests (no GPU here).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from selftaught.hardware import resolve
from selftaught.judges.base import Verifier
from selftaught.loops.checkpoint import save_checkpoint
from selftaught.loops.lora import LoRASettings, adapter_meta, build_lora_config, to_save
from selftaught.loops.methods import Method
from selftaught.loops.policy import load_for_training, quiet_transformers, set_threads
from selftaught.loops.prompting import RAW, PromptStyle
from selftaught.loops.section import Backend, TrainerSection, check_micro, runtime
from selftaught.loops.tracking import TrackingTarget, trainer_args, trainer_env
from selftaught.loops.train import _progress_callback, loss_curve
from selftaught.records import Checkpoint, Judged, Outcome, Problem, Sample, SampleSource, SamplingParams, Verdict

ROLLOUTS_FILE = "rollouts.jsonl"


class RLSettings(TrainerSection):
    """One GRPO round: the recipe's ``grpo:`` section (defaults: measured, see above)."""

    lr: float = Field(1e-4, gt=0)
    "Peak learning rate (AdamW); 3e-5 barely moved the policy, 3e-4 hurt it."
    steps: int = Field(40, ge=1)
    "Optimizer steps per round."
    prompts_per_step: int = Field(8, ge=1)
    "Distinct prompts per optimizer step."
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
    warmup: float = Field(0.0, ge=0)
    "Linear warm-up: a fraction of the steps if < 1, else a step count."
    max_grad_norm: float = Field(1.0, gt=0)
    "Gradient clipping."
    lora: LoRASettings | None = runtime(None)
    backend: Backend = runtime("hf")

    @model_validator(mode="after")
    def _micro_divides(self) -> RLSettings:
        check_micro(self.completions_per_step, self.micro_batch_size, "prompts_per_step x num_generations")
        return self

    @property
    def completions_per_step(self) -> int:
        return self.prompts_per_step * self.num_generations

    @property
    def accumulation(self) -> tuple[int, int]:
        """(completions per forward/backward pass, passes per optimizer step)."""
        from selftaught.loops.train import split_batch

        return split_batch(self.completions_per_step, self.micro_batch_size)


class RLOOSettings(RLSettings):
    """One RLOO round: the recipe's ``rloo:`` section (the same measured defaults as GRPO's)."""

    scale_rewards: Literal["batch", "none"] = "none"
    "none = raw leave-one-out advantages; batch = TRL's normalize_advantages (RLOO has no per-group scaling)."


@dataclass(frozen=True)
class RLResult:
    """What an RL round produced."""

    checkpoint: Checkpoint
    rollouts: tuple[Judged, ...]
    log: tuple[Mapping[str, float], ...] = ()  # TRL's logged metrics, every 10 steps


# ------------------------------------------------------------------ TRL configs


def _common_rl_args(cfg: RLSettings, output_dir: str, tracking: TrackingTarget | None) -> dict[str, Any]:
    """Arguments GRPOConfig and RLOOConfig share (device and precision: ``cfg.placement``;
    ``report_to``: ``tracking``, the recipe's ``log:`` section for this trainer)."""
    return dict(
        output_dir=output_dir,
        learning_rate=cfg.lr,
        max_steps=cfg.steps,
        # TRL counts completions; one generation batch (the whole step) per optimizer step,
        # split into passes of micro_batch_size completions whose gradients accumulate
        per_device_train_batch_size=cfg.accumulation[0],
        gradient_accumulation_steps=cfg.accumulation[1],
        steps_per_generation=cfg.accumulation[1],
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=1.0,
        top_k=0,
        beta=cfg.beta,
        epsilon=cfg.epsilon,
        num_iterations=cfg.num_iterations,
        warmup_steps=cfg.warmup,
        lr_scheduler_type="constant_with_warmup",
        max_grad_norm=cfg.max_grad_norm,
        seed=cfg.seed,
        data_seed=cfg.seed,
        use_vllm=cfg.backend == "vllm",
        vllm_mode="colocate",
        **resolve(cfg.placement).trainer_flags(),  # use_cpu, bf16, fp16
        gradient_checkpointing=cfg.gradient_checkpointing,
        **trainer_args(tracking),  # report_to (none without a log: section), run_name
        save_strategy="no",
        logging_strategy="steps",
        logging_steps=1,  # every step's loss goes to config["loss_curve"] (the report's curve)
        disable_tqdm=True,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        log_completions=False,
    )


def build_grpo_config(cfg: RLSettings, output_dir: str, tracking: TrackingTarget | None = None) -> Any:
    """The one place TRL's ``GRPOConfig`` is built."""
    from trl import GRPOConfig

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        return GRPOConfig(**_common_rl_args(cfg, output_dir, tracking), scale_rewards=cfg.scale_rewards)


def build_rloo_config(cfg: RLSettings, output_dir: str, tracking: TrackingTarget | None = None) -> Any:
    """The one place TRL's ``RLOOConfig`` is built.

    RLOO has no per-group scaling: ``scale_rewards="none"`` keeps the raw leave-one-out
    advantages, ``"batch"`` is TRL's ``normalize_advantages`` (over the whole batch).
    """
    from trl import RLOOConfig

    if cfg.scale_rewards == "group":
        raise ValueError("RLOO has no per-group reward scaling: use scale_rewards 'none' or 'batch'")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        return RLOOConfig(**_common_rl_args(cfg, output_dir, tracking), normalize_advantages=cfg.scale_rewards == "batch")


@dataclass(frozen=True)
class _Trainer:
    trainer_class: str  # attribute of the ``trl`` module
    build_config: Callable[[RLSettings, str, TrackingTarget | None], Any]


#: the online-RL methods (``methods.FAMILY``: online_rl), each one TRL trainer
TRAINERS: Mapping[Method, _Trainer] = {
    Method.GRPO: _Trainer("GRPOTrainer", build_grpo_config),
    Method.RLOO: _Trainer("RLOOTrainer", build_rloo_config),
}


# ------------------------------------------------------------------ rewards


def reward_verifier(weights: Mapping[str, float], judge: Verifier, format_style: str = "think") -> Verifier:
    """A (weighted) verifier from ``{name: weight}``, every part from the registry:
    ``judge.name`` means ``judge`` itself (the recipe's judge, built for its prompt), and
    ``format`` scores the prompt's answer format (``format_style``: think, boxed, answer_is).

    >>> from selftaught.judges import get_verifier
    >>> reward_verifier({"arithmetic": 1.0, "format": 0.2}, get_verifier("arithmetic")).label
    '1*arithmetic+0.2*format'
    """
    from selftaught.judges import WeightedVerifier, get_verifier

    def part(name: str) -> Verifier:
        if name == judge.name:
            return judge
        return get_verifier(name, style=format_style) if name == "format" else get_verifier(name)

    if len(weights) == 1:
        return part(next(iter(weights)))
    return WeightedVerifier([(part(name), float(w)) for name, w in weights.items()])


@dataclass
class RolloutRecorder:
    """Turns every scored completion into a ``Judged`` rollout (step, index, tokens)."""

    problems_by_id: Mapping[str, Problem]
    checkpoint_id: str | None  # the policy the round started from
    seed: int
    params: SamplingParams
    rendered: Mapping[str, str] = field(default_factory=dict)  # problem id -> the text the policy read
    rollouts: list[Judged] = field(default_factory=list)
    step: int = 0
    _counts: Counter = field(default_factory=Counter)
    _tokens: list[int] = field(default_factory=list)

    def on_verdict(self, problem_id: str, completion: str, verdict: Verdict) -> None:
        index = self._counts[problem_id]
        self._counts[problem_id] += 1
        n_tokens = self._tokens.pop(0) if self._tokens else 0
        sample = Sample(
            problem_id=problem_id,
            index=index,
            prompt=self.rendered.get(problem_id, self.problems_by_id[problem_id].prompt),
            completion=completion,
            source=SampleSource.ROLLOUT,
            seed=self.seed,
            params=self.params,
            checkpoint_id=self.checkpoint_id,
            n_tokens=n_tokens,
            step=self.step,
        )
        self.rollouts.append(Judged(sample=sample, verdict=verdict))

    def wrap(self, reward: Callable[..., list[float | None]]) -> Callable[..., list[float | None]]:
        """``reward`` with the step and token counts noted before each call."""

        def recorded(prompts=None, completions=None, **columns):
            state = columns.get("trainer_state")
            self.step = int(getattr(state, "global_step", self.step))
            ids = columns.get("completion_ids") or []
            self._tokens = [len(x) for x in ids]
            return reward(prompts=prompts, completions=completions, **columns)

        recorded.__name__ = getattr(reward, "__name__", "reward")
        return recorded


# ------------------------------------------------------------------ rollouts on disk


def rollouts_to_jsonl(rollouts: Sequence[Judged]) -> str:
    """One JSON object per rollout: the sample's fields and its verdict's."""
    lines = []
    for j in rollouts:
        s, v = j.sample, j.verdict
        row = {
            "problem_id": s.problem_id, "index": s.index, "prompt": s.prompt, "completion": s.completion,
            "seed": s.seed, "params": asdict(s.params), "checkpoint_id": s.checkpoint_id,
            "n_tokens": s.n_tokens, "step": s.step,
            "verdict": {"judge": v.judge, "outcome": v.outcome.value, "score": v.score,
                        "detail": v.detail, "judge_version": v.judge_version},
        }  # fmt: skip
        lines.append(json.dumps(row, sort_keys=True))
    return "".join(line + "\n" for line in lines)


def load_rollouts(checkpoint_dir: str | Path) -> list[Judged]:
    """The rollouts an RL checkpoint carries (empty for any other checkpoint)."""
    path = Path(checkpoint_dir) / ROLLOUTS_FILE
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        v = r["verdict"]
        sample = Sample(
            problem_id=r["problem_id"], index=r["index"], prompt=r["prompt"], completion=r["completion"],
            source=SampleSource.ROLLOUT, seed=r["seed"], params=SamplingParams(**r["params"]),
            checkpoint_id=r["checkpoint_id"], n_tokens=r["n_tokens"], step=r["step"],
        )  # fmt: skip
        verdict = Verdict(v["judge"], Outcome(v["outcome"]), v["score"], v["detail"], v["judge_version"])
        out.append(Judged(sample=sample, verdict=verdict))
    return out


# ------------------------------------------------------------------ the round


def train_rl(
    algorithm: Method | str,
    base_path: str,
    problems: Sequence[Problem],
    out_dir: str,
    *,
    cfg: RLSettings,
    verifier: Verifier,
    checkpoint_id: str,
    parent_id: str | None,
    round_index: int | None,
    progress: Callable[[int], None] | None = None,
    threads: int = 0,
    style: PromptStyle = RAW,
    tracking: TrackingTarget | None = None,
) -> RLResult:
    """``cfg.steps`` steps of GRPO/RLOO from ``base_path`` on ``problems``; save to ``out_dir``.

    Prompts go to TRL as ``style`` shows them: raw text, or conversations that TRL renders
    with the tokenizer's chat template (each rollout's stored prompt is that rendered text).
    With ``tracking``, the trainer reports its logs there (``tracking.py``).
    """
    algorithm = Method(algorithm)
    if algorithm not in TRAINERS:
        raise ValueError(f"{algorithm.value} is not an online RL method ({', '.join(TRAINERS)})")
    if not problems:
        raise ValueError("an RL round needs at least one training problem")
    set_threads(threads)
    quiet_transformers()
    import trl
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback

    from selftaught.judges import as_reward_function

    cfg = cfg.model_copy(update={"placement": resolve(cfg.placement)})  # recorded as decided
    model, tokenizer = load_for_training(base_path, master_dtype=cfg.master_dtype, placement=cfg.placement)
    by_id = {p.id: p for p in problems}
    recorder = RolloutRecorder(
        by_id, checkpoint_id=parent_id, seed=cfg.seed,
        params=SamplingParams(temperature=cfg.temperature, max_new_tokens=cfg.max_completion_length),
        rendered={p.id: style.render(p, tokenizer) for p in problems},
    )
    reward = recorder.wrap(as_reward_function(verifier, by_id, on_verdict=recorder.on_verdict))
    data = Dataset.from_list(
        [{"prompt": style.prompt_for_training(p.prompt), "problem_id": p.id} for p in problems]
    )
    spec = TRAINERS[algorithm]
    with tempfile.TemporaryDirectory(prefix=f"selftaught-{algorithm.value}-") as scratch, trainer_env(tracking) as tracking:
        trainer = getattr(trl, spec.trainer_class)(
            model=model,
            reward_funcs=[reward],
            args=spec.build_config(cfg, scratch, tracking),
            train_dataset=data,
            processing_class=tokenizer,
            peft_config=build_lora_config(cfg.lora),
            callbacks=[_progress_callback(progress)] if progress else None,
        )
        trainer.remove_callback(PrinterCallback)
        result = trainer.train()
        model = to_save(trainer.model, cfg.lora)
        log = tuple(
            {k: float(v) for k, v in row.items() if isinstance(v, int | float)}
            for row in trainer.state.log_history
        )
    model.eval()
    rollouts = tuple(recorder.rollouts)
    config: dict[str, Any] = {
        "method": algorithm.value,
        "rl": cfg.record(),
        "base_path": str(base_path),
        "reward": getattr(verifier, "label", verifier.name),
        "n_problems": len(problems),
        "n_rollouts": len(rollouts),
        "trained_on": "rollouts",  # online: no fixed training set (loops/trained.py)
        "rollout_pass_rate": sum(j.verdict.passed for j in rollouts) / max(len(rollouts), 1),
        "train_loss": float(result.training_loss),
        "loss_curve": loss_curve(log),
        "prompt_format": "chat" if style.chat else "raw",
        **adapter_meta(cfg.lora, parent_id=parent_id, base_path=base_path, out_dir=out_dir),
    }
    meta = {"checkpoint_id": checkpoint_id, "parent_id": parent_id, "round_index": round_index, **config}
    sha = save_checkpoint(model, tokenizer, out_dir, meta=meta, extra_files={ROLLOUTS_FILE: rollouts_to_jsonl(rollouts)})
    checkpoint = Checkpoint(
        id=checkpoint_id, path=str(Path(out_dir)), sha256=sha, parent_id=parent_id,
        round_index=round_index, config=config,
    )  # fmt: skip
    return RLResult(checkpoint=checkpoint, rollouts=rollouts, log=log)
