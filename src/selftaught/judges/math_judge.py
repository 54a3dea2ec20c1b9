"""The math judge: is the completion's final answer equivalent to the gold answer?

In: a ``Problem`` with a gold ``answer`` and an untrusted completion. Out: a
``Verdict`` named ``"math"``. The answer is found and respelled by pure string code
(``selftaught.judges.extract``); equivalence is decided by sympy through
``math-verify`` (gold first), in **worker processes with a hard per-item deadline**.

Why processes: math-verify bounds its own work with ``signal.alarm``, which only works
in a main thread (in threads, Prefect ``.submit()`` tasks included, it raises, and
wrappers that swallow that scored whole runs 0). Here the parent never uses signals:
it sends an item to a worker, waits on the pipe until the item's deadline, and on
overrun SIGKILLs that worker, records ``TIMEOUT`` (not a wrong answer) and forks a
fresh worker. So the deadline holds
from any thread and inside any task runner.

What never happens: a parsed sympy object crosses the pipe or is turned into a
string (``str()`` of a pathological expression ran over 40 s). Workers return a
bool; details are built from the raw, clipped answer text.

Cheap guards run in the parent before any sympy: answers over ``max_answer_chars``
or nested deeper than ``max_nesting`` fail at once, and plain numbers (the embedded
arithmetic task) are compared with ``Fraction`` without a worker at all.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import selectors
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from selftaught.errors import JudgeError
from selftaught.judges.base import BaseVerifier, clip
from selftaught.judges.extract import (
    ANSWER_FORMATS,
    extract_answer,
    max_nesting,
    normalize_answer,
    quick_compare,
)
from selftaught.records import Outcome, Problem, Verdict

# What a worker answers for one item: ("pass" | "fail" | "error", detail).
_Result = tuple[Literal["pass", "fail", "error", "timeout"], str]


def equivalent(gold: str, answer: str) -> bool:
    """math-verify's equivalence of two normalised answers (gold first), in this process.

    No deadline of its own: call it only inside a worker, or on trusted input.

    >>> equivalent("\\\\frac{1}{2}", "0.5"), equivalent("[1,2)", "[1, 2)"), equivalent("3", "4")
    (True, True, False)
    """
    import logging

    from math_verify import parse, verify

    # it warns on every call that its own timeouts are off; the caller bounds the time
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    gold_parsed = parse(f"${gold}$", parsing_timeout=None)
    answer_parsed = parse(f"${answer}$", parsing_timeout=None)
    if not gold_parsed or not answer_parsed:
        return False
    return bool(verify(gold_parsed, answer_parsed, timeout_seconds=None))


class _Worker:
    """One ``_math_worker`` subprocess and the partial line read from it so far."""

    def __init__(self, memory_mb: int) -> None:
        env = dict(os.environ)
        src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "selftaught.judges._math_worker", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin = self.process.stdin
        self.fd = self.process.stdout.fileno()
        os.set_blocking(self.fd, False)
        self.buffer = b""
        self.ready = False

    def send(self, gold: str, answer: str) -> None:
        self.stdin.write(json.dumps([gold, answer]).encode() + b"\n")
        self.stdin.flush()

    def read_replies(self) -> list[list[str]] | None:
        """Complete replies now readable; None once the worker is gone."""
        try:
            chunk = os.read(self.fd, 65536)
        except BlockingIOError:
            return []
        except OSError:
            return None
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=5)
        self.close_pipes()

    def stop(self) -> None:
        try:
            self.stdin.close()  # EOF: the worker's loop ends
        except OSError:
            pass
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.close_pipes()

    def close_pipes(self) -> None:
        for f in (self.process.stdin, self.process.stdout):
            try:
                if f is not None:
                    f.close()
            except OSError:
                pass


class MathWorkerPool:
    """N worker processes, each item under a hard wall-clock deadline.

    An item's deadline starts when it is written to a worker that has finished
    importing. On overrun the worker is SIGKILLed and replaced. Thread-safe (one batch
    at a time); workers start on first use and stop at ``close()`` or interpreter exit.
    """

    def __init__(self, workers: int = 2, deadline_s: float = 5.0, memory_mb: int = 2048):
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.n_workers = workers
        self.deadline_s = deadline_s
        self.memory_mb = memory_mb
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.timeouts = 0  # items killed at the deadline, over the pool's life

    def run(self, items: Sequence[tuple[str, str]]) -> list[_Result]:
        """Compare each (gold, answer) pair; results in input order."""
        results: list[_Result | None] = [None] * len(items)
        if not items:
            return []
        with self._lock:
            while len(self._workers) < min(self.n_workers, len(items)):
                self._workers.append(_Worker(self.memory_mb))
            pending = collections.deque(enumerate(items))
            busy: dict[_Worker, tuple[int, float]] = {}
            with selectors.DefaultSelector() as selector:
                for worker in self._workers:
                    selector.register(worker.fd, selectors.EVENT_READ, worker)
                while pending or busy:
                    for worker in self._workers:
                        if pending and worker.ready and worker not in busy:
                            index, (gold, answer) = pending.popleft()
                            try:
                                worker.send(gold, answer)
                            except OSError:
                                pending.appendleft((index, (gold, answer)))
                                self._replace(worker, selector)
                                continue
                            busy[worker] = (index, time.monotonic() + self.deadline_s)
                    deadlines = [deadline for _, deadline in busy.values()]
                    wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else 30.0
                    for key, _ in selector.select(timeout=wait_s):
                        worker = key.data
                        replies = worker.read_replies()
                        if replies is None:  # died: a crash on this input, or at start-up
                            if worker in busy:
                                index, _ = busy.pop(worker)
                                code = worker.process.poll()
                                results[index] = ("error", f"math worker died (exit {code})")
                            elif not worker.ready:
                                raise JudgeError("math worker failed to start")
                            self._replace(worker, selector)
                            continue
                        for status, detail in replies:
                            if status == "ready":
                                worker.ready = True
                            elif worker in busy:
                                index, _ = busy.pop(worker)
                                results[index] = (status, detail)
                    now = time.monotonic()
                    for worker, (index, deadline) in list(busy.items()):
                        if now >= deadline:
                            del busy[worker]
                            self.timeouts += 1
                            results[index] = ("timeout", f"no decision within {self.deadline_s:g} s")
                            self._replace(worker, selector)
        return [r if r is not None else ("error", "lost") for r in results]

    def _replace(self, worker: _Worker, selector: selectors.BaseSelector) -> None:
        selector.unregister(worker.fd)
        worker.kill()
        fresh = _Worker(self.memory_mb)
        self._workers[self._workers.index(worker)] = fresh
        selector.register(fresh.fd, selectors.EVENT_READ, fresh)

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                worker.stop()
            self._workers.clear()

    @property
    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers]


_POOLS: dict[tuple[int, float, int], MathWorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(workers: int, deadline_s: float, memory_mb: int) -> MathWorkerPool:
    """One pool per configuration per process, closed at interpreter exit."""
    key = (workers, deadline_s, memory_mb)
    with _POOLS_LOCK:
        if key not in _POOLS:
            _POOLS[key] = MathWorkerPool(workers, deadline_s, memory_mb)
        return _POOLS[key]


@atexit.register
def _close_pools() -> None:
    for pool in list(_POOLS.values()):
        pool.close()


@dataclass(frozen=True)
class _Prepared:
    """One pair after the cheap parent-side steps: decided, or (gold, answer) for sympy."""

    verdict: Verdict | None = None
    job: tuple[str, str] | None = None
    shown: str = ""


class MathVerifier(BaseVerifier):
    """Final-answer equivalence through math-verify, with a hard deadline per item.

    >>> v = MathVerifier()
    >>> v.verify(Problem(id="p", prompt="23+45=?", answer="68"), "<think>3+5=8 2+4=6</think> 68").outcome
    <Outcome.PASS: 'pass'>
    """

    name: ClassVar[str] = "math"
    reads: ClassVar[tuple[str, ...]] = ("answer",)

    @classmethod
    def code_version(cls) -> str:
        """This judge's revision and the installed math-verify's version: an upgrade is a new version."""
        from importlib.metadata import PackageNotFoundError, version

        try:
            package = version("math-verify")
        except PackageNotFoundError:  # the workers will say so when they start
            package = "missing"
        return f"{cls.code_revision}+math-verify-{package}"

    def __init__(
        self,
        workers: int = 2,
        deadline_s: float = 5.0,
        max_answer_chars: int = 400,
        max_nesting: int = 40,
        memory_mb: int = 2048,
        fast_path: bool = True,
        answer_format: str = "free",
        strict: bool = False,
    ) -> None:
        if answer_format not in ANSWER_FORMATS:
            raise ValueError(f"answer_format must be one of {', '.join(ANSWER_FORMATS)}, not {answer_format!r}")
        self.answer_format = answer_format
        self.strict = strict
        self.workers = workers
        self.deadline_s = deadline_s
        self.max_answer_chars = max_answer_chars
        self.max_nesting = max_nesting
        self.memory_mb = memory_mb
        self.fast_path = fast_path

    @property
    def pool(self) -> MathWorkerPool:
        return shared_pool(self.workers, self.deadline_s, self.memory_mb)

    def verify(self, problem: Problem, completion: str) -> Verdict:
        return self.verify_batch([(problem, completion)])[0]

    def verify_batch(self, pairs: Sequence[tuple[Problem, str]]) -> list[Verdict]:
        prepared = [self._prepare(problem, completion) for problem, completion in pairs]
        jobs = [p.job for p in prepared if p.job is not None]
        decided = iter(self.pool.run(jobs) if jobs else [])
        out: list[Verdict] = []
        for p in prepared:
            if p.verdict is not None:
                out.append(p.verdict)
                continue
            status, why = next(decided)
            shown = f"answer {p.shown!r}"
            if status == "pass":
                out.append(self.passed(shown))
            elif status == "fail":
                out.append(self.failed(f"{shown}: {why}" if why else f"{shown} != gold"))
            elif status == "timeout":
                out.append(self.verdict(Outcome.TIMEOUT, 0.0, f"{shown}: {why}"))
            else:
                out.append(self.error(f"{shown}: {why}"))
        return out

    def _prepare(self, problem: Problem, completion: str) -> _Prepared:
        if problem.answer is None or not str(problem.answer).strip():
            return _Prepared(self.error(f"problem {problem.id!r} has no gold answer"))
        raw = extract_answer(completion, self.answer_format, self.strict)
        if raw is None:
            where = f" in the {self.answer_format} format" if self.strict and self.answer_format != "free" else ""
            return _Prepared(self.failed(f"no final answer found{where}"))
        if len(raw) > self.max_answer_chars:
            return _Prepared(self.failed(f"answer too long ({len(raw)} chars)"))
        if max_nesting(raw) > self.max_nesting:
            return _Prepared(self.failed(f"answer nested deeper than {self.max_nesting}"))
        gold = normalize_answer(str(problem.answer))
        answer = normalize_answer(raw)
        shown = clip(raw, 80)
        if self.fast_path:
            quick = quick_compare(gold, answer)
            if quick is True:
                return _Prepared(self.passed(f"answer {shown!r}"))
            if quick is False:
                return _Prepared(self.failed(f"answer {shown!r} != gold"))
        return _Prepared(job=(gold, answer), shown=shown)
