"""Recipes: defaults are the measured demo config, shipped recipes stay valid, errors point at lines."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from selftaught.errors import ConfigError
from selftaught.hardware import Placement
from selftaught.loops.defaults import DemoConfig
from selftaught.recipe import Recipe, load_recipe, recipe_from_dict, write_recipe

RECIPES = sorted(p for p in (Path(__file__).parents[1] / "recipes").glob("*.yaml") if not p.name.startswith("cai-"))
CAI_RECIPES = sorted((Path(__file__).parents[1] / "recipes").glob("cai-*.yaml"))


def test_defaults_are_the_demo_config(no_cuda):
    cpu, demo, recipe = Placement(), DemoConfig(), Recipe()  # the demo's settings, on the CPU in float32
    assert {k: getattr(recipe, k) for k in DemoConfig.model_fields} == dict(demo)
    assert recipe.placement() == demo.placement() == cpu
    assert recipe.sft_settings(seed=0) == demo.sft_settings(seed=0) == demo.train.replace(placement=cpu)
    assert recipe.cold_start_sft() == demo.cold_start_sft() and recipe.cold_start_sft().placement == cpu


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipes_load(path, request, tmp_path):
    data = yaml.safe_load(path.read_text())
    init = (data.get("policy") or {}).get("init", "tiny")
    if init != "tiny" and not (path.parent / init).is_dir():
        # a recipe for a real model: a fresh clone has no model folder yet; without one the
        # error says how to build it, and with one (built offline) the recipe loads
        with pytest.raises(ConfigError, match="selftaught model smollm2"):
            load_recipe(path)
        target = path.parent / init
        copy = tmp_path / path.name
        copy.write_text(path.read_text().replace(f"init: {init}", f"init: {request.getfixturevalue('smollm2_dir')}"))
        for d in path.parent.iterdir():  # the recipe's relative data paths
            if d.is_dir():
                (tmp_path / d.name).symlink_to(d)
        assert not target.is_dir()
        path = copy
    recipe = load_recipe(path)
    assert len(recipe.methods()) == recipe.rounds and recipe.sft_settings(seed=0).steps == recipe.train.steps


@pytest.mark.parametrize("path", CAI_RECIPES, ids=lambda p: p.name)
def test_shipped_cai_recipes_load(path):
    assert load_recipe(path).rounds >= 1


def test_recipe_fields_reach_the_stage_settings(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("method: rft\nrounds: 5\ngenerate: {k: 4, temperature: 0.7}\ntrain: {lr: 1.0e-4, steps: 7}\n")
    cfg = load_recipe(f)
    assert (cfg.method, cfg.rounds, cfg.generate.k, cfg.generate.sampling.temperature) == ("rft", 5, 4, 0.7)
    sft = cfg.sft_settings(seed=3)
    assert (sft.lr, sft.steps, sft.seed) == (1e-4, 7, 3)


def test_relative_problem_files_resolve_against_the_recipe(tmp_path):
    (tmp_path / "data").mkdir()
    for name in ("train", "heldout"):
        (tmp_path / "data" / f"{name}.jsonl").write_text('{"id": "a", "prompt": "Q: 1+1=? A:", "answer": "2"}\n')
    f = tmp_path / "r.yaml"
    f.write_text("task:\n  kind: file\n  train: data/train.jsonl\n  heldout: data/heldout.jsonl\n")
    recipe = load_recipe(f)
    assert recipe.task.train == tmp_path / "data" / "train.jsonl"


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("generate:\n  k: 0\n", 2, "greater than or equal to 1"),  # a bound, on the nested line
        ("task:\n  kind: file\n", 1, "needs both"),  # a cross-field rule points at its mapping
        ("policy:\n  init: /no/such/checkpoint\n", 2, "not 'tiny'"),  # a path that is not there
        ("- a\n- b\n", 1, "top level must be a mapping"),
        ("", 1, "empty"),
        # processes share the batch: they must divide it, and the micro-batch their share
        ("train:\n  batch_size: 8\n  processes: 3\n", 3, "3 processes must divide batch_size (8)"),
        ("train:\n  batch_size: 8\n  micro_batch_size: 8\n  processes: 2\n", 4, "per-process batch (8 / 2 = 4)"),
        ("dpo:\n  batch_size: 6\n  processes: 4\n", 3, "4 processes must divide batch_size (6)"),
    ],
)
def test_errors_name_the_line(tmp_path, text, line, reason):
    f = tmp_path / "r.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_recipe(f)
    assert e.value.line == line and reason in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def test_processes_reach_the_train_settings(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("train: {batch_size: 8, micro_batch_size: 2, processes: 2}\ndpo: {batch_size: 8, processes: 4}\n")
    recipe = load_recipe(f)
    sft, dpo = recipe.sft_settings(seed=0), recipe.dpo_settings(seed=0)
    assert (sft.processes, sft.accumulation) == (2, (2, 2))  # 8 rows = 2 processes x 2 passes x 2 rows
    assert (dpo.processes, dpo.accumulation) == (4, (2, 1))
    assert recipe.cold_start_sft().processes == 1  # the cold start trains in-process


@pytest.mark.parametrize("name", ["arithmetic-star.yaml", "arithmetic-rft.yaml"])
def test_arithmetic_recipes_spell_out_the_demo_defaults(name):
    """These files document the defaults; they must not drift from DemoConfig."""
    recipe = load_recipe(Path(__file__).parents[1] / "recipes" / name)
    demo = Recipe(name=recipe.name, method=recipe.method)
    assert {k: getattr(recipe, k) for k in DemoConfig.model_fields} == {k: getattr(demo, k) for k in DemoConfig.model_fields}


# ----------------------------------------------------------------- device and dtype


@pytest.mark.parametrize("text, line, reason", [
    ("seed: 1\ndevice: cuda\n", 2, "torch sees no CUDA GPU"),
    ("device: cpu\ndtype: float16\n", 2, "float16 needs a CUDA device"),
    ("dtype: float16\n", 1, "float16 needs a CUDA device"),  # auto found no GPU
    ("device: gpu\n", 1, "'auto', 'cpu' or 'cuda'"),
])  # fmt: skip
def test_what_the_machine_lacks_fails_at_load_in_one_line(no_cuda, tmp_path, text, line, reason):
    f = tmp_path / "r.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_recipe(f)
    assert e.value.line == line and reason in str(e.value), str(e.value)
    assert str(e.value).startswith(f"{f}:{line}: ") and "\n" not in str(e.value)


def test_bf16_on_a_gpu_without_it_fails_at_load(fake_cuda, tmp_path):
    fake_cuda.bf16 = False
    f = tmp_path / "r.yaml"
    f.write_text("device: cuda\ndtype: bfloat16\n")
    with pytest.raises(ConfigError, match=r"r.yaml:2: .*does not support it"):
        load_recipe(f)
    f.write_text("device: cuda\n")
    assert load_recipe(f).placement() == Placement("cuda", "float16")


def test_the_placement_reaches_every_stage_setting(fake_cuda):
    from selftaught.loops.methods import Method

    r = recipe_from_dict({})  # device and dtype auto, on a GPU with bf16
    gpu = Placement("cuda", "bfloat16")
    assert r.placement() == r.sft_settings(seed=0).placement == r.cold_start_sft().placement == gpu
    assert r.rl_settings(Method.GRPO, seed=0).placement == r.dpo_settings(seed=0).placement == gpu
    cpu = recipe_from_dict({"device": "cpu"})
    assert cpu.sft_settings(seed=0).placement == cpu.rl_settings(Method.RLOO, seed=0).placement == Placement()


def test_a_run_stored_with_cuda_fails_to_resume_without_one(no_cuda):
    with pytest.raises(ConfigError, match="torch sees no CUDA GPU"):
        recipe_from_dict({"device": "cuda"})


@pytest.mark.parametrize("recipe", [
    Recipe(name="demo-star", method="star", rounds=3, seed=0),  # what `selftaught demo` writes
    Recipe(name="demo-rft", method="rft", rounds=1, seed=7),
    recipe_from_dict({"name": "x", "method": "dpo", "train": {"steps": 3}, "dpo": {"beta": 0.2}}),
])  # fmt: skip
def test_a_written_recipe_reads_back_the_same(tmp_path, recipe):
    path = write_recipe(recipe, tmp_path / "runs" / "r" / "recipe.yaml")
    assert load_recipe(path).model_dump(mode="json") == recipe.model_dump(mode="json")


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("method: rft\nrounds: 2\njudge: vibes\n", 3, "judge: unknown verifier 'vibes'; valid: arithmetic, math"),
        ("method: grpo\nreward:\n  arithmetic: 1.0\n  nonsense: 2\n", 2, "reward: unknown verifier 'nonsense'"),
        ("reward: {nonsense: 2}\n", 1, "reward: unknown verifier 'nonsense'"),
        ("task:\n  kind: file\n  train: t.jsonl\n  heldout: t.jsonl\njudge: code\n", 5, "reads each problem's 'tests'"),
    ],
)
def test_unknown_judges_and_rewards_fail_at_load_with_file_and_line(tmp_path, text, line, message):
    """The registry (judges.registry.VERIFIERS) decides which names exist, each class what it
    reads; a recipe naming another fails when it is read, before a run exists."""
    (tmp_path / "t.jsonl").write_text('{"id": "a", "prompt": "Q: 1+1=? A:", "answer": "2"}\n')
    f = tmp_path / "r.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_recipe(f)
    assert (e.value.file, e.value.line) == (str(f), line), str(e.value)
    assert str(e.value).startswith(f"{f}:{line}: ") and message in str(e.value), str(e.value)
    assert "\n" not in str(e.value)
