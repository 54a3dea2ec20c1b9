"""Run an untrusted Python program in a bubblewrap sandbox and bound everything it does.

In: a Python source to execute, bytes for its stdin, and ``SandboxLimits``. Out: an
``Execution`` (exit status, clipped stdout/stderr, whether the wall deadline or the
output cap was hit, duration). This module knows nothing about tests or verdicts;
``selftaught.judges.code_judge`` builds the program and reads the result.

The sandbox (``bwrap``):

* every namespace unshared (user, pid, net, ipc, uts, cgroup, mount): no network at
  all, only its own processes visible, host loopback unreachable;
* a mount namespace holding only ``/usr`` (and the interpreter's prefix) read-only,
  a fresh ``/proc`` and ``/dev``, and a private size-capped tmpfs ``/tmp`` as the only
  writable place, which vanishes with the run;
* ``--clearenv`` (only PATH/HOME/LANG set), ``--new-session`` (no TTY injection),
  ``--die-with-parent``, ``--disable-userns``;
* ``--as-pid-1``: the interpreter started here is pid 1 of the pid namespace (no bwrap
  reaper holding our pipes in there), so the processes it starts can send it no signal
  it has no handler for, and the namespace ends when it exits;
* a non-root uid: when we run as root, bwrap is started through ``setpriv`` with a
  fresh random uid per run, because ``RLIMIT_NPROC`` is not enforced for root and
  runs sharing one uid would starve each other's process budget;
* rlimits (CPU, address space, processes, file size, open files) set by the harness
  inside the sandbox before any model code runs (``_harness.py``, which also keeps the
  model's code in a second process; see there).

The parent enforces the rest: a wall-clock deadline (SIGKILL to the whole process
group; the pid namespace dies with its init, so double-forked daemons die too) and an
output cap (reading stops and the run is killed past ``max_output_bytes``).

Without ``bwrap`` the sandbox refuses with ``SandboxUnavailable``, unless the caller
passed ``unsafe_no_sandbox=True``: then the program runs as a plain subprocess with
the same rlimits and deadline but NO isolation — for trusted code and debugging only.
"""

from __future__ import annotations

import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from functools import lru_cache

from selftaught.errors import SandboxUnavailable

#: The uid the program sees inside the sandbox (``nobody``).
SANDBOX_UID = 65534
#: Host uids used for sandboxed runs when we are root: one random uid per run.
_HOST_UID_BASE = 1 << 20
_HOST_UID_SPAN = 1 << 20


# The interpreter's -c program: skip a marker line, then exec the harness source that
# follows as one JSON string; the harness reads the rest of stdin itself.
_BOOT = (
    "import sys; exec(compile(sys.stdin.readline() and "
    "__import__('json').loads(sys.stdin.readline()), '<harness>', 'exec'))"
)


@dataclass(frozen=True)
class SandboxLimits:
    """Resource limits for one execution."""

    wall_s: float = 10.0  # wall-clock deadline for the whole run, enforced by the parent
    cpu_s: int = 10  # RLIMIT_CPU per process
    memory_mb: int = 1024  # RLIMIT_AS per process
    processes: int = 32  # RLIMIT_NPROC for the run's uid (threads count too)
    file_mb: int = 16  # RLIMIT_FSIZE: largest file the program may write
    tmp_mb: int = 64  # size of the private /tmp
    open_files: int = 256  # RLIMIT_NOFILE
    max_output_bytes: int = 1 << 20  # stdout + stderr; past this the run is killed

    def as_harness_limits(self) -> dict[str, int]:
        return {
            "cpu_s": self.cpu_s,
            "memory_bytes": self.memory_mb << 20,
            "processes": self.processes,
            "file_bytes": self.file_mb << 20,
            "open_files": self.open_files,
        }


@dataclass(frozen=True)
class Execution:
    """What one sandboxed run did. ``stdout``/``stderr`` are clipped to the output cap."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    output_exceeded: bool
    duration_s: float
    sandboxed: bool


@lru_cache(maxsize=1)
def find_bwrap() -> str | None:
    """Path of a working ``bwrap``, or None."""
    path = shutil.which("bwrap")
    if path is None:
        return None
    try:
        probe = subprocess.run(
            [*_bwrap_prefix(path), "--ro-bind", "/", "/", "true"],
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return path if probe.returncode == 0 else None


def _bwrap_prefix(bwrap: str, host_uid: int | None = None) -> list[str]:
    prefix: list[str] = []
    if os.geteuid() == 0:
        uid = host_uid if host_uid is not None else _HOST_UID_BASE
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            raise SandboxUnavailable(
                "running as root but `setpriv` (util-linux) is missing: cannot drop to a "
                "non-root uid for the sandbox"
            )
        prefix = [
            setpriv,
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            "--inh-caps=-all",
        ]
    return [*prefix, bwrap]


def _interpreter(python: str | None) -> str:
    if python:
        return python
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else os.path.realpath(sys.executable)


def _system_mounts() -> list[str]:
    """Read-only /usr plus the top-level links (or dirs) that point into it."""
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = f"/{name}"
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(python: str, host_uid: int | None, limits: SandboxLimits) -> list[str]:
    """The full command line for one sandboxed ``python`` reading its program on stdin."""
    bwrap = find_bwrap()
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (`bwrap`) is not installed or cannot create namespaces here; "
            "install the Debian package `bubblewrap`, or pass unsafe_no_sandbox=True to "
            "run model code WITHOUT isolation"
        )
    mounts = _system_mounts()
    prefix_dir = os.path.dirname(os.path.dirname(python))
    if not python.startswith("/usr/"):
        mounts += ["--ro-bind", prefix_dir, prefix_dir]
    return [
        *_bwrap_prefix(bwrap, host_uid),
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--uid", str(SANDBOX_UID),
        "--gid", str(SANDBOX_UID),
        "--die-with-parent",
        "--as-pid-1",
        "--new-session",
        "--clearenv",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "LANG", "C.UTF-8",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        "--hostname", "sandbox",
        *mounts,
        "--proc", "/proc",
        "--dev", "/dev",
        "--size", str(limits.tmp_mb << 20),
        "--tmpfs", "/tmp",
        "--chdir", "/tmp",
        python, "-I", "-c", _BOOT,
    ]  # fmt: skip


def run_python(
    harness_source: str,
    payload: bytes,
    limits: SandboxLimits,
    *,
    unsafe_no_sandbox: bool = False,
    python: str | None = None,
) -> Execution:
    """Run ``harness_source`` under ``python`` with ``payload`` after it on stdin.

    The interpreter first reads two lines from stdin: a marker line and the harness
    source as a JSON string; the harness itself then reads the rest (``payload``).
    Nothing is written to the host file system.
    """
    import json

    interpreter = _interpreter(python)
    stdin = b"harness\n" + json.dumps(harness_source).encode() + b"\n" + payload
    if unsafe_no_sandbox:
        command = [interpreter, "-I", "-c", _BOOT]
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"}
        return _run_bounded(command, stdin, limits, env=env, sandboxed=False)
    host_uid = _HOST_UID_BASE + secrets.randbelow(_HOST_UID_SPAN)
    command = bwrap_command(interpreter, host_uid, limits)
    return _run_bounded(command, stdin, limits, env={}, sandboxed=True)


def _run_bounded(
    command: list[str], stdin: bytes, limits: SandboxLimits, *, env: dict[str, str], sandboxed: bool
) -> Execution:
    """Run ``command`` with a wall deadline and an output cap; kill its whole group."""
    start = time.monotonic()
    deadline = start + limits.wall_s
    proc = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd="/",
        start_new_session=True,
        close_fds=True,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    total = 0
    timed_out = output_exceeded = False
    selector = selectors.DefaultSelector()
    try:
        os.set_blocking(proc.stdin.fileno(), False)
        to_write = memoryview(stdin)
        selector.register(proc.stdin, selectors.EVENT_WRITE)
        for stream in (proc.stdout, proc.stderr):
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ)
        open_readers = 2
        while open_readers:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, events in selector.select(timeout=min(remaining, 0.5)):
                if events & selectors.EVENT_WRITE:
                    try:
                        written = os.write(key.fd, to_write[:65536])
                        to_write = to_write[written:]
                    except (BrokenPipeError, OSError):
                        to_write = to_write[:0]
                    if not to_write:
                        selector.unregister(key.fileobj)
                        proc.stdin.close()
                    continue
                try:
                    data = os.read(key.fd, 65536)
                except BlockingIOError:
                    continue
                if not data:
                    selector.unregister(key.fileobj)
                    open_readers -= 1
                    continue
                keep = max(0, limits.max_output_bytes - total)
                chunks[key.fd].append(data[:keep])
                total += len(data)
                if total > limits.max_output_bytes:
                    output_exceeded = True
                    break
            if output_exceeded:
                break
            if proc.poll() is not None and not _has_data(selector):
                # the sandbox ended; anything still holding the pipes is being torn down
                break
        if not (timed_out or output_exceeded):
            try:
                proc.wait(timeout=max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        selector.close()
        _kill_group(proc)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
    duration = time.monotonic() - start
    return Execution(
        exit_code=proc.returncode if not (timed_out or output_exceeded) else None,
        stdout=b"".join(chunks[out_fd]),
        stderr=b"".join(chunks[err_fd]),
        timed_out=timed_out,
        output_exceeded=output_exceeded,
        duration_s=duration,
        sandboxed=sandboxed,
    )


def _has_data(selector: selectors.BaseSelector) -> bool:
    return bool([k for k, ev in selector.select(timeout=0) if ev & selectors.EVENT_READ])


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the run's process group and reap it (a no-op for a finished run)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - the kernel reaps it eventually
        pass
