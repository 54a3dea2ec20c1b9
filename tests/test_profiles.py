"""Model profiles: what a model folder is decides the defaults a recipe does not set; the
user's values always win; what does not fit is one line, before any work."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.errors import ConfigError
from selftaught.profiles import INSTRUCT, inspect_model, resolve
from selftaught.recipe import Recipe, load_recipe, recipe_from_dict

BIN = Path(sys.executable).parent
DATA = Path(__file__).parents[1] / "recipes" / "data" / "word-problems"


def _model_folder(root: Path, *, vocab: int, template: bool, marker: str | None = None) -> Path:
    """A folder that looks like a saved model to ``inspect_model`` (it reads only small files)."""
    root.mkdir(parents=True)
    config = {"model_type": "llama", "vocab_size": vocab, "dtype": "bfloat16"}
    if marker:
        config["selftaught_profile"] = marker
    (root / "config.json").write_text(json.dumps(config))
    (root / "tokenizer_config.json").write_text("{}")
    if template:
        (root / "chat_template.jinja").write_text("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    return root


@pytest.mark.parametrize(
    "vocab, template, marker, profile",
    [
        (42, False, None, "tiny"),  # the embedded character model (or a checkpoint of it)
        (49152, True, None, "instruct"),  # SmolLM2, Qwen2.5-Instruct, Llama-3.2-Instruct
        (49152, False, None, "base"),  # a base model: no template
        (42, True, None, "instruct"),  # a template decides, whatever the vocabulary
        (49152, False, "tiny", "tiny"),  # an explicit marker in config.json wins
    ],
)
def test_what_a_folder_is(tmp_path, vocab, template, marker, profile):
    facts = inspect_model(_model_folder(tmp_path / "m", vocab=vocab, template=template, marker=marker))
    assert facts.profile == profile and facts.dtype == "bfloat16"


def test_instruct_defaults_fill_what_the_recipe_leaves_out(tmp_path):
    model = _model_folder(tmp_path / "m", vocab=49152, template=True)
    data = resolve({"judge": "math", "policy": {"init": str(model)}, "train": {"lr": 3e-5}})
    assert data["profile"] == "instruct"
    assert data["train"]["lr"] == 3e-5  # the user's value wins
    assert data["train"]["max_length"] == INSTRUCT["train"]["max_length"]
    assert data["generate"]["max_new_tokens"] == INSTRUCT["generate"]["max_new_tokens"]
    assert data["prompt"] == {"format": "chat", "answer_format": "boxed", "strict": True,
                              "instruction": "Please reason step by step, and put your final answer within \\boxed{}."}
    assert data["reward"] == {"math": 1.0}  # no <think> format reward for a chat model
    assert resolve(data) == data  # idempotent: a stored recipe resolves to itself


def test_tiny_defaults_are_todays():
    r = Recipe()
    assert (r.profile, r.prompt.format, r.prompt.answer_format, r.prompt.strict) == ("tiny", "raw", "think", False)
    assert r.reward == {"arithmetic": 1.0, "format": 0.2}
    assert Recipe(judge="math").reward == {"math": 1.0, "format": 0.2}


def test_a_resolved_recipe_round_trips(tmp_path):
    model = _model_folder(tmp_path / "m", vocab=49152, template=True)
    f = tmp_path / "r.yaml"
    f.write_text(f"judge: math\npolicy: {{init: {model}}}\ntask: {{kind: file, train: {DATA}/train.jsonl, "
                 f"heldout: {DATA}/heldout.jsonl}}\nprompt: {{system: Be brief.}}\n")  # fmt: skip
    recipe = load_recipe(f)
    assert recipe.prompt.system == "Be brief." and recipe.prompt.format == "chat"
    assert recipe_from_dict(recipe.model_dump(mode="json")) == recipe


def _error(tmp_path: Path, text: str) -> str:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_recipe(f)
    return str(e.value)


@pytest.mark.parametrize(
    "text, line, reason",
    [
        # the default reward names the tiny task's judge; with judge: math it must say math
        ("judge: math\nreward: {arithmetic: 1.0}\n", 2, "'arithmetic' judges correctness, but the recipe's judge is 'math'"),
        ("judge: vibes\n", 1, "unknown verifier 'vibes'"),
        ("judge: format\n", 1, "can be a reward, not the judge"),
        ("reward: {nonsense: 2}\n", 1, "unknown verifier 'nonsense'"),
        ("prompt: {format: chat}\n", 1, "the tiny model has no chat template"),
        ("prompt: {answer_format: free}\nreward: {arithmetic: 1, format: 0.2}\n", 2, "answer_format is free"),
        ("prompt: {hint: no answer here}\n", 1, "must contain {answer}"),
        ("train: {batch_size: 8, micro_batch_size: 3}\n", 1, "must divide"),
    ],
)
def test_what_does_not_fit_is_one_line(tmp_path, text, line, reason):
    message = _error(tmp_path, text)
    assert f"bad.yaml:{line}:" in message and reason in message


def test_a_chat_recipe_whose_tokenizer_has_no_template(tmp_path):
    model = _model_folder(tmp_path / "m", vocab=49152, template=False)
    assert "has no chat template" in _error(tmp_path, f"policy: {{init: {model}}}\nprompt: {{format: chat}}\n")


def test_a_folder_without_config(tmp_path):
    (tmp_path / "empty").mkdir()
    message = _error(tmp_path, f"policy:\n  init: {tmp_path / 'empty'}\n")
    assert "bad.yaml:2: policy.init: not a saved model (no config.json)" in message


def test_a_hub_name_offline_is_one_line(tmp_path):
    f = tmp_path / "r.yaml"
    f.write_text("policy: {init: Qwen/Qwen2.5-0.5B-Instruct}\n")
    env = {"PATH": str(BIN), "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HOME": str(tmp_path)}
    if "PYTHONPATH" in os.environ:  # a checkout run with PYTHONPATH=src: the CLI must read the same code
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    r = subprocess.run([str(BIN / "selftaught"), "run", str(f)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1, r.stderr  # a runtime error (issue 17)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not be fetched from the Hugging Face hub" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
