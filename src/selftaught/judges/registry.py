"""Verifiers by name, as a recipe names them.

``VERIFIERS`` maps each name to its class; ``get_verifier`` builds one from a name
(``"math"``), a weighted spec (``{"math": 1.0, "format": 0.2}``) or the same spec
as text (``"math=1,format=0.2"``, the CLI's form); ``judge_for`` builds the judge a
recipe names for its prompt's answer format. Unknown names and unknown options raise
``ConfigError`` naming what is valid, when the recipe is read — not mid-round.

This is the only place a judge is made from a name: the flows, ``rejudge``, the reward
models' labelling and the RL rewards all come here, the embedded ``arithmetic`` judge
included. Each class says what it reads from a problem (``reads``); ``recipe.py`` checks
that against the task.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from selftaught.errors import ConfigError
from selftaught.judges.arithmetic import ArithmeticVerifier
from selftaught.judges.base import BaseVerifier, Verifier
from selftaught.judges.choice import ChoiceVerifier
from selftaught.judges.code_judge import CodeVerifier
from selftaught.judges.constitution_judge import ConstitutionVerifier
from selftaught.judges.combine import WeightedVerifier
from selftaught.judges.keywords import KeywordVerifier
from selftaught.judges.math_judge import MathVerifier
from selftaught.judges.think_format import FormatVerifier

VERIFIERS: Mapping[str, type[BaseVerifier]] = MappingProxyType(
    {
        "arithmetic": ArithmeticVerifier,
        "math": MathVerifier,
        "code": CodeVerifier,
        "choice": ChoiceVerifier,
        "keyword": KeywordVerifier,
        "format": FormatVerifier,
        "constitution": ConstitutionVerifier,
    }
)

VerifierSpec = str | Mapping[str, float]


def parse_spec(text: str) -> str | dict[str, float]:
    """A name, or ``"name=weight,name=weight"`` as a dict.

    >>> parse_spec("math"), parse_spec("math=1, format=0.2")
    ('math', {'math': 1.0, 'format': 0.2})
    """
    if "=" not in text and "," not in text:
        return text.strip()
    spec: dict[str, float] = {}
    for part in text.split(","):
        name, sep, weight = part.partition("=")
        try:
            spec[name.strip()] = float(weight) if sep else 1.0
        except ValueError:
            raise ConfigError(f"weight of {name.strip()!r} is not a number: {weight!r}") from None
    return spec


def get_verifier(spec: VerifierSpec, **options: Any) -> Verifier:
    """Build a verifier from a name or a weighted spec.

    For a single name, ``options`` are its constructor's keyword arguments. For a
    weighted spec, ``options`` maps part names to their options:
    ``get_verifier({"code": 1, "format": 0.2}, code={"timeout_s": 5})``.

    >>> get_verifier("format").name, get_verifier({"keyword": 1.0, "format": 0.2}).name
    ('format', 'weighted')
    """
    if isinstance(spec, str):
        parsed = parse_spec(spec)
        if isinstance(parsed, dict):
            return get_verifier(parsed, **options)
        return _build(parsed, options)
    if not isinstance(spec, Mapping) or not spec:
        raise ConfigError(f"a verifier spec is a name or a non-empty {{name: weight}}, not {spec!r}")
    unknown = set(options) - set(spec)
    if unknown:
        raise ConfigError(f"options given for verifiers not in the spec: {sorted(unknown)}")
    parts = []
    for name, weight in spec.items():
        if not isinstance(weight, int | float) or weight < 0:
            raise ConfigError(f"weight of {name!r} must be a number >= 0, not {weight!r}")
        part_options = options.get(name, {})
        if not isinstance(part_options, Mapping):
            raise ConfigError(f"options for {name!r} must be a mapping")
        parts.append((_build(name, dict(part_options)), float(weight)))
    try:
        return WeightedVerifier(parts)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def judge_for(name: str, *, answer_format: str = "free", strict: bool = False) -> Verifier:
    """The judge a recipe names, reading its prompt's answer format.

    The answer judges (those with an ``answer_format`` option: arithmetic, math) read the
    final answer where the prompt asks for it, and only there when ``strict``; the others
    take no prompt options.

    >>> judge_for("arithmetic", answer_format="boxed", strict=True).version == judge_for("arithmetic").version
    False
    """
    cls = VERIFIERS.get(name)
    options = {"answer_format": answer_format, "strict": strict}
    if cls is None or "answer_format" not in _options_of(cls):
        options = {}
    return get_verifier(name, **options)


def _options_of(cls: type[BaseVerifier]) -> list[str]:
    return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]


def _build(name: str, options: Mapping[str, Any]) -> Verifier:
    cls = VERIFIERS.get(name)
    if cls is None:
        raise ConfigError(f"unknown verifier {name!r}; valid names: {', '.join(VERIFIERS)}")
    accepted = _options_of(cls)
    bad = sorted(set(options) - set(accepted))
    if bad:
        raise ConfigError(
            f"verifier {name!r} has no option {', '.join(map(repr, bad))}; "
            f"valid options: {', '.join(accepted) or '(none)'}"
        )
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"verifier {name!r}: {exc}") from None
