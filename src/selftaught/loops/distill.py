"""distill: a teacher writes the chain-of-thought data, the verifier keeps what is right.

In: a teacher spec -- a local HF checkpoint (``TeacherSpec(path=...)``) or an
OpenAI-compatible endpoint (``TeacherSpec(base_url=..., model=...)``). Out: a
``Completer`` (what ``generate`` needs), so a distillation round is an ordinary RFT
round whose *generate* stage asks the teacher instead of the policy:

    teacher --generate--> Sample --judge--> Verdict --curate (RFT)--> TrainingSet
        --train (SFT, the student)--> Checkpoint

Only verified completions are trained on, so a teacher's wrong answers never reach the
student (R1's distillation data was filtered the same way). Samples record the teacher's
name as their ``checkpoint_id``, so history shows where each rationale came from.

The endpoint teacher is sent the problem prompt as one user message; its reply is the
completion. A request that fails for good (``ChatError`` after retries) becomes an empty
completion, which the judge fails -- one lost sample, not a lost round. The local teacher
is ``policy.load_policy``: the same batched sampling as the policy's own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import Field

from selftaught.errors import ConfigError
from selftaught.hardware import Placement
from selftaught.loops.policy import Completer, Completion
from selftaught.loops.section import Section
from selftaught.records import SamplingParams


class TeacherSpec(Section):
    """Where the teacher of ``distill`` rounds lives (the recipe's ``teacher:`` section): exactly
    one of ``path`` or ``base_url`` (+ ``model``), checked by ``check_source``."""

    path: str | None = None
    "A local HF checkpoint directory (relative to the recipe file)."
    base_url: str | None = None
    "An OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1."
    model: str | None = None
    "The endpoint's model name."
    api_key_env: str | None = None
    "Environment variable that holds the endpoint's API key."
    concurrency: int = Field(4, ge=1)
    "Endpoint requests in flight."

    @property
    def name(self) -> str:
        return f"teacher:{self.path}" if self.path else f"teacher:openai:{self.model}"

    def check_source(self) -> None:
        """ConfigError unless exactly one source is given (and an endpoint names its model)."""
        if (self.path is None) == (self.base_url is None):
            raise ConfigError("teacher: give exactly one of `path` (local checkpoint) or `base_url` (endpoint)")
        if self.base_url is not None and not self.model:
            raise ConfigError("teacher: an endpoint teacher needs `model`")


@dataclass
class ChatCompleter:
    """A ``ChatModel`` (``chat.py``) as a ``Completer``: one user turn per prompt, n replies."""

    chat: Any

    def complete(
        self, texts: Sequence[str], *, n: int, params: SamplingParams, seed: int
    ) -> list[list[Completion]]:
        convs = [[{"role": "user", "content": t}] for t in texts for _ in range(n)]
        # one request per sample; sample j of a prompt gets seed + j so replies differ
        replies: list[Any] = []
        for j in range(n):
            batch = convs[j::n]
            replies.append(
                self.chat.complete(
                    batch, max_new_tokens=params.max_new_tokens,
                    temperature=params.temperature if params.do_sample else 0.0, seed=seed + j,
                )
            )  # fmt: skip
        out = []
        for i in range(len(texts)):
            row = []
            for j in range(n):
                reply = replies[j][i]
                text = reply if isinstance(reply, str) else ""
                row.append(Completion(text, len(text.split()) + 1))
            out.append(row)
        return out


def load_teacher(spec: TeacherSpec, *, threads: int = 0, placement: Placement | None = None) -> Completer:
    """The teacher as a ``Completer`` (a local one on ``placement``'s device, in its dtype)."""
    spec.check_source()
    if spec.path is not None:
        from selftaught.loops.policy import load_policy

        return load_policy(spec.path, threads=threads, placement=placement)
    from selftaught.loops.chat import OpenAIChatModel

    key = os.environ.get(spec.api_key_env) if spec.api_key_env else None
    if spec.api_key_env and key is None:
        raise ConfigError(f"teacher: environment variable {spec.api_key_env} is not set")
    return ChatCompleter(OpenAIChatModel(spec.base_url, spec.model, api_key=key, concurrency=spec.concurrency))
