"""``flows/temporary_server.py``: the server is started with Prefect's own command, through
the lifeline and in a session of its own, and only when no API URL is configured. (That it
survives a signal to the run's group and dies with a killed run: tests/cli/test_interrupts.py.)"""

from __future__ import annotations

import subprocess
from types import SimpleNamespace

from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import PREFECT_API_URL, temporary_settings

from selftaught.flows.temporary_server import LinkedServer, prefect_server_command, start_linked_server
from selftaught.lifeline import linked


def _popen_calls(monkeypatch) -> list[dict]:
    """Every ``subprocess.Popen`` call from now on, as {"command": [...], keyword: value}; none runs."""
    calls: list[dict] = []

    def record(args, **kwargs):
        calls.append({"command": list(args), **kwargs})

    monkeypatch.setattr(subprocess, "Popen", record)
    return calls


def test_the_command_is_the_one_prefect_itself_runs(monkeypatch):
    calls = _popen_calls(monkeypatch)
    SubprocessASGIServer._run_uvicorn_command(SimpleNamespace(port=8123))  # Prefect's own method
    command, env = prefect_server_command(8123)
    assert calls == [{"command": command, "env": env}]


def test_the_linked_server_runs_it_through_the_lifeline_in_its_own_session(monkeypatch):
    calls = _popen_calls(monkeypatch)
    server = object.__new__(LinkedServer)  # not registered, never started
    server.port = 8123
    server._run_uvicorn_command()
    command, env = prefect_server_command(8123)
    assert calls == [{"command": linked(command), "env": env, "start_new_session": True}]


def test_with_an_api_url_nothing_is_started():
    before = dict(SubprocessASGIServer._instances)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert start_linked_server() is None
    assert SubprocessASGIServer._instances == before
