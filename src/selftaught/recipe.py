"""A recipe: what to improve, with which method, for how many rounds. One YAML file.

    name: arithmetic-star
    method: star          # rft | star (STaR adds rationalization)
    rounds: 3
    seed: 0
    task:
      kind: arithmetic    # the embedded task; or `kind: file` with train/heldout JSONL paths
      digits: 2
    policy:
      init: tiny          # build the embedded tiny model and cold-start it; or a checkpoint path
    generate: {k: 8, temperature: 1.0, max_new_tokens: 40}
    train: {lr: 5.0e-4, steps: 60, batch_size: 32}
    evaluate: {k: 8}

Every field has a default (the measured demo configuration), unknown keys are errors, and
relative paths are resolved against the recipe file's folder. ``load_recipe`` fails with
file, line and reason before anything runs.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from selftaught.errors import ConfigError
from selftaught.loops.defaults import DemoConfig, Method
from selftaught.records import SamplingParams
from selftaught.yamlfile import line_of, parse_yaml, validate


_D = DemoConfig()  # the measured demo configuration: every default below comes from it


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TaskSpec(_Strict):
    kind: Literal["arithmetic", "file"] = "arithmetic"
    "`arithmetic`: the embedded task; `file`: problems from JSONL files."
    digits: int = Field(_D.digits, ge=1, le=6)
    "Arithmetic only: digits per operand."
    n_train: int = Field(_D.n_train, ge=1)
    "Arithmetic only: size of the training-problem pool."
    n_heldout: int = Field(_D.n_heldout, ge=1)
    "Arithmetic only: held-out problems (never trained on)."
    n_cold_start: int = Field(_D.n_cold_start, ge=1)
    "Arithmetic only: worked examples for the cold-start SFT."
    prompts_per_round: int = Field(_D.prompts_per_round, ge=1)
    "Problems drawn per round, rotating through the pool."
    train: Path | None = None
    "File only: JSONL of training problems (id, prompt, answer[, solution])."
    heldout: Path | None = None
    "File only: JSONL of held-out problems."

    @model_validator(mode="after")
    def _files_given_for_file_kind(self) -> TaskSpec:
        if self.kind == "file" and (self.train is None or self.heldout is None):
            raise ValueError("kind: file needs both `train` and `heldout` paths")
        return self


class PolicySpec(_Strict):
    init: str = "tiny"
    "`tiny`: build the embedded model and cold-start it; otherwise a checkpoint directory."
    size: str = _D.size
    "Embedded model size (tiny only)."
    cold_start_steps: int = Field(_D.cold_start_sft.steps, ge=0)
    "SFT steps on worked examples when init is `tiny` (0 = none)."
    cold_start_lr: float = Field(_D.cold_start_sft.lr, gt=0)
    cold_start_batch_size: int = Field(_D.cold_start_sft.batch_size, ge=1)


class GenerateSpec(_Strict):
    k: int = Field(_D.k, ge=1, le=256)
    "Samples per training problem."
    temperature: float = Field(_D.sampling.temperature, gt=0)
    top_p: float = Field(_D.sampling.top_p, gt=0, le=1)
    max_new_tokens: int = Field(_D.sampling.max_new_tokens, ge=1)
    batch_size: int = Field(_D.batch_size, ge=1)
    "Prompts per generate() call."


class TrainSpec(_Strict):
    lr: float = Field(_D.round_sft.lr, gt=0)
    steps: int = Field(_D.round_sft.steps, ge=1)
    batch_size: int = Field(_D.round_sft.batch_size, ge=1)
    max_per_problem: int = Field(_D.max_per_problem, ge=1)
    "Distinct correct samples kept per problem."


class EvaluateSpec(_Strict):
    k: int = Field(_D.eval_k, ge=1, le=256)
    "Samples per held-out problem for pass@1 / pass@k / maj@k."
    temperature: float = Field(_D.eval_temperature, gt=0)


class Recipe(_Strict):
    name: str = "arithmetic"
    method: Method = _D.method
    "rft | star"
    rounds: int = Field(_D.rounds, ge=1, le=1000)
    seed: int = _D.seed
    judge: str = "arithmetic"
    "Name of the verifier that judges samples."
    task: TaskSpec = TaskSpec()
    policy: PolicySpec = PolicySpec()
    generate: GenerateSpec = GenerateSpec()
    train: TrainSpec = TrainSpec()
    evaluate: EvaluateSpec = EvaluateSpec()

    def loop_config(self) -> DemoConfig:
        """The loops' own typed config for this recipe (what the stage functions take)."""
        g, t = self.generate, self.train
        return replace(
            _D,
            seed=self.seed,
            digits=self.task.digits,
            size=self.policy.size,
            method=self.method,
            rounds=self.rounds,
            n_train=self.task.n_train,
            prompts_per_round=self.task.prompts_per_round,
            n_cold_start=self.task.n_cold_start,
            n_heldout=self.task.n_heldout,
            k=g.k,
            eval_k=self.evaluate.k,
            eval_temperature=self.evaluate.temperature,
            max_per_problem=t.max_per_problem,
            sampling=SamplingParams(
                temperature=g.temperature, top_p=g.top_p, max_new_tokens=g.max_new_tokens
            ),
            cold_start_sft=replace(
                _D.cold_start_sft,
                lr=self.policy.cold_start_lr,
                steps=self.policy.cold_start_steps,
                batch_size=self.policy.cold_start_batch_size,
            ),
            round_sft=replace(_D.round_sft, lr=t.lr, steps=t.steps, batch_size=t.batch_size),
            batch_size=g.batch_size,
        )


def _resolve_paths(recipe: Recipe, base: Path, root, file: str) -> Recipe:
    """Make relative paths absolute against ``base`` and check that they exist."""
    task = recipe.task
    updates = {}
    for key in ("train", "heldout"):
        p = getattr(task, key)
        if p is None:
            continue
        p = p if p.is_absolute() else (base / p).resolve()
        if not p.is_file():
            raise ConfigError(f"task.{key}: file not found: {p}", file=file, line=line_of(root, ("task", key)))
        updates[key] = p
    policy = recipe.policy
    if policy.init != "tiny":
        p = Path(policy.init)
        p = p if p.is_absolute() else (base / p).resolve()
        if not p.is_dir():
            raise ConfigError(
                f"policy.init: not 'tiny' and not a checkpoint directory: {p}",
                file=file,
                line=line_of(root, ("policy", "init")),
            )
        policy = policy.model_copy(update={"init": str(p)})
    return recipe.model_copy(update={"task": task.model_copy(update=updates), "policy": policy})


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file (ConfigError with file:line on any problem)."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ConfigError("file not found", file=file)
    data, root = parse_yaml(path.read_text(encoding="utf-8"), file)
    recipe = validate(Recipe, data, root, file)
    return _resolve_paths(recipe, path.parent.resolve(), root, file)


def recipe_from_dict(data: dict) -> Recipe:
    """Validate a recipe given as plain data (as stored with a run)."""
    return validate(Recipe, data, None, "<recipe>")


__all__ = ["Method", "Recipe", "load_recipe", "recipe_from_dict"]
