"""LoRA checkpoints that hold only the adapters: a few MB per round instead of the model, and
the same policy as merged checkpoints when loaded (adapters merged onto their base chain)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from selftaught.errors import CheckpointError
from selftaught.loops.arithmetic import make_problems
from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.loops.lora import LoRASettings, is_adapters_only, load_causal_lm, materialized
from selftaught.loops.policy import load_policy
from selftaught.loops.train import SFTSettings, gold_training_set, train_sft
from selftaught.records import Split

SFT = SFTSettings(lr=1e-3, steps=3, batch_size=8, warmup=0)


def _size(path: str) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def _two_rounds(base: str, out: Path, save: str) -> list:
    lora = LoRASettings(r=4, alpha=8, save=save)
    ckpts, parent, parent_id = [], base, None
    for i, seed in ((1, 1), (2, 2)):
        ts = gold_training_set(make_problems(16, Split.TRAIN, seed=seed))
        ckpt = train_sft(parent, ts, str(out / f"round-{i}"), cfg=SFT, checkpoint_id=f"r{i}", parent_id=parent_id,
                         round_index=i, lora=lora)  # fmt: skip
        ckpts.append(ckpt)
        parent, parent_id = ckpt.path, ckpt.id
    return ckpts


@pytest.fixture(scope="module")
def both(micro_policy_path, tmp_path_factory):
    root = tmp_path_factory.mktemp("lora")
    return _two_rounds(micro_policy_path, root / "merged", "merged"), _two_rounds(micro_policy_path, root / "adapters", "adapters")


def test_adapter_checkpoints_are_small_and_name_their_base(both):
    merged, adapters = both
    for m, a in zip(merged, adapters, strict=True):
        assert is_adapters_only(a.path) and not is_adapters_only(m.path)
        assert _size(a.path) < _size(m.path)
        verify_checkpoint(a.path)  # a manifest like any checkpoint
    assert adapters[1].config["adapter_base"] == "r1" and adapters[0].config["adapter_base"] is None


def test_an_adapter_chain_loads_as_the_same_policy(both):
    merged, adapters = both
    for m, a in zip(merged, adapters, strict=True):
        want = load_causal_lm(m.path).state_dict()
        got = load_causal_lm(a.path).state_dict()
        assert want.keys() == got.keys()
        assert all(torch.allclose(want[k], got[k], atol=1e-5) for k in want)
    policy = load_policy(adapters[1].path)  # what generate/evaluate use
    assert policy.model.training is False and policy.tokenizer is not None


def test_materialized_gives_a_full_folder(both):
    _, adapters = both
    with materialized(adapters[1].path) as full:
        assert (Path(full) / "config.json").is_file()
    assert not Path(full).exists()


def test_an_adapter_whose_base_is_gone_is_one_clear_error(both, tmp_path):
    import shutil

    _, adapters = both
    lone = tmp_path / "lone"
    shutil.copytree(adapters[1].path, lone)
    with pytest.raises(CheckpointError, match="base checkpoint .* is not on disk"):
        load_policy(lone)
