"""Every load verifies (``checkpoint.verified``): a real safetensors checkpoint of the micro
model, damaged the way disks and people damage files, refused by every loader in one line
that names the file; sha256 vs sizes-only (the documented trade-off); the in-process memory
of a verification; folders without a manifest; a checkpoint as the store recorded it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import selftaught.loops.checkpoint as checkpoint_module
from selftaught.errors import CheckpointError, ConfigError
from selftaught.loops.checkpoint import (
    MANIFEST,
    folder_sha256,
    forget_verified,
    inspect_recorded,
    verify_checkpoint,
    verify_for_load,
    verify_mode,
)
from selftaught.records import Checkpoint
from tests.damage import WEIGHTS, garble_header, truncate, zero_tensor_bytes


@pytest.fixture
def ckpt(micro_policy_path, tmp_path) -> Path:
    """A copy of the micro policy (a real checkpoint with a manifest), nothing remembered."""
    dest = tmp_path / "round-001"
    shutil.copytree(micro_policy_path, dest)
    forget_verified()
    return dest


def _loaders():
    from transformers import AutoModelForCausalLM

    from selftaught.hardware import CPU, load_model
    from selftaught.loops.distill import TeacherSpec, load_teacher
    from selftaught.loops.lora import load_causal_lm, materialized
    from selftaught.loops.policy import load_for_training, load_policy
    from selftaught.loops.vllm_sampler import load_vllm_policy

    def materialize(p):
        with materialized(p):
            pass

    return {
        "load_policy (generate, rationalize, evaluate, search, prm label)": lambda p: load_policy(p, threads=1),
        "load_for_training (SFT, DPO and its reference, GRPO/RLOO)": load_for_training,
        "load_causal_lm": load_causal_lm,
        "hardware.load_model (CAI chat models, reward models)": lambda p: load_model(AutoModelForCausalLM, p, CPU),
        "lora.materialized (reward-model training)": materialize,
        "distillation teacher": lambda p: load_teacher(TeacherSpec(path=str(p)), threads=1),
        "vLLM sampler": lambda p: load_vllm_policy(p, engine_factory=lambda *a, **k: object()),
    }


LOADERS = list(_loaders())


@pytest.mark.parametrize("name", LOADERS)
def test_every_loader_refuses_a_same_size_corruption_naming_the_file(ckpt, name):
    zero_tensor_bytes(ckpt)
    with pytest.raises(CheckpointError) as caught:
        _loaders()[name](ckpt)
    message = str(caught.value)
    assert message.startswith(f"checkpoint {ckpt}: {WEIGHTS} is damaged (sha256 mismatch; expected ")
    assert "\n" not in message


@pytest.mark.parametrize("name", LOADERS)
def test_every_loader_refuses_a_truncated_file_without_a_safetensors_traceback(ckpt, name, monkeypatch):
    monkeypatch.setenv("SELFTAUGHT_VERIFY", "sizes")  # truncation is caught in either mode
    truncate(ckpt)
    with pytest.raises(CheckpointError, match=rf"^checkpoint {ckpt}: {WEIGHTS} is damaged \(truncated: [\d,]+ of [\d,]+ bytes\)$"):
        _loaders()[name](ckpt)


def test_a_good_checkpoint_loads_and_its_hash_is_remembered(ckpt, monkeypatch):
    """Generate, rationalize and train load the same checkpoint: it is hashed once."""
    from selftaught.loops.policy import load_for_training, load_policy

    hashed: list[str] = []
    real = checkpoint_module._file_sha256
    monkeypatch.setattr(checkpoint_module, "_file_sha256", lambda p: hashed.append(p.name) or real(p))
    load_policy(ckpt, threads=1)
    files = sorted(json.loads((ckpt / MANIFEST).read_text())["files"])
    assert sorted(hashed) == files  # each file once
    load_policy(ckpt, threads=1)
    load_for_training(ckpt)
    assert sorted(hashed) == files  # remembered: not hashed again

    zero_tensor_bytes(ckpt)  # a write moves the mtime on (forced here: it may fall in the same clock tick)
    st = (ckpt / WEIGHTS).stat()
    os.utime(ckpt / WEIGHTS, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        load_policy(ckpt, threads=1)


def test_sizes_only_catches_truncation_but_not_a_same_size_corruption(ckpt, monkeypatch):
    """The trade-off of SELFTAUGHT_VERIFY=sizes, pinned: no hashing, so bytes changed in place
    load (silently wrong weights); a header that no longer parses is still one line."""
    from selftaught.loops.policy import load_policy

    monkeypatch.setenv("SELFTAUGHT_VERIFY", "sizes")
    zero_tensor_bytes(ckpt)
    assert verify_checkpoint(ckpt)["sha256"]  # passes: sizes match
    policy = load_policy(ckpt, threads=1)  # and loads the zeroed weights
    assert any(not p.detach().any() for p in policy.model.parameters())  # a whole tensor of zeros
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        verify_checkpoint(ckpt, mode="sha256")  # the default mode would have caught it

    garble_header(ckpt)
    with pytest.raises(CheckpointError, match=rf"^checkpoint {ckpt}: cannot be loaded \(SafetensorError: "):
        load_policy(ckpt, threads=1)

    truncate(ckpt)
    with pytest.raises(CheckpointError, match="truncated"):
        load_policy(ckpt, threads=1)


def test_a_pruned_or_missing_checkpoint_is_one_line(ckpt, tmp_path):
    (ckpt / WEIGHTS).unlink()
    with pytest.raises(CheckpointError, match=f"^checkpoint {ckpt}: {WEIGHTS} is missing$"):
        verify_for_load(ckpt)
    (ckpt / "PRUNED").write_text("{}")
    with pytest.raises(CheckpointError, match="was pruned"):
        verify_for_load(ckpt)
    with pytest.raises(CheckpointError, match="does not exist"):
        verify_for_load(tmp_path / "nowhere")


def test_a_folder_without_a_manifest_needs_a_config_and_weights(ckpt, tmp_path):
    """A user's model (policy.init, a teacher) is not a selftaught checkpoint: no manifest to
    check, so it must at least hold what from_pretrained reads; then it loads."""
    from selftaught.loops.policy import load_policy

    (ckpt / MANIFEST).unlink()
    assert load_policy(ckpt, threads=1).path == str(ckpt)
    (ckpt / WEIGHTS).unlink()
    with pytest.raises(CheckpointError, match=r"not a saved model \(no weights file"):
        load_policy(ckpt, threads=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match=r"not a saved model \(no config.json\)"):
        load_policy(empty, threads=1)


def test_a_recorded_checkpoint_must_hold_what_the_store_says(ckpt, monkeypatch):
    """inspect_recorded: a manifest checkpoint whose manifest names other weights than the
    store's sha256; a user's folder (no manifest) changed after it was registered."""
    sha = verify_checkpoint(ckpt)["sha256"]
    assert inspect_recorded(Checkpoint("r/r1", str(ckpt), sha)).ok
    other = inspect_recorded(Checkpoint("r/r1", str(ckpt), "0" * 64))
    assert other.status == "damaged" and other.file == MANIFEST and "other weights than the store recorded" in other.why

    (ckpt / MANIFEST).unlink()  # now a user's folder, registered as round 0 with its folder hash
    given = Checkpoint("r/r0", str(ckpt), folder_sha256(ckpt), round_index=0)
    assert inspect_recorded(given).ok
    zero_tensor_bytes(ckpt)
    forget_verified()
    changed = inspect_recorded(given)
    assert changed.status == "damaged" and "holds other files than when it was registered as r/r0" in changed.why
    assert inspect_recorded(given, mode="sizes").ok  # nothing recorded to compare sizes with


def test_the_mode_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("SELFTAUGHT_VERIFY", raising=False)
    assert verify_mode() == "sha256"
    monkeypatch.setenv("SELFTAUGHT_VERIFY", " Sizes ")
    assert verify_mode() == "sizes"
    monkeypatch.setenv("SELFTAUGHT_VERIFY", "md5")
    with pytest.raises(ConfigError, match="SELFTAUGHT_VERIFY='md5': must be sha256"):
        verify_mode()


def test_a_format_1_manifest_without_sizes_is_hashed_in_either_mode(ckpt, monkeypatch):
    manifest = json.loads((ckpt / MANIFEST).read_text())
    manifest.pop("sizes", None)
    manifest["format"] = 1
    (ckpt / MANIFEST).write_text(json.dumps(manifest))
    monkeypatch.setenv("SELFTAUGHT_VERIFY", "sizes")
    zero_tensor_bytes(ckpt)
    with pytest.raises(CheckpointError, match="sha256 mismatch"):
        verify_checkpoint(ckpt)


def _cli_run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "selftaught"), *args], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip


def test_cli_eval_refuses_a_damaged_checkpoint_in_one_line(micro_policy_path, tmp_path):
    folder = tmp_path / "round-001"
    shutil.copytree(micro_policy_path, folder)
    problems = tmp_path / "p.jsonl"
    problems.write_text('{"id": "a", "prompt": "Q: 1+1=? A:", "answer": "2"}\n')
    env = dict(os.environ, SELFTAUGHT_TORCH_THREADS="1")
    for damage, expected in ((zero_tensor_bytes, "model.safetensors is damaged (sha256 mismatch; expected "),
                             (truncate, "model.safetensors is damaged (truncated: ")):  # fmt: skip
        damage(folder)
        out = _cli_run("eval", "--checkpoint", str(folder), "--problems", str(problems), env=env)
        assert out.returncode == 1 and out.stdout == "", out.stderr  # a runtime error (issue 17)
        assert out.stderr.count("\n") == 1 and expected in out.stderr and "Traceback" not in out.stderr
