"""A few real TRL steps per trainer on the micro policy: checkpoints, rollouts, LoRA reference.

Small on purpose (2 prompts x 2 generations, 8 new tokens, 2 steps): these check the
wiring, not learning. The learning is measured by ``benchmarks/methods_table.py``.
"""

from __future__ import annotations

import pytest

from selftaught.loops.arithmetic import make_problem
from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.loops.dpo import DPOSettings, VerifiedPair, train_dpo
from selftaught.loops.lora import LoRASettings, build_lora_config
from selftaught.loops.rl import RLSettings, build_grpo_config, load_rollouts, train_rl
from selftaught.judges.base import BaseVerifier
from selftaught.records import Outcome, SampleSource, Verdict

PROBLEMS = [make_problem(23, 45, 2), make_problem(27, 45, 2), make_problem(31, 12, 2)]
TINY_RL = RLSettings(lr=1e-4, steps=2, prompts_per_step=2, num_generations=2, max_completion_length=8)


class EvenLength(BaseVerifier):
    """A reward an untrained policy earns about half the time, so groups have variance."""

    name = "even"

    def verify(self, problem, completion):
        ok = len(completion) % 2 == 0
        return Verdict("even", Outcome.PASS if ok else Outcome.FAIL, float(ok))


def _state(path):
    from safetensors.torch import load_file

    return load_file(f"{path}/model.safetensors")


def _changed(a, b) -> bool:
    return any(not (a[k] == b[k]).all() for k in a)


@pytest.mark.parametrize("algorithm", ["grpo", "rloo"])
def test_rl_round_writes_a_checkpoint_with_its_rollouts(algorithm, micro_policy_path, tmp_path):
    result = train_rl(
        algorithm, micro_policy_path, PROBLEMS, str(tmp_path / "ck"), cfg=TINY_RL, verifier=EvenLength(),
        checkpoint_id="r1", parent_id="r0", round_index=1, threads=1,
    )  # fmt: skip
    ck = result.checkpoint
    assert verify_checkpoint(ck.path)["sha256"] == ck.sha256
    assert ck.config["method"] == algorithm and ck.config["n_rollouts"] == len(result.rollouts)
    assert len(result.rollouts) == TINY_RL.steps * TINY_RL.completions_per_step
    assert {j.sample.step for j in result.rollouts} == {0, 1}
    assert all(j.sample.source is SampleSource.ROLLOUT for j in result.rollouts)
    keys = [j.sample.key for j in result.rollouts]
    assert len(set(keys)) == len(keys)  # unique natural keys: the store keeps every one
    assert load_rollouts(ck.path) == list(result.rollouts)
    assert _changed(_state(micro_policy_path), _state(ck.path))


def test_dpo_round_trains_on_pairs(micro_policy_path, tmp_path):
    p = PROBLEMS[0]
    pairs = [VerifiedPair(p.id, p.prompt, p.solution, " <think>3+5=8</think> 61", ("generate", p.id, 0),
                          ("generate", p.id, 1))] * 2  # fmt: skip
    cfg = DPOSettings(steps=2, batch_size=2)
    ck = train_dpo(micro_policy_path, pairs, str(tmp_path / "ck"), cfg=cfg, checkpoint_id="d1",
                   parent_id="r0", round_index=1, threads=1)  # fmt: skip
    assert ck.config["n_pairs"] == 2 and not ck.config["skipped"] and "train_loss" in ck.config
    assert _changed(_state(micro_policy_path), _state(ck.path))
    empty = train_dpo(micro_policy_path, [], str(tmp_path / "e"), cfg=cfg, checkpoint_id="d2",
                      parent_id="r0", round_index=1)  # fmt: skip
    assert empty.config["skipped"] and not _changed(_state(micro_policy_path), _state(empty.path))


def _grpo_trainer(path, tmp_path, *, beta, lora):
    import trl
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    data = Dataset.from_dict({"prompt": [p.prompt for p in PROBLEMS], "problem_id": [p.id for p in PROBLEMS]})
    return trl.GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(path), reward_funcs=[lambda completions, **_: [0.0] * len(completions)],
        args=build_grpo_config(RLSettings(beta=beta, prompts_per_step=2, num_generations=2), str(tmp_path)),
        train_dataset=data, processing_class=AutoTokenizer.from_pretrained(path),
        peft_config=build_lora_config(lora),
    )  # fmt: skip


def test_lora_with_kl_uses_the_adapter_free_base_as_reference(micro_policy_path, tmp_path):
    from accelerate.utils import is_peft_model

    with_lora = _grpo_trainer(micro_policy_path, tmp_path, beta=0.04, lora=LoRASettings(r=4))
    assert is_peft_model(with_lora.model) and with_lora.ref_model is None  # adapters off = reference
    full = _grpo_trainer(micro_policy_path, tmp_path, beta=0.04, lora=None)
    assert full.ref_model is not None  # without LoRA, a second copy


def test_lora_checkpoint_is_merged_and_loads_without_peft(micro_policy_path, tmp_path):
    from transformers import AutoModelForCausalLM

    cfg = RLSettings(**{**TINY_RL.__dict__, "beta": 0.04, "lora": LoRASettings(r=4, alpha=8)})
    result = train_rl("grpo", micro_policy_path, PROBLEMS, str(tmp_path / "ck"), cfg=cfg,
                      verifier=EvenLength(),
                      checkpoint_id="l1", parent_id="r0", round_index=1, threads=1)  # fmt: skip
    state = _state(result.checkpoint.path)
    assert not any("lora" in k for k in state) and set(state) == set(_state(micro_policy_path))
    assert _changed(_state(micro_policy_path), state)
    AutoModelForCausalLM.from_pretrained(result.checkpoint.path)  # a plain HF model
    # one loss per optimizer step, for the report's loss curve (as SFT and DPO record)
    assert len(result.checkpoint.config["loss_curve"]) == cfg.steps


def test_sft_with_lora_saves_a_merged_plain_model(micro_policy_path, tmp_path):
    from selftaught.loops.train import SFTSettings, train_sft
    from selftaught.records import TrainingExample, TrainingSet

    p = PROBLEMS[0]
    ts = TrainingSet("rft", (TrainingExample(p.prompt, p.solution, p.id),))
    ck = train_sft(micro_policy_path, ts, str(tmp_path / "ck"), cfg=SFTSettings(steps=2, batch_size=1),
                   checkpoint_id="s1", parent_id="r0", round_index=1, threads=1, lora=LoRASettings(r=4))  # fmt: skip
    state = _state(ck.path)
    assert ck.config["lora"]["r"] == 4 and set(state) == set(_state(micro_policy_path))
    assert _changed(_state(micro_policy_path), state)
