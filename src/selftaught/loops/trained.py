"""trained: exactly what a checkpoint trained on -- the rows its trainer was given, in order,
and their content hash.

In: a round's recorded ``TrainingSet`` (SFT: the rft/star/distill rounds and the cold start;
``Store.add_training_set`` keeps it in order, with sample ids) or its DPO ``VerifiedPair``s
(``Store.add_training_pairs``, with the chosen and rejected sample ids), and the run's
``PromptStyle``. Out: the rows as TRL's trainer got them (``prompt`` / ``completion``, or
``prompt`` / ``chosen`` / ``rejected``; conversational with a chat style) and
``rows_sha256``, a sha256 over their canonical JSON. ``train_sft`` and ``train_dpo`` build
their datasets with ``sft_rows`` / ``dpo_rows`` and put the hash in the checkpoint's
manifest meta and config (``training_set_sha256``), so ``selftaught export --trained``
(``trained_rows``) re-renders the recorded rows and refuses them if the hash differs.
``describe_checkpoint`` is what ``selftaught checkpoint show`` prints.

A STaR rationalization is recorded with the problem's own prompt, never the hinted prompt it
was sampled from (``loops/curate.py``); the cold start's hinted rows are trained with the hint
on purpose and recorded so. The train stage rebuilds a DPO round's pairs from the stored
verdicts (``build_pairs``, pure) that curate recorded them from; for a round curated before
pairs were recorded, the export rebuilds them the same way, and the hash proves them the
same. GRPO/RLOO (``ONLINE_METHODS``) train on the rollouts they generate: no fixed set, no
export; their rollouts are in the store (source ``rollout``, with the optimizer step).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

from selftaught.errors import DataError
from selftaught.loops.methods import FAMILY, Family
from selftaught.loops.prompting import PromptStyle
from selftaught.records import TrainingSet

#: methods that train on their own rollouts, online: no fixed training set
ONLINE_METHODS = tuple(m.value for m, family in FAMILY.items() if family is Family.ONLINE_RL)
#: where the hash goes in a checkpoint's config and manifest meta
HASH_KEY = "training_set_sha256"


def rows_sha256(rows: Sequence[dict[str, Any]]) -> str:
    """sha256 of the rows' canonical JSON (sorted keys, no spaces, UTF-8), in their order.

    >>> rows_sha256([{"prompt": "1+1?", "completion": "2"}])[:12]
    '77a6e2fd870e'
    >>> rows_sha256([]) == rows_sha256([{"prompt": "1+1?", "completion": "2"}])
    False
    """
    canonical = json.dumps(list(rows), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def sft_rows(ts: TrainingSet, style: PromptStyle) -> list[dict[str, Any]]:
    """The SFT trainer's dataset rows for ``ts``, in order."""
    return [style.sft_row(e.prompt, e.completion) for e in ts.examples]


def dpo_rows(pairs: Sequence[Any], style: PromptStyle) -> list[dict[str, Any]]:
    """The DPO trainer's dataset rows for ``pairs`` (``VerifiedPair``), in order."""
    return [style.dpo_row(p.prompt, p.chosen, p.rejected) for p in pairs]


def trained_rows(store: Any, run_id: str, index: int) -> tuple[str, list[dict[str, Any]]]:
    """(method, rows) round ``index`` of ``run_id`` trained on, checked against its checkpoint's hash.

    Raises ``DataError`` in one line: no checkpoint, an online-RL round, nothing recorded,
    or rows that no longer hash to what the checkpoint recorded.
    """
    ckpt = next((c for c in store.list_checkpoints(run_id) if c.round_index == index), None)
    if ckpt is None:
        raise DataError(f"run {run_id}: round {index} has no checkpoint (not trained yet)")
    method = str(ckpt.config.get("method", ""))
    if method in ONLINE_METHODS:
        raise DataError(f"run {run_id}: round {index} trained online ({method}) on its own rollouts, not a fixed "
                        f"set; see them with `selftaught samples --run {run_id} --round {index} --source rollout`")  # fmt: skip
    recorded = ckpt.config.get(HASH_KEY)
    if recorded is None:
        raise DataError(f"run {run_id}: checkpoint {ckpt.id} records no training set (a given or untrained "
                        "model, or trained before training sets were recorded)")  # fmt: skip
    style = _section(store.get_run(run_id).recipe, "prompt").style() if index > 0 else PromptStyle()
    rows = _dpo_rows(store, run_id, index, style) if method == "dpo" else _sft_rows(store, run_id, index, style)
    if rows_sha256(rows) != recorded:
        raise DataError(f"run {run_id}: round {index}'s rows no longer hash to {recorded[:12]}, what checkpoint "
                        f"{ckpt.id} trained on")  # fmt: skip
    return method, rows


def _sft_rows(store: Any, run_id: str, index: int, style: PromptStyle) -> list[dict[str, Any]]:
    ts = store.get_training_set(run_id, index)
    if ts is None:
        raise DataError(f"run {run_id}: round {index} has no recorded training set")
    return sft_rows(ts, style)


def _dpo_rows(store: Any, run_id: str, index: int, style: PromptStyle) -> list[dict[str, Any]]:
    recorded = store.get_training_pairs(run_id, index)
    if recorded is not None:
        return [style.dpo_row(p.prompt, p.chosen, p.rejected) for p in recorded]
    from selftaught.loops.dpo import build_pairs  # a round curated before pairs were recorded
    from selftaught.records import SampleSource

    judged = store.get_judged(run_id, index, SampleSource.GENERATE)
    by_id = {p.id: p for p in store.get_problems(sorted({j.sample.problem_id for j in judged}))}
    dpo = _section(store.get_run(run_id).recipe, "dpo")
    return dpo_rows(build_pairs(judged, by_id, max_pairs_per_problem=dpo.max_pairs_per_problem), style)


def _section(recipe: dict[str, Any], name: str) -> Any:
    """One section of a run's stored recipe (the validated recipe's full dump, ``Recipe`` in
    ``recipe.py``, which composes these loops' models) as its settings model."""
    from selftaught.loops.defaults import PolicySpec
    from selftaught.loops.dpo import DPOSettings
    from selftaught.loops.prompting import PromptSpec
    from selftaught.loops.rl import RLOOSettings, RLSettings
    from selftaught.loops.train import SFTSettings

    models = {"prompt": PromptSpec, "policy": PolicySpec, "train": SFTSettings, "dpo": DPOSettings,
              "grpo": RLSettings, "rloo": RLOOSettings}  # fmt: skip
    return models[name].model_validate(recipe.get(name) or {})


def _recipe_slice(recipe: dict[str, Any], index: int | None, method: str) -> dict[str, Any]:
    """The part of the run's recipe that trained round ``index``: method, seeds and the
    trainer's section (``policy`` for the cold start, ``train``, ``dpo``, ``grpo`` or ``rloo``)."""
    from selftaught.loops.rounds import stage_seed

    if index is None:
        return {}
    section = "policy" if index == 0 else method if method in ("dpo", *ONLINE_METHODS) else "train"
    run_seed = int(recipe.get("seed", 0))
    seed = run_seed if index == 0 else stage_seed(run_seed, index, "train")
    return {"method": method, "seed": run_seed, "train_seed": seed,
            section: _section(recipe, section).model_dump(mode="json")}  # fmt: skip


def describe_checkpoint(store: Any, checkpoint_id: str) -> dict[str, Any]:
    """What ``selftaught checkpoint show`` prints: lineage, what it trained on and how, and its
    held-out evaluation. Raises ``DataError`` for an unknown id."""
    ckpt = store.get_checkpoint(checkpoint_id)
    run_id = store.checkpoint_run_id(checkpoint_id)
    if ckpt is None or run_id is None:
        raise DataError(f"no checkpoint {checkpoint_id!r} in the store (see `selftaught checkpoints RUN`)")
    cfg = dict(ckpt.config)
    method = str(cfg.get("method") or ("registered" if "init" in cfg else "untrained"))
    if method in ONLINE_METHODS:
        trained_on = {"kind": "rollouts", "n_rows": cfg.get("n_rollouts"), "sha256": None}
    else:
        n_rows = cfg.get("n_pairs") if method == "dpo" else cfg.get("n_examples")
        trained_on = {"kind": "pairs" if method == "dpo" else "examples", "n_rows": n_rows, "sha256": cfg.get(HASH_KEY)}
    recipe = store.get_run(run_id).recipe  # as stored: the validated recipe's full dump
    evaluations = [
        {"split": e.split.value, "k": e.k, "n_problems": e.n_problems, "greedy_accuracy": e.greedy_accuracy,
         "pass_at_1": e.pass_at_1, "pass_at_k": e.pass_at_k, "maj_at_k": e.maj_at_k}
        for _, e in store.get_evaluations(run_id) if e.checkpoint_id == checkpoint_id
    ]  # fmt: skip
    return {
        "id": ckpt.id, "run": run_id, "round": ckpt.round_index, "parent": ckpt.parent_id, "method": method,
        "sha256": ckpt.sha256, "path": ckpt.path, "pruned": ckpt.pruned, "trained_on": trained_on,
        "train_loss": cfg.get("train_loss"), "evaluation": evaluations,
        "recipe": {} if trained_on["n_rows"] is None else _recipe_slice(recipe, ckpt.round_index, method),
    }  # fmt: skip
