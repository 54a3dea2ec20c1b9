"""The `selftaught` command as a user runs it: a real subprocess each time."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "selftaught"

def _leaf_commands() -> list[list[str]]:
    """Every command a user can run (``selftaught db upgrade``, ...), found by walking the app."""
    import typer.main

    from selftaught.cli.main import app

    def walk(command, path):
        subcommands = getattr(command, "commands", None)
        if not subcommands:
            yield path
            return
        for name, sub in subcommands.items():
            yield from walk(sub, [*path, name])

    return list(walk(typer.main.get_command(app), []))


COMMANDS = _leaf_commands()


def cli(*args: str, env: dict | None = None, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, input=input, timeout=300)


def test_help_answers_fast_without_importing_torch():
    # CPU seconds, not wall: on a loaded 2-core box wall time measures the neighbours
    cpu = min(_cpu_seconds(cli, "--help") for _ in range(3))
    assert cpu < 2.0, f"selftaught --help used {cpu:.2f} s of CPU"
    code = "import sys, selftaught.cli.main; print(sorted(m for m in ('torch', 'transformers', 'trl', 'prefect') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _cpu_seconds(fn, *args) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = fn(*args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    assert result.returncode == 0, result.stderr
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command):
    result = cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout


@pytest.mark.parametrize(
    "text, line, reason",
    [
        ("rounds: three\n", 1, "valid integer"),  # wrong type
        ("name: x\ntask:\n  digits: 2\n  colour: red\n", 4, "unknown key"),  # unknown nested key
        ("name: x\nmethod: ppo\n", 2, "method"),  # not one of the methods
        ("task:\n  kind: file\n  train: missing.jsonl\n  heldout: missing.jsonl\n", 3, "file not found"),
        ("name: [unclosed\n", 2, "invalid YAML"),  # syntax error
        ("name: a\nname: b\n", 2, "duplicate key"),  # PyYAML would keep the last silently
    ],
)
def test_bad_recipe_fails_with_file_line_and_reason_before_running(tmp_path, text, line, reason):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(text)
    result = cli("run", str(recipe), env=_env(tmp_path))
    assert result.returncode == 1  # a runtime error: 2 is for usage errors (issue 17)
    assert f"{recipe}:{line}:" in result.stderr and reason in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "store.db").exists()  # nothing ran


def test_an_error_with_brackets_reaches_the_user_whole(tmp_path):
    """Errors are printed through rich: square brackets in a message (a pip extra, a YAML
    list, a path) must not be taken for markup and silently dropped."""
    recipe = tmp_path / "[v].yaml"
    recipe.write_text("name: x\ngenerate:\n  backend: vllm\n")
    result = cli("run", str(recipe), env=_env(tmp_path))
    assert result.returncode == 1, result.stderr
    assert f"{recipe}:3: generate.backend: vllm needs" in result.stderr, result.stderr
    assert "pip install 'selftaught[vllm]'" in result.stderr or "CUDA" in result.stderr, result.stderr


def test_missing_recipe_file_is_one_line(tmp_path):
    result = cli("run", str(tmp_path / "nope.yaml"), env=_env(tmp_path))
    assert result.returncode == 1 and "file not found" in result.stderr and "Traceback" not in result.stderr


def _env(root: Path) -> dict:
    import os

    return dict(os.environ, SELFTAUGHT_DB_URL=f"sqlite:///{root / 'store.db'}", SELFTAUGHT_HOME=str(root / "home"))


def test_db_upgrade_then_current(tmp_path):
    env = _env(tmp_path)
    before = cli("db", "current", env=env)
    assert before.returncode == 0 and "empty" in before.stdout
    up = cli("db", "upgrade", env=env)
    assert up.returncode == 0, up.stderr
    after = cli("db", "current", env=env)
    assert "up to date" in after.stdout


def test_db_downgrade_and_history_mirror_alembic(tmp_path):
    from selftaught.store import migrations

    env = _env(tmp_path)
    assert cli("db", "upgrade", env=env).returncode == 0
    head = migrations.head()
    history = cli("db", "history", env=env).stdout.splitlines()
    assert history[0].startswith(f"{migrations.history()[1].revision} -> {head} (head, current), ")
    assert history[-1].startswith("<base> -> 0001, ") and len(history) == int(head)
    refused = cli("db", "downgrade", env=env)  # like alembic: no revision, no downgrade
    assert refused.returncode == 2 and "Missing argument 'REVISION'" in refused.stderr
    back = cli("db", "downgrade", "-1", env=env)  # a relative revision, as alembic takes it
    assert back.returncode == 0 and f"{head} -> {migrations.history()[1].revision}" in back.stdout, back.stderr
    assert "behind head" in cli("db", "current", env=env).stdout
    assert "(current)" in cli("db", "history", env=env).stdout.splitlines()[1]
    assert cli("db", "upgrade", env=env).returncode == 0


def test_eval_reports_metrics_of_any_checkpoint(tmp_path):
    from selftaught.loops.tinymodel import init_policy

    ckpt = init_policy(tmp_path / "model", seed=0)
    problems = tmp_path / "p.jsonl"
    problems.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Q: {i}+1=? A:", "answer": str(i + 1)}) + "\n" for i in range(4)))
    result = cli("eval", "--checkpoint", ckpt, "--problems", str(problems), "--k", "2", "--json", env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout)
    assert metrics["n_problems"] == 4 and metrics["k"] == 2
    for key in ("greedy_accuracy", "pass_at_1", "pass_at_2", "maj_at_2"):
        assert 0.0 <= metrics[key] <= 1.0


def test_eval_rejects_a_problem_row_without_an_answer(tmp_path):
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"id": "a", "prompt": "Q: 1+1=? A:", "answer": "2"}\n{"id": "b", "prompt": "Q: 2+2=? A:"}\n')
    result = cli("eval", "--checkpoint", str(tmp_path), "--problems", str(problems), env=_env(tmp_path))
    assert result.returncode == 1 and "p.jsonl" in result.stderr and "2" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_model_smollm2_refuses_a_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    result = cli("model", "smollm2", str(tmp_path))
    assert result.returncode == 1 and "exists and is not a saved model" in result.stderr, result.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_eval_renders_a_chat_model_like_a_recipe(tmp_path, smollm2_dir):
    """An instruct checkpoint gets its chat template and the answer-format instruction, and
    only that format is judged (strict); 2 problems, 8 tokens: the plumbing, not the score."""
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"id": "a", "prompt": "What is 2+3?", "answer": "5"}\n{"id": "b", "prompt": "What is 4+4?", "answer": "8"}\n')
    result = cli("eval", "--checkpoint", str(smollm2_dir), "--problems", str(problems), "--judge", "math", "--k", "1",
                 "--max-new-tokens", "8", "--answer-format", "answer_is", "--json", env=_env(tmp_path))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["prompt"], out["answer_format"], out["strict"]) == ("chat", "answer_is", True)
    assert out["n_problems"] == 2 and 0.0 <= out["greedy_accuracy"] <= 1.0
