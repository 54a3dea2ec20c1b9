"""section: the base of every settings model, shared by the loops and the recipe.

A loop's settings (``train.SFTSettings``, ``dpo.DPOSettings``, ``rl.RLSettings``,
``lora.LoRASettings``, ``distill.TeacherSpec``, ``search.run.SearchConfig``, the sections of
``defaults.py``) are each ONE frozen pydantic model: the recipe composes them as its
sections (``recipe.py``), the loops take them as they are, and each default is written once,
on the field, followed by a one-line docstring (``selftaught recipe keys`` prints them).

Some fields are decided per run, not written in a recipe: the seed of one stage, the device
and dtype (``placement``), the recipe's ``lora`` or top-level ``backend``. They are declared
with ``runtime()`` (excluded from a recipe's dump, refused as a recipe key) and set with
``replace(...)`` (a validated ``model_copy``) where a stage runs; ``record()`` gives every field, runtime ones
included, as plain data -- what a checkpoint's config records and a worker process reads back.
"""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from selftaught.hardware import Placement

#: a sampler: in-process HF generate, or a vLLM engine (a CUDA GPU and the ``vllm`` extra)
Backend = Literal["hf", "vllm"]
#: the weights a trainer updates: float32 master weights, or the checkpoint's saved dtype
MasterDtype = Literal["float32", "saved"]


class Section(BaseModel):
    """A frozen settings model whose unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    @classmethod
    def runtime_fields(cls) -> tuple[str, ...]:
        """The fields set per run (``runtime()``), never by a recipe."""
        return tuple(name for name, f in cls.model_fields.items() if f.exclude is True)

    @classmethod
    def recipe_keys(cls) -> tuple[str, ...]:
        """The fields a recipe may set."""
        return tuple(name for name, f in cls.model_fields.items() if f.exclude is not True)

    @classmethod
    def refuse_runtime(cls, data: Any) -> Any:
        """``data`` (a recipe section) unchanged, or ValueError when it sets a runtime field."""
        if isinstance(data, dict):
            given = [k for k in cls.runtime_fields() if k in data]
            if given:
                raise ValueError(f"{', '.join(given)}: not a recipe key (set per run); valid: {', '.join(cls.recipe_keys())}")
        return data

    def replace(self, **changes: Any) -> Any:
        """A validated copy with ``changes`` (runtime fields included), as ``dataclasses.replace``."""
        return type(self)(**{**{k: getattr(self, k) for k in type(self).model_fields}, **changes})

    def record(self) -> dict[str, Any]:
        """Every field, runtime ones included, as plain data (a checkpoint's config)."""
        out = self.model_dump()
        for name in self.runtime_fields():
            value = getattr(self, name)
            out[name] = value.record() if isinstance(value, Section) else asdict(value) if is_dataclass(value) else value
        return out


def runtime(default: Any) -> Any:
    """A field set per run (``Section.replace``), not a recipe key."""
    return Field(default, exclude=True)


def check_micro(batch: int, micro: int | None, what: str) -> None:
    """``micro`` (rows per forward/backward pass) divides ``batch``."""
    if micro is not None and (micro > batch or batch % micro):
        raise ValueError(f"micro_batch_size {micro} must divide {what} ({batch})")


def check_processes(processes: int, batch: int | None, micro: int | None) -> int:
    """``processes`` divides the batch, and the micro-batch divides each process's share."""
    if batch is None or processes == 1:
        return processes
    if batch % processes:
        raise ValueError(f"{processes} processes must divide batch_size ({batch}): each process takes batch_size / processes rows")
    if micro is not None and (batch // processes) % micro:
        raise ValueError(f"micro_batch_size {micro} must divide the per-process batch ({batch} / {processes} = {batch // processes})")
    return processes


class TrainerSection(Section):
    """What every trainer's section (``train:``, ``dpo:``, ``grpo:``/``rloo:``) takes per run, on
    top of its recipe keys: the stage's seed, the policy's master weights and gradient
    checkpointing, and this machine's placement (set by ``Recipe.sft_settings`` /
    ``dpo_settings`` / ``rl_settings``)."""

    seed: int = runtime(0)
    master_dtype: MasterDtype = runtime("float32")
    gradient_checkpointing: bool = runtime(False)
    placement: Placement | None = runtime(None)  # None: decided where it runs


class BatchedTrainerSection(TrainerSection):
    """A trainer whose optimizer step takes ``batch_size`` rows (SFT) or pairs (DPO), split into
    ``micro_batch_size`` passes on each of ``processes`` processes: the checks and the split,
    once. The subclass declares the three fields (their docs differ)."""

    @model_validator(mode="after")
    def _micro_divides(self) -> BatchedTrainerSection:
        check_micro(self.batch_size, self.micro_batch_size, "batch_size")  # type: ignore[attr-defined]
        return self

    @field_validator("processes", check_fields=False)
    @classmethod
    def _processes_divide(cls, processes: int, info: ValidationInfo) -> int:
        return check_processes(processes, info.data.get("batch_size"), info.data.get("micro_batch_size"))

    @property
    def accumulation(self) -> tuple[int, int]:
        """(rows per pass, passes per optimizer step) in each of the ``processes`` processes."""
        from selftaught.loops.train import per_process, split_batch

        return split_batch(per_process(self.batch_size, self.processes), self.micro_batch_size)  # type: ignore[attr-defined]
