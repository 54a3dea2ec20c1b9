"""train: supervised fine-tuning on a curated ``TrainingSet`` with TRL's ``SFTTrainer``.

In: the path of the policy to start from, a ``TrainingSet`` of prompt/completion rows,
an ``SFTSettings``. Out: a ``Checkpoint`` written atomically (temp dir, manifest,
rename; see ``checkpoint.py``) whose ``config`` records the settings and the
training-set stats and the sha256 of the exact rows it trained on (``trained.py``).

The dataset is TRL's prompt/completion format, so the loss covers completion tokens
only. With raw prompts (the tiny model) TRL appends EOS to each completion (the policy
learns to stop); with a chat ``PromptStyle`` the rows are conversational (``prompting.py``)
and TRL renders them with the tokenizer's chat template -- the same text the completions
were sampled after, ending with the template's end-of-turn. The trainer itself saves
nothing; only ``save_checkpoint`` writes the result. The device and mixed precision come
from ``cfg.placement`` (``hardware.py``): on the CPU ``use_cpu`` and no bf16 (bf16 on
this AVX2 CPU is ~19x slower, STACK-NOTES); on CUDA bf16 or fp16 mixed precision. No
gradient checkpointing unless asked, no reporting. Weights train and are saved in float32,
whatever dtype the parent was saved in (``policy.load_for_training``). ``micro_batch_size``
splits each optimizer step's rows into forward/backward passes (gradient accumulation) to
bound memory.

``cold_start`` is R1's first step: a short SFT on the problems' gold solutions, kept
deliberately short so the policy is weak (well under 20% sampled accuracy) and the
rounds have something to improve. Optionally some of those rows are also shown with
the STaR hint in the prompt (``hint_fraction``), so that the policy can use a hint
when STaR rationalizes; the rows trained in the rounds never contain it.

``lora`` trains low-rank adapters instead of every weight (``lora.py``); they are merged
before the save, so the checkpoint is a plain model either way.

An empty training set trains nothing: the checkpoint is the parent's weights saved
again under the new id, with ``config["skipped"] = True``.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from selftaught.errors import DataError
from selftaught.hardware import resolve
from selftaught.loops.checkpoint import save_checkpoint
from selftaught.loops.lora import LoRASettings, adapter_meta, build_lora_config, to_save
from selftaught.loops.curate import rationalization_prompt
from selftaught.loops.policy import load_for_training, quiet_transformers, set_threads
from selftaught.loops.prompting import RAW, PromptStyle
from selftaught.loops.section import BatchedTrainerSection
from selftaught.loops.tracking import TrackingTarget, trainer_args, trainer_env
from selftaught.loops.trained import HASH_KEY, rows_sha256, sft_rows
from selftaught.records import Checkpoint, Problem, TrainingExample, TrainingSet


class SFTSettings(BatchedTrainerSection):
    """One SFT run: the recipe's ``train:`` section, the SFT of rft/star/distill rounds (the cold
    start takes its length limit and the policy section's lr/steps/batch; ``defaults.py``)."""

    lr: float = Field(5e-4, gt=0)
    "Peak learning rate (AdamW)."
    steps: int = Field(60, ge=1)
    "Optimizer steps (the data is repeated if it runs out)."
    batch_size: int = Field(32, ge=1)
    "Rows per optimizer step."
    micro_batch_size: int | None = Field(None, ge=1)
    "Rows per forward/backward pass (gradients accumulate up to batch_size); None = batch_size. Lower it to save memory."
    max_length: int = Field(128, ge=8)
    "Tokens per row, prompt + completion (longer rows are truncated)."
    max_per_problem: int = Field(4, ge=1)
    "Curation of rft/star/distill rounds: distinct correct samples kept per problem."
    warmup: float = Field(0.1, ge=0)
    "Linear warm-up: a fraction of the steps if < 1, else a step count."
    scheduler: str = "cosine"
    "transformers lr_scheduler_type after the warm-up."
    weight_decay: float = Field(0.0, ge=0)
    "AdamW weight decay."
    max_grad_norm: float = Field(1.0, gt=0)
    "Gradient clipping."
    processes: int = Field(1, ge=1)
    "Train on N processes (DDP through `accelerate launch`; loops/launch.py): each takes batch_size / N rows of every step, so the global batch stays batch_size. 1 = in-process. The cold start always runs in-process."


def per_process(batch: int, processes: int) -> int:
    """Each DDP process's share of a global batch.

    >>> per_process(32, 1), per_process(32, 4)
    (32, 8)
    """
    if processes < 1 or batch % processes:
        raise ValueError(f"{processes} processes must divide the batch ({batch})")
    return batch // processes


def split_batch(batch: int, micro: int | None) -> tuple[int, int]:
    """(rows per forward/backward pass, passes per optimizer step) for gradient accumulation.

    >>> split_batch(32, None), split_batch(32, 8)
    ((32, 1), (8, 4))
    """
    micro = micro or batch
    if batch % micro:
        raise ValueError(f"micro_batch_size {micro} must divide the batch ({batch})")
    return micro, batch // micro


def loss_curve(log_history: Sequence[dict[str, Any]]) -> list[float]:
    """The training loss of every logged step (one per optimizer step at ``logging_steps=1``;
    under DDP, the mean over the processes).

    >>> loss_curve([{"loss": 2.5, "step": 1}, {"loss": 2.0, "step": 2}, {"train_loss": 2.25}])
    [2.5, 2.0]
    """
    return [float(row["loss"]) for row in log_history if "loss" in row]


def build_sft_config(cfg: SFTSettings, output_dir: str, tracking: TrackingTarget | None = None) -> Any:
    """The one place TRL's ``SFTConfig`` is built (device and precision: ``cfg.placement``;
    ``report_to``: ``tracking``, the recipe's ``log:`` section for this trainer)."""
    from trl import SFTConfig

    with warnings.catch_warnings():
        # transformers 5 renamed gradient_checkpointing; TRL still sets it (we turn it off)
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        return SFTConfig(
            output_dir=output_dir,
            learning_rate=cfg.lr,
            max_steps=cfg.steps,
            per_device_train_batch_size=cfg.accumulation[0],
            gradient_accumulation_steps=cfg.accumulation[1],
            max_length=cfg.max_length,
            warmup_steps=cfg.warmup,
            lr_scheduler_type=cfg.scheduler,
            weight_decay=cfg.weight_decay,
            max_grad_norm=cfg.max_grad_norm,
            seed=cfg.seed,
            data_seed=cfg.seed,
            completion_only_loss=True,
            packing=False,
            **resolve(cfg.placement).trainer_flags(),  # use_cpu, bf16, fp16
            gradient_checkpointing=cfg.gradient_checkpointing,
            **trainer_args(tracking),  # report_to (none without a log: section), run_name
            save_strategy="no",
            logging_strategy="steps",
            logging_steps=1,  # every step's loss goes to config["loss_curve"]
            disable_tqdm=True,
            dataloader_num_workers=0,
            ddp_find_unused_parameters=False,  # DDP (loops/launch.py): every weight gets a gradient
            dataloader_pin_memory=False,
            dataset_num_proc=None,
        )


def _progress_callback(progress: Callable[..., None]) -> Any:
    """Adapts ``progress`` to a transformers ``TrainerCallback``: ``progress(step)`` after
    every optimizer step, and ``progress(step, note="loss 0.412")`` whenever the trainer
    logs a training loss (every ``logging_steps``). Shared by SFT, DPO, GRPO/RLOO and the
    reward-model trainers."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            progress(state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            shown = [f"{key} {logs[key]:.3g}" for key in ("loss", "reward") if isinstance(logs.get(key), (int, float))]
            if "loss" in logs and shown:  # a training log (not the final summary, which says train_loss)
                progress(state.global_step, note=", ".join(shown))

    return ProgressCallback()


@dataclass(frozen=True)
class StopAtAccuracy:
    """Stop SFT once greedy accuracy on ``problems`` reaches ``target`` (checked every ``every`` steps).

    The cold start uses it to land in the same place whatever the seed: the step at
    which a from-scratch model "gets" the chain format varies a lot with its
    initialisation (measured: seed 0 reached 17% sampled accuracy at step 200,
    seed 1 had 4%), so a fixed step count gives either a broken or a too-strong policy.
    The probe problems must come from the train split.
    """

    problems: tuple[Problem, ...]
    target: float  # greedy accuracy in [0, 1]
    every: int = 20  # optimizer steps between checks
    max_new_tokens: int = 32


def _probe_accuracy(model: Any, tokenizer: Any, stop: StopAtAccuracy) -> float:
    from selftaught.loops.generate import generate
    from selftaught.loops.policy import Policy
    from selftaught.loops.verify import judge_all
    from selftaught.records import SamplingParams

    was_training = model.training
    model.eval()
    try:
        samples = generate(
            Policy(model=model, tokenizer=tokenizer, path=""), stop.problems, k=1, seed=0,
            params=SamplingParams(max_new_tokens=stop.max_new_tokens, do_sample=False), batch_size=256,
        )
    finally:
        model.train(was_training)
    judged = judge_all(samples, {p.id: p for p in stop.problems})
    return sum(j.verdict.passed for j in judged) / max(len(judged), 1)


def _stop_callback(stop: StopAtAccuracy, tokenizer: Any, record: dict[str, Any]) -> Any:
    from transformers import TrainerCallback

    class StopCallback(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            if state.global_step % stop.every == 0 and state.global_step < state.max_steps:
                acc = _probe_accuracy(model, tokenizer, stop)
                record.setdefault("probe", []).append((state.global_step, acc))
                if acc >= stop.target:
                    record["stopped_at_step"] = state.global_step
                    control.should_training_stop = True

    return StopCallback()


def train_sft(
    base_path: str,
    ts: TrainingSet,
    out_dir: str,
    *,
    cfg: SFTSettings,
    checkpoint_id: str,
    parent_id: str | None,
    round_index: int | None,
    progress: Callable[[int], None] | None = None,
    threads: int = 0,
    lora: LoRASettings | None = None,
    stop: StopAtAccuracy | None = None,
    style: PromptStyle = RAW,
    tracking: TrackingTarget | None = None,
) -> Checkpoint:
    """Fine-tune the policy at ``base_path`` on ``ts``; save atomically to ``out_dir``.

    Each row's prompt is the problem's own prompt, shown as ``style`` shows it (raw text, or
    a conversation for the chat template). With ``stop``, training ends early once the probe
    accuracy reaches its target (``config["stopped_at_step"]``; every check is in
    ``config["probe"]``). With ``tracking``, the trainer reports its logs there (``tracking.py``).
    """
    set_threads(threads)
    quiet_transformers()
    from datasets import Dataset

    cfg = cfg.model_copy(update={"placement": resolve(cfg.placement)})  # recorded as decided
    model, tokenizer = load_for_training(base_path, master_dtype=cfg.master_dtype, placement=cfg.placement)
    rows = sft_rows(ts, style)  # exactly what the trainer gets, hashed (loops/trained.py)
    config: dict[str, Any] = {
        "method": ts.method,
        "sft": cfg.record(),
        "base_path": str(base_path),
        "training_set": dict(ts.stats),
        "n_examples": len(ts.examples),
        HASH_KEY: rows_sha256(rows),
    }
    if lora is not None:
        config["lora"] = lora.record()
    if ts.examples:
        data = Dataset.from_list(rows)
        callbacks = [_progress_callback(progress)] if progress else []
        if stop is not None:
            callbacks.append(_stop_callback(stop, tokenizer, config))
        with tempfile.TemporaryDirectory(prefix="selftaught-sft-") as scratch, trainer_env(tracking) as tracking:
            from transformers.trainer_callback import PrinterCallback
            from trl import SFTTrainer

            trainer = SFTTrainer(
                model=model,
                args=build_sft_config(cfg, scratch, tracking),
                train_dataset=data,
                processing_class=tokenizer,
                callbacks=callbacks or None,
                peft_config=build_lora_config(lora),
            )
            trainer.remove_callback(PrinterCallback)  # it prints the final metrics dict
            result = trainer.train()
            model = to_save(trainer.model, lora)
        config.update(adapter_meta(lora, parent_id=parent_id, base_path=base_path, out_dir=out_dir))
        config["train_loss"] = float(result.training_loss)
        config["loss_curve"] = loss_curve(trainer.state.log_history)
        config["skipped"] = False
    else:
        config["skipped"] = True
    config["prompt_format"] = "chat" if style.chat else "raw"
    model.eval()
    meta = {"checkpoint_id": checkpoint_id, "parent_id": parent_id, "round_index": round_index, **config}
    sha = save_checkpoint(model, tokenizer, out_dir, meta=meta)
    return Checkpoint(
        id=checkpoint_id,
        path=str(Path(out_dir)),
        sha256=sha,
        parent_id=parent_id,
        round_index=round_index,
        config=config,
    )


def gold_training_set(problems: Sequence[Problem], *, hint_fraction: float = 0.0) -> TrainingSet:
    """SFT rows from the problems' gold solutions (cold start).

    With ``hint_fraction > 0`` the first that share of problems also appear with the
    STaR rationalization prompt (answer given as a hint) and the same gold solution,
    so that a model trained from scratch learns what the hint means -- the role the
    paper's few-shot rationalization exemplars play for a pretrained model.
    """
    if not 0.0 <= hint_fraction <= 1.0:
        raise ValueError(f"hint_fraction must be in [0, 1], got {hint_fraction}")
    missing = [p.id for p in problems if not p.solution]
    if missing:
        raise DataError(f"cold start needs worked solutions; {len(missing)} problems have none, e.g. {missing[0]!r}")
    examples = [TrainingExample(prompt=p.prompt, completion=p.solution or "", problem_id=p.id) for p in problems]
    hinted = problems[: round(hint_fraction * len(problems))]
    examples += [
        TrainingExample(prompt=rationalization_prompt(p), completion=p.solution or "", problem_id=p.id)
        for p in hinted
    ]
    stats = {"n_examples": len(examples), "n_problems": len(problems), "n_hinted": len(hinted)}
    return TrainingSet(method="cold_start", examples=tuple(examples), stats=stats)


def cold_start(
    base_path: str,
    problems: Sequence[Problem],
    out_dir: str,
    *,
    cfg: SFTSettings,
    checkpoint_id: str,
    parent_id: str | None = None,
    round_index: int | None = 0,
    progress: Callable[[int], None] | None = None,
    threads: int = 0,
    hint_fraction: float = 0.0,
    stop: StopAtAccuracy | None = None,
    tracking: TrackingTarget | None = None,
) -> Checkpoint:
    """SFT on gold solutions (R1's cold start): a short run that leaves the policy weak.

    ``hint_fraction``: see ``gold_training_set`` (the demo uses it so STaR can rationalize).
    ``stop``: end as soon as greedy accuracy on a train-split probe reaches a target
    (``cfg.steps`` is then the most it may take); see ``StopAtAccuracy``.
    """
    return train_sft(
        base_path,
        gold_training_set(problems, hint_fraction=hint_fraction),
        out_dir,
        cfg=cfg,
        checkpoint_id=checkpoint_id,
        parent_id=parent_id,
        round_index=round_index,
        progress=progress,
        threads=threads,
        stop=stop,
        tracking=tracking,
    )
