"""Judges: verifiers that turn (problem, completion) into a Verdict, safely.

    Problem + completion --verify--> Verdict(outcome, score in [0, 1], detail)

Verifiable rewards are what let the loops run without a reward model, so a wrong or
hanging judge silently ruins every round. Completions are untrusted input: the math
judge decides equivalence in worker processes behind a hard deadline; the code judge
runs programs in a bubblewrap sandbox, in a process apart from the tests that judge them
(docs/code-judge.md); every judge records a timeout or a crash as such, never as a
silent 0.

    name        class                reads from the Problem
    arithmetic  ArithmeticVerifier   answer             (numbers by value; the embedded task)
    math        MathVerifier         answer             (math-verify, gold first)
    code        CodeVerifier         tests, meta.entry_point  (bubblewrap sandbox)
    choice      ChoiceVerifier       choices, answer
    keyword     KeywordVerifier      keywords           (rough)
    format      FormatVerifier       nothing            (<think>…</think> then an answer)

``get_verifier("math")`` or ``get_verifier({"math": 1.0, "format": 0.2})`` builds one
from a recipe (``judge_for`` with the prompt's answer format); every judge is a
``Verifier`` (``base.py``) and answers are read by one extractor (``extract.py``);
``as_reward_function(verifier, problems_by_id, on_verdict)`` plugs it into TRL's
GRPOTrainer/RLOOTrainer. This package imports neither Prefect nor
SQLAlchemy (layering: records <- judges <- loops), and nothing heavy at import time:
sympy and math-verify load only in the math workers.
"""

from selftaught.judges.arithmetic import ArithmeticVerifier
from selftaught.judges.base import BaseVerifier, Verifier, after_think
from selftaught.judges.choice import ChoiceVerifier
from selftaught.judges.code_judge import CodeVerifier, extract_code
from selftaught.judges.combine import WeightedVerifier
from selftaught.judges.extract import extract_answer, normalize_answer
from selftaught.judges.keywords import KeywordVerifier
from selftaught.judges.math_judge import MathVerifier, MathWorkerPool
from selftaught.judges.registry import VERIFIERS, get_verifier, judge_for, parse_spec
from selftaught.judges.reward import as_reward_function
from selftaught.judges.sandbox import Execution, SandboxLimits, find_bwrap, run_python
from selftaught.judges.think_format import FormatVerifier

__all__ = [
    "VERIFIERS",
    "ArithmeticVerifier",
    "BaseVerifier",
    "ChoiceVerifier",
    "CodeVerifier",
    "Execution",
    "FormatVerifier",
    "KeywordVerifier",
    "MathVerifier",
    "MathWorkerPool",
    "SandboxLimits",
    "Verifier",
    "WeightedVerifier",
    "after_think",
    "as_reward_function",
    "extract_answer",
    "extract_code",
    "find_bwrap",
    "get_verifier",
    "judge_for",
    "normalize_answer",
    "parse_spec",
    "run_python",
]
