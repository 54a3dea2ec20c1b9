"""The conversations that turn principles into critiques, revisions and comparisons.

Everything here is a pure function from text to chat messages (``[{"role", "content"}]``);
no model is called. The shapes follow Bai et al. (2022), "Constitutional AI", written as a
chat instead of one long Human/Assistant transcript:

    answer:    [user: prompt]
    critique:  [system?] [few-shot turns] user: prompt / assistant: answer /
               user: critique_request
    revision:  ... the critique conversation / assistant: critique /
               user: revision_request + "reply with the rewritten answer only"
    compare:   [system?] user: prompt, response (A), response (B), comparison_question,
               "answer with the letter A or B" -> scored by option log-probabilities

The constitution's ``system_prompt`` frames the critique, revision and comparison turns
only. The initial answer is written without it, so the SFT data teaches the behaviour
rather than the prompt (as in the paper, where the revision, not the principle, is trained
on).
"""

from __future__ import annotations

import re

from selftaught.constitution.schema import Constitution, FewShotExample, Principle

Message = dict[str, str]

REVISION_SUFFIX = "Reply with the rewritten answer only."
COMPARE_SUFFIX = "Reply with the letter of the better response only: A or B."
OPTIONS: tuple[str, str] = ("A", "B")

_REVISION_PREFIX = re.compile(
    r"^\s*(?:\*\*)?(?:here is |here's )?(?:the |a |my )?"
    r"(?:rewritten|revised|new|improved|updated)(?: answer| response| version)?(?:\*\*)?\s*[:\-]\s*",
    re.IGNORECASE,
)


def answer_messages(prompt: str) -> list[Message]:
    """The policy's first answer: just the user's prompt."""
    return [{"role": "user", "content": prompt}]


def _system(c: Constitution) -> list[Message]:
    return [{"role": "system", "content": c.system_prompt}] if c.system_prompt else []


def _few_shot_turns(examples: tuple[FewShotExample, ...], principle_for: dict[str, Principle]) -> list[Message]:
    turns: list[Message] = []
    for ex in examples:
        p = principle_for.get(ex.principle or "")
        critique_req = p.critique_request if p else "Critique the answer."
        revision_req = p.revision_request if p else "Rewrite the answer to fix the problems."
        turns += [
            {"role": "user", "content": ex.prompt},
            {"role": "assistant", "content": ex.answer},
            {"role": "user", "content": critique_req},
            {"role": "assistant", "content": ex.critique},
            {"role": "user", "content": f"{revision_req} {REVISION_SUFFIX}"},
            {"role": "assistant", "content": ex.revision},
        ]
    return turns


def critique_messages(c: Constitution, principle: Principle, prompt: str, answer: str) -> list[Message]:
    """Ask for a critique of ``answer`` under ``principle``."""
    shots = _few_shot_turns(c.few_shot, {p.id: p for p in c.principles})
    return [
        *_system(c),
        *shots,
        {"role": "user", "content": prompt},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": principle.critique_request},
    ]


def revision_messages(
    c: Constitution, principle: Principle, prompt: str, answer: str, critique: str
) -> list[Message]:
    """Ask for a rewrite of ``answer`` that fixes what ``critique`` found."""
    return [
        *critique_messages(c, principle, prompt, answer),
        {"role": "assistant", "content": critique},
        {"role": "user", "content": f"{principle.revision_request} {REVISION_SUFFIX}"},
    ]


def comparison_messages(
    c: Constitution, principle: Principle, prompt: str, first: str, second: str
) -> list[Message]:
    """Ask which of two responses better follows ``principle``; options are ``OPTIONS``."""
    body = (
        f"Consider this request from a user:\n\n{prompt}\n\n"
        f"Response (A):\n{first}\n\nResponse (B):\n{second}\n\n"
        f"{principle.comparison_question}\n{COMPARE_SUFFIX}"
    )
    return [*_system(c), {"role": "user", "content": body}]


def clean_revision(text: str) -> str:
    """Strip a leading "Revised answer:" style label and surrounding quotes/space.

    >>> clean_revision("Revised answer: A spider has eight legs.")
    'A spider has eight legs.'
    """
    text = _REVISION_PREFIX.sub("", text.strip(), count=1).strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text
