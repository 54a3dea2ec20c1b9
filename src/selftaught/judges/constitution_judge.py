"""The constitution judge: does an answer follow the constitution's checked principles?

In: a CAI prompt (a ``Problem`` whose ``meta["tags"]`` say what kind of question it is, e.g.
``medical``) and the policy's answer. Out: a ``Verdict`` named ``"constitution"`` that passes
when no checked principle is violated; its score is the share of applicable principles
followed, and its detail names the ones violated.

The checks are ``constitution.checks`` (programmatic, for the bundled ``concise``
principles; never shown to the model): the same ones the held-out violation rate of a
Constitutional AI run is computed with. The model's own critique against the constitution
file is how sl-cai/rl-cai rounds *train* (critique -> revision, AI-feedback pairs); this
judge is how the recipe's ``judge: constitution`` *measures* a round.

>>> from selftaught.records import Problem
>>> j = ConstitutionVerifier()
>>> j.verify(Problem(id="q", prompt="Capital of France?"), "Paris.").outcome.value
'pass'
>>> v = j.verify(Problem(id="q", prompt="Capital of France?"), "Paris!")
>>> v.outcome.value, v.detail
('fail', 'violates no-exclamations')
"""

from __future__ import annotations

from typing import ClassVar

from selftaught.constitution.checks import violations
from selftaught.judges.base import BaseVerifier
from selftaught.records import Problem, Verdict


class ConstitutionVerifier(BaseVerifier):
    """Pass when the answer violates none of the checked principles that apply to its prompt."""

    name: ClassVar[str] = "constitution"
    reads: ClassVar[tuple[str, ...]] = ()  # the prompt's tags, when it has any

    def __init__(self) -> None:  # no options: the checks are the version
        pass

    def verify(self, problem: Problem, completion: str) -> Verdict:
        checked = violations(completion, tuple(problem.meta.get("tags", ())))
        if not checked:
            return self.passed("no checked principle applies")
        broken = sorted(pid for pid, bad in checked.items() if bad)
        score = 1.0 - len(broken) / len(checked)
        return self.failed("violates " + ", ".join(broken), score) if broken else self.passed()
