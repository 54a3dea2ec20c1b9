"""``selftaught prm label --backend vllm``: the Monte-Carlo rollouts of step labelling go
through the vLLM sampler (a fake engine here, ``tests/vllm_fake.py``), which is released when
labelling ends; where vLLM cannot run, the command says so in one line before any work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.prm.stored import label_round
from selftaught.store import Store
from tests.prm.conftest import RUN, _fill
from tests.vllm_fake import install_fake_vllm


@pytest.fixture
def sqlite_store(tmp_path):
    yield from _fill(Store(f"sqlite:///{tmp_path / 'prm.db'}"))


def test_rollouts_go_through_the_engine_which_is_released(sqlite_store, micro_policy, monkeypatch):
    fake = install_fake_vllm(monkeypatch)
    new, stats = label_round(sqlite_store, RUN, 1, rollouts=3, max_new_tokens=8, checkpoint=micro_policy,
                             backend="vllm", seed=4)  # fmt: skip
    (engine,) = fake.engines
    assert stats.samples == 8 and new == stats.steps == len(sqlite_store.get_step_labels(RUN, 1))
    requests = [r for _, reqs in engine.calls for r in reqs]
    assert len(requests) == stats.prefixes_rolled_out and {r.n for r in requests} == {3}
    assert (engine.shut_down, fake.freed) == (1, 1)


def test_the_command_refuses_vllm_here_in_one_line(sqlite_store, micro_policy, tmp_path):
    import importlib.util

    if importlib.util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    db = f"sqlite:///{tmp_path / 'prm.db'}"  # the file sqlite_store filled
    result = subprocess.run(
        [str(Path(sys.executable).parent / "selftaught"), "prm", "label", RUN, "--round", "1", "--checkpoint",
         micro_policy, "--backend", "vllm", "--db", db],
        check=False, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 1 and "--backend vllm needs the `vllm` package" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line, no traceback
    assert sqlite_store.get_step_labels(RUN, 1) == []
