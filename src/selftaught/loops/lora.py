"""LoRA for every trainer: one settings record, one ``peft.LoraConfig`` builder, one merge,
and checkpoints that hold only the adapters.

In: ``LoRASettings`` (or None for full fine-tuning). Out: the ``peft_config`` argument that
TRL's trainers take, and, after training, what to save (``to_save``):

- ``save="merged"`` (the default): a plain ``PreTrainedModel`` with the adapters merged
  into its weights -- the checkpoint loads with ``AutoModelForCausalLM.from_pretrained`` and
  nothing needs to know it was trained with LoRA;
- ``save="adapters"``: only the adapters (peft's ``adapter_model.safetensors``, a few MB
  instead of the whole model). The manifest's meta names the checkpoint they were trained
  on (``adapter_base``, the parent) and where it lies (``adapter_base_path``): relative to
  this folder when the base is a checkpoint of the same home (inside ``HOME/runs/``, so a
  moved home keeps its chains), else absolute (a user's own model given as ``policy.init``).
  ``load_causal_lm`` rebuilds the policy: the base (itself possibly adapters on its own
  base, back to the first full checkpoint) with each round's adapters merged in order.
  Every round trains fresh adapters on the merged parent, so the
  round's reference policy (adapters off) is the parent, as with merged checkpoints; the
  price is one merge per round of the chain when loading, and the whole chain must stay on
  disk (``keep_checkpoints`` never prunes a base a kept checkpoint needs).

Why it matters for RL and DPO: with LoRA and a KL/DPO beta > 0, TRL does not build a
second copy of the policy as the reference. It computes reference log-probabilities with
the adapters disabled (``GRPOTrainer``/``RLOOTrainer`` set ``ref_model=None`` for a PEFT
model; ``DPOTrainer`` uses ``use_adapter(model, None)``), so the reference is exactly the
round's starting policy at the cost of one extra forward pass, not one extra model.
``tests/rl/test_lora.py`` checks both halves: no ``ref_model`` with LoRA, a merged
checkpoint that loads without peft.

The target modules default to every linear layer of a Llama block (``all-linear``); the
tied embedding is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from selftaught.loops.section import Section


class LoRASettings(Section):
    """Low-rank adapters instead of full fine-tuning (the recipe's ``lora:`` section)."""

    r: int = Field(16, ge=1)
    "Adapter rank."
    alpha: int = Field(32, ge=1)
    "Scale numerator (scale = alpha / r)."
    dropout: float = Field(0.0, ge=0, lt=1)
    "Dropout on the adapter input."
    target_modules: str | tuple[str, ...] = "all-linear"
    "peft target_modules: `all-linear` (every linear layer of a block), or a list of module names."
    save: Literal["merged", "adapters"] = "merged"
    "merged: each checkpoint holds full weights; adapters: only the round's adapters (MBs, not the model), loaded onto the parent checkpoint, which must stay on disk."


def build_lora_config(cfg: LoRASettings | None) -> Any:
    """The one place ``peft.LoraConfig`` is built; None means full fine-tuning."""
    if cfg is None:
        return None
    from peft import LoraConfig

    targets = cfg.target_modules if isinstance(cfg.target_modules, str) else list(cfg.target_modules)
    return LoraConfig(
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )


def merged(model: Any) -> Any:
    """The trained model as a plain transformers model: adapters merged in, peft gone."""
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a dependency
        return model
    if isinstance(model, PeftModel):
        return model.merge_and_unload()
    return model


ADAPTER_CONFIG = "adapter_config.json"


def to_save(model: Any, cfg: LoRASettings | None) -> Any:
    """What a trainer saves: the merged model, or (``save="adapters"``) the peft model itself."""
    if cfg is not None and cfg.save == "adapters":
        return model
    return merged(model)


def adapter_meta(cfg: LoRASettings | None, *, parent_id: str | None, base_path: str, out_dir: str) -> dict[str, Any]:
    """Manifest meta of an adapters-only checkpoint: its base checkpoint and where it lies."""
    if cfg is None or cfg.save != "adapters":
        return {}
    import os

    base, out = Path(base_path).resolve(), Path(out_dir).resolve()
    runs = out.parent.parent  # HOME/runs: out_dir is HOME/runs/RUN/round-NNN
    where = os.path.relpath(base, out) if base.is_relative_to(runs) else str(base)
    return {"adapter_base": parent_id, "adapter_base_path": where}


def is_adapters_only(path: str | Path) -> bool:
    return (Path(path) / ADAPTER_CONFIG).is_file() and not (Path(path) / "config.json").is_file()


def _base_of(path: Path) -> Path:
    import json

    from selftaught.errors import CheckpointError
    from selftaught.loops.checkpoint import MANIFEST

    try:
        meta = json.loads((path / MANIFEST).read_text(encoding="utf-8")).get("meta", {})
        rel = meta["adapter_base_path"]
    except (OSError, ValueError, KeyError):
        raise CheckpointError(f"{path}: adapters without a recorded base (manifest meta adapter_base_path)") from None
    base = (path / rel).resolve()
    if not base.is_dir():
        raise CheckpointError(f"{path}: its base checkpoint {base} is not on disk")
    return base


def load_causal_lm(path: str | Path, *, dtype: Any = "auto") -> Any:
    """A causal LM from a checkpoint folder: full weights, or adapters merged onto their base
    chain; every folder of the chain verified first (``checkpoint.verified``)."""
    from transformers import AutoModelForCausalLM

    from selftaught.loops.checkpoint import verified

    with verified(path) as root:
        if not is_adapters_only(root):
            return AutoModelForCausalLM.from_pretrained(root, dtype=dtype)
        base_path = _base_of(root)
    from peft import PeftModel

    base = load_causal_lm(base_path, dtype=dtype)
    with verified(root):
        return PeftModel.from_pretrained(base, root).merge_and_unload()


@contextmanager
def materialized(path: str | Path) -> Iterator[str]:
    """A folder with full weights for ``path``: itself (verified), or (adapters only) a temporary
    merge, removed afterwards. For code that needs ``from_pretrained(folder)`` of another class."""
    from selftaught.loops.checkpoint import verify_for_load

    verify_for_load(path)
    if not is_adapters_only(path):
        yield str(path)
        return
    import tempfile

    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(prefix="selftaught-merged-") as tmp:
        load_causal_lm(path).save_pretrained(tmp)
        AutoTokenizer.from_pretrained(path).save_pretrained(tmp)
        yield tmp
