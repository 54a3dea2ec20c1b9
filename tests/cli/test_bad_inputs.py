"""Bad inputs (issue 14, part 5), table-driven, through the real `selftaught` binary.

Each case is one line on stderr (`error: ...`), exit code 1 (2 for a usage error: `Case.code`), no traceback, and nothing
written: no store and no home where there were none, and a store and home that were there
are unchanged (every table row, every file's size and mtime). Line-by-line commands
(`import`, `verify`) instead report the bad line by number and keep going.

Cases that need a read-only or a small file system mount a tmpfs (the test machines run as
root); where mounting is not allowed they are skipped, with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import tiny_recipe_text

BIN = Path(sys.executable).parent / "selftaught"
GOOD = '{"id": "a", "prompt": "Q: 1+1=? A:", "answer": "2"}\n'
NOT_UTF8 = b'{"id": "b", "prompt": "\xff", "answer": "3"}\n'
DEEP = b"[" * 100_000 + b"]" * 100_000 + b"\n"
FILE_TASK = "{kind: file, train: train.jsonl, heldout: heldout.jsonl}"


def _cli(args: list[str], root: Path, stdin: bytes | None = None, home: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, SELFTAUGHT_DB_URL=f"sqlite:///{root / 'store.db'}", SELFTAUGHT_HOME=str(home or root / "home"))
    return subprocess.run([str(BIN), *args], capture_output=True, env=env, input=stdin, timeout=300, cwd=root)


@contextlib.contextmanager
def _tmpfs(where: Path, size: str, readonly: bool = False):
    where.mkdir(parents=True, exist_ok=True)
    opts = f"size={size}" + (",ro" if readonly else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _snapshot(root: Path) -> tuple:
    """Every row of the store (if any) and every file of the home (if any)."""
    db = root / "store.db"
    rows = list(sqlite3.connect(db).iterdump()) if db.exists() else None
    home = root / "home"
    files = sorted((str(p.relative_to(home)), p.stat().st_size, p.stat().st_mtime_ns)
                   for p in home.rglob("*")) if home.exists() else None
    return rows, files


@dataclass
class Case:
    args: list[str]
    reason: str  # a substring of the one line
    files: dict[str, str | bytes] = field(default_factory=dict)
    stdin: bytes | None = None
    mount: tuple[str, bool] | None = None  # (size, read-only) of a tmpfs used as the home folder
    home_is_file: bool = False
    existing_run: bool = False  # a finished run's store and home are there before
    code: int = 1  # 1: a runtime error; 2: a usage error, the command line itself is wrong (issue 17)


def _recipe(**overrides: str) -> str:
    return tiny_recipe_text(**overrides)


def _task(train: bytes) -> dict[str, str | bytes]:
    return {"train.jsonl": train, "heldout.jsonl": GOOD, "r.yaml": _recipe(task=FILE_TASK)}


RUN = ["run", "r.yaml"]
CASES = {
    "an unknown judge": Case(RUN, "r.yaml:10: judge: unknown verifier 'vibes'",
                             {"r.yaml": _recipe(judge="vibes")}),
    "an unknown reward key (GRPO)": Case(RUN, "r.yaml:10: reward: unknown verifier 'vibes'",
                                         {"r.yaml": _recipe(method="grpo", reward="{arithmetic: 1.0, vibes: 0.2}")}),
    "an unknown reward key (STaR)": Case(RUN, "r.yaml:10: reward: unknown verifier 'vibes'",
                                         {"r.yaml": _recipe(reward="{vibes: 1.0}")}),
    # every option that names a judge asks the registry before any work
    "prm label --judge vibes": Case(["prm", "label", "ref", "--round", "1", "--judge", "vibes"],
                                    "unknown verifier 'vibes'; valid names: arithmetic, math", existing_run=True),
    "rejudge --judge vibes": Case(["rejudge", "--run", "ref", "--judge", "vibes"],
                                  "unknown verifier 'vibes'; valid names: arithmetic, math", existing_run=True, code=2),
    "eval --judge vibes": Case(["eval", "--checkpoint", "ref/r1", "--problems", "p.jsonl", "--judge", "vibes"],
                               "judge: unknown verifier 'vibes'; valid: arithmetic, math", {"p.jsonl": GOOD},
                               existing_run=True),
    "a negative round count": Case(RUN, "r.yaml:3:", {"r.yaml": _recipe(rounds="-1")}),
    "a task too small for its split": Case(RUN, "only about 64 exist",
                                           {"r.yaml": _recipe(task="{digits: 1, n_train: 60}")}),
    "a problem line that is not UTF-8": Case(RUN, "train.jsonl:2: not UTF-8 (byte 0xff", _task(GOOD.encode() + NOT_UTF8)),
    "a problem line nested too deeply": Case(RUN, "train.jsonl:2: not valid JSON (nested too deeply)",
                                             _task(GOOD.encode() + DEEP)),
    "a problem line without an answer": Case(RUN, "train.jsonl:2:", _task(GOOD.encode() + b'{"id": "c", "prompt": "p"}\n')),
    "a policy folder that does not exist": Case(RUN, "policy.init: not 'tiny', not a model folder",
                                                {"r.yaml": _recipe(policy="{init: ./no-such-model}")}),
    "a read-only home": Case(RUN, "is not writable (Read-only file system", {"r.yaml": _recipe()}, mount=("1m", True)),
    "a home on a nearly full disk": Case(RUN, "MB free on its disk, a round needs at least", {"r.yaml": _recipe()},
                                         mount=("8m", False)),
    "a home that is a file": Case(RUN, "is a file, not a folder", {"r.yaml": _recipe()}, home_is_file=True),
    "--resume of a run that does not exist": Case(["run", "tiny.yaml", "--resume", "nope"], "--resume: no run 'nope'",
                                                  existing_run=True),
    "--resume with a changed recipe": Case(["run", "r.yaml", "--resume", "ref"], "the recipe differs",
                                           {"r.yaml": _recipe(seed="1")}, existing_run=True),
    "--threads -1": Case(["run", "tiny.yaml", "--resume", "ref", "--threads", "-1"], "--threads", existing_run=True, code=2),
    "verify --timeout -5": Case(["verify", "math", "--timeout", "-5"], "--timeout", stdin=b'{"gold": "1", "completion": "1"}\n', code=2),
    "verify --timeout 0": Case(["verify", "math", "--timeout", "0"], "--timeout", stdin=b'{"gold": "1", "completion": "1"}\n', code=2),
    "verify --workers 0": Case(["verify", "math", "--workers", "0"], "--workers", stdin=b'{"gold": "1", "completion": "1"}\n', code=2),
    "eval --temperature 0": Case(["eval", "--checkpoint", "x", "--temperature", "0"], "--temperature", code=2),
    "prm train --lr 0": Case(["prm", "train", "ref", "--lr", "0"], "--lr", existing_run=True, code=2),
    "samples --round -1": Case(["samples", "--round", "-1"], "--round", existing_run=True, code=2),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_a_bad_input_is_one_line_and_changes_nothing(request, tmp_path, case: Case):
    if case.existing_run:
        ref_root = request.getfixturevalue("finished_run")[0]
        with sqlite3.connect(ref_root / "store.db") as src, sqlite3.connect(tmp_path / "store.db") as dst:
            src.backup(dst)  # the rows still in the -wal file too
        shutil.copytree(ref_root / "home", tmp_path / "home")
        shutil.copy(ref_root / "tiny.yaml", tmp_path / "tiny.yaml")
    for name, text in case.files.items():
        (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    home = None
    with contextlib.ExitStack() as stack:
        if case.mount:
            home = stack.enter_context(_tmpfs(tmp_path / "mnt", *case.mount)) / "home"
        if case.home_is_file:
            (tmp_path / "afile").write_text("not a folder")
            home = tmp_path / "afile" / "home"
        before = _snapshot(tmp_path)
        result = _cli(case.args, tmp_path, stdin=case.stdin, home=home)
        err = result.stderr.decode()
        assert result.returncode == case.code, err
        assert err.count("\n") == 1 and case.reason in err, err
        assert "Traceback" not in err and not result.stdout
        assert _snapshot(tmp_path) == before
        if home is not None:
            assert not home.exists()


VERIFY_LINES = {
    "nested too deeply": (DEEP, [], "JSON nested too deeply"),
    "not UTF-8": (NOT_UTF8.replace(b'"prompt"', b'"completion"'), [], "not UTF-8 (byte 0xff"),
    "too long": (b'{"gold": "1", "completion": "' + b"x" * 200_000 + b'"}\n', ["--max-line-mb", "0.1"],
                 "line longer than 104,857 bytes"),
}  # fmt: skip


@pytest.mark.parametrize("line, options, reason", VERIFY_LINES.values(), ids=list(VERIFY_LINES))
def test_verify_reports_a_bad_line_and_judges_the_next(tmp_path, line, options, reason):
    result = _cli(["verify", "math", *options], tmp_path, stdin=line + b'{"gold": "1/2", "completion": "\\\\boxed{0.5}"}\n')
    # a bad line makes the exit code 1 (documented), and judging goes on
    assert result.returncode == 1 and "Traceback" not in result.stderr.decode()
    assert result.stderr.decode().startswith(f"line 1: invalid input: {reason}") and result.stderr.count(b"\n") == 1
    rows = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(r["line"], r["outcome"]) for r in rows] == [(1, "error"), (2, "pass")]
    assert reason in rows[0]["detail"]


def test_import_reports_an_undecodable_line_and_imports_the_good_rows(tmp_path):
    src = tmp_path / "rows.jsonl"
    src.write_bytes(GOOD.encode() + NOT_UTF8 + b'{"id": "c", "prompt": "Q: 2+2=? A:", "answer": "4"}\n')
    result = _cli(["import", str(src), "--out", str(tmp_path / "out") + "/"], tmp_path)
    err = result.stderr.decode() + result.stdout.decode()
    assert "Traceback" not in err and "line 2: not UTF-8 (byte 0xff" in err, err
    ids = [json.loads(line)["id"] for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert [i.split("@")[0] for i in ids] == ["a", "c"]
