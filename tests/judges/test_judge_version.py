"""A verdict's judge_version is a hash of the judge's options and code version (judges/version.py)."""

from __future__ import annotations

from importlib.metadata import version

from selftaught.judges import MathVerifier, get_verifier
from selftaught.judges.version import judge_version
from selftaught.loops.arithmetic import make_problem
from selftaught.judges.arithmetic import arithmetic_version


def test_options_change_the_version_resources_do_not():
    base = get_verifier("math")
    assert get_verifier("math", strict=False).version == base.version  # defaults are the configuration
    assert MathVerifier(workers=7).version == base.version  # how fast is not what
    assert get_verifier("math", deadline_s=1.0).version != base.version
    assert get_verifier("math", answer_format="boxed", strict=True).version != base.version
    assert len(base.version) == 12 and int(base.version, 16) >= 0


def test_the_math_version_hashes_math_verifys_package_version():
    options = dict(MathVerifier().options)
    assert "workers" not in options and options["strict"] is False
    assert MathVerifier.code_version().endswith(f"math-verify-{version('math-verify')}")
    assert MathVerifier().version == judge_version("math", options, MathVerifier.code_version())
    assert MathVerifier().version != judge_version("math", options, "1+math-verify-0.0.1")


def test_verdicts_carry_their_judges_version():
    problem = make_problem(2, 3, 1)
    for judge in (get_verifier("format", style="boxed"), get_verifier("keyword"), get_verifier("math=1,format=0.2")):
        assert judge.verify(problem, "<think>2+3=5</think> 5").judge_version == judge.version
    strict = get_verifier("arithmetic", answer_format="boxed", strict=True)
    assert strict.verify(problem, "\\boxed{5}").judge_version == arithmetic_version("boxed", True)
    lenient = get_verifier("arithmetic", answer_format="think")
    assert lenient.verify(problem, "5").judge_version == arithmetic_version() != arithmetic_version("boxed", True)
    weighted = get_verifier("math=1,format=0.2")
    assert weighted.version != get_verifier("math=1,format=0.5").version
