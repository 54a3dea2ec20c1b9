"""Scorers: what test-time search asks of a reward model, and the two trained ones.

In: prompts and completions (ORM) or prompts and step lists (PRM). Out: probabilities.

- ``OutcomeScorer.score(prompts, completions)`` -> P(the completion's final answer is
  correct), one float per pair (a pairwise-trained ORM: sigmoid of its score, which
  orders one prompt's completions but is not calibrated across prompts).
- ``StepScorer.score_steps(prompts, steps)`` -> per step, P(this step and all before it
  are on a path to the correct answer) -- the Math-Shepherd reading of a step label.
- ``aggregate(step_scores, how)`` folds a step-score list into one solution score
  (``min``: the weakest step; ``last``: the last step; ``product``: all steps).
- ``load_orm(path)`` / ``load_prm(path)`` load the checkpoints ``prm.train`` writes and
  return a scorer (torch and transformers are imported there, not at module import), on
  the device and in the dtype of a ``hardware.Placement`` (default: what ``auto`` picks).

Input format (shared with training, ``encode_outcome`` / ``encode_steps``): the ORM reads
``prompt + completion`` and scores the sequence at its last token
(``LlamaForSequenceClassification``: 2 labels, or 1 output for a pairwise ORM). The PRM
reads TRL's stepwise-supervision layout: the prompt's tokens, then per step the step's tokens followed by
``STEP_SEPARATOR``; the step's label sits on that separator token and every other
position is ignored (-100) (``LlamaForTokenClassification``, 2 labels). A PRM trained
with ``layout="think"`` reads the embedded task's own text instead, labelled at the last
token of each step (the checkpoint's manifest says which; the scorer follows it). Steps
are stripped of surrounding whitespace before encoding, so ``split_steps`` output and
user-supplied steps encode alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from selftaught.hardware import Placement
from selftaught.judges.base import THINK_CLOSE, THINK_OPEN

#: Between the prompt and the first step, and after every step. ``"|"`` never occurs in
#: the embedded task's steps; it is a single token of the character tokenizer.
STEP_SEPARATOR = "|"
PROMPT_SEPARATOR = " "

Aggregation = Literal["min", "last", "product"]
Layout = Literal["separator", "think"]
LAYOUTS: tuple[str, ...] = ("separator", "think")
_ANSWER = re.compile(r"^-?\d[\d,]*(?:\.\d+)?$")
AGGREGATIONS: tuple[str, ...] = ("min", "last", "product")


@runtime_checkable
class OutcomeScorer(Protocol):
    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        """P(correct) for each (prompt, completion) pair, in order."""
        ...


@runtime_checkable
class StepScorer(Protocol):
    def score_steps(
        self, prompts: Sequence[str], steps: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Per prompt, one probability per step (same lengths as ``steps``)."""
        ...


def _product(xs: Sequence[float]) -> float:
    return math.prod(xs)


_AGGREGATE = {"min": min, "last": lambda xs: xs[-1], "product": _product}


def aggregate(step_scores: Sequence[float], how: Aggregation = "min") -> float:
    """One score for a solution from its step scores.

    >>> aggregate([0.9, 0.5, 0.8], "min"), aggregate([0.9, 0.5, 0.8], "last")
    (0.5, 0.8)
    >>> round(aggregate([0.9, 0.5, 0.8], "product"), 3)
    0.36

    An empty list (no steps at all) scores 0.
    """
    if how not in _AGGREGATE:
        raise ValueError(f"unknown aggregation {how!r}; choose one of {list(AGGREGATIONS)}")
    if not step_scores:
        return 0.0
    return float(_AGGREGATE[how](list(step_scores)))


# --- encoding shared by training and scoring ---------------------------------------------


def encode_outcome(tokenizer: Any, prompt: str, completion: str) -> list[int]:
    """Token ids of ``prompt + completion`` (no special tokens)."""
    return tokenizer(prompt + completion, add_special_tokens=False)["input_ids"]


def _think_pieces(steps: Sequence[str]) -> list[str]:
    """The embedded format's text, one piece per step: ``" <think>7+5=12"``, ``" 2+4+1=7"``,
    ``"</think> 72"``. The last step is the final answer when it is a bare number."""
    steps = [s.strip() for s in steps]
    final = bool(steps) and _ANSWER.match(steps[-1]) is not None
    pieces = []
    for i, step in enumerate(steps):
        if final and i == len(steps) - 1:
            pieces.append((f" {THINK_OPEN}" if i == 0 else "") + f"{THINK_CLOSE} {step}")
        else:
            pieces.append((f" {THINK_OPEN}" if i == 0 else " ") + step)
    return pieces


def encode_steps(
    tokenizer: Any, prompt: str, steps: Sequence[str], labels: Sequence[int] | None = None,
    layout: Layout = "separator",
) -> tuple[list[int], list[int], list[int]]:  # fmt: skip
    """Ids, per-position labels (-100 except at each step's label position) and those
    positions (one per step). ``labels`` None (or a None label) gives -100 there.

    ``layout="separator"``: TRL's stepwise layout, ``prompt + " " + step + "|" + ...``,
    labels on the separators. ``layout="think"``: the embedded task's own text (the
    policy's format, so a PRM initialised from the policy reads what it was trained on),
    labels on the last token of each step.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; choose one of {list(LAYOUTS)}")
    if layout == "think":
        ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
        out_labels = [-100] * len(ids)
        positions: list[int] = []
        for i, piece in enumerate(_think_pieces(steps)):
            piece_ids = tokenizer(piece, add_special_tokens=False)["input_ids"]
            ids.extend(piece_ids)
            out_labels.extend([-100] * (len(piece_ids) - 1))
            out_labels.append(-100 if labels is None or labels[i] is None else int(labels[i]))
            positions.append(len(ids) - 1)
        return ids, out_labels, positions
    sep = tokenizer(STEP_SEPARATOR, add_special_tokens=False)["input_ids"]
    ids = list(tokenizer(prompt + PROMPT_SEPARATOR, add_special_tokens=False)["input_ids"])
    out_labels = [-100] * len(ids)
    positions = []
    for i, step in enumerate(steps):
        step_ids = tokenizer(step.strip(), add_special_tokens=False)["input_ids"] + sep
        ids.extend(step_ids)
        out_labels.extend([-100] * (len(step_ids) - 1))
        out_labels.append(-100 if labels is None or labels[i] is None else int(labels[i]))
        positions.append(len(ids) - 1)
    return ids, out_labels, positions


def _pad_right(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[list[list[int]], list[list[int]]]:
    width = max((len(r) for r in rows), default=0)
    ids = [list(r) + [pad_id] * (width - len(r)) for r in rows]
    mask = [[1] * len(r) + [0] * (width - len(r)) for r in rows]
    return ids, mask


# --- the trained scorers ------------------------------------------------------------------


@dataclass
class ClassifierOutcomeScorer:
    """An ORM checkpoint read at the last real token: a 2-label classifier gives
    softmax P(correct); a 1-output pairwise (Bradley-Terry) model gives sigmoid(score),
    ordered like P(correct) among one prompt's completions (``prm.train``)."""

    model: Any
    tokenizer: Any
    path: str
    batch_size: int = 64

    def score(self, prompts: Sequence[str], completions: Sequence[str]) -> list[float]:
        import torch

        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
        out: list[float] = []
        rows = [encode_outcome(self.tokenizer, p, c) for p, c in zip(prompts, completions)]
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start : start + self.batch_size]
            ids, mask = _pad_right(batch, self.tokenizer.pad_token_id)
            device = self.model.device
            ids_t, mask_t = torch.tensor(ids, device=device), torch.tensor(mask, device=device)
            with torch.inference_mode():  # the model reads the rightmost non-pad token
                logits = self.model(input_ids=ids_t, attention_mask=mask_t).logits
            if logits.shape[-1] == 1:  # pairwise: one scalar score
                out.extend(torch.sigmoid(logits.float()[:, 0]).tolist())
            else:
                out.extend(torch.softmax(logits.float(), -1)[:, 1].tolist())
        return out


@dataclass
class TokenStepScorer:
    """A PRM checkpoint: a 2-label token classifier read at each step's separator."""

    model: Any
    tokenizer: Any
    path: str
    batch_size: int = 64
    layout: Layout = "separator"  # how it was trained (manifest meta.layout)

    def score_steps(
        self, prompts: Sequence[str], steps: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        import torch

        if len(prompts) != len(steps):
            raise ValueError(f"{len(prompts)} prompts for {len(steps)} step lists")
        encoded = [encode_steps(self.tokenizer, p, s, layout=self.layout) for p, s in zip(prompts, steps)]
        out: list[list[float]] = []
        for start in range(0, len(encoded), self.batch_size):
            batch = encoded[start : start + self.batch_size]
            ids, mask = _pad_right([e[0] for e in batch], self.tokenizer.pad_token_id)
            device = self.model.device
            with torch.inference_mode():
                logits = self.model(input_ids=torch.tensor(ids, device=device),
                                    attention_mask=torch.tensor(mask, device=device)).logits  # fmt: skip
            probs = torch.softmax(logits.float(), -1)[..., 1]
            for row, (_, _, positions) in enumerate(batch):
                out.append(probs[row, positions].tolist() if positions else [])
        return out


def _load(path: str | Path, expect: str, auto_class: str, threads: int,
          placement: Placement | None) -> tuple[Any, Any, str, dict]:  # fmt: skip
    from selftaught.errors import CheckpointError
    from selftaught.hardware import load_model, resolve
    from selftaught.loops.checkpoint import verified, verify_checkpoint
    from selftaught.loops.policy import load_tokenizer, quiet_transformers, set_threads

    root = Path(path)
    manifest = verify_checkpoint(root)  # a reward model is always a selftaught checkpoint
    kind = manifest.get("meta", {}).get("kind")
    if kind != expect:
        raise CheckpointError(f"{root}: a {kind!r} checkpoint, not a {expect!r} reward model")
    set_threads(threads)
    quiet_transformers()
    import transformers

    with verified(root):
        tokenizer = load_tokenizer(root)
    model = load_model(getattr(transformers, auto_class), root, resolve(placement))
    model.eval()
    return model, tokenizer, str(root), manifest.get("meta", {})


def load_orm(path: str | Path, *, threads: int = 0, placement: Placement | None = None) -> ClassifierOutcomeScorer:
    """The outcome scorer saved at ``path`` (manifest ``meta.kind == "orm"``)."""
    model, tokenizer, root, _ = _load(path, "orm", "AutoModelForSequenceClassification", threads, placement)
    return ClassifierOutcomeScorer(model, tokenizer, root)


def load_prm(path: str | Path, *, threads: int = 0, placement: Placement | None = None) -> TokenStepScorer:
    """The step scorer saved at ``path`` (manifest ``meta.kind == "prm"``)."""
    model, tokenizer, root, meta = _load(path, "prm", "AutoModelForTokenClassification", threads, placement)
    return TokenStepScorer(model, tokenizer, root, layout=meta.get("layout", "separator"))
