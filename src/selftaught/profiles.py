"""Model profiles: the defaults that depend on which model is being improved.

A recipe's every key has a default, but the right default depends on the model. The
embedded tiny model (2M parameters, trained from scratch here, reads ``Q: 23+45=? A:``)
wants a learning rate of 5e-4 and 32 new tokens; an instruct model (SmolLM2, Qwen2.5,
Llama-3.2) wants its chat template, an answer-format instruction, 1e-5 for SFT, 1e-6 for
GRPO and room to write 512 tokens. So a recipe names a ``profile`` (or leaves it ``auto``)
and the profile fills every key the recipe does not set:

    profile    chosen (auto) when                     prompts
    tiny       ``policy.init: tiny`` or a tiny model   raw text, answer after ``</think>``
    instruct   the tokenizer has a chat template       chat template + "\\boxed{}" instruction
    base       any other model                         raw text + "\\boxed{}" instruction

Resolution happens once, when the recipe is read (``resolve``): the stored recipe of a run
is fully explicit, so resuming it never depends on what the profile table says later.
What a key's value *is* after resolution is always visible (``selftaught run`` stores the
resolved recipe; ``Recipe.model_dump()`` shows it).

What a model folder is, is read from its files without importing transformers
(``inspect_model``): ``config.json`` (vocabulary size, dtype, a ``selftaught_profile``
marker) and whether the tokenizer has a chat template (``read_chat_template``:
``chat_template.jinja`` or the ``chat_template`` key of ``tokenizer_config.json``). A hub
name (``Qwen/Qwen2.5-0.5B-Instruct``) is looked up in the local Hugging Face cache and
downloaded if the network allows (``resolve_init``); offline, the error says so in one line.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from selftaught.errors import ConfigError

Profile = Literal["tiny", "instruct", "base"]

#: Vocabularies at most this big are the embedded character-level model (or one like it).
TINY_VOCAB = 512

_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelFacts:
    """What a saved model folder is, read from its small files."""

    path: str
    has_chat_template: bool = False
    vocab_size: int | None = None
    dtype: str | None = None  # as saved ("float32", "bfloat16", ...)
    marker: str | None = None  # config.json "selftaught_profile", if any

    @property
    def profile(self) -> Profile:
        if self.marker in ("tiny", "instruct", "base"):
            return self.marker  # type: ignore[return-value]
        if self.vocab_size is not None and self.vocab_size <= TINY_VOCAB and not self.has_chat_template:
            return "tiny"
        return "instruct" if self.has_chat_template else "base"


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def is_model_folder(path: str | Path) -> bool:
    """A saved model: ``config.json``, or LoRA adapters (``adapter_config.json``) on a base."""
    return (Path(path) / "config.json").is_file() or (Path(path) / "adapter_config.json").is_file()


def _config_of(root: Path, depth: int = 0) -> dict:
    """``config.json`` of a model folder, or of the base an adapters-only checkpoint names."""
    if (root / "config.json").is_file() or depth > 100:
        return _read_json(root / "config.json")
    rel = _read_json(root / "manifest.json").get("meta", {}).get("adapter_base_path")
    return _config_of((root / rel).resolve(), depth + 1) if isinstance(rel, str) else {}


def read_chat_template(path: str | Path) -> str | None:
    """The chat template a model folder's tokenizer loads with, read from its files:
    ``chat_template.jinja``, ``chat_template.json`` or the ``chat_template`` key of
    ``tokenizer_config.json`` (a list of named templates gives its ``default``); None if none."""
    root = Path(path)
    if (root / "chat_template.jinja").is_file():
        return (root / "chat_template.jinja").read_text(encoding="utf-8") or None
    template = _read_json(root / "chat_template.json").get("chat_template")
    template = template or _read_json(root / "tokenizer_config.json").get("chat_template")
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    return template if isinstance(template, str) and template else None


def inspect_model(path: str | Path) -> ModelFacts:
    """Facts about a saved model folder (the caller checks ``is_model_folder``)."""
    root = Path(path)
    config = _config_of(root)
    template = read_chat_template(root) is not None
    vocab = config.get("vocab_size")
    if not isinstance(vocab, int):
        text = config.get("text_config")
        vocab = text.get("vocab_size") if isinstance(text, dict) else None
    dtype = config.get("dtype") or config.get("torch_dtype")
    return ModelFacts(
        path=str(root), has_chat_template=template, vocab_size=vocab if isinstance(vocab, int) else None,
        dtype=str(dtype) if dtype else None, marker=config.get("selftaught_profile"),
    )  # fmt: skip


def looks_like_hub_name(text: str) -> bool:
    """``org/name`` with no path prefix.

    >>> looks_like_hub_name("Qwen/Qwen2.5-0.5B-Instruct"), looks_like_hub_name("./runs/x"), looks_like_hub_name("tiny")
    (True, False, False)
    """
    return bool(_HUB_NAME.match(text)) and not text.startswith((".", "/", "~"))


def resolve_init(init: str, base: Path) -> str:
    """``policy.init`` as something loadable: ``tiny``, or an absolute model folder.

    A relative path is taken against ``base`` (the recipe's folder). A hub name that is no
    local folder is fetched into the Hugging Face cache (``huggingface_hub``); with no
    network that fails, and the error is one line. Raises ``ValueError`` with the reason.
    """
    if init == "tiny":
        return init
    p = Path(init).expanduser()
    p = p if p.is_absolute() else (base / p).resolve()
    if p.is_dir():
        if not is_model_folder(p):
            raise ValueError(f"not a saved model (no config.json): {p}")
        return str(p)
    if looks_like_hub_name(init):
        return _from_hub(init)
    hint = f" (for SmolLM2-135M-Instruct, offline: selftaught model smollm2 {p})" if "smollm2" in p.name.lower() else ""
    raise ValueError(f"not 'tiny', not a model folder, not a hub name: {p}{hint}")


def _from_hub(name: str) -> str:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - a transformers dependency
        raise ValueError(f"{name!r} is a hub name, and huggingface_hub is not installed") from None
    try:
        return snapshot_download(name, local_files_only=True)
    except Exception:  # noqa: BLE001 - not cached: try the network below
        pass
    try:
        return snapshot_download(name, allow_patterns=["*.json", "*.safetensors", "*.jinja", "*.txt", "*.model"])
    except Exception as exc:  # noqa: BLE001 - offline, unknown repo, gated, ...
        reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ValueError(
            f"{name!r} is not a local folder and could not be fetched from the Hugging Face hub "
            f"(offline? {reason}); download it where there is network and give the folder"
        ) from None


# ----------------------------------------------------------------------- the defaults

#: What a practitioner starts a 0.1-2B instruct model from (TRL's own defaults where it has
#: them: SFT 2e-5 -> 1e-5 for small data, GRPO 1e-6, beta 0 so there is no reference copy);
#: lengths for a model that explains itself. Every value is overridable.
INSTRUCT: Mapping[str, Any] = {
    "policy": {"gradient_checkpointing": True},
    "generate": {"k": 4, "temperature": 0.7, "max_new_tokens": 512, "batch_size": 16},
    "train": {"lr": 1e-5, "steps": 30, "batch_size": 16, "micro_batch_size": 4, "max_length": 1024,
              "max_per_problem": 2},
    "evaluate": {"k": 4, "temperature": 0.7},
    "grpo": {"lr": 1e-6, "steps": 30, "prompts_per_step": 4, "num_generations": 8, "beta": 0.0,
             "scale_rewards": "group", "temperature": 1.0, "max_completion_length": 512,
             "micro_batch_size": 4},
    "rloo": {"lr": 1e-6, "steps": 30, "prompts_per_step": 4, "num_generations": 8, "beta": 0.0,
             "temperature": 1.0, "max_completion_length": 512, "micro_batch_size": 4},
    "dpo": {"lr": 5e-7, "steps": 30, "batch_size": 8, "micro_batch_size": 2, "loss_types": ["sigmoid"],
            "max_length": 1024},
    "prompt": {"answer_format": "boxed"},
}  # fmt: skip

#: What each profile sets when the recipe does not. The tiny profile is the recipe classes'
#: own defaults (the measured demo configuration), so it overlays nothing; a base model
#: starts from the instruct values but reads raw text.
PROFILES: Mapping[Profile, Mapping[str, Any]] = {"tiny": {}, "instruct": INSTRUCT, "base": INSTRUCT}


def _deep_merge(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` over ``defaults``; nested mappings merge key by key."""
    out = copy.deepcopy(dict(defaults))
    for key, value in given.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _plain(value: Any) -> Any:
    """A section given as a pydantic model (code, not YAML): only the keys that were set."""
    if hasattr(value, "model_fields_set") and hasattr(value, "model_dump"):
        return {k: _plain(getattr(value, k)) for k in value.model_fields_set}
    return value


def model_facts(init: Any) -> ModelFacts | None:
    """Facts about ``policy.init`` if it is a model folder (None for ``tiny`` or a bad path)."""
    if not isinstance(init, str) or init == "tiny":
        return None
    p = Path(init)
    return inspect_model(p) if is_model_folder(p) else None


def resolve(data: Mapping[str, Any]) -> dict[str, Any]:
    """A recipe's plain data with every model-dependent default filled in (idempotent).

    Sets ``profile`` (from ``auto``), overlays the profile's defaults under what the recipe
    gives, and settles ``prompt.format``, ``prompt.answer_format``, ``prompt.instruction``,
    ``prompt.strict`` and ``reward`` from the profile, the model's tokenizer and the judge.
    Values of the wrong type are left alone for validation to report with their line.
    """
    data = {k: _plain(v) for k, v in data.items()}
    policy = data.get("policy")
    init = policy.get("init", "tiny") if isinstance(policy, Mapping) else "tiny"
    facts = model_facts(init)
    profile = data.get("profile", "auto")
    if profile == "auto":
        profile = "tiny" if init == "tiny" or facts is None else facts.profile
    if profile not in PROFILES:
        return data  # validation names the bad value
    data = _deep_merge(PROFILES[profile], {**data, "profile": profile})
    prompt = dict(data.get("prompt") or {}) if isinstance(data.get("prompt", {}), Mapping | type(None)) else None
    if prompt is None:
        return data
    if prompt.get("format", "auto") == "auto":
        prompt["format"] = "chat" if facts is not None and facts.has_chat_template and profile != "tiny" else "raw"
    if prompt.get("answer_format", "auto") == "auto":
        prompt["answer_format"] = "think" if profile == "tiny" else "boxed"
    fmt = prompt["answer_format"]
    if "instruction" not in prompt:
        from selftaught.loops.prompting import INSTRUCTIONS

        prompt["instruction"] = None if profile == "tiny" else INSTRUCTIONS.get(fmt)
    if prompt.get("strict") is None:
        prompt["strict"] = bool(prompt.get("instruction")) and fmt in ("boxed", "answer_is")
    data["prompt"] = prompt
    if "reward" not in data:
        judge = data.get("judge", "arithmetic")
        if isinstance(judge, str):
            data["reward"] = {judge: 1.0, "format": 0.2} if fmt == "think" else {judge: 1.0}
    return data


__all__ = ["PROFILES", "ModelFacts", "Profile", "inspect_model", "looks_like_hub_name", "resolve", "resolve_init"]
