"""Train the outcome reward model (ORM) and the process reward model (PRM).

In: rows and a base checkpoint (the policy). Out: an atomic checkpoint (``loops/checkpoint``)
whose manifest says ``meta.kind`` = ``"orm"`` or ``"prm"``, plus what training took.

- ORM rows: ``(prompt, completion, passed)`` from judged samples. Model:
  ``LlamaForSequenceClassification`` read at the last token: 1 output (pairwise, the
  default) or 2 labels (classify), see below.
- PRM rows: TRL stepwise supervision ``{"prompt", "completions": [...], "labels": [...]}``
  (``label.stepwise_rows``). Model: ``LlamaForTokenClassification`` (2 labels), trained on
  the separator token after each step, every other position ignored
  (``scorers.encode_steps``). Soft labels (floats) are turned into hard ones at
  ``soft_threshold`` (> 0 by default: Math-Shepherd's hard estimate).

Both start from the policy's weights (the transformer body; the classification head is
new), which is how Math-Shepherd initialises its PRM; ``init="scratch"`` builds the same
config randomly initialised instead.

Which trainer and why: TRL 1.16 has no ``PRMTrainer`` any more (neither ``trl`` nor
``trl.experimental`` ships one; it was removed after 0.2x), so the PRM is a token
classifier trained with transformers' ``Trainer`` on exactly the layout TRL's PRMTrainer
used. The ORM has two objectives (``RMSettings.objective``):

- ``"pairwise"`` (default): TRL's ``RewardTrainer`` -- a Bradley-Terry scalar score
  learned from (correct, wrong) pairs *of the same prompt* (``orm_pairs``). Best-of-N only
  ever compares candidates of one problem, and a within-prompt loss is blind to how hard
  a problem is. Measured on the demo's cold start (256-1024 train problems x 16 samples,
  100 held-out problems x 64 samples): AUROC *within a problem* 0.63-0.71 against the
  classifier's 0.62-0.63, and RM-weighted voting 35-37% at B=64 against 31-33%. The
  scorer reports sigmoid(score): ordered like P(correct) within a problem, not calibrated
  across problems (over all candidates its AUROC is lower: 0.71-0.72 against 0.80-0.81).
- ``"classify"``: a 2-label sequence classifier on every verified sample (cross-entropy,
  classes balanced), P(correct). It learns largely which *problems* are easy: it scored
  carry-free wrong answers (``3+7=0 ... 78``) above the right ones with a carry.

The cross-entropy losses (PRM, classify ORM) weight each target (``target_weights``):
``balance="class"`` (default) equalises the two classes overall; ``"prompt"`` equalises
them within each prompt and leaves one-class prompts out, so the label cannot be read off
the problem. For the PRM it raised the within-problem AUROC (min aggregate) from 0.54 to
0.59 on 1,024 labelled solutions and from 0.62 to 0.64 on 8,192, with best-of-N no better
and a lower AUROC across problems: measured, not made the default. More labels helped
more than either (0.54 -> 0.62), but even then best-of-N by PRM falls as N grows.

``TrainingArguments`` (and TRL's ``RewardConfig``, its subclass) is built in one place
(``build_args``), with the device and mixed precision of ``RMSettings.placement``
(``hardware.py``); the weights train in float32 (master weights) wherever they run.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from selftaught.errors import DataError
from selftaught.hardware import Placement, resolve
from selftaught.loops.checkpoint import save_checkpoint, verified
from selftaught.loops.policy import quiet_transformers, set_threads
from selftaught.loops.tracking import TrackingTarget, trainer_args, trainer_env
from selftaught.loops.train import _progress_callback
from selftaught.progress import step
from selftaught.prm.scorers import encode_outcome, encode_steps


@dataclass(frozen=True)
class RMSettings:
    """One reward-model training run."""

    lr: float = 5e-4  # peak learning rate (AdamW)
    steps: int = 150  # optimizer steps (the data is repeated if it runs out)
    batch_size: int = 32  # rows per optimizer step
    warmup: float = 0.1  # linear warm-up: a fraction of steps if < 1, else a step count
    weight_decay: float = 0.0  # AdamW weight decay
    seed: int = 0  # data order and head initialisation
    init: Literal["policy", "scratch"] = "policy"  # start from the policy's body or from random weights
    soft_threshold: float = 0.0  # PRM: a soft label > this counts as a good step
    # "class": weight the two classes equally overall (most steps of a weak policy are one class);
    # "prompt": equally within each prompt, prompts with one class only left out (module docstring)
    balance: Literal["none", "class", "prompt"] = "class"
    layout: Literal["separator", "think"] = "separator"  # PRM input layout (scorers.encode_steps)
    objective: Literal["pairwise", "classify"] = "pairwise"  # ORM loss (module docstring)
    pairs_per_prompt: int = 32  # pairwise ORM: at most this many (correct, wrong) pairs per prompt
    placement: Placement | None = None  # device and mixed precision (hardware.py); None = decided here (auto)


@dataclass(frozen=True)
class TrainResult:
    path: str
    sha256: str
    rows: int  # training rows (samples for the ORM, solutions for the PRM)
    targets: int  # labelled positions (ORM: rows, or pairs when pairwise; PRM: steps)
    positive_fraction: float
    train_loss: float
    seconds: float


def build_args(cfg: RMSettings, output_dir: str, klass: Any = None, tracking: TrackingTarget | None = None,
               **extra: Any) -> Any:  # fmt: skip
    """The one place this package builds ``TrainingArguments`` (or ``klass``, a subclass);
    device and precision from ``cfg.placement``; with ``tracking`` (the run's ``log:``
    section), every step's logs are reported there (``loops/tracking.py``)."""
    from transformers import TrainingArguments

    warmup = cfg.warmup if cfg.warmup >= 1 else round(cfg.warmup * cfg.steps)
    return (klass or TrainingArguments)(
        output_dir=output_dir, learning_rate=cfg.lr, max_steps=cfg.steps,
        per_device_train_batch_size=cfg.batch_size, gradient_accumulation_steps=1,
        warmup_steps=warmup, lr_scheduler_type="cosine", weight_decay=cfg.weight_decay,
        seed=cfg.seed, data_seed=cfg.seed, **resolve(cfg.placement).trainer_flags(),
        **trainer_args(tracking), logging_strategy="steps", logging_steps=1,  # every step: the bar's loss
        save_strategy="no", disable_tqdm=True,
        dataloader_num_workers=0, dataloader_pin_memory=False, remove_unused_columns=False, **extra,
    )  # fmt: skip


def target_weights(targets: Sequence[int], groups: Sequence[object], balance: str) -> list[float]:
    """A loss weight per labelled target (step or sample), in order.

    ``"class"``: n / (2 * count of its class) over all targets (1 each if a class is
    missing). ``"prompt"``: the same within each group (a prompt); a group holding one
    class only gets weight 0 -- it tells nothing about right against wrong, only about how
    hard the problem is. ``"none"``: 1 each.

    >>> target_weights([1, 0, 0, 1, 1], ["a", "a", "a", "b", "b"], "prompt")
    [1.5, 0.75, 0.75, 0.0, 0.0]
    """
    if balance == "none":
        return [1.0] * len(targets)
    if balance == "class":
        groups = [None] * len(targets)
    elif balance != "prompt":
        raise ValueError(f"unknown balance {balance!r}; choose none, class or prompt")
    counts: dict[object, list[int]] = {}
    for t, g in zip(targets, groups, strict=True):
        counts.setdefault(g, [0, 0])[t] += 1
    out = []
    for t, g in zip(targets, groups):
        neg, pos = counts[g]
        if neg and pos:
            out.append((neg + pos) / (2 * (pos if t else neg)))
        else:
            out.append(1.0 if balance == "class" else 0.0)
    return out


def _new_model(base_path: str, auto_class: str, num_labels: int, cfg: RMSettings, pad_id: int) -> Any:
    """A ``transformers.<auto_class>`` head on the policy's body (or, ``init="scratch"``, on
    its config), seeded by ``cfg.seed``, in float32 (the trainer's mixed precision does the rest)."""
    import torch
    import transformers
    from transformers import AutoConfig

    from selftaught.loops.lora import materialized

    klass = getattr(transformers, auto_class)
    torch.manual_seed(cfg.seed)
    with materialized(base_path) as full:  # a LoRA adapters-only policy: merged into a temp folder
        if cfg.init == "policy":
            model = klass.from_pretrained(full, num_labels=num_labels, dtype=torch.float32)
        else:
            model = klass.from_config(AutoConfig.from_pretrained(full, num_labels=num_labels))
    model.config.pad_token_id = pad_id
    return model


def _train(kind: str, base_path: str, auto_class: str, features: list[dict], targets: list[int],
           out_dir: str, cfg: RMSettings, threads: int, meta: dict,
           tracking: TrackingTarget | None = None) -> TrainResult:  # fmt: skip
    """Cross-entropy on every labelled position, each weighted by its feature's ``weights``
    (one per label that is not -100, in order; ``target_weights``)."""
    if not any(w for f in features for w in f["weights"]):
        raise DataError(f"every {kind} training target has weight 0: with balance='prompt' no prompt has "
                        "both a good and a bad label; use balance='class'")  # fmt: skip
    set_threads(threads)
    quiet_transformers()
    cfg = replace(cfg, placement=resolve(cfg.placement))  # recorded as decided
    import torch
    from transformers import AutoTokenizer, Trainer
    from transformers.trainer_callback import PrinterCallback

    clock = time.perf_counter()
    with verified(base_path):  # the policy it starts from (``loops.checkpoint``)
        tokenizer = AutoTokenizer.from_pretrained(base_path)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = _new_model(base_path, auto_class, 2, cfg, tokenizer.pad_token_id)
    pad_id = tokenizer.pad_token_id

    def collate(batch: list[dict]) -> dict:
        width = max(len(b["input_ids"]) for b in batch)
        ids = [b["input_ids"] + [pad_id] * (width - len(b["input_ids"])) for b in batch]
        mask = [[1] * len(b["input_ids"]) + [0] * (width - len(b["input_ids"])) for b in batch]
        if isinstance(batch[0]["labels"], list):
            labels = [b["labels"] + [-100] * (width - len(b["labels"])) for b in batch]
        else:
            labels = [b["labels"] for b in batch]
        weights = [w for b in batch for w in b["weights"]]  # the order of labels != -100, row-major
        return {"input_ids": torch.tensor(ids), "attention_mask": torch.tensor(mask),
                "labels": torch.tensor(labels), "weights": torch.tensor(weights)}  # fmt: skip

    class WeightedTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels, weights = inputs.pop("labels").reshape(-1), inputs.pop("weights")
            outputs = model(**inputs)
            keep = labels != -100
            losses = torch.nn.functional.cross_entropy(outputs.logits.reshape(-1, 2)[keep], labels[keep],
                                                       reduction="none")  # fmt: skip
            w = weights.to(losses.dtype)
            loss = (losses * w).sum() / w.sum().clamp_min(1e-8)
            return (loss, outputs) if return_outputs else loss

    with tempfile.TemporaryDirectory(prefix=f"selftaught-{kind}-") as scratch, trainer_env(tracking) as tracking:
        trainer = WeightedTrainer(
            model=model, args=build_args(cfg, scratch, tracking=tracking), train_dataset=features, data_collator=collate
        )
        trainer.remove_callback(PrinterCallback)
        with step(f"{kind} train", total=cfg.steps) as advance:  # a bar: steps and the latest loss
            trainer.add_callback(_progress_callback(advance))
            result = trainer.train()
    model.eval()
    seconds = time.perf_counter() - clock
    positive = sum(targets) / len(targets)
    full_meta = {"kind": kind, "base_path": str(base_path), "settings": asdict(cfg), "rows": len(features),
                 "targets": len(targets), "positive_fraction": positive,
                 "train_loss": float(result.training_loss), "train_seconds": seconds, **meta}  # fmt: skip
    sha = save_checkpoint(model, tokenizer, out_dir, meta=full_meta)
    return TrainResult(str(Path(out_dir)), sha, len(features), len(targets), positive,
                       float(result.training_loss), seconds)  # fmt: skip


def train_orm(
    base_path: str,
    rows: Sequence[tuple[str, str, bool]],
    out_dir: str,
    *,
    cfg: RMSettings = RMSettings(),
    threads: int = 0,
    meta: dict | None = None,
    tracking: TrackingTarget | None = None,
) -> TrainResult:
    """Train the ORM on ``(prompt, completion, passed)`` rows; save it to ``out_dir``.

    ``cfg.objective`` picks the loss: pairwise (TRL ``RewardTrainer`` on same-prompt
    pairs) or a classifier (module docstring). With ``tracking``, the trainer reports its
    logs there (``loops/tracking.py``).
    """
    if not rows:
        raise DataError("no judged samples to train an outcome reward model on")
    from transformers import AutoTokenizer

    with verified(base_path):  # the policy it starts from (``loops.checkpoint``)
        tokenizer = AutoTokenizer.from_pretrained(base_path)
    if cfg.objective == "pairwise":
        return _train_pairwise(base_path, tokenizer, rows, out_dir, cfg, threads, meta or {}, tracking)
    if cfg.objective != "classify":
        raise ValueError(f"unknown ORM objective {cfg.objective!r}; choose pairwise or classify")
    targets = [int(ok) for _, _, ok in rows]
    weights = target_weights(targets, [p for p, _, _ in rows], cfg.balance)
    features = [{"input_ids": encode_outcome(tokenizer, p, c), "labels": t, "weights": [w]}
                for (p, c, _), t, w in zip(rows, targets, weights)]  # fmt: skip
    return _train("orm", base_path, "AutoModelForSequenceClassification", features, targets, out_dir,
                  cfg, threads, {"objective": "classify", **(meta or {})}, tracking)  # fmt: skip


def orm_pairs(rows: Sequence[tuple[str, str, bool]], per_prompt: int, seed: int) -> list[tuple[str, str, str]]:
    """``(prompt, chosen, rejected)``: a correct and a wrong completion of the same prompt.

    Identical completions count once; per prompt at most ``per_prompt`` pairs, drawn at
    random (``seed``) from all correct x wrong combinations. Prompts with only one class
    give no pair.

    >>> orm_pairs([("Q", "a", True), ("Q", "b", False), ("Q", "b", False), ("R", "c", True)], 8, 0)
    [('Q', 'a', 'b')]
    """
    import random

    by_prompt: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
    for prompt, completion, ok in rows:
        good, bad = by_prompt.setdefault(prompt, ({}, {}))
        (good if ok else bad)[completion] = None  # dicts keep first-seen order, drop repeats
    rng = random.Random(seed)
    pairs: list[tuple[str, str, str]] = []
    for prompt, (good, bad) in by_prompt.items():
        combos = [(prompt, g, b) for g in good for b in bad]
        rng.shuffle(combos)
        pairs.extend(combos[:per_prompt])
    rng.shuffle(pairs)
    return pairs


def _train_pairwise(base_path: str, tokenizer: Any, rows: Sequence[tuple[str, str, bool]], out_dir: str,
                    cfg: RMSettings, threads: int, meta: dict,
                    tracking: TrackingTarget | None = None) -> TrainResult:  # fmt: skip
    """TRL ``RewardTrainer`` on same-prompt (correct, wrong) pairs; a 1-output sequence scorer."""
    pairs = orm_pairs(rows, cfg.pairs_per_prompt, cfg.seed)
    if not pairs:
        raise DataError(
            "no prompt has both a correct and a wrong sample, so a pairwise ORM has nothing to learn "
            "from; sample more per prompt or train with objective='classify'"
        )
    set_threads(threads)
    quiet_transformers()
    cfg = replace(cfg, placement=resolve(cfg.placement))  # recorded as decided
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import RewardConfig, RewardTrainer

    clock = time.perf_counter()
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    # pre-tokenized exactly as the scorer reads them (no EOS appended): TRL skips its own tokenization
    data = Dataset.from_dict({
        "chosen_ids": [encode_outcome(tokenizer, p, c) for p, c, _ in pairs],
        "rejected_ids": [encode_outcome(tokenizer, p, r) for p, _, r in pairs],
    })  # fmt: skip
    model = _new_model(base_path, "AutoModelForSequenceClassification", 1, cfg, tokenizer.pad_token_id)
    with tempfile.TemporaryDirectory(prefix="selftaught-orm-") as scratch, warnings.catch_warnings(), \
            trainer_env(tracking) as tracking:
        # transformers 5 renamed gradient_checkpointing; TRL's configs still set it (we turn it off)
        warnings.filterwarnings("ignore", message=".*gradient_checkpointing.*", category=FutureWarning)
        # a small pull of the mean score towards 0 keeps sigmoid(score) near 0.5 on average
        args = build_args(cfg, scratch, RewardConfig, tracking, center_rewards_coefficient=0.01, disable_dropout=True,
                          gradient_checkpointing=False)  # fmt: skip
        trainer = RewardTrainer(model=model, args=args, train_dataset=data, processing_class=tokenizer)
        trainer.remove_callback(PrinterCallback)
        with step("orm train (pairwise)", total=cfg.steps) as advance:  # a bar: steps and the latest loss
            trainer.add_callback(_progress_callback(advance))
            result = trainer.train()
    model.eval()
    seconds = time.perf_counter() - clock
    positive = sum(ok for _, _, ok in rows) / len(rows)
    full_meta = {"kind": "orm", "objective": "pairwise", "base_path": str(base_path), "settings": asdict(cfg),
                 "rows": len(rows), "targets": len(pairs), "positive_fraction": positive,
                 "train_loss": float(result.training_loss), "train_seconds": seconds, **meta}  # fmt: skip
    sha = save_checkpoint(model, tokenizer, out_dir, meta=full_meta)
    return TrainResult(str(Path(out_dir)), sha, len(rows), len(pairs), positive, float(result.training_loss), seconds)


def _hard(label: bool | float | None, threshold: float) -> int | None:
    if label is None:  # no label for this step (label.rollout_rows): ignored
        return None
    if isinstance(label, bool):
        return int(label)
    return int(float(label) > threshold)


def train_prm(
    base_path: str,
    rows: Sequence[dict],
    out_dir: str,
    *,
    cfg: RMSettings = RMSettings(),
    threads: int = 0,
    meta: dict | None = None,
    tracking: TrackingTarget | None = None,
) -> TrainResult:
    """Train the PRM on stepwise-supervision rows; save it to ``out_dir`` (``tracking``: as
    ``train_orm``)."""
    if not rows:
        raise DataError("no step-labelled solutions to train a process reward model on")
    from transformers import AutoTokenizer

    with verified(base_path):  # the policy it starts from (``loops.checkpoint``)
        tokenizer = AutoTokenizer.from_pretrained(base_path)
    features, targets, groups = [], [], []
    for n, row in enumerate(rows):
        steps, labels = row.get("completions"), row.get("labels")
        if not isinstance(steps, list) or not isinstance(labels, list) or len(steps) != len(labels):
            raise DataError(f"stepwise row {n}: 'completions' and 'labels' must be lists of one length")
        hard = [_hard(lab, cfg.soft_threshold) for lab in labels]
        ids, labs, _ = encode_steps(tokenizer, row["prompt"], steps, hard, layout=cfg.layout)
        features.append({"input_ids": ids, "labels": labs})
        targets.extend(h for h in hard if h is not None)
        groups.extend(row["prompt"] for h in hard if h is not None)
    weights = iter(target_weights(targets, groups, cfg.balance))
    for f in features:
        f["weights"] = [next(weights) for lab in f["labels"] if lab != -100]
    return _train("prm", base_path, "AutoModelForTokenClassification", features, targets, out_dir,
                  cfg, threads, {"layout": cfg.layout, **(meta or {})}, tracking)  # fmt: skip


def read_training_jsonl(path: str | Path, kind: Literal["orm", "prm"]) -> list:
    """Training rows from a JSON-lines file, checked row by row.

    PRM: TRL stepwise supervision, ``{"prompt", "completions": [str, ...], "labels": [...]}``
    with one label per step (booleans, or numbers in [0, 1] for soft labels) -- what
    ``selftaught prm export`` writes. ORM: TRL's unpaired layout,
    ``{"prompt", "completion", "label": bool}``. Returns stepwise dicts (PRM) or
    ``(prompt, completion, passed)`` tuples (ORM). A bad row raises ``DataError`` naming
    the file, the line and the reason; blank lines are skipped.
    """
    from selftaught.jsonl import read_jsonl_objects

    out: list = []
    for where, row in read_jsonl_objects(path, "training file"):
        if not isinstance(row.get("prompt"), str):
            raise DataError(f"{where}: expected an object with a string 'prompt'")
        if kind == "orm":
            if not isinstance(row.get("completion"), str) or not isinstance(row.get("label"), bool):
                raise DataError(f"{where}: an ORM row needs a string 'completion' and a boolean 'label'")
            out.append((row["prompt"], row["completion"], row["label"]))
            continue
        steps, labels = row.get("completions"), row.get("labels")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise DataError(f"{where}: 'completions' must be a non-empty list of step strings")
        if not isinstance(labels, list) or len(labels) != len(steps):
            raise DataError(f"{where}: 'labels' must be a list with one label per step ({len(steps)})")
        for lab in labels:
            if not isinstance(lab, (bool, int, float)) or not 0 <= float(lab) <= 1:
                raise DataError(f"{where}: label {lab!r} is neither a boolean nor a number in [0, 1]")
        out.append({"prompt": row["prompt"], "completions": steps, "labels": labels})
    if not out:
        raise DataError(f"{path}: no training rows")
    return out
