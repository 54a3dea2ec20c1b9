"""LoRA for every trainer: one settings record, one ``peft.LoraConfig`` builder, one merge.

In: ``LoRASettings`` (or None for full fine-tuning). Out: the ``peft_config`` argument that
TRL's trainers take, and, after training, a plain ``PreTrainedModel`` with the adapters
merged into its weights -- so every checkpoint this package writes loads with
``AutoModelForCausalLM.from_pretrained`` and nothing needs to know it was trained with LoRA.

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

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LoRASettings:
    """Low-rank adapters instead of full fine-tuning."""

    r: int = 16  # adapter rank
    alpha: int = 32  # scaling numerator (scale = alpha / r)
    dropout: float = 0.0  # dropout on the adapter input
    target_modules: str | tuple[str, ...] = "all-linear"  # peft target_modules


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
