"""The constitution file: a documented YAML schema, validated with pydantic.

A constitution is a list of principles. Each principle says three things in plain words:
how to criticise an answer against it (``critique_request``), how to rewrite the answer
(``revision_request``), and which of two answers follows it better (``comparison_question``,
used for AI feedback in RL-CAI). ``weight`` makes a principle more likely to be sampled.

    name: concise
    description: Short, direct answers.
    system_prompt: You review answers written by an assistant.   # optional
    principles:
      - id: brief
        critique_request: Point out anything in the answer that is not needed ...
        revision_request: Rewrite the answer in at most 60 words ...
        comparison_question: Which response is shorter while still answering?
        weight: 2          # > 0, default 1
        tags: [style]      # free labels, default []
        applies_to: [medical, legal]   # prompt tags; omitted = every prompt
    few_shot:              # optional demonstrations shown before critique/revision
      - prompt: ...
        answer: ...
        critique: ...
        revision: ...

Unknown keys are errors (a typo must not silently disable a principle). Duplicate ids are
rejected by the loader, which knows the line of the duplicate.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
PrincipleId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=64)
]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Principle(_Strict):
    """One principle: how to critique, revise and compare answers against it."""

    id: PrincipleId = Field(description="stable id, lowercase: recorded with every critique")
    critique_request: Text = Field(description="asks the model to criticise its answer")
    revision_request: Text = Field(description="asks the model to rewrite its answer")
    comparison_question: Text = Field(description="asks which of two answers is better")
    weight: float = Field(1.0, gt=0, allow_inf_nan=False, description="sampling weight > 0")
    tags: tuple[Tag, ...] = Field((), description="free labels (helpful, honest, harmless, ...)")
    applies_to: tuple[Tag, ...] | None = Field(
        None, description="prompt tags this principle applies to; omitted = all prompts"
    )

    def applies(self, prompt_tags: frozenset[str] | set[str] | tuple[str, ...]) -> bool:
        """True if this principle may be sampled for a prompt carrying ``prompt_tags``."""
        return self.applies_to is None or bool(set(self.applies_to) & set(prompt_tags))


class FewShotExample(_Strict):
    """A worked demonstration of one critique-and-revision step."""

    prompt: Text
    answer: Text
    critique: Text
    revision: Text
    principle: PrincipleId | None = Field(
        None, description="which principle the critique follows (documentation only)"
    )


class Constitution(_Strict):
    """A named set of principles. Load it with ``load_constitution``."""

    name: Text
    description: Text
    system_prompt: Text | None = Field(
        None, description="system message for critique, revision and feedback turns"
    )
    principles: tuple[Principle, ...] = Field(min_length=1)
    few_shot: tuple[FewShotExample, ...] = ()

    def principle(self, principle_id: str) -> Principle:
        """The principle with this id (KeyError if none)."""
        for p in self.principles:
            if p.id == principle_id:
                return p
        raise KeyError(principle_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.principles)
