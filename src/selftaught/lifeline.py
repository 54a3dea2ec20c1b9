"""Child processes that die with the process that started them.

A ``kill -9`` of ``selftaught run`` gives its process no chance to stop what it started;
without help, Prefect's temporary server (uvicorn, ~200 MB), math-verify workers and
training launchers would keep running as orphans. Linux's ``PR_SET_PDEATHSIG`` asks the
kernel to send a signal to a process the moment its parent dies, however it died.

Two ways to use it:

- ``die_with_parent()``, called by a child we wrote ourselves (the math worker, the DDP
  train worker) as its first act;
- ``linked(command)``, a command line to start any program (uvicorn, ``accelerate
  launch``) through ``python -I .../selftaught/lifeline.py PARENT_PID PROGRAM ARGS...``:
  it sets the death signal, checks that ``PARENT_PID`` is still its parent (a parent that
  died before the signal was set would be missed), then ``exec``s the program in its place
  (same pid; the death signal survives ``exec``). Run as a file in isolated mode, it needs
  no ``PYTHONPATH`` and imports nothing but the standard library (~20 ms).

The signal goes to the one process; a program with children of its own must do the same
for them (torchrun's workers call ``die_with_parent``). Not Linux: nothing is set, and
children end the old ways (EOF on stdin, their parent's clean shutdown).
"""

from __future__ import annotations

import os
import signal
import sys


def die_with_parent(sig: int = signal.SIGKILL) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent dies; False if it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def linked(command: list[str], parent: int | None = None) -> list[str]:
    """``command`` wrapped so that it dies with ``parent`` (default: this process)."""
    return [sys.executable, "-I", os.path.abspath(__file__), str(parent or os.getpid()), *command]


def main(argv: list[str]) -> int:
    """``PARENT_PID PROGRAM ARGS...``: set the death signal, then become PROGRAM."""
    parent, command = int(argv[0]), argv[1:]
    die_with_parent()
    if os.getppid() != parent:  # the parent died before the death signal was set
        return 1
    os.execvp(command[0], command)
    return 1  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
