"""Models load where the placement says: sampling in its dtype on its device, training from
float32 master weights; on the CPU everything stays float32."""

from __future__ import annotations

import pytest
import torch

from selftaught.hardware import Placement
from selftaught.loops.policy import load_for_training, load_policy
from selftaught.records import SamplingParams


def _params(model) -> tuple[set, set]:
    return {p.dtype for p in model.parameters()}, {p.device.type for p in model.parameters()}


def test_a_policy_loads_on_the_cpu_in_float32(no_cuda, micro_policy_path):
    for placement in (Placement(), None):  # None: decided here, and there is no GPU
        policy = load_policy(micro_policy_path, threads=1, placement=placement)
        assert _params(policy.model) == ({torch.float32}, {"cpu"})


@pytest.fixture
def bf16_checkpoint(micro_policy_path, tmp_path) -> str:
    """The micro policy saved in bfloat16 (how Qwen2.5 and Llama-3.2 ship)."""
    policy = load_policy(micro_policy_path, threads=1, placement=Placement())
    policy.model.to(torch.bfloat16).save_pretrained(tmp_path / "bf16")
    policy.tokenizer.save_pretrained(tmp_path / "bf16")
    return str(tmp_path / "bf16")


def test_the_placement_dtype_wins_over_the_saved_one(bf16_checkpoint):
    assert _params(load_policy(bf16_checkpoint, threads=1, placement=Placement()).model)[0] == {torch.float32}
    half = load_policy(bf16_checkpoint, threads=1, placement=Placement("cpu", "bfloat16"))
    assert _params(half.model) == ({torch.bfloat16}, {"cpu"})
    out = half.complete(["Q: 1+2=? A:"], n=2, params=SamplingParams(max_new_tokens=4), seed=0)
    assert len(out[0]) == 2  # it samples in the placement's dtype


def test_training_starts_from_float32_master_weights_on_the_cpu(bf16_checkpoint):
    # the trainer moves the model to the device (use_cpu) and computes in mixed precision
    model, _ = load_for_training(bf16_checkpoint, placement=Placement("cuda", "bfloat16"))
    assert _params(model) == ({torch.float32}, {"cpu"})
