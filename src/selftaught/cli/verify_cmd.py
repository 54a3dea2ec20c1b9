"""``selftaught verify KIND``: run one judge over JSON lines, for debugging and scripts.

Reads one JSON object per line on stdin — the problem's reference plus the completion —
and prints one JSON verdict per line on stdout, in order. A line that is not a usable
JSON object gets an ``"outcome": "error"`` verdict on stdout (so output lines stay
aligned with input lines), a message with its line number on stderr, and the command
goes on; the exit code is then 1. So does a line that is not UTF-8, nested too deeply,
or longer than ``--max-line-mb`` (skipped without being held in memory).

Input keys: ``completion`` (required); ``gold`` or ``answer`` (math, choice);
``tests`` and ``entry_point`` (code); ``choices`` and ``keywords`` (lists); ``id``,
``prompt`` and ``meta`` (optional).
"""

from __future__ import annotations

import itertools
import json
import sys
from typing import Annotated, Any, Optional

import typer

from selftaught.cli.options import judge_from_options, judge_options

HELP = (
    "Judge completions read as JSON lines on stdin; print one JSON verdict per line.\n\n"
    'KIND is a verifier name (math, code, choice, keyword, format) or a weighted spec such as "math=1,format=0.2".\n\n'
    "Example:\n\n"
    "echo '{\"gold\": \"1/2\", \"completion\": \"so \\\\boxed{0.5}\"}' | selftaught verify math\n\n"
    "Input keys: completion (required); gold or answer; tests and entry_point (code); choices, keywords "
    "(lists); id, prompt, meta. A bad line gets an \"error\" verdict on stdout, a message with its line "
    "number on stderr, and the exit code becomes 1."
)


def _problem(obj: dict[str, Any], line: int) -> tuple[Any, str]:
    from selftaught.records import Problem

    completion = obj.get("completion")
    if not isinstance(completion, str):
        raise ValueError('needs a string "completion"')
    gold = obj.get("gold", obj.get("answer"))
    problem = Problem(
        id=str(obj.get("id", f"line-{line}")),
        prompt=str(obj.get("prompt", "")),
        answer=None if gold is None else str(gold),
        tests=obj.get("tests"),
        choices=tuple(str(c) for c in obj.get("choices") or ()),
        keywords=tuple(str(k) for k in obj.get("keywords") or ()),
        meta={**(obj.get("meta") or {}), **({"entry_point": obj["entry_point"]} if "entry_point" in obj else {})},
    )
    return problem, completion


def verify(
    kind: Annotated[str, typer.Argument(help='Verifier name or weighted spec, e.g. "math" or "math=1,format=0.2".')],
    timeout: Annotated[Optional[float], typer.Option(min=0.001, help="Deadline per item in seconds (math, code); > 0.")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Worker processes / parallel sandboxes (math, code); >= 1.")] = None,
    unsafe_no_sandbox: Annotated[
        bool, typer.Option("--unsafe-no-sandbox", help="code: run WITHOUT bubblewrap (trusted code only).")
    ] = False,
    option: Annotated[
        Optional[list[str]], typer.Option("--option", help="Verifier option KEY=VALUE (PART.KEY=VALUE for a spec).")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Lines judged together (1 when stdin is a terminal).")] = 64,
    max_line_mb: Annotated[float, typer.Option("--max-line-mb", min=0.001, help="A longer line gets an error verdict and is skipped unread.")] = 16,
) -> None:
    from selftaught.jsonl import stream_lines

    verifier = judge_from_options(kind, judge_options(kind, option or [], timeout, workers, unsafe_no_sandbox))
    size = 1 if sys.stdin.isatty() else max(1, batch)
    numbered = stream_lines(sys.stdin.buffer, max_bytes=int(max_line_mb * (1 << 20)))
    bad = 0
    while chunk := list(itertools.islice(numbered, size)):
        good: list[tuple[int, Any, str]] = []
        rows: dict[int, dict[str, Any]] = {}
        for number, text, unreadable in chunk:
            if text is not None and not text.strip():
                continue
            try:
                if unreadable:
                    raise ValueError(unreadable)
                try:
                    obj = json.loads(text)
                except RecursionError:
                    raise ValueError("JSON nested too deeply") from None
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
                problem, completion = _problem(obj, number)
            except ValueError as exc:
                bad += 1
                reason = f"invalid input: {exc}"
                typer.echo(f"line {number}: {reason}", err=True)
                rows[number] = {"line": number, "outcome": "error", "score": 0.0, "detail": reason}
                continue
            good.append((number, problem, completion))
        verdicts = verifier.verify_batch([(p, c) for _, p, c in good])
        for (number, problem, _), v in zip(good, verdicts):
            rows[number] = {
                "line": number,
                "id": problem.id,
                "judge": v.judge,
                "outcome": v.outcome.value,
                "score": v.score,
                "detail": v.detail,
                "judge_version": v.judge_version,
            }
        for number in sorted(rows):
            typer.echo(json.dumps(rows[number]))
        sys.stdout.flush()
    if bad:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add ``verify KIND`` to the main app."""
    app.command("verify", help=HELP)(verify)
