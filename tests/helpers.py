"""Helpers to drive the `selftaught` CLI as a subprocess, as a user (or a crash) would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def cli_env(root: Path, prefect_server: str) -> dict[str, str]:
    return dict(
        os.environ,
        PREFECT_API_URL=prefect_server,
        SELFTAUGHT_DB_URL=f"sqlite:///{root / 'store.db'}",
        SELFTAUGHT_HOME=str(root / "home"),
        SELFTAUGHT_TORCH_THREADS="1",
    )


def start_cli(args: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> subprocess.Popen:
    """`selftaught ARGS` in its own process group (so a kill takes its children too)."""
    return subprocess.Popen(
        [str(BIN / "selftaught"), *args], env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT,
        start_new_session=True, cwd=cwd,
    )


def kill_group(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def wait_until(predicate, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"process ended (rc={proc.returncode}) before the condition:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            kill_group(proc)
            raise AssertionError(f"timed out waiting:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def run_cli(args: list[str], env: dict[str, str], log: Path, timeout: float = 600, cwd: Path | None = None) -> None:
    proc = start_cli(args, env, log, cwd)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise
    assert rc == 0, log.read_text()[-4000:]


# ------------------------------------------------------------------ processes, from /proc


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it ended while we looked
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: children, their children, ..."""
    found, todo = [], [pid]
    while todo:
        kids = children(todo.pop())
        found += kids
        todo += kids
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def prefect_servers(pid: int) -> list[int]:
    """Prefect's temporary servers (``uvicorn ... prefect.server``) below ``pid``."""
    return [p for p in descendants(pid) if "uvicorn" in cmdline(p) and "prefect.server" in cmdline(p)]


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` runs; return those still running after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left
