"""TRL configs are built in one function each, with the CPU settings and our fields."""

from __future__ import annotations


import pytest

from selftaught.loops.dpo import DPOSettings, build_dpo_config
from selftaught.loops.lora import LoRASettings, build_lora_config
from selftaught.loops.methods import FAMILY, Family, Method
from selftaught.loops.rl import TRAINERS, RLSettings, build_grpo_config, build_rloo_config
from selftaught.recipe import recipe_from_dict


@pytest.mark.parametrize("build", [build_grpo_config, build_rloo_config], ids=["grpo", "rloo"])
def test_rl_config(build, tmp_path):
    cfg = RLSettings(lr=1e-5, steps=7, prompts_per_step=3, num_generations=4, beta=0.02, epsilon=0.3)
    c = build(cfg, str(tmp_path))
    assert (c.learning_rate, c.max_steps, c.num_generations, c.beta, c.epsilon) == (1e-5, 7, 4, 0.02, 0.3)
    assert c.per_device_train_batch_size == 12  # TRL counts completions: prompts x G
    assert (c.bf16, c.use_cpu, c.gradient_checkpointing, c.use_vllm) == (False, True, False, False)
    assert c.report_to in ([], "none", ["none"])


def test_reward_scaling_reaches_trl(tmp_path):
    # GRPO: TRL's scale_rewards as given; RLOO: "batch" is normalize_advantages, "group" has no meaning
    assert build_grpo_config(RLSettings(scale_rewards="batch"), str(tmp_path)).scale_rewards == "batch"
    assert build_grpo_config(RLSettings(), str(tmp_path)).scale_rewards == "none"  # the measured default
    assert build_rloo_config(RLSettings(scale_rewards="batch"), str(tmp_path)).normalize_advantages is True
    assert build_rloo_config(RLSettings(), str(tmp_path)).normalize_advantages is False
    with pytest.raises(ValueError, match="no per-group"):
        build_rloo_config(RLSettings(scale_rewards="group"), str(tmp_path))


def test_rloo_recipe_rejects_group_scaling(tmp_path):
    from selftaught.errors import ConfigError
    from selftaught.recipe import load_recipe

    f = tmp_path / "r.yaml"
    f.write_text("method: rloo\nrloo:\n  scale_rewards: group\n")
    with pytest.raises(ConfigError, match=r"r.yaml:3"):
        load_recipe(f)


def test_vllm_backend_sets_trl_use_vllm(tmp_path):
    c = build_grpo_config(RLSettings(backend="vllm"), str(tmp_path))
    assert c.use_vllm and c.vllm_mode == "colocate"


def test_dpo_config_keeps_the_sft_term(tmp_path):
    c = build_dpo_config(DPOSettings(), str(tmp_path))
    assert list(c.loss_type) == ["sigmoid", "sft"] and c.learning_rate == 5e-4 and c.beta == 0.1
    assert (c.bf16, c.use_cpu, c.gradient_checkpointing) == (False, True, False)


def test_lora_config():
    assert build_lora_config(None) is None
    c = build_lora_config(LoRASettings(r=4, alpha=8))
    assert (c.r, c.lora_alpha, c.target_modules) == (4, 8, "all-linear")


def test_every_algorithm_has_a_trainer_and_every_method_a_family():
    assert set(TRAINERS) == {m for m in Method if FAMILY[m] is Family.ONLINE_RL}
    assert set(FAMILY) == set(Method)


def test_recipe_sections_reach_the_settings():
    r = recipe_from_dict(
        {"method": "rloo", "rloo": {"lr": 1e-5, "steps": 3}, "lora": {"r": 4}, "backend": "hf", "seed": 5}
    )
    s = r.rl_settings(r.method_for_round(1), seed=11)
    assert (s.lr, s.steps, s.beta, s.seed, s.lora.r) == (1e-5, 3, 0.05, 11, 4)
    g = recipe_from_dict({"grpo": {"beta": 0.0, "scale_rewards": "group"}}).rl_settings(Method.GRPO, seed=0)
    assert (g.beta, g.scale_rewards) == (0.0, "group")
    d = recipe_from_dict({"method": "dpo", "dpo": {"loss_types": ["sigmoid"]}}).dpo_settings(seed=1)
    assert d.loss_types == ("sigmoid",) and d.lora is None


def test_stages_set_the_rounds_and_the_method_of_each():
    r = recipe_from_dict({"stages": ["grpo", "rft", "grpo", "dpo"]})
    assert r.rounds == 4 and [r.method_for_round(i).value for i in range(1, 5)] == ["grpo", "rft", "grpo", "dpo"]
    assert len(r.methods()) == 4


@pytest.mark.parametrize("build", [build_grpo_config, build_rloo_config], ids=["grpo", "rloo"])
def test_rl_micro_batches_split_one_generation_per_step(build, tmp_path):
    # 4 prompts x 8 completions = 32 per optimizer step, in passes of 8: one generation batch
    # of 32 per step (steps_per_generation == gradient_accumulation_steps), 4 passes
    c = build(RLSettings(prompts_per_step=4, num_generations=8, micro_batch_size=8), str(tmp_path))
    assert (c.per_device_train_batch_size, c.gradient_accumulation_steps, c.steps_per_generation) == (8, 4, 4)
    assert c.generation_batch_size == 32


def test_dpo_micro_batches(tmp_path):
    c = build_dpo_config(DPOSettings(batch_size=8, micro_batch_size=2, max_length=300), str(tmp_path))
    assert (c.per_device_train_batch_size, c.gradient_accumulation_steps, c.max_length) == (2, 4, 300)
