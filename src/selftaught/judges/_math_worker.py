"""A math-verify worker process: one JSON request per line on stdin, one reply per line.

Request: ``["gold", "answer"]`` (both already normalised). Reply: ``["pass" | "fail" |
"error", "detail"]``. The first line written is ``["ready", ""]`` once imports are done,
so the parent never starts an item's deadline while sympy is still importing.

Started by ``selftaught.judges.math_judge.MathWorkerPool`` as
``python -m selftaught.judges._math_worker MEMORY_MB``; it exits on EOF and dies with
its parent (``selftaught.lifeline``). The parent kills it at an item's deadline.
"""

from __future__ import annotations

import json
import os
import sys


def main(argv: list[str]) -> int:
    import resource
    import signal

    from selftaught.lifeline import die_with_parent

    parent = os.getppid()
    die_with_parent()
    if os.getppid() != parent:  # the parent died before prctl took effect
        return 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    memory_mb = int(argv[0]) if argv else 0
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    from selftaught.judges.math_judge import equivalent

    equivalent("1", "1")  # warm the parser caches

    out = sys.stdout
    out.write('["ready", ""]\n')
    out.flush()
    for line in sys.stdin:
        try:
            gold, answer = json.loads(line)
        except ValueError:
            reply = ["error", "bad request"]
        else:
            try:
                reply = ["pass", ""] if equivalent(gold, answer) else ["fail", ""]
            except (MemoryError, RecursionError, OverflowError) as exc:
                reply = ["fail", f"answer too large to compare ({type(exc).__name__})"]
            except Exception as exc:  # a bug or an unforeseen input: the judge's failure
                reply = ["error", f"{type(exc).__name__} in math-verify"]
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
