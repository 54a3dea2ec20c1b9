"""Final-answer extraction and normalisation: pure string functions.

In: an untrusted completion (or a gold answer). Out: the answer as a short string,
rewritten into a form ``math-verify`` parses the same way for gold and prediction.
Nothing here evaluates or parses mathematics; that happens in worker processes
(``selftaught.judges.math``) behind a hard deadline. Every function is linear in its
input, so a 1 MB completion costs milliseconds.

This is the one answer extractor: every answer judge (``arithmetic``, ``math``), maj@k
voting (``loops/evaluate.py``) and best-of-N voting (``search/bon.py``) read answers here.

Where the answer is, in the order we look (the general reading):

1. only the text after the last ``</think>`` (any case). A completion that opens
   ``<think>`` and never closes it has **no answer**: it was cut off mid-thought, and the
   numbers in an unfinished chain (column sums, partial results) are not answers;
2. the last ``\\boxed{...}`` / ``\\fbox{...}`` (nested braces followed);
3. the last "the answer is ..." / "Answer: ..." (to the end of that line);
4. the last inline math ``$...$``, ``\\(...\\)``, ``\\[...\\]``;
5. the last number (``1,234.5``, ``-3``, ``7/8``, ``50%``).

The **plain** reading (``plain=True``, the ``arithmetic`` judge's, the embedded demo's) takes
numbers only: the first number after the last ``</think>``, else -- no think block, or one
never closed -- the last number of the whole completion (``extract_answer`` says why the
unclosed case differs).

**Strict** extraction (``strict=True``, either reading) accepts only the format the prompt asked for
(``fmt``): ``boxed`` -- step 2 alone; ``answer_is`` -- step 3 alone; ``think`` -- a closed
``</think>`` must come first, then steps 2-5 on what follows. A completion whose reasoning
merely *ends* on the right number ("... 9 apples are added to the 11") then has no answer:
with an instructed format, the last-number fallback turns wrong reasoning into passes.

Normalisation only rewrites spelling (``\\dfrac`` -> ``\\frac``, ``1,000`` -> ``1000``,
``50\\%`` -> ``50``, ``5 \\text{ cm}`` -> ``5``, ``x = 3`` -> ``3``); equivalence of
``0.5``, ``1/2`` and ``\\frac{1}{2}``, of intervals, sets and expressions is decided by
sympy through math-verify. Plain numbers also compare here, without sympy
(``answers_equal``, the arithmetic judge's rule) and become one voting key each
(``vote_key``: ``068`` and ``68`` vote together).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from selftaught.judges.base import THINK_CLOSE, after_think

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*")
_ANSWER_IS = re.compile(
    r"(?:the\s+(?:final\s+)?answer\s+is|final\s+answer\s*[:=]|answer\s*[:=])\s*:?\s*",
    re.IGNORECASE,
)
_INLINE_MATH = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_NUMBER = re.compile(
    r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?\s*(?:\\?%)?|-?\.\d+"
)
_THOUSANDS = re.compile(r"^-?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_TEXT_UNITS = re.compile(r"\\(?:text|mbox|mathrm)\s*\{[^{}]*\}\s*$")
_WORD_UNITS = re.compile(r"^(-?[\d.,/]+)\s*[A-Za-z][A-Za-z .]*$")
_DEGREES = re.compile(r"\s*(?:\^\s*\{?\\circ\}?|°|\\degree)\s*$")
_ASSIGNMENT = re.compile(r"^[A-Za-z](?:_\{?\w+\}?)?\s*=\s*(?!.*=)(.+)$", re.DOTALL)
#: a number as the plain reading sees it (``1,024``, ``-3``, ``2.5``; commas anywhere)
_PLAIN_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")
_INT = re.compile(r"^-?\d+$")
_RATIONAL = re.compile(r"^-?\d+(?:\.\d+)?$|^-?\d+/\d+$")


#: Answer formats a prompt can instruct (``prompt.answer_format`` in a recipe).
ANSWER_FORMATS = ("think", "boxed", "answer_is", "free")


def extract_answer(completion: str, fmt: str = "free", strict: bool = False, *, plain: bool = False) -> str | None:
    """The final answer in a completion, as written, or None if there is none.

    ``plain``: the embedded task's reading (the ``arithmetic`` judge, not strict), numbers
    only -- the *first* number after the last ``</think>``, else the last number of the
    whole completion; no boxes, phrases or math.

    >>> extract_answer("<think>3+5=8 2+4=6</think> 68")
    '68'
    >>> extract_answer("so \\\\boxed{\\\\frac{1}{\\\\sqrt{2}}} and done")
    '\\\\frac{1}{\\\\sqrt{2}}'
    >>> extract_answer("The answer is 1,000.")
    '1,000'
    >>> extract_answer(" <think>3+5=8</think> 68 (3+5)"), extract_answer(" <think>3+5=8</think> 68 (3+5)", plain=True)
    ('5', '68')

    An unclosed ``<think>`` (opened, never closed) is decided per reading. Read generally
    it has **no answer**: the completion was cut off mid-thought, and the numbers of an
    unfinished chain are partial results, not answers. Read plainly it is read like a
    completion without a think block, for its last number: the embedded task's tiny model
    sometimes drops the ``</think>`` token yet writes the answer
    (``" <think>5+1=6 1+5=6 66"``), and the demo's figures count that as its answer; a
    well-formed unfinished chain ends on a column sum (at most 19), never on a two-digit
    answer. The strict formats never read an unclosed ``<think>``:

    >>> extract_answer("<think>7 * 6 = 42") is None, extract_answer("<think>7 * 6 = 42", plain=True)
    (True, '42')
    >>> extract_answer("<think>7 * 6 = 42", "think", strict=True, plain=True) is None
    True
    >>> extract_answer("so 9 + 2 = 11", "boxed", strict=True) is None, extract_answer("so \\\\boxed{11}", "boxed", strict=True)
    (True, '11')
    """
    if fmt not in ANSWER_FORMATS:
        raise ValueError(f"unknown answer format {fmt!r}; valid: {', '.join(ANSWER_FORMATS)}")
    if strict and fmt == "think" and "</think>" not in completion.lower():
        return None
    if plain and not strict:
        return _plain_number(completion)
    text = after_think(completion)
    if text is None:
        return None
    finders = (_last_boxed, _last_answer_is, _last_inline_math, _last_number)
    if strict and fmt == "boxed":
        finders = (_last_boxed,)
    elif strict and fmt == "answer_is":
        finders = (_last_answer_is,)
    for find in finders:
        found = find(text)
        if found is not None and found.strip():
            return found.strip()
    return None


def _plain_number(completion: str) -> str | None:
    """The first number after the last ``</think>`` if there is one, else the last number."""
    if THINK_CLOSE in completion:
        found = _PLAIN_NUMBER.search(completion.rsplit(THINK_CLOSE, 1)[1])
        return found.group(0).rstrip(",") if found else None
    numbers = _PLAIN_NUMBER.findall(completion)
    return numbers[-1].rstrip(",") if numbers else None


def _last_boxed(text: str) -> str | None:
    start = None
    for m in _BOXED.finditer(text):
        start = m.end()
    if start is None:
        return None
    if start < len(text) and text[start] == "{":
        depth = 0
        for i in range(start, len(text)):
            c = text[i]
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return text[start + 1 : i]
        return None  # unbalanced: the box never closed
    m = re.match(r"[^\s$]+", text[start:])  # \boxed 5
    return m.group(0) if m else None


def _last_answer_is(text: str) -> str | None:
    end = None
    for m in _ANSWER_IS.finditer(text):
        end = m.end()
    if end is None:
        return None
    rest = text[end:].split("\n", 1)[0].strip()
    inner = _last_boxed(rest) or _last_inline_math(rest)
    if inner is not None:
        return inner
    return rest.rstrip(" .") or None


def _last_inline_math(text: str) -> str | None:
    last = None
    for m in _INLINE_MATH.finditer(text):
        last = next(g for g in m.groups() if g is not None)
    return last


def _last_number(text: str) -> str | None:
    last = None
    for m in _NUMBER.finditer(text):
        last = m.group(0)
    return last


def normalize_answer(answer: str) -> str:
    """Rewrite an answer's spelling so gold and prediction parse alike.

    >>> [normalize_answer(a) for a in ["$1,000$", "\\\\dfrac{1}{2}", "50\\\\%", "5 cm", "x = 3"]]
    ['1000', '\\\\frac{1}{2}', '50', '5', '3']
    """
    s = answer.strip()
    for _ in range(2):  # $...$ or \(...\) around the whole answer
        if len(s) >= 2 and s.startswith("$") and s.endswith("$"):
            s = s.strip("$").strip()
        elif s.startswith(("\\(", "\\[")) and s.endswith(("\\)", "\\]")):
            s = s[2:-2].strip()
    s = s.rstrip(" .")
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    s = s.replace("\\left", "").replace("\\right", "")
    s = s.replace("\\!", "").replace("\\,", "").replace("\\;", "").replace("\\ ", " ")
    s = _DEGREES.sub("", s)
    s = _TEXT_UNITS.sub("", s).strip()
    s = re.sub(r"\s*\\?%$", "", s)
    m = _ASSIGNMENT.match(s)
    if m:
        s = m.group(1).strip()
    m = _WORD_UNITS.match(s)
    if m:
        s = m.group(1).rstrip(".,")
    s = re.sub(r"^(-?\d+)\s*/\s*(\d+)$", r"\1/\2", s)
    if _THOUSANDS.match(s):
        s = s.replace(",", "")
    return s.strip()


def _as_number(text: str) -> Decimal | None:
    """A finite number, or None (``"inf"`` and ``"nan"`` are words here, not numbers)."""
    try:
        n = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    return n if n.is_finite() else None


def answers_equal(gold: str, answer: str) -> bool:
    """Numeric equality when both parse as numbers (commas ignored), else exact stripped text.

    >>> answers_equal("68", "068"), answers_equal("1024", "1,024"), answers_equal("68", "-68")
    (True, True, False)
    """
    g, a = _as_number(gold.strip()), _as_number(answer.strip())
    if g is not None and a is not None:
        return g == a
    return gold.strip() == answer.strip()


def vote_key(answer: str | None) -> str | None:
    """A canonical key for majority voting: answers equal as numbers get one key.

    >>> [vote_key(a) for a in ["068", "68.0", "1,024", "2.50", " x ", None]]
    ['68', '68', '1024', '2.5', 'x', None]
    """
    if answer is None:
        return None
    n = _as_number(answer)
    if n is None:
        return answer.strip()
    return str(int(n)) if n == n.to_integral_value() else str(n.normalize())


def quick_compare(gold: str, answer: str) -> bool | None:
    """Decide plain numbers without sympy; None when sympy must decide.

    Equal rationals pass; unequal integers fail. Unequal decimals go to math-verify,
    which compares with a rounding tolerance this shortcut must not second-guess.

    >>> quick_compare("68", "68"), quick_compare("0.5", "1/2"), quick_compare("3", "4")
    (True, True, False)
    >>> quick_compare("0.333333", "1/3") is None
    True
    """
    if _INT.match(gold) and _INT.match(answer):
        return int(gold) == int(answer)
    if _RATIONAL.match(gold) and _RATIONAL.match(answer):
        if Fraction(gold) == Fraction(answer):
            return True
    return None


def max_nesting(text: str) -> int:
    """Deepest bracket nesting in ``text`` (any of ``([{``).

    >>> max_nesting("f((1+2)*{3})")
    2
    """
    depth = best = 0
    for c in text:
        if c in "([{":
            depth += 1
            best = max(best, depth)
        elif c in ")]}":
            depth = max(depth - 1, 0)
    return best
