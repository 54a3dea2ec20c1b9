"""The code judge: run model-written Python against the problem's tests, in a sandbox.

In: a ``Problem`` whose ``tests`` hold test source (MBPP-style top-level ``assert``
lines, or a HumanEval-style ``check(candidate)`` with ``meta["entry_point"]``) and an
untrusted completion. Out: a ``Verdict`` named ``"code"`` with score = passed tests /
total tests.

The program is the completion's last fenced code block (```` ```python ````), or the
whole text after ``</think>`` if it has none; with ``prepend_prompt=True`` the problem's
prompt is put in front (HumanEval completions continue the prompt).

How a pass is proven: the tests and the model's program never share an interpreter.
Inside the sandbox a trusted test process (``_harness.py``) runs the tests; the program
runs in a separate candidate process (``_candidate.py``) that it starts with nothing but
two pipes, and every call the tests make to the program is a request on those pipes
whose answer is plain data rebuilt from builtin types (``_wire.py``). Only the test
process holds the verdict channel (stdout) and the per-run nonce; it is pid 1 of the
sandbox's pid namespace and non-dumpable, so the program can neither signal, ptrace nor
read it. The verdict is the one line ``<nonce> {json}`` on stdout; exit codes and
everything else are ignored.

Outcomes: PASS when every test passed; FAIL for failed tests, a syntax error (score 0,
error in detail), a crash, an early exit, anything on stdout but the report, or the
output cap; TIMEOUT at the wall deadline; ERROR when the problem has no usable tests or
the sandbox itself failed: only the test process or bubblewrap can say so, never text
the program prints or raises.
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


@lru_cache(maxsize=4)
def _sandbox_source(name: str) -> str:
    """``_wire.py`` followed by ``name``: the source one of the two processes runs."""
    here = Path(__file__).parent
    return (here / "_wire.py").read_text() + "\n\n" + (here / name).read_text()


def harness_source() -> str:
    """What the test process runs (the sandbox's interpreter)."""
    return _sandbox_source("_harness.py")


def candidate_source() -> str:
    """What the candidate process runs; the test process starts it."""
    return _sandbox_source("_candidate.py")


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
    """Score = passed tests / total: the tests and the program in two sandboxed processes.

    Refuses to exist (``SandboxUnavailable``) when bubblewrap cannot run here, unless
    ``unsafe_no_sandbox=True`` is passed explicitly.
    """

    name: ClassVar[str] = "code"
    reads: ClassVar[tuple[str, ...]] = ("tests",)
    code_revision: ClassVar[str] = "2"  # the harness: 2 = tests and program in separate processes

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
        payload = harness_request(
            nonce, program, problem.tests or "", (problem.meta or {}).get("entry_point"), self.limits
        )
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
        """Turn one execution into a verdict: stdout must be exactly the report line."""
        if run.timed_out:
            return self.verdict(Outcome.TIMEOUT, 0.0, f"no result within {self.limits.wall_s:g} s")
        report = read_report(run.stdout, nonce)
        if report is None:
            if run.output_exceeded:
                return self.failed(f"output over {self.limits.max_output_bytes} bytes")
            stderr = run.stderr.decode("utf-8", "replace").strip()
            if run.sandboxed and stderr.startswith("bwrap:"):  # only bwrap and the test process write here
                return self.error(f"sandbox failed to start: {stderr}")
            tail = clip(stderr[-400:], 160) if stderr else "no output"
            return self.failed(f"no test report (exit {run.exit_code}): {tail}")
        if report["judge_error"]:
            return self.error(report["judge_error"])
        passed, total, error = report["passed"], report["total"], report["error"]
        score = passed / total if total else 0.0
        if error:
            return self.failed(f"{passed}/{total} passed; {error}", score)
        if passed == total:
            return self.passed(f"{passed}/{total} tests passed")
        return self.failed(f"{passed}/{total} passed; " + "; ".join(report["failures"]), score)


def harness_request(nonce: str, program: str, tests: str, entry_point: str | None, limits: SandboxLimits) -> bytes:
    """The JSON the test process reads on stdin."""
    return json.dumps(
        {
            "nonce": nonce,
            "program": program,
            "tests": tests,
            "entry_point": entry_point,
            "limits": limits.as_harness_limits(),
            "candidate": candidate_source(),
        }
    ).encode()


def read_report(stdout: bytes, nonce: str) -> dict | None:
    """The test process's report if stdout is exactly ``<nonce> {json}\\n``, else None.

    >>> read_report(b'n1 {"passed": 1, "total": 1, "error": null, "judge_error": null, "failures": []}\\n', "n1")["passed"]
    1
    >>> read_report(b'x\\nn1 {"passed": 1, "total": 1}\\n', "n1") is None
    True
    """
    marker = (nonce + " ").encode()
    if not stdout.startswith(marker) or not stdout.endswith(b"\n") or stdout.count(b"\n") != 1:
        return None
    try:
        report = json.loads(stdout[len(marker) :])
    except ValueError:
        return None
    fields = {"passed": int, "total": int, "error": (str, type(None)), "judge_error": (str, type(None)), "failures": list}
    if not isinstance(report, dict) or any(not isinstance(report.get(k), t) for k, t in fields.items()):
        return None
    return report
