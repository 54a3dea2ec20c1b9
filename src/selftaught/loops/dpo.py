"""dpo: iterative DPO on verified pairs -- a passing and a failing sample of one problem.

In: judged samples of a round (K per problem, from the round's starting policy), the
problems, ``DPOSettings``. Out: ``VerifiedPair`` records (``build_pairs``, pure), then a
``Checkpoint`` trained with TRL's ``DPOTrainer`` on them (``train_dpo``), whose manifest
records the sha256 of the exact rows (``trained.py``).

Pairs: for each problem with at least one passing and one failing sample, distinct
completions only, passing ones as ``chosen`` and failing ones as ``rejected``, paired
in sample-index order and cycled so that every distinct completion of the larger side
is used once, up to ``max_pairs_per_problem``. A sample whose judge errored or timed out
is neither chosen nor rejected (it is not a wrong answer). Problems solved by every
sample or by none give no pair -- they carry no preference.

The reference model is the round's starting policy: a frozen copy loaded from
``base_path``, or with LoRA the same weights with the adapters disabled (no copy).
"Iterative" means what Xu et al. / Pang et al. mean: each round samples fresh pairs
from the current policy and uses that policy as the new reference.

The loss is TRL's. Pure sigmoid DPO made the policy *worse* here (8.6% at lr 2e-4,
19.9% at 5e-5 from 21%): it pushes the rejected log-probability down faster than it
lifts the chosen one, so the likelihood of good completions falls too. TRL's
``loss_type=["sigmoid", "sft"]`` adds an SFT term on the chosen completion (as in RPO,
Pang et al. 2024) and took the same policy to 43%; that is the default. From the weaker
cold start of the current demo (6.7% sampled accuracy) lr 2e-4 x 40 steps moved it by
only +0.3 points; lr 5e-4 x 60 steps (the SFT rounds' own rate) gave +2.9, so that is the
default. Greedy accuracy fell in both (26% -> 19% / 18%): DPO spreads probability over
more correct completions rather than sharpening the mode. From the demo's own cold start
as ``benchmarks/methods_table.py`` builds it (12.8% sampled, 23% greedy) the same
defaults gave 25.9% sampled and 33.0% greedy (473 pairs): both rose there.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from selftaught.errors import DataError
from selftaught.hardware import resolve
from selftaught.loops.checkpoint import save_checkpoint
from selftaught.loops.lora import LoRASettings, adapter_meta, build_lora_config, to_save
from selftaught.loops.policy import load_for_training, quiet_transformers, set_threads
from selftaught.loops.prompting import RAW, PromptStyle
from selftaught.loops.section import BatchedTrainerSection, runtime
from selftaught.loops.tracking import TrackingTarget, trainer_args, trainer_env
from selftaught.loops.trained import HASH_KEY, dpo_rows, rows_sha256
from selftaught.records import Checkpoint, Judged, Outcome, Problem


@dataclass(frozen=True)
class VerifiedPair:
    """One DPO row: the problem's own prompt, a passing and a failing completion."""

    problem_id: str
    prompt: str
    chosen: str
    rejected: str
    chosen_key: tuple[str, str, int]
    rejected_key: tuple[str, str, int]


class DPOSettings(BatchedTrainerSection):
    """One DPO round: the recipe's ``dpo:`` section (defaults: measured; pure sigmoid made things worse)."""

    lr: float = Field(5e-4, gt=0)
    "Peak learning rate (AdamW); 2e-4 barely moved the weak cold start."
    steps: int = Field(60, ge=1)
    "Optimizer steps (the pairs are repeated if they run out)."
    batch_size: int = Field(32, ge=1)
    "Pairs per optimizer step."
    beta: float = Field(0.1, gt=0)
    "DPO temperature: how far from the reference the policy may move."
    loss_types: tuple[Literal["sigmoid", "hinge", "ipo", "robust", "sft", "apo_zero", "apo_down"], ...] = ("sigmoid", "sft")
    "TRL loss_type list; `sft` adds the chosen-completion NLL (RPO)."
    loss_weights: tuple[float, ...] | None = None
    "One weight per loss type; None = all 1."
    max_pairs_per_problem: int = Field(4, ge=1)
    "Distinct pairs kept per problem."
    micro_batch_size: int | None = Field(None, ge=1)
    "Pairs per forward/backward pass (gradients accumulate up to batch_size); None = batch_size."
    max_length: int = Field(128, ge=8)
    "Tokens per prompt + completion."
    warmup: float = Field(0.1, ge=0)
    "Linear warm-up: a fraction of the steps if < 1, else a step count."
    processes: int = Field(1, ge=1)
    "Train on N processes (DDP through `accelerate launch`; loops/launch.py): each takes batch_size / N pairs of every step. 1 = in-process."
    lora: LoRASettings | None = runtime(None)


def _distinct(judged: Sequence[Judged]) -> list[Judged]:
    seen: set[str] = set()
    out = []
    for j in sorted(judged, key=lambda j: j.sample.index):
        if j.sample.completion not in seen:
            seen.add(j.sample.completion)
            out.append(j)
    return out


def build_pairs(
    judged: Sequence[Judged], problems_by_id: Mapping[str, Problem], *, max_pairs_per_problem: int = 4
) -> list[VerifiedPair]:
    """Chosen/rejected pairs from verified samples, problems in id order.

    >>> from selftaught.loops.arithmetic import make_problem
    >>> from selftaught.loops.verify import judge_all
    >>> from selftaught.records import Sample, SampleSource, SamplingParams
    >>> p = make_problem(23, 45, 2)
    >>> texts = [" <think></think> 68", " <think></think> 67", " <think></think> 66"]
    >>> samples = [Sample(p.id, i, p.prompt, t, SampleSource.GENERATE, 0, SamplingParams()) for i, t in enumerate(texts)]
    >>> [(x.chosen, x.rejected) for x in build_pairs(judge_all(samples, {p.id: p}), {p.id: p})]
    [(' <think></think> 68', ' <think></think> 67'), (' <think></think> 68', ' <think></think> 66')]
    """
    if max_pairs_per_problem < 1:
        raise ValueError(f"max_pairs_per_problem must be >= 1, got {max_pairs_per_problem}")
    by_problem: dict[str, list[Judged]] = {}
    for j in judged:
        by_problem.setdefault(j.sample.problem_id, []).append(j)
    pairs: list[VerifiedPair] = []
    for pid in sorted(by_problem):
        problem = problems_by_id.get(pid)
        if problem is None:
            raise DataError(f"judged sample refers to unknown problem {pid!r}")
        group = by_problem[pid]
        good = _distinct([j for j in group if j.verdict.outcome is Outcome.PASS])
        bad = _distinct([j for j in group if j.verdict.outcome is Outcome.FAIL])
        bad = [j for j in bad if j.sample.completion not in {g.sample.completion for g in good}]
        if not good or not bad:
            continue
        for i in range(min(max_pairs_per_problem, max(len(good), len(bad)))):
            c, r = good[i % len(good)], bad[i % len(bad)]
            pairs.append(
                VerifiedPair(
                    problem_id=pid, prompt=problem.prompt, chosen=c.sample.completion,
                    rejected=r.sample.completion, chosen_key=c.sample.key, rejected_key=r.sample.key,
                )
            )  # fmt: skip
    return pairs


def pair_stats(judged: Sequence[Judged], pairs: Sequence[VerifiedPair]) -> dict[str, int]:
    """Counts for the curate stage's record."""
    problems = {j.sample.problem_id for j in judged}
    solved = {j.sample.problem_id for j in judged if j.verdict.passed}
    failed = {j.sample.problem_id for j in judged if j.verdict.outcome is Outcome.FAIL}
    return {
        "n_samples": len(judged),
        "n_correct": sum(j.verdict.passed for j in judged),
        "n_problems": len(problems),
        "n_problems_paired": len({p.problem_id for p in pairs}),
        "n_problems_all_pass": len(solved - failed),
        "n_problems_none_pass": len(problems - solved),
        "n_pairs": len(pairs),
    }


def build_dpo_config(cfg: DPOSettings, output_dir: str, tracking: TrackingTarget | None = None) -> Any:
    """The one place TRL's ``DPOConfig`` is built (device and precision: ``cfg.placement``;
    ``report_to``: ``tracking``, the recipe's ``log:`` section for this trainer)."""
    from trl import DPOConfig

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        return DPOConfig(
            output_dir=output_dir,
            learning_rate=cfg.lr,
            max_steps=cfg.steps,
            per_device_train_batch_size=cfg.accumulation[0],
            gradient_accumulation_steps=cfg.accumulation[1],
            beta=cfg.beta,
            loss_type=list(cfg.loss_types),
            loss_weights=None if cfg.loss_weights is None else list(cfg.loss_weights),
            max_length=cfg.max_length,
            warmup_steps=cfg.warmup,
            lr_scheduler_type="cosine",
            seed=cfg.seed,
            data_seed=cfg.seed,
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


def train_dpo(
    base_path: str,
    pairs: Sequence[VerifiedPair],
    out_dir: str,
    *,
    cfg: DPOSettings,
    checkpoint_id: str,
    parent_id: str | None,
    round_index: int | None,
    progress: Callable[[int], None] | None = None,
    threads: int = 0,
    style: PromptStyle = RAW,
    tracking: TrackingTarget | None = None,
) -> Checkpoint:
    """DPO from ``base_path`` (also the reference) on ``pairs``; save atomically to ``out_dir``.

    Rows are shown as ``style`` shows them (raw text, or conversations for the chat
    template). No pairs trains nothing: the parent's weights are saved again with ``skipped``.
    With ``tracking``, the trainer reports its logs there (``tracking.py``).
    """
    set_threads(threads)
    quiet_transformers()
    from datasets import Dataset

    cfg = cfg.model_copy(update={"placement": resolve(cfg.placement)})  # recorded as decided
    model, tokenizer = load_for_training(base_path, master_dtype=cfg.master_dtype, placement=cfg.placement)
    rows = dpo_rows(pairs, style)  # exactly what the trainer gets, hashed (loops/trained.py)
    config: dict[str, Any] = {
        "method": "dpo",
        HASH_KEY: rows_sha256(rows),
        "dpo": cfg.record(),
        "base_path": str(base_path),
        "n_pairs": len(pairs),
        "n_problems": len({p.problem_id for p in pairs}),
        "skipped": not pairs,
        "prompt_format": "chat" if style.chat else "raw",
    }
    if pairs:
        from transformers.trainer_callback import PrinterCallback
        from trl import DPOTrainer

        from selftaught.loops.train import _progress_callback, loss_curve

        data = Dataset.from_list(rows)
        # the reference is the starting policy: a frozen copy, or (LoRA) adapters disabled
        ref = None if cfg.lora is not None else load_for_training(
            base_path, master_dtype=cfg.master_dtype, placement=cfg.placement)[0]  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="selftaught-dpo-") as scratch, trainer_env(tracking) as tracking:
            trainer = DPOTrainer(
                model=model,
                ref_model=ref,
                args=build_dpo_config(cfg, scratch, tracking),
                train_dataset=data,
                processing_class=tokenizer,
                peft_config=build_lora_config(cfg.lora),
                callbacks=[_progress_callback(progress)] if progress else None,
            )
            trainer.remove_callback(PrinterCallback)
            result = trainer.train()
            model = to_save(trainer.model, cfg.lora)
            config.update(adapter_meta(cfg.lora, parent_id=parent_id, base_path=base_path, out_dir=out_dir))
            config["log"] = [
                {k: float(v) for k, v in row.items() if isinstance(v, int | float)}
                for row in trainer.state.log_history
            ]
        config["train_loss"] = float(result.training_loss)
        config["loss_curve"] = loss_curve(trainer.state.log_history)
    model.eval()
    meta = {"checkpoint_id": checkpoint_id, "parent_id": parent_id, "round_index": round_index, **config}
    sha = save_checkpoint(model, tokenizer, out_dir, meta=meta)
    return Checkpoint(
        id=checkpoint_id, path=str(Path(out_dir)), sha256=sha, parent_id=parent_id,
        round_index=round_index, config=config,
    )  # fmt: skip
