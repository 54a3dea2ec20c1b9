"""``backend: vllm`` (GRPO/RLOO through TRL) and ``generate.backend: vllm`` (the vLLM sampler)
fail at load, in one line with file:line, where vLLM cannot run: no ``vllm`` package, or no
CUDA GPU. Before the check existed a GRPO recipe with ``backend: vllm`` failed inside TRL."""

from __future__ import annotations

import importlib.util

import pytest

from selftaught.errors import ConfigError
from selftaught.loops import vllm_sampler
from selftaught.recipe import load_recipe

GENERATE = "name: v\nmethod: rft\ngenerate:\n  k: 4\n  backend: vllm\n"  # backend on line 5
RL = "name: v\nmethod: grpo\nbackend: vllm\n"  # line 3


@pytest.fixture
def no_gpu(monkeypatch):
    """vllm importable, torch sees no CUDA device (this machine's case once the extra is in)."""
    import torch

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "vllm" else real(name, *a))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def no_package(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))


@pytest.mark.parametrize(
    "text, line, key",
    [(GENERATE, 5, "generate.backend"), (RL, 3, "backend")],
    ids=["generate.backend", "backend (grpo/rloo)"],
)
@pytest.mark.parametrize("missing, reason", [("no_package", "pip install 'selftaught[vllm]'"), ("no_gpu", "CUDA GPU")])
def test_vllm_where_it_cannot_run_is_one_line_with_the_line(tmp_path, request, text, line, key, missing, reason):
    request.getfixturevalue(missing)
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_recipe(path)
    message = str(err.value)
    assert message.startswith(f"{path}:{line}: {key}: vllm needs") and reason in message
    assert "\n" not in message and err.value.line == line


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_on_this_machine_the_real_check_refuses_vllm(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(GENERATE)
    with pytest.raises(ConfigError, match=r"r\.yaml:5: generate\.backend: vllm needs"):
        load_recipe(path)


def test_where_vllm_can_run_the_recipe_loads_with_its_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(vllm_sampler, "vllm_unavailable", lambda: None)
    path = tmp_path / "r.yaml"
    path.write_text(GENERATE + "  gpu_memory_utilization: 0.3\n")
    recipe = load_recipe(path)
    assert (recipe.generate.backend, recipe.generate.gpu_memory_utilization, recipe.backend) == ("vllm", 0.3, "hf")


def test_the_default_backend_is_hf_and_never_asks_about_vllm(tmp_path, monkeypatch):
    def refuse():
        raise AssertionError("the vllm check ran for an hf recipe")

    monkeypatch.setattr(vllm_sampler, "vllm_unavailable", refuse)
    path = tmp_path / "r.yaml"
    path.write_text("name: v\nmethod: rft\n")
    recipe = load_recipe(path)
    assert (recipe.generate.backend, recipe.backend) == ("hf", "hf")


def test_gpu_memory_utilization_is_a_share(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: v\ngenerate:\n  gpu_memory_utilization: 1.5\n")
    with pytest.raises(ConfigError, match=r"r\.yaml:3: generate\.gpu_memory_utilization"):
        load_recipe(path)


def test_vllm_with_device_cpu_is_refused_even_where_vllm_could_run(tmp_path, monkeypatch):
    monkeypatch.setattr(vllm_sampler, "vllm_unavailable", lambda: None)
    path = tmp_path / "r.yaml"
    path.write_text("device: cpu\n" + GENERATE)
    with pytest.raises(ConfigError) as err:
        load_recipe(path)
    assert str(err.value) == f"{path}:6: generate.backend: vllm needs a CUDA GPU, and the recipe says device: cpu"
