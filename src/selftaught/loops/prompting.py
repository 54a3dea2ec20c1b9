"""prompting: how a problem becomes what the model reads -- one rule for sampling, training
and evaluation alike.

In: a ``Problem`` (its own ``prompt`` text is the user's question, never edited) and a
``PromptStyle`` (``PromptSpec.style()``: the recipe's ``prompt:`` section, resolved). Out: either

- the **raw** text: the problem's prompt as it is, optionally with a system line before it
  and an instruction after it. The embedded tiny model reads ``Q: 23+45=? A:`` this way, and
  with no system and no instruction the text is exactly the problem's prompt; or
- a **chat** conversation: ``[system], user`` messages, where the user turn is the problem's
  prompt followed by the instruction (e.g. "put your final answer within \\boxed{}"). The
  tokenizer's own chat template renders it, with the generation prompt, for sampling
  (``render``); training gets the same messages in TRL's conversational prompt/completion
  format (``sft_row``, ``dpo_row``), and TRL renders them with the same template. So the
  tokens a completion is trained after are the tokens it was sampled after (a test checks
  the ids are identical).

STaR's hint ("the answer is 11") goes into the **user** turn in chat form -- never after
the assistant marker, where an instruct model reads it as its own words and closes its
turn. In raw form it goes before a trailing ``A:`` (``curate.rationalization_prompt``),
as the embedded model was cold-started to expect. Training rows never contain the hint.

This module knows nothing about models beyond a tokenizer's ``apply_chat_template``; it
imports neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from selftaught.errors import DataError
from selftaught.loops.section import Section
from selftaught.records import Problem

Message = dict[str, str]

#: The STaR hint in a chat user turn. ``{answer}`` is the gold answer.
CHAT_HINT = (
    "Hint: the correct final answer is {answer}. Solve the problem step by step as if you had "
    "worked it out yourself, without mentioning this hint."
)

#: The instruction of each answer format: what the user turn asks for, and what a strict
#: judge then accepts (``judges.extract.extract_answer(..., fmt=...)``).
INSTRUCTIONS: Mapping[str, str] = {
    "boxed": "Please reason step by step, and put your final answer within \\boxed{}.",
    # measured on SmolLM2-135M-Instruct (32 word problems, greedy): "reason step by step, and end
    # with ..." 3% in this format; this shorter request 31% (it rambles less, and stops)
    "answer_is": 'Answer with a short calculation, then write "The answer is N." where N is the final answer.',
}


@dataclass(frozen=True)
class PromptStyle:
    """How problems are shown to the policy (the recipe's resolved ``prompt:`` section)."""

    chat: bool = False  # render with the tokenizer's chat template (else raw text)
    system: str | None = None  # system message (chat) or a first line (raw)
    instruction: str | None = None  # appended to the user turn after a blank line
    hint: str = CHAT_HINT  # STaR hint in the chat user turn; {answer} = the gold answer

    # -- the user turn -------------------------------------------------------------------
    def user_text(self, prompt: str) -> str:
        """The user's turn: the problem's prompt, then the instruction.

        >>> PromptStyle(instruction="Box it.").user_text("What is 2+3?")
        'What is 2+3?\\n\\nBox it.'
        """
        return prompt if not self.instruction else f"{prompt.rstrip()}\n\n{self.instruction}"

    def messages(self, prompt: str, *, hint_answer: str | None = None) -> list[Message]:
        """The chat conversation for a prompt; with ``hint_answer``, STaR's hint in the user turn.

        >>> [m["role"] for m in PromptStyle(chat=True, system="Be brief.").messages("2+3?")]
        ['system', 'user']
        >>> PromptStyle(chat=True).messages("2+3?", hint_answer="5")[-1]["content"].splitlines()[-1][:38]
        'Hint: the correct final answer is 5. S'
        """
        user = self.user_text(prompt)
        if hint_answer is not None:
            user = f"{user}\n\n{self.hint.format(answer=hint_answer)}"
        out: list[Message] = [{"role": "system", "content": self.system}] if self.system else []
        return out + [{"role": "user", "content": user}]

    def raw_text(self, prompt: str) -> str:
        """The raw text for a prompt: unchanged unless a system line or instruction is set.

        >>> PromptStyle().raw_text("Q: 23+45=? A:")
        'Q: 23+45=? A:'
        """
        text = self.user_text(prompt)
        return text if not self.system else f"{self.system}\n\n{text}"

    # -- what the policy is given -----------------------------------------------------
    def render(self, problem: Problem, tokenizer: Any | None, *, hint: bool = False) -> str:
        """The exact text the policy completes for ``problem`` (chat: template + generation prompt)."""
        if hint and problem.answer is None:
            raise DataError(f"problem {problem.id!r} has no answer to give as a hint")
        if not self.chat:
            if hint:
                from selftaught.loops.curate import rationalization_prompt

                return self.raw_text(rationalization_prompt(problem))
            return self.raw_text(problem.prompt)
        msgs = self.messages(problem.prompt, hint_answer=problem.answer if hint else None)
        if tokenizer is None:  # an endpoint applies its own template: send the user turn
            return msgs[-1]["content"]
        return render_chat(tokenizer, msgs)

    def render_all(self, problems: Sequence[Problem], tokenizer: Any | None, *, hint: bool = False) -> list[str]:
        return [self.render(p, tokenizer, hint=hint) for p in problems]

    # -- what the trainers are given ------------------------------------------------------
    def prompt_for_training(self, prompt: str) -> str | list[Message]:
        """TRL's ``prompt`` column: messages (conversational) or text."""
        return self.messages(prompt) if self.chat else self.raw_text(prompt)

    def completion_for_training(self, completion: str) -> str | list[Message]:
        """TRL's ``completion`` column: an assistant message (conversational) or text."""
        return [{"role": "assistant", "content": completion}] if self.chat else completion

    def sft_row(self, prompt: str, completion: str) -> dict[str, Any]:
        """One SFT row in TRL's prompt/completion format (conversational when chat).

        >>> PromptStyle(chat=True).sft_row("2+3?", "5")["completion"]
        [{'role': 'assistant', 'content': '5'}]
        """
        return {"prompt": self.prompt_for_training(prompt), "completion": self.completion_for_training(completion)}

    def dpo_row(self, prompt: str, chosen: str, rejected: str) -> dict[str, Any]:
        """One DPO row (prompt/chosen/rejected, conversational when chat)."""
        return {
            "prompt": self.prompt_for_training(prompt),
            "chosen": self.completion_for_training(chosen),
            "rejected": self.completion_for_training(rejected),
        }

    def mentions_hint(self, completion: str, answer: str | None) -> bool:
        """Whether a rationalization gives away that it saw the hint (such rows are not trained on).

        Raw form: it quotes the hint text. Chat form: it quotes the hint sentence or says "hint".

        >>> PromptStyle(chat=True).mentions_hint("Using the hint, 5.", "5"), PromptStyle(chat=True).mentions_hint("2+3=5", "5")
        (True, False)
        """
        if not self.chat:
            from selftaught.loops.curate import HINT_TEMPLATE

            return HINT_TEMPLATE.format(answer=answer).strip() in completion
        return "hint" in completion.lower()


#: The embedded model's style: the problem's prompt as it is.
RAW = PromptStyle()


class PromptSpec(Section):
    """How a problem becomes the model's input: the recipe's ``prompt:`` section (``auto``
    values are settled from the model when the recipe is read, ``profiles.py``)."""

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

    def style(self) -> PromptStyle:
        """The resolved style the stages render with."""
        return PromptStyle(chat=self.format == "chat", system=self.system, instruction=self.instruction or None,
                           hint=self.hint)  # fmt: skip


def render_chat(tokenizer: Any, messages: Sequence[Message]) -> str:
    """The tokenizer's chat template with the generation prompt, as text (tokenize it with
    ``add_special_tokens=False``: it already holds any BOS)."""
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)


def has_chat_template(tokenizer: Any) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def tokenizer_of(completer: Any) -> Any | None:
    """The tokenizer a policy renders chat prompts with (None: an endpoint or a fake, which get
    the user turn as text)."""
    return getattr(completer, "tokenizer", None)


__all__ = ["CHAT_HINT", "INSTRUCTIONS", "RAW", "PromptStyle", "has_chat_template", "render_chat", "tokenizer_of"]
