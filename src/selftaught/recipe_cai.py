"""The Constitutional AI part of a recipe: its ``constitution:`` section, the defaults of a
CAI recipe, and the reading of an old CAI recipe file (``recipe.py`` holds the rest).

A CAI recipe is an ordinary recipe whose rounds are ``sl-cai`` or ``rl-cai``::

    name: cai-smollm2
    method: sl-cai           # sl-cai: critique -> revise -> SFT;  rl-cai: AI-feedback pairs -> DPO
    rounds: 1
    policy: {init: smollm2}  # smollm2 | tiny (a random chat model) | a saved HF chat model folder
    task: {kind: prompts, prompts_per_round: 8, n_heldout: 8}   # bundled prompts, or train/heldout JSONL
    constitution: {name: concise, passes: 1, max_new_tokens: 64}
    train: {steps: 8, lr: 1.0e-5, batch_size: 4, max_length: 384}   # sl-cai's SFT (rl-cai: dpo:)

Keys a CAI recipe leaves out take ``CAI_DEFAULTS`` (the measured settings of the old CAI
recipe type), not the embedded arithmetic task's. The constitution file is read again at the
start of every round (its hash is recorded with the round).

An old CAI recipe (top-level ``mode:``, ``constitution: NAME``, ``passes:`` ...) is read as
the new form by ``translate_old``, keeping each key's line for error messages; the caller
prints a one-line deprecation note.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import Field

from selftaught.loops.section import Section

CAI_METHODS = ("sl-cai", "rl-cai")


class ConstitutionSpec(Section):
    """Constitutional AI rounds (``sl-cai``, ``rl-cai``): the constitution and how it is applied."""

    name: str = "concise"
    "A bundled constitution (default, concise) or the path of a YAML constitution (relative to the recipe), re-read every round."
    passes: int = Field(1, ge=1)
    "sl-cai: critique -> revision passes per answer."
    resample_principle: bool = False
    "sl-cai: draw a fresh principle every pass (default: one per prompt)."
    min_overlap: float = Field(0.0, ge=0, le=1)
    "sl-cai: drop revisions whose content words are mostly not in prompt + answer (0 = off)."
    max_new_tokens: int = Field(64, ge=1)
    "Tokens per answer and per revision (and per held-out answer)."
    critique_max_new_tokens: int = Field(48, ge=1)
    "sl-cai: tokens per critique."
    temperature: float = Field(0.0, ge=0)
    "sl-cai: temperature of answers, critiques and revisions (0 = greedy)."
    rl_temperature: float = Field(1.0, gt=0)
    "rl-cai: sampling temperature of the two answers."
    threshold: float = Field(0.6, ge=0.5, le=1)
    "rl-cai: keep pairs whose preference probability is at least this for DPO."
    debias_order: bool = True
    "rl-cai: ask the feedback model in both orders and average."


#: what a CAI recipe's missing keys become (deep-merged under what the recipe gives)
_TRAIN = {"steps": 8, "lr": 1.0e-5, "batch_size": 4, "max_length": 384}
CAI_DEFAULTS: Mapping[str, Any] = {
    "policy": {"init": "smollm2"},
    "task": {"kind": "prompts", "prompts_per_round": 8, "n_heldout": 8},
    "profile": "tiny",  # no model-dependent overlay: CAI renders its own chat prompts
    "judge": "constitution",
    "reward": {"constitution": 1.0},
    "constitution": {},
    "train": _TRAIN,
    "dpo": {**_TRAIN, "beta": 0.1, "max_pairs_per_problem": 1},
}


def is_cai(data: Mapping[str, Any]) -> bool:
    """Whether plain recipe data names CAI rounds (``method`` or any of ``stages``)."""
    stages = data.get("stages")
    named = list(stages) if isinstance(stages, list | tuple) and stages else [data.get("method")]
    return any(str(getattr(m, "value", m)) in CAI_METHODS for m in named)


def with_cai_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``CAI_DEFAULTS`` under it, when it names CAI rounds (else as it is)."""
    if not is_cai(data):
        return data
    return _merge(CAI_DEFAULTS, data)


def _merge(defaults: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(defaults)
    for key, value in given.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        elif hasattr(value, "model_fields_set") and isinstance(out.get(key), Mapping):  # a section given as a model
            out[key] = _merge(out[key], {k: getattr(value, k) for k in value.model_fields_set})
        else:
            out[key] = value
    return out


def check_cai(recipe: Any) -> None:
    """CAI rounds (sl-cai, rl-cai) read prompts and a constitution; no other round does
    (``Recipe``'s after-validator; raises ``ValueError`` with the reason)."""
    from selftaught.loops.methods import CAI_FAMILIES, FAMILY

    cai = {FAMILY[m] in CAI_FAMILIES for m in recipe.methods()}
    if cai == {True, False}:
        raise ValueError("stages: sl-cai/rl-cai rounds cannot be mixed with other methods (their task is prompts)")
    if True in cai:
        if recipe.task.kind != "prompts":
            raise ValueError("sl-cai/rl-cai rounds need `task: {kind: prompts}` (prompts without answers)")
        if recipe.judge != "constitution":
            raise ValueError("sl-cai/rl-cai rounds are judged by their constitution: `judge: constitution`")
        for what in ("curriculum", "search", "teacher"):
            if getattr(recipe, what) is not None:
                raise ValueError(f"{what}: not used by sl-cai/rl-cai rounds")
        if recipe.generate.backend == "vllm":
            raise ValueError("generate.backend: sl-cai/rl-cai rounds answer with the HF chat model (hf)")
        return
    if recipe.task.kind == "prompts":
        raise ValueError("task kind prompts: only sl-cai/rl-cai rounds (prompts have no answers to verify)")
    if recipe.judge == "constitution" or "constitution" in recipe.reward:
        raise ValueError("`constitution` judges only sl-cai/rl-cai rounds")
    if recipe.constitution is not None:
        raise ValueError("constitution: only sl-cai/rl-cai rounds read it")


# ------------------------------------------------------------------ old CAI recipe files

#: old top-level key -> where it lives now (a key may feed two sections: train and dpo)
_MOVES: Mapping[str, tuple[tuple[str, ...], ...]] = {
    "mode": (("method",),),
    "constitution": (("constitution", "name"),),
    "policy": (("policy", "init"),),
    "train_prompts": (("task", "train"),),
    "heldout_prompts": (("task", "heldout"),),
    "n_train": (("task", "prompts_per_round"),),
    "n_heldout": (("task", "n_heldout"),),
    **{k: (("constitution", k),) for k in (
        "passes", "resample_principle", "min_overlap", "max_new_tokens", "critique_max_new_tokens",
        "temperature", "rl_temperature", "threshold", "debias_order",
    )},
}  # fmt: skip
_TRAIN_MOVES = {"steps": ("train", "dpo"), "lr": ("train", "dpo"), "batch_size": ("train", "dpo"),
                "max_length": ("train", "dpo"), "beta": ("dpo",)}  # fmt: skip
_OLD_ONLY = frozenset(_MOVES) - {"constitution", "policy"}


def is_old_cai(data: Any) -> bool:
    """An old CAI recipe: a top-level key only it had, or ``constitution``/``policy`` as a string."""
    if not isinstance(data, Mapping):
        return False
    return bool(_OLD_ONLY & set(data)) or any(isinstance(data.get(k), str) for k in ("constitution", "policy"))


def translate_old(data: Mapping[str, Any], root: yaml.Node | None) -> tuple[dict[str, Any], yaml.Node | None]:
    """An old CAI recipe's data as the new form, and a node tree in which every moved key
    keeps its line (so a bad value still names the line it is on)."""
    keys = {k.value: (k, v) for k, v in root.value} if isinstance(root, yaml.MappingNode) else {}
    out: dict[str, Any] = {"method": "sl-cai"}
    nodes: dict[str, Any] = {}  # top key -> (key node, value node) or {child: (key node, value node)}

    def put(path: tuple[str, ...], value: Any, old: str) -> None:
        here, tree = out, nodes
        for part in path[:-1]:
            here = here.setdefault(part, {})
            tree = tree.setdefault(part, {})
        here[path[-1]] = value
        if old in keys:
            tree[path[-1]] = keys[old]

    for key, value in data.items():
        if key == "train" and isinstance(value, Mapping):
            sub = {k.value: (k, v) for k, v in keys["train"][1].value} if "train" in keys else {}
            for k, v in value.items():
                for section in _TRAIN_MOVES.get(k, ("train",)):
                    put((section, k), v, "train")
                    if k in sub:
                        nodes[section][k] = sub[k]
            continue
        if key == "mode":
            value = {"sl": "sl-cai", "rl": "rl-cai"}.get(value, value)
        for path in _MOVES.get(key, ((key,),)):
            put(path, value, key)
    return out, None if root is None else _tree(nodes, root)


def _tree(nodes: Mapping[str, Any], at: yaml.Node) -> yaml.MappingNode:
    pairs = []
    for name, entry in nodes.items():
        if isinstance(entry, Mapping):
            child = _tree(entry, at)
            first = next(iter(child.value), None)
            mark = first[0].start_mark if first else at.start_mark
            child.start_mark = mark
            pairs.append((yaml.ScalarNode("tag:yaml.org,2002:str", name, mark, mark), child))
        else:
            key, value = entry
            pairs.append((yaml.ScalarNode("tag:yaml.org,2002:str", name, key.start_mark, key.end_mark), value))
    return yaml.MappingNode("tag:yaml.org,2002:map", pairs, at.start_mark, at.end_mark)


def first_line(root: yaml.Node | None) -> int:
    """The line of the first key of an old recipe (where the deprecation note points)."""
    if isinstance(root, yaml.MappingNode) and root.value:
        for k, _ in root.value:
            if k.value in _OLD_ONLY or k.value in ("constitution", "policy"):
                return k.start_mark.line + 1
    return 1
