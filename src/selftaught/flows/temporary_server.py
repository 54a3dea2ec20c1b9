"""Prefect's temporary server, started by this process and tied to its life.

With no ``PREFECT_API_URL``, Prefect 3 starts a temporary API server (uvicorn, ~200 MB RSS)
the first time a client needs one (``prefect.server.api.server.SubprocessASGIServer``: a
child process, stopped by an ``atexit`` hook). As Prefect starts it, two things go wrong
(Prefect 3.9.1; figures in docs/measurements.md, "Signals"):

- it shares the run's process group, so Ctrl-C in a terminal, or the SIGTERM of
  ``timeout 120 selftaught run ...``, reaches it at the same moment as the run: the server
  stopped at once, and the run then spent ~145 s retrying to report its crash to a dead
  server, printing some 230 lines of ``httpx.ConnectError`` tracebacks;
- a ``kill -9`` of the run leaves it running, an orphan.

``start_linked_server()`` starts it instead, before the first flow and from the main thread,
the way Prefect would (the same command and environment, Prefect's own port choice, health
wait and ``atexit`` stop) with two differences:

- a session of its own: no signal meant for the run's process group reaches it, so it is
  up while the run reports how its flows ended, and stops when the run exits;
- a death signal (``selftaught.lifeline``): the kernel kills it the moment the run dies,
  however it died (``kill -9`` included). So it dies with the run; no later start has to
  reap anything. (Linux only: elsewhere ``kill -9`` still leaves it behind.)

Prefect's code asks ``SubprocessASGIServer()`` for the temporary server; the instance is
registered where that call finds it (as Prefect's own test harness does), so every client
in the process uses this one. With ``PREFECT_API_URL`` set (a real server; a scheduled run
executed by a worker), or a temporary server already running in this process, nothing
happens. ``prefect_server_command`` is the one piece of Prefect copied here: a test checks
it against the command Prefect itself would run, so an upgrade that changes it fails there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from prefect.server.api.server import SubprocessASGIServer

from selftaught.lifeline import linked


def prefect_server_command(port: int) -> tuple[list[str], dict[str, str]]:
    """(command, environment) of Prefect's temporary server on ``port``, as Prefect 3.9 builds them."""
    import prefect
    from prefect.settings import get_current_settings

    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", str(prefect.__module_path__.parent),
        "--factory", "prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(port),
        "--log-level", "error", "--lifespan", "on",
    ]  # fmt: skip
    env = {
        **os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1",
        **get_current_settings().to_environment_variables(exclude_unset=True),
    }  # fmt: skip
    return command, env


class LinkedServer(SubprocessASGIServer):
    """Prefect's temporary server in a session of its own, dying with this process."""

    def _run_uvicorn_command(self) -> subprocess.Popen[Any]:
        assert self.port is not None
        command, env = prefect_server_command(self.port)
        return subprocess.Popen(linked(command), env=env, start_new_session=True)


def start_linked_server() -> SubprocessASGIServer | None:
    """Start the temporary server this process's flows will use; the running one if there is
    one already; None when Prefect is configured to talk to a real server."""
    from prefect.settings import PREFECT_API_URL

    from selftaught.progress import step

    if PREFECT_API_URL.value():
        return None
    current = SubprocessASGIServer._instances.get(None)
    if current is not None and current.running:
        return current
    SubprocessASGIServer._instances.pop(None, None)  # a stopped one: replaced
    server = LinkedServer()  # registered under the key SubprocessASGIServer() looks up
    with step("starting Prefect's temporary server"):  # 5-60 s: a newcomer sees what the wait is
        server.start()
    return server
