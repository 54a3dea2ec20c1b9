"""Turn any verifier into a TRL reward function, handing every verdict to a callback.

TRL's GRPOTrainer / RLOOTrainer call each reward function as
``f(prompts=..., completions=..., completion_ids=..., <every extra dataset column>,
trainer_state=..., log_extra=..., log_metric=...)`` and expect one ``float | None``
per completion (None: "no reward for this one"; TRL turns it into NaN and its
nan-aware reductions skip it).

The adapter declares its contract instead of reading ``**kwargs`` blindly: it needs
one dataset column, ``id_column`` (default ``problem_id``), to find each completion's
``Problem``; it reads nothing else. A timeout is the completion's doing (a program that
loops, an answer built to stall the parser) and gets its verdict's score, 0: were it
skipped, a policy would learn to run out the clock on problems it cannot solve. A judge
error (the judge, not the completion, failed) becomes ``None`` (not a silent 0) unless
``unscored="zero"``. Both counts go to ``log_metric`` so a flaky judge shows up in the
training logs. ``on_verdict(problem_id, completion,
verdict)`` is called for every completion — the flow uses it to write verdicts to
the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from selftaught.errors import JudgeError
from selftaught.judges.base import Verifier
from selftaught.records import Outcome, Problem, Verdict

OnVerdict = Callable[[str, str, Verdict], None]
RewardFunction = Callable[..., list[float | None]]


def completion_text(completion: Any) -> str:
    """Plain text of a completion: a string, or TRL's conversational list of messages.

    >>> completion_text([{"role": "assistant", "content": "42"}])
    '42'
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        content = completion[-1].get("content", "")
        if isinstance(content, list):  # multimodal-style parts
            return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
        return str(content)
    raise JudgeError(f"cannot read a completion of type {type(completion).__name__}")


def as_reward_function(
    verifier: Verifier,
    problems_by_id: Mapping[str, Problem],
    on_verdict: OnVerdict | None = None,
    *,
    id_column: str = "problem_id",
    unscored: Literal["none", "zero"] = "none",
) -> RewardFunction:
    """A TRL reward function ``f(prompts, completions, **columns) -> list[float | None]``.

    >>> from selftaught.judges.think_format import FormatVerifier
    >>> f = as_reward_function(FormatVerifier(), {"p1": Problem(id="p1", prompt="")})
    >>> f(prompts=["Q"], completions=["<think>x</think> 1"], problem_id=["p1"])
    [1.0]
    """
    if unscored not in ("none", "zero"):
        raise ValueError("unscored must be 'none' or 'zero'")

    def reward(
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        **columns: Any,
    ) -> list[float | None]:
        if completions is None:
            raise JudgeError("the reward function was called without completions")
        if id_column not in columns:
            raise JudgeError(
                f"the training dataset needs a {id_column!r} column to find each problem; "
                f"got columns {sorted(k for k in columns if k not in _TRL_EXTRAS)}"
            )
        ids = [str(i) for i in columns[id_column]]
        if len(ids) != len(completions):
            raise JudgeError(f"{len(ids)} ids for {len(completions)} completions")
        missing = sorted({i for i in ids if i not in problems_by_id})
        if missing:
            raise JudgeError(f"unknown problem ids: {missing[:5]}")
        texts = [completion_text(c) for c in completions]
        verdicts = verifier.verify_batch([(problems_by_id[i], t) for i, t in zip(ids, texts)])
        scores: list[float | None] = []
        for pid, text, verdict in zip(ids, texts, verdicts):
            if on_verdict is not None:
                on_verdict(pid, text, verdict)
            if verdict.outcome in (Outcome.PASS, Outcome.FAIL, Outcome.TIMEOUT) or unscored == "zero":
                scores.append(verdict.score)
            else:
                scores.append(None)
        log_metric = columns.get("log_metric")
        if callable(log_metric):
            for outcome in (Outcome.TIMEOUT, Outcome.ERROR):
                count = sum(v.outcome is outcome for v in verdicts)
                log_metric(f"{verifier.name}/{outcome.value}_frac", count / max(len(verdicts), 1))
        return scores

    reward.__name__ = f"{verifier.name}_reward"
    reward.__qualname__ = reward.__name__
    return reward


_TRL_EXTRAS = frozenset({"completion_ids", "trainer_state", "log_extra", "log_metric", "environments"})
