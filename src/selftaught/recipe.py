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

Other round types (``method:`` grpo | rloo | dpo | distill | sl-cai | rl-cai) take their
settings from the ``grpo:``, ``rloo:``, ``dpo:``, ``teacher:`` and ``constitution:`` sections
(Constitutional AI: ``recipe_cai.py``, which also reads old CAI recipe files); ``reward:`` weights the verifiers
that score RL rollouts; ``lora:`` switches every trainer to low-rank adapters;
``curriculum:`` keeps only prompts whose pass rate lies in a band; ``stages:`` lists one
method per round (the R1 pipeline: ``[grpo, rft, grpo, dpo]``), each round starting from
the previous round's checkpoint. ``device:`` and ``dtype:`` say where every stage runs its
model (``hardware.py``; by default a GPU in bf16 when torch sees one, else the CPU in
float32).

A real model: ``policy: {init: models/smollm2-135m-instruct}`` (a saved HF folder, or a hub
name where there is network). ``profile`` (``auto`` in a file) then fills every key the
recipe leaves out with that model's defaults (``profiles.py``), and the ``prompt:`` section
says how problems are shown to it -- the chat template, a system message, the answer-format
instruction -- and how strictly the judge reads the answer (``loops/prompting.py``).

Every field has a default (the measured demo configuration for the tiny model) and a one-line
doc (``selftaught recipe keys [SECTION]`` lists them); each section is the settings model of
the loop that uses it (``loops/defaults.py``, ``loops/train.py``, ``loops/rl.py``, ...), so a
default is written once. Unknown keys are errors, and relative paths are resolved against the
recipe file's folder. ``load_recipe``
fails with file, line and reason before anything runs: a model folder without
``config.json``, a chat prompt for a tokenizer with no template, a judge or reward that does
not fit the task, an offline hub name, a vLLM backend (``generate.backend`` or GRPO/RLOO's
``backend``) where vLLM or a CUDA GPU is missing, a ``log.to`` backend whose package is
not installed. ``log:`` sends every trainer's logs and each round's metrics to TensorBoard,
MLflow, W&B or Trackio (``loops/tracking.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from selftaught.errors import ConfigError
from selftaught.loops.curriculum import CurriculumBand
from selftaught.loops.defaults import DemoConfig, TaskSpec
from selftaught.loops.distill import TeacherSpec
from selftaught.loops.dpo import DPOSettings
from selftaught.loops.lora import LoRASettings
from selftaught.loops.methods import CAI_FAMILIES, FAMILY, Family, Method
from selftaught.loops.prompting import PromptSpec
from selftaught.loops.rl import RLOOSettings, RLSettings
from selftaught.loops.section import Backend, Section
from selftaught.loops.tracking import LogSettings, not_installed
from selftaught.loops.train import SFTSettings
from selftaught.recipe_cai import ConstitutionSpec, check_cai, is_cai, is_old_cai, translate_old, with_cai_defaults
from selftaught.search.run import SearchConfig
from selftaught.yamlfile import line_of, parse_yaml, validate


#: the ``Problem`` fields each task kind's problems carry (what a judge reads: its class's ``reads``)
_TASK_CARRIES = {"arithmetic": {"answer", "solution"}, "file": {"answer", "solution"}, "prompts": {"tags"}}


class Recipe(DemoConfig):
    """A recipe file: the demo's sections (``DemoConfig``: seed, method, rounds, device, dtype,
    task, policy, generate, train, evaluate) and the rest below; each section is the loop's own
    settings model, its defaults written there once."""

    name: str = "arithmetic"
    "The run's name (runs are RUN ids NAME-TIMESTAMP-NNNN)."
    stages: tuple[Method, ...] = ()
    "One method per round, e.g. [grpo, rft, grpo, dpo]; sets `rounds` to its length."
    profile: Literal["tiny", "instruct", "base"] = "tiny"
    "Model-dependent defaults (profiles.py): tiny (the embedded model), instruct (chat template), base; `auto` (in a file) picks from policy.init."
    prompt: PromptSpec = PromptSpec()
    "How problems are shown to the model and how the judge reads its answer."
    judge: str = "arithmetic"
    "Name of the verifier that judges samples: arithmetic, math, code, choice or keyword; `constitution` (the `constitution:` section) for sl-cai/rl-cai rounds."
    reward: dict[str, float] = {"arithmetic": 1.0, "format": 0.2}
    "RL rewards: verifier name -> weight (`judge`'s name means the recipe's judge; `format` scores the prompt's answer format). Unset: {judge: 1} plus format 0.2 for the think format."
    backend: Backend = "hf"
    "Rollouts inside GRPO/RLOO only: in-process HF, or TRL's colocated vLLM mode (a CUDA GPU and the `vllm` extra; checked at load; untested here). The other stages' sampler is `generate.backend`."
    grpo: RLSettings = RLSettings()
    "GRPO rounds (loops/rl.py)."
    rloo: RLOOSettings = RLOOSettings()
    "RLOO rounds (loops/rl.py)."
    dpo: DPOSettings = DPOSettings()
    "Iterative DPO rounds on verified pairs (loops/dpo.py)."
    lora: LoRASettings | None = None
    "Low-rank adapters for every trainer (merged into each saved checkpoint unless save: adapters); off when absent."
    curriculum: CurriculumBand | None = None
    "Pass-rate band filter on each round's prompts (off when absent)."
    teacher: TeacherSpec | None = None
    "The teacher of `distill` rounds."
    search: SearchConfig | None = None
    "Test-time search instead of plain sampling in rft/star rounds' generate stage (off when absent)."
    constitution: ConstitutionSpec | None = None
    "Constitutional AI: the constitution and its settings (sl-cai/rl-cai rounds only; filled in for them)."
    log: LogSettings | None = None
    "Experiment tracking: every trainer's logs and each round's metrics to TensorBoard, MLflow, W&B or Trackio (loops/tracking.py; off when absent)."
    keep_checkpoints: int | None = Field(None, ge=1)
    "Keep the weights of only the newest N checkpoints of the run (older ones are pruned; the store keeps their rows, marked pruned). None keeps all."

    @field_validator("train", "grpo", "rloo", "dpo", "search", mode="before")
    @classmethod
    def _no_runtime_keys(cls, data: Any, info: ValidationInfo) -> Any:
        """The seed of a stage, its placement, lora and backend are set per run, not here."""
        section = {"train": SFTSettings, "grpo": RLSettings, "rloo": RLOOSettings, "dpo": DPOSettings,
                   "search": SearchConfig}[info.field_name]  # fmt: skip
        return section.refuse_runtime(data)

    @model_validator(mode="before")
    @classmethod
    def _rounds_from_stages(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("stages") and "rounds" not in data:
            data = {**data, "rounds": len(data["stages"])}
        return data

    @model_validator(mode="before")
    @classmethod
    def _profile_defaults(cls, data: Any) -> Any:
        from selftaught.profiles import resolve

        return resolve(data) if isinstance(data, dict) else data

    @model_validator(mode="before")
    @classmethod
    def _cai_defaults(cls, data: Any) -> Any:  # defined after _profile_defaults: runs before it
        return with_cai_defaults(data) if isinstance(data, dict) else data

    @field_validator("prompt")
    @classmethod
    def _chat_needs_a_template(cls, prompt: PromptSpec, info: ValidationInfo) -> PromptSpec:
        if prompt.format == "auto" or prompt.answer_format == "auto":
            raise ValueError("`auto` is settled when a recipe file is read; give raw/chat and an answer format here")
        policy = info.data.get("policy")
        if prompt.format == "chat" and policy is not None:
            from selftaught.profiles import model_facts

            facts = model_facts(policy.init)  # None: tiny, or a folder gone since (a stored run)
            if (facts is None and policy.init == "tiny") or (facts is not None and not facts.has_chat_template):
                what = "the tiny model" if policy.init == "tiny" else f"the tokenizer of {policy.init}"
                raise ValueError(f"format chat, but {what} has no chat template (use format: raw)")
        return prompt

    @field_validator("judge")
    @classmethod
    def _known_judge_fits_task(cls, judge: str, info: ValidationInfo) -> str:
        _check_fits(judge, info.data.get("task"))
        if judge == "format":
            raise ValueError("format only scores the answer's form: it can be a reward, not the judge")
        return judge

    @field_validator("reward")
    @classmethod
    def _rewards_fit(cls, reward: dict[str, float], info: ValidationInfo) -> dict[str, float]:
        judge = info.data.get("judge")
        for name in reward:
            _check_fits(name, info.data.get("task"), what=f"reward {name!r}")
            if judge is not None and name != judge and _verifier(name).reads:
                raise ValueError(
                    f"{name!r} judges correctness, but the recipe's judge is {judge!r}: "
                    f"name the judge itself (e.g. {{{judge}: 1.0}}), plus `format` if wanted"
                )
        prompt = info.data.get("prompt")
        if "format" in reward and prompt is not None and prompt.answer_format == "free":
            raise ValueError("'format' scores the instructed answer format, and prompt.answer_format is free")
        return reward

    @field_validator("teacher")
    @classmethod
    def _one_teacher_source(cls, teacher: TeacherSpec | None) -> TeacherSpec | None:
        if teacher is not None:
            try:
                teacher.check_source()
            except ConfigError as e:
                raise ValueError(e.reason) from None
        return teacher

    @field_validator("search")
    @classmethod
    def _search_models_given(cls, search: SearchConfig | None) -> SearchConfig | None:
        from selftaught.search.run import check_models

        if search is not None:
            try:
                check_models(search, orm=search.orm is not None, prm=search.prm is not None)
            except ConfigError as e:
                raise ValueError(e.reason.replace("--orm PATH", "`orm: PATH`").replace("--prm PATH", "`prm: PATH`")) from None
        return search

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        if self.stages and len(self.stages) != self.rounds:
            raise ValueError(f"rounds is {self.rounds} but stages lists {len(self.stages)} methods")
        if Method.DISTILL in self.methods() and self.teacher is None:
            raise ValueError("a distill round needs a `teacher`")
        if self.search is not None and not {Method.RFT, Method.STAR} & set(self.methods()):
            raise ValueError("search: only rft/star rounds generate by search, and this recipe has none")
        if not self.reward or any(w < 0 for w in self.reward.values()) or sum(self.reward.values()) <= 0:
            raise ValueError("reward: weights must be >= 0 with a positive sum")
        check_cai(self)
        return self

    def methods(self) -> tuple[Method, ...]:
        """The method of every round 1..rounds."""
        return self.stages or (self.method,) * self.rounds

    def method_for_round(self, index: int) -> Method:
        """Round ``index`` (1-based) runs this method."""
        return self.methods()[index - 1]

    def family_for_round(self, index: int) -> Family:
        return FAMILY[self.method_for_round(index)]

    def is_cai(self) -> bool:
        """Whether the rounds are Constitutional AI rounds (then all of them are)."""
        return FAMILY[self.methods()[0]] in CAI_FAMILIES

    def rl_settings(self, method: Method, *, seed: int) -> RLSettings:
        """The ``grpo``/``rloo`` section as one round runs it (its stage seed, the recipe's lora
        and backend, the policy's master weights and gradient checkpointing, this machine's placement)."""
        spec = {Method.GRPO: self.grpo, Method.RLOO: self.rloo}[method]
        return spec.replace(seed=seed, lora=self.lora, backend=self.backend, master_dtype=self.policy.master_dtype,
                            gradient_checkpointing=self.policy.gradient_checkpointing, placement=self.placement())  # fmt: skip

    def dpo_settings(self, *, seed: int) -> DPOSettings:
        """The ``dpo`` section as one round runs it (as ``rl_settings``)."""
        return self.dpo.replace(seed=seed, lora=self.lora, master_dtype=self.policy.master_dtype,
                                gradient_checkpointing=self.policy.gradient_checkpointing, placement=self.placement())  # fmt: skip


def _verifier(name: str) -> Any:
    """The registered verifier class ``name`` (``judges.registry.VERIFIERS``)."""
    from selftaught.judges.registry import VERIFIERS

    if name not in VERIFIERS:
        raise ValueError(f"unknown verifier {name!r}; valid: {', '.join(VERIFIERS)}")
    return VERIFIERS[name]


def _check_fits(name: str, task: TaskSpec | None, what: str | None = None) -> None:
    """A verifier name is registered and the task's problems carry what it reads."""
    what = what or f"judge {name!r}"
    reads = _verifier(name).reads
    missing = [field for field in reads if task is not None and field not in _TASK_CARRIES[task.kind]]
    if missing:
        raise ValueError(f"{what} reads each problem's {missing[0]!r}, which a {task.kind} task's problems do not have")


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
    teacher = recipe.teacher
    if teacher is not None and teacher.path is not None:
        p = Path(teacher.path)
        teacher = teacher.model_copy(update={"path": str(p if p.is_absolute() else (base / p).resolve())})
    search = recipe.search
    if search is not None:
        models = {}
        for key in ("orm", "prm"):
            if getattr(search, key) is None:
                continue
            p = Path(getattr(search, key))
            p = p if p.is_absolute() else (base / p).resolve()
            if not (p / "config.json").is_file():
                raise ConfigError(f"search.{key}: not a saved model (no config.json): {p}",
                                  file=file, line=line_of(root, ("search", key)))  # fmt: skip
            models[key] = str(p)
        search = search.model_copy(update=models)
    log = recipe.log
    if log is not None and log.dir is not None and not Path(log.dir).is_absolute():
        log = log.replace(dir=str((base / log.dir).resolve()))
    constitution = recipe.constitution
    if constitution is not None:
        from selftaught.constitution import BUNDLED

        name = constitution.name
        if name not in BUNDLED and not Path(name).is_absolute():
            constitution = constitution.model_copy(update={"name": str((base / name).resolve())})
    return recipe.model_copy(
        update={"task": task.model_copy(update=updates), "teacher": teacher, "search": search,
                "constitution": constitution, "log": log}
    )  # fmt: skip


def _check_backends(recipe: Recipe, root, file: str) -> None:
    """``backend: vllm`` (GRPO/RLOO) or ``generate.backend: vllm`` where vLLM cannot run: one line."""
    for loc, value in ((("generate", "backend"), recipe.generate.backend), (("backend",), recipe.backend)):
        if value == "vllm":
            from selftaught.loops.vllm_sampler import vllm_unavailable

            if recipe.device == "cpu":
                why = "needs a CUDA GPU, and the recipe says device: cpu"
            else:
                why = vllm_unavailable()
            if why is not None:
                raise ConfigError(f"{'.'.join(loc)}: vllm {why}", file=file, line=line_of(root, loc))


def _check_trackers(recipe: Recipe, root, file: str) -> None:
    """``log.to`` names a backend whose package is missing: one line saying what to install."""
    why = None if recipe.log is None else not_installed(recipe.log.to)
    if why is not None:
        raise ConfigError(f"log.to: {why}", file=file, line=line_of(root, ("log", "to")))


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file (ConfigError with file:line on any problem)."""
    path = Path(path)
    file = str(path)
    if not path.is_file():
        raise ConfigError("file not found", file=file)
    data, root = parse_yaml(path.read_text(encoding="utf-8"), file)
    base = path.parent.resolve()
    if is_old_cai(data):
        import sys

        from selftaught.recipe_cai import first_line

        line = first_line(root)
        data, root = translate_old(data, root)
        print(f"{file}:{line}: an old CAI recipe (top-level mode:, passes: ...), read as method: "
              f"{data['method']} with a constitution: section; see recipes/cai-smollm2.yaml for the new form",
              file=sys.stderr)  # fmt: skip
    policy = data.get("policy") if isinstance(data, dict) else None
    chat_name = isinstance(policy, dict) and policy.get("init") in ("smollm2", "tiny") and is_cai(data)
    if isinstance(policy, dict) and isinstance(policy.get("init"), str) and not chat_name:
        # before validation: the profile's defaults depend on what the model is
        from selftaught.profiles import resolve_init

        try:
            init = resolve_init(data["policy"]["init"], base)
        except ValueError as exc:
            raise ConfigError(f"policy.init: {exc}", file=file, line=line_of(root, ("policy", "init"))) from None
        data = {**data, "policy": {**data["policy"], "init": init}}
    recipe = validate(Recipe, data, root, file)
    _check_backends(recipe, root, file)
    _check_trackers(recipe, root, file)
    return _resolve_paths(recipe, base, root, file)


def recipe_from_dict(data: dict) -> Recipe:
    """Validate a recipe given as plain data (as stored with a run; an old CAI run's is read
    in the new form)."""
    if data.get("kind") == "cai":
        data = translate_old({k: v for k, v in data.items() if k != "kind"}, None)[0]
    return validate(Recipe, data, None, "<recipe>")


def write_recipe(recipe: Recipe, path: str | Path) -> Path:
    """Write ``recipe`` as a file that ``load_recipe`` reads back to the same recipe (the keys
    that differ from their defaults). Returns ``path``."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = recipe.model_dump(mode="json", exclude_defaults=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


__all__ = ["Method", "Recipe", "load_recipe", "recipe_from_dict", "write_recipe"]
