"""The public API of selftaught.judges, its layering, and its doctests."""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import subprocess
import sys

import pytest

import selftaught.judges
from selftaught.records import Problem

PUBLIC = {
    "VERIFIERS", "ArithmeticVerifier", "BaseVerifier", "ChoiceVerifier", "CodeVerifier", "Execution", "FormatVerifier",
    "KeywordVerifier", "MathVerifier", "MathWorkerPool", "SandboxLimits", "Verifier",
    "WeightedVerifier", "after_think", "as_reward_function", "extract_answer", "extract_code",
    "find_bwrap", "get_verifier", "judge_for", "normalize_answer", "parse_spec", "run_python",
}


def test_public_api_is_pinned():
    assert set(selftaught.judges.__all__) == PUBLIC
    for name in PUBLIC:
        assert hasattr(selftaught.judges, name)


def test_import_is_light_and_layered():
    """No Prefect, SQLAlchemy, torch or sympy when the judges are imported (records <- judges <- loops)."""
    code = (
        "import sys, selftaught.judges, selftaught.cli.verify_cmd;"
        "print(','.join(m for m in ('prefect','sqlalchemy','torch','sympy','math_verify','trl') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


MODULES = [
    m.name
    for m in pkgutil.iter_modules(selftaught.judges.__path__, "selftaught.judges.")
    if not m.name.endswith(("_harness", "_math_worker"))
]


@pytest.mark.parametrize("module", MODULES)
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_every_verifier_satisfies_the_protocol():
    from selftaught.judges import VERIFIERS, Verifier

    for name, cls in VERIFIERS.items():
        assert isinstance(cls.name, str) and cls.name == name
        assert callable(getattr(cls, "verify_batch"))
        # what it reads from a problem, declared (recipe.py checks it against the task)
        assert isinstance(cls.reads, tuple) and set(cls.reads) <= set(Problem.__dataclass_fields__), name
    assert isinstance(selftaught.judges.FormatVerifier(), Verifier)
