"""Generation one step at a time, and the budget every search method counts against.

In: a policy (anything with ``complete``, ``loops/policy.py``), prompts, partial
completions ("prefixes"), a step format. Out: per prefix, ``n`` sampled next steps
(``Step``: the new text, the tokens it cost, whether it gave the final answer, whether it
was cut -- stopped without closing and without an answer).

A *step* of the embedded task is one ``<think>`` column sum (``" 2+4+1=7"``), or the
opening ``" <think>7+5=12"``, or the final answer ``"</think> 72"``; for user data with a
delimiter such as ``"\\n"`` it is one line. ``cut_step`` reads a continuation: leading
delimiters, then text up to the next delimiter. These pieces, concatenated, are the
completion the policy wrote; ``prm.steps.split_steps`` of that text gives the step list a
PRM scores.

Two ways to stop at the step boundary:

- the HF ``Policy`` (a ``model`` and a ``tokenizer``): one batched ``generate`` with a
  ``StoppingCriteria`` that marks a row finished once its new text holds a whole step
  (rows finish independently; finished rows are padded). The token that closed the step
  (one delimiter) is counted, so ``n_tokens`` is what the model actually generated.
- any other ``Completer`` (``FakePolicy`` in tests): generate, then truncate; the tokens
  of the whole generation are counted, since they were generated.

``Budget`` counts, per problem, complete samples, generated tokens and step expansions,
so methods are compared at equal cost. It knows nothing about rewards or the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from selftaught.judges.base import THINK_CLOSE
from selftaught.loops.policy import Completer, Completion
from selftaught.records import SamplingParams


@dataclass(frozen=True)
class StepFormat:
    """Where steps end. ``delimiter`` None is the embedded ``<think>`` format."""

    delimiter: str | None = None

    @property
    def delimiters(self) -> tuple[str, ...]:
        return (" ", THINK_CLOSE) if self.delimiter is None else (self.delimiter,)

    def is_answer(self, step: str) -> bool:
        """A step that gives the final answer ends the solution (embedded: after ``</think>``)."""
        return self.delimiter is None and THINK_CLOSE in step


def cut_step(text: str, delimiters: Sequence[str]) -> tuple[str, bool]:
    """The first step of a continuation, and whether a delimiter after it closed it.

    >>> cut_step(" <think>7+5=12 2+4+1=7", (" ", "</think>"))
    (' <think>7+5=12', True)
    >>> cut_step(" 2+4+1=7</think> 72", (" ", "</think>"))
    (' 2+4+1=7', True)
    >>> cut_step("</think> 72", (" ", "</think>"))
    ('</think> 72', False)
    """
    i, n = 0, len(text)
    while i < n:
        d = next((d for d in delimiters if text.startswith(d, i)), None)
        if d is None:
            break
        i += len(d)
    for j in range(i, n):
        if any(text.startswith(d, j) for d in delimiters):
            return text[:j], True
    return text, False


@dataclass(frozen=True)
class Step:
    """One generated step: the text added to the prefix, its token cost, whether it gave the
    final answer (``final``), whether it stopped short of both a delimiter and an answer (``cut``)."""

    text: str
    n_tokens: int
    final: bool
    cut: bool = False


@dataclass
class Budget:
    """What one problem's search has spent so far."""

    samples: int = 0  # complete solutions generated
    tokens: int = 0  # every generated token
    expansions: int = 0  # step generations

    def add_steps(self, steps: Sequence[Step]) -> None:
        self.expansions += len(steps)
        self.tokens += sum(s.n_tokens for s in steps)

    def add_completions(self, completions: Sequence[Completion]) -> None:
        self.samples += len(completions)
        self.tokens += sum(c.n_tokens for c in completions)


class _StepStop:
    """A per-row ``StoppingCriteria``: stop a row once its new text holds a closed step."""

    def __init__(self, tokenizer: Any, start: int, delimiters: Sequence[str]):
        self.tokenizer, self.start, self.delimiters = tokenizer, start, tuple(delimiters)

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        texts = self.tokenizer.batch_decode(input_ids[:, self.start :], skip_special_tokens=True)
        done = [cut_step(t, self.delimiters)[1] for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def _hf_next_steps(policy: Any, texts: Sequence[str], n: int, params: SamplingParams, seed: int,
                   fmt: StepFormat) -> list[list[tuple[str, int]]]:  # fmt: skip
    """(raw new text, generated tokens) per row, from one batched generate that stops at steps."""
    import torch
    from transformers import StoppingCriteriaList

    from selftaught.loops.policy import _count_tokens, on_device

    tok, model = policy.tokenizer, policy.model
    tok.padding_side = "left"
    enc = on_device(tok(list(texts), return_tensors="pt", padding=True), model)
    start = enc["input_ids"].shape[1]
    kw = policy._generation_kwargs(params, n)
    torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(**enc, **kw, stopping_criteria=StoppingCriteriaList([_StepStop(tok, start, fmt.delimiters)]))
    tail = out[:, start:].tolist()
    decoded = tok.batch_decode(tail, skip_special_tokens=True)
    rows = [(decoded[i], _count_tokens(t, tok.eos_token_id, tok.pad_token_id)) for i, t in enumerate(tail)]
    per = n if params.do_sample else 1
    return [[rows[i * per + (j if per > 1 else 0)] for j in range(n)] for i in range(len(texts))]


def next_steps(policy: Completer, texts: Sequence[str], *, n: int, params: SamplingParams, seed: int,
               fmt: StepFormat = StepFormat()) -> list[list[Step]]:  # fmt: skip
    """``n`` next steps per text (``prompt + prefix``); ``params.max_new_tokens`` bounds a step.

    A step is ``final`` only when it gives an answer: in the embedded format it holds
    ``</think>``; with a delimiter, the model ended the sequence inside it (a non-blank step
    that did not use all of ``max_new_tokens`` -- a ``Completion`` does not say why it
    stopped, so one that used every token is taken as cut). A step that neither closed nor
    answered (the token cap, or an end with no answer) is ``cut``: a dead end.
    """
    if not texts:
        return []
    if hasattr(policy, "model") and hasattr(policy, "tokenizer"):
        raw = _hf_next_steps(policy, texts, n, params, seed, fmt)
    else:
        raw = [[(c.text, c.n_tokens) for c in row] for row in policy.complete(list(texts), n=n, params=params, seed=seed)]
    out = []
    for row in raw:
        steps = []
        for text, n_tokens in row:
            step, closed = cut_step(text, fmt.delimiters)
            ended = not closed and n_tokens < params.max_new_tokens
            final = bool(step.strip()) and (fmt.is_answer(step) or (fmt.delimiter is not None and ended))
            steps.append(Step(step, n_tokens, final=final, cut=not closed and not final))
        out.append(steps)
    return out


def finish(policy: Completer, texts: Sequence[str], *, n: int, params: SamplingParams,
           seed: int) -> list[list[Completion]]:  # fmt: skip
    """Complete each text to the end (rollouts, best-of-N samples, fallbacks)."""
    if not texts:
        return []
    return policy.complete(list(texts), n=n, params=params, seed=seed)


def step_params(params: SamplingParams, max_step_tokens: int) -> SamplingParams:
    """The sampling params of one step: the same sampling, a short token limit."""
    return replace(params, max_new_tokens=max_step_tokens)
