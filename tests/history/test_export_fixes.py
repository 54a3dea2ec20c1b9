"""`selftaught export` as a user meets it (issue 15): a bad output name or an unknown run is
one line and nothing written; prompt exports load as `eval --problems` files; `messages`
exports carry the policy's chat template, which TRL's SFTTrainer needs to render them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import datasets
import pytest

from selftaught.loops.arithmetic import load_problems_jsonl
from selftaught.records import Checkpoint, Split
from selftaught.store import Store
from tests.history.synthetic import HELDOUT, RUN, TRAIN, build

BIN = Path(sys.executable).parent / "selftaught"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), "export", *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def chat_policy(tmp_path_factory) -> Path:
    """A saved tiny Llama whose tokenizer has a chat template (loops/tinymodel.py)."""
    from selftaught.loops.tinymodel import build_tiny_chat_model

    return Path(build_tiny_chat_model(tmp_path_factory.mktemp("policy") / "tiny-chat"))


def store_with_policy(tmp_path: Path, policy: Path) -> str:
    """The synthetic run, its newest checkpoint being ``policy`` on disk."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    build(url)
    with Store(url) as store:
        store.add_checkpoint(RUN, Checkpoint(f"{RUN}/r3", str(policy), "3" * 64, parent_id=f"{RUN}/r2", round_index=3))
    return url


def test_unknown_extension_is_one_line_naming_the_accepted_forms_and_writes_nothing(syn_db, tmp_path):
    result = cli("x.csv", "--db", syn_db, "--run", RUN, cwd=tmp_path)
    assert result.returncode == 2
    line = one_error_line(result)
    assert "'.csv'" in line and ".jsonl" in line and ".parquet" in line and "'/'" in line
    assert list(tmp_path.iterdir()) == []
    # a folder is still a path ending in '/' (even with a dot) or one without an extension
    ok = cli("ds.v1/", "--db", syn_db, "--run", RUN, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert list(datasets.load_from_disk(str(tmp_path / "ds.v1"))) == ["train"]


def test_unknown_run_exits_1_with_one_line_naming_it_and_writes_nothing(syn_db, tmp_path):
    result = cli("out.jsonl", "--db", syn_db, "--run", "no-such-run", cwd=tmp_path)
    assert result.returncode == 1
    assert "'no-such-run'" in one_error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_prompt_export_is_a_problem_file_that_eval_reads(syn_db, tmp_path):
    from typer.testing import CliRunner

    from selftaught.cli.main import app

    out = tmp_path / "prompts.jsonl"
    result = CliRunner().invoke(app, ["export", str(out), "--db", syn_db, "--kind", "prompt", "--split", "all"])
    assert result.exit_code == 0, result.output
    problems = load_problems_jsonl(out)  # what `selftaught eval --problems` reads
    got = {p.meta["name"]: (p.prompt, p.answer, p.split) for p in problems}
    assert got == {p.id: (p.prompt, p.answer, p.split) for p in TRAIN + HELDOUT}
    assert {p.split for p in problems} == {Split.TRAIN, Split.HELDOUT}
    default = tmp_path / "train.jsonl"  # one split: no split column, eval reads it as train
    assert CliRunner().invoke(app, ["export", str(default), "--db", syn_db, "--kind", "prompt"]).exit_code == 0
    rows = [json.loads(line) for line in default.read_text().splitlines()]
    assert rows and all(set(r) == {"id", "prompt", "answer", "problem_id"} for r in rows)


def test_messages_of_a_policy_without_chat_template_is_refused_pointing_to_sft(chat_policy, tmp_path):
    plain = tmp_path / "plain"
    shutil.copytree(chat_policy, plain)
    (plain / "chat_template.jinja").unlink()
    db = store_with_policy(tmp_path, plain)
    result = cli("msgs.jsonl", "--db", db, "--kind", "messages", "--run", RUN, cwd=tmp_path)
    assert result.returncode == 1  # a runtime error (issue 17)
    line = one_error_line(result)
    assert "no chat template" in line and "--kind sft" in line and str(plain) in line
    assert not (tmp_path / "msgs.jsonl").exists()


def test_messages_export_carries_the_template_and_trl_sfttrainer_accepts_it(chat_policy, tmp_path):
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    db = store_with_policy(tmp_path, chat_policy)
    out = tmp_path / "msgs.jsonl"
    result = cli(out.name, "--db", db, "--kind", "messages", "--run", RUN, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    template = tmp_path / "msgs.chat_template.jinja"
    own = AutoTokenizer.from_pretrained(chat_policy)
    assert template.read_text() == own.chat_template
    data = datasets.Dataset.from_json(str(out))
    assert data.column_names == ["messages"] and len(data) > 0

    def trainer(tokenizer, **extra):
        args = SFTConfig(output_dir=str(tmp_path / "trl"), max_steps=1, use_cpu=True, bf16=False,
                         report_to="none", save_strategy="no", dataset_num_proc=None, **extra)
        return SFTTrainer(model=str(chat_policy), args=args, train_dataset=data, processing_class=tokenizer)

    rendered = trainer(own).train_dataset  # the run's own tokenizer
    assert len(rendered) == len(data) and "input_ids" in rendered.column_names
    bare = AutoTokenizer.from_pretrained(chat_policy)
    bare.chat_template = None  # the same tokenizer without its template: the exported file is enough
    with pytest.raises(ValueError, match="chat_template"):
        trainer(bare)
    bare.chat_template = None
    again = trainer(bare, chat_template_path=str(template)).train_dataset
    assert again["input_ids"] == rendered["input_ids"]
