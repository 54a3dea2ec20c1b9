"""The code judge: run model-written Python against the problem's tests, in a sandbox.

In: a ``Problem`` whose ``tests`` hold test source (MBPP-style top-level ``assert``
lines, or a HumanEval-style ``check(candidate)`` with ``meta["entry_point"]``) and an
untrusted completion. Out: a ``Verdict`` named ``"code"`` with score = passed tests /
total tests.

The program is the completion's last fenced code block (```` ```python ````), or the
whole text after ``</think>`` if it has none; with ``prepend_prompt=True`` the problem's
prompt is put in front (HumanEval completions continue the prompt).

How a pass is proven: the harness (``_harness.py``, run inside the sandbox) prints
one line starting with a fresh random nonce after the tests ran; exit codes and
everything else the program prints are ignored, so ``os._exit(0)`` before the tests
is not a pass. Comparisons in the tests refuse values of non-builtin types, so an
object whose ``__eq__`` always returns True is not a pass either.

Outcomes: PASS when every test passed; FAIL for failed tests, a syntax error (score 0,
error in detail), a crash, an early exit or the output cap; TIMEOUT at the wall
deadline; ERROR when the problem has no usable tests or the sandbox itself failed.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from selftaught.errors import SandboxUnavailable
from selftaught.judges.base import BaseVerifier, after_think, clip
from selftaught.judges.sandbox import Execution, SandboxLimits, find_bwrap, run_python
from selftaught.records import Outcome, Problem, Verdict

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


@lru_cache(maxsize=1)
def harness_source() -> str:
    return Path(__file__).with_name("_harness.py").read_text()


def extract_code(completion: str) -> str:
    """The program in a completion: its last fenced block, else all text after thinking.

    >>> extract_code("Here:\\n```python\\ndef f():\\n    return 1\\n```\\nDone.")
    'def f():\\n    return 1\\n'
    >>> extract_code("<think>easy</think>print(1)")
    'print(1)'
    """
    text = after_think(completion)
    if text is None:
        return ""
    blocks = _FENCE.findall(text)
    return blocks[-1] if blocks else text


class CodeVerifier(BaseVerifier):
    """Score = passed tests / total, run under bubblewrap with a per-run nonce.

    Refuses to exist (``SandboxUnavailable``) when bubblewrap cannot run here, unless
    ``unsafe_no_sandbox=True`` is passed explicitly.
    """

    name: ClassVar[str] = "code"
    version: ClassVar[str] = "1"

    def __init__(
        self,
        timeout_s: float = 10.0,
        workers: int = 2,
        memory_mb: int = 1024,
        processes: int = 32,
        max_output_bytes: int = 1 << 20,
        prepend_prompt: bool = False,
        unsafe_no_sandbox: bool = False,
        python: str | None = None,
    ) -> None:
        self.limits = SandboxLimits(
            wall_s=timeout_s,
            cpu_s=max(1, int(timeout_s) + 1),
            memory_mb=memory_mb,
            processes=processes,
            max_output_bytes=max_output_bytes,
        )
        self.workers = workers
        self.prepend_prompt = prepend_prompt
        self.unsafe_no_sandbox = unsafe_no_sandbox
        self.python = python
        if not unsafe_no_sandbox and find_bwrap() is None:
            raise SandboxUnavailable(
                "the code judge needs bubblewrap (Debian package `bubblewrap`) to run model "
                "code; install it, or pass unsafe_no_sandbox=True to run it WITHOUT isolation"
            )

    def verify(self, problem: Problem, completion: str) -> Verdict:
        if not problem.tests or not problem.tests.strip():
            return self.error(f"problem {problem.id!r} has no tests")
        run, nonce = self.execute(problem, completion)
        return self.grade(run, nonce)

    def execute(self, problem: Problem, completion: str) -> tuple[Execution, str]:
        """Run the completion's program against the problem's tests; (execution, nonce)."""
        program = extract_code(completion)
        if self.prepend_prompt:
            program = problem.prompt + program
        nonce = secrets.token_hex(16)
        payload = json.dumps(
            {
                "nonce": nonce,
                "program": program,
                "tests": problem.tests or "",
                "entry_point": (problem.meta or {}).get("entry_point"),
                "limits": self.limits.as_harness_limits(),
            }
        ).encode()
        run = run_python(
            harness_source(),
            payload,
            self.limits,
            unsafe_no_sandbox=self.unsafe_no_sandbox,
            python=self.python,
        )
        return run, nonce

    def verify_batch(self, pairs: Sequence[tuple[Problem, str]]) -> list[Verdict]:
        if self.workers <= 1 or len(pairs) <= 1:
            return super().verify_batch(pairs)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            return list(pool.map(lambda pair: self.verify(*pair), pairs))

    def grade(self, run: Execution, nonce: str) -> Verdict:
        """Turn one execution into a verdict; only a line starting with ``nonce`` counts."""
        if run.timed_out:
            return self.verdict(Outcome.TIMEOUT, 0.0, f"no result within {self.limits.wall_s:g} s")
        report = _find_report(run.stdout, nonce)
        if report is None:
            if run.output_exceeded:
                return self.failed(f"output over {self.limits.max_output_bytes} bytes")
            stderr = run.stderr.decode("utf-8", "replace").strip()
            if run.sandboxed and stderr.startswith("bwrap:"):
                return self.error(f"sandbox failed to start: {stderr}")
            tail = clip(stderr[-400:], 160) if stderr else "no output"
            return self.failed(f"no test report (exit {run.exit_code}): {tail}")
        error = report.get("error")
        passed, total = int(report.get("passed", 0)), int(report.get("total", 0))
        if error and (error.startswith("tests do not compile") or "contain no assert" in error):
            return self.error(error)
        if error and total == 0:
            return self.failed(error)
        score = passed / total if total else 0.0
        failures = "; ".join(report.get("failures") or [])
        if error and passed < total:
            return self.failed(f"{passed}/{total} passed; {error}", score)
        if passed == total:
            return self.passed(f"{passed}/{total} tests passed")
        return self.failed(f"{passed}/{total} passed; {failures}", score)


def _find_report(stdout: bytes, nonce: str) -> dict | None:
    marker = (nonce + " ").encode()
    at = stdout.rfind(marker)
    if at < 0 or (at > 0 and stdout[at - 1 : at] != b"\n"):
        return None
    line = stdout[at + len(marker) :].split(b"\n", 1)[0]
    try:
        report = json.loads(line)
    except ValueError:
        return None
    return report if isinstance(report, dict) else None
