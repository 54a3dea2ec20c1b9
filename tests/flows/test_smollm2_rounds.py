"""A real instruct model through real rounds: SmolLM2-135M-Instruct, offline, one RFT round and
one GRPO round through ``selftaught run`` on the shipped word problems, everything in the store.

What it pins: the recipe resolves to the instruct profile (chat template, answer-format
instruction, strict judge); every stored sample's prompt is the chat-rendered text the model
read (system, user turn with the instruction, assistant marker last), while its problem keeps
the user's own prompt; RL rollouts carry the same rendering; verdicts name the strict judge;
each round leaves a verified checkpoint trained as a conversation; held-out accuracy is
recorded before (round 0) and after each round. The sizes are cut to fit the suite (8
prompts, 64-token answers, 4 SFT steps, 2 GRPO steps, 10 held-out problems); the full recipe's
figures are in docs/measurements.md (benchmarks/smollm2_rounds.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from selftaught.judges import get_verifier
from selftaught.loops.checkpoint import verify_checkpoint
from selftaught.records import SampleSource
from selftaught.store import Store
from tests.helpers import cli_env, run_cli

DATA = Path(__file__).parents[2] / "recipes" / "data" / "word-problems"


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_smollm2_rft_then_grpo_through_selftaught_run(tmp_path, smollm2_dir, prefect_server):
    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("".join((DATA / "heldout.jsonl").read_text().splitlines(keepends=True)[:10]))
    recipe = {
        "name": "smollm2-test", "stages": ["rft", "grpo"], "judge": "math", "seed": 0,
        "task": {"kind": "file", "train": str(DATA / "train.jsonl"), "heldout": str(heldout), "prompts_per_round": 8},
        "policy": {"init": str(smollm2_dir)},
        "prompt": {"answer_format": "answer_is"},
        "generate": {"k": 4, "max_new_tokens": 64, "batch_size": 16},
        "evaluate": {"k": 1},
        "train": {"steps": 4, "batch_size": 8, "micro_batch_size": 4, "max_length": 384},
        "grpo": {"steps": 2, "prompts_per_step": 2, "num_generations": 4, "micro_batch_size": 4,
                 "max_completion_length": 64},
    }  # fmt: skip
    f = tmp_path / "smollm2.yaml"
    f.write_text(yaml.safe_dump(recipe))
    env = cli_env(tmp_path, prefect_server)
    run_cli(["run", str(f), "--run-id", "smol"], env, tmp_path / "run.log", timeout=1400)

    store = Store(env["SELFTAUGHT_DB_URL"], home=env["SELFTAUGHT_HOME"])
    stored = store.get_run("smol").recipe
    assert stored["profile"] == "instruct" and stored["prompt"]["format"] == "chat"
    assert stored["prompt"]["strict"] is True and stored["reward"] == {"math": 1.0}
    instruction = stored["prompt"]["instruction"]

    problems = {p.id: p for p in store.get_problems()}
    generated = store.get_samples("smol", 1, SampleSource.GENERATE)
    assert len(generated) == 8 * 4
    for s in generated[:8]:
        user_prompt = problems[s.problem_id].prompt
        assert "<|im_start|>" not in user_prompt  # the problem keeps the user's own text
        assert s.prompt.endswith("<|im_start|>assistant\n")  # the model writes after the marker
        assert s.prompt.index(user_prompt) < s.prompt.index(instruction) < s.prompt.index("<|im_start|>assistant")
        assert "@" in s.problem_id and problems[s.problem_id].meta["name"].startswith("wp-")

    rollouts = store.get_judged("smol", 2, SampleSource.ROLLOUT)
    assert len(rollouts) == 2 * 2 * 4  # steps x prompts x generations
    assert all(j.sample.prompt.endswith("<|im_start|>assistant\n") for j in rollouts)
    assert {j.verdict.judge_version for j in rollouts} == {get_verifier("math", answer_format="answer_is", strict=True).version}
    judged = store.get_judged("smol", 1, SampleSource.GENERATE)
    assert {j.verdict.judge_version for j in judged} == {get_verifier("math", answer_format="answer_is", strict=True).version}

    evaluations = dict(store.get_evaluations("smol"))
    assert sorted(evaluations) == [0, 1, 2]  # before, after RFT, after GRPO
    for index in (1, 2):
        ckpt = store.get_checkpoint(f"smol/r{index}")
        verify_checkpoint(ckpt.path)
        assert ckpt.config["prompt_format"] == "chat"  # trained as conversations
    before, rft, grpo = (evaluations[i] for i in (0, 1, 2))
    print(json.dumps({i: {"greedy": e.greedy_accuracy, "pass_at_1": e.pass_at_1} for i, e in evaluations.items()}))
    assert all(0.0 <= e.greedy_accuracy <= 1.0 for e in (before, rft, grpo))
