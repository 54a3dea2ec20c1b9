"""The store-facing side of the reward models: what ``selftaught prm label|train|export`` do.

In: a ``Store``, a run and its rounds. Out: rows written to the store (step labels, a
reward-model checkpoint) or a file (the TRL stepwise dataset).

- ``label_round``: Math-Shepherd labels for the generated samples of one round, from the
  checkpoint that produced them (or another), stored per step. Samples that already have
  labels are skipped, so an interrupted run picks up where it stopped.
- ``train_reward_model``: the ORM from the rounds' judged samples, or the PRM from their
  step labels; a share of the *problems* (chosen by a hash of the problem id, so never a
  problem on both sides) is held out and the held-out quality is stored with the model.
- ``export_stepwise``: the labels in TRL's stepwise-supervision format, as JSON lines or a
  ``datasets`` folder.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from selftaught.errors import DataError, StoreError
from selftaught.prm.label import LabelStats, label_steps, stepwise_rows
from selftaught.prm.train import RMSettings
from selftaught.records import (
    Checkpoint,
    Outcome,
    Problem,
    Sample,
    SampleSource,
    SamplingParams,
)

if TYPE_CHECKING:
    from selftaught.loops.tracking import TrackingTarget


def _problems(store: Any, samples: Sequence[Sample]) -> dict[str, Problem]:
    ids = sorted({s.problem_id for s in samples})
    return {p.id: p for p in store.get_problems(ids)}


def _producer(samples: Sequence[Sample], what: str, flag: str) -> str:
    """The id of the checkpoint that produced most of ``samples`` (the policy they came from)."""
    counts = Counter(s.checkpoint_id for s in samples if s.checkpoint_id)
    if not counts:
        raise StoreError(f"{what} name no checkpoint; pass {flag}")
    return counts.most_common(1)[0][0]


def _policy_path(store: Any, samples: Sequence[Sample], override: str | None) -> str:
    if override:
        return override
    ckpt_id = _producer(samples, "the samples", "--checkpoint PATH (the policy to roll out)")
    ckpt = store.get_checkpoint(ckpt_id)
    if ckpt is None:
        raise StoreError(f"checkpoint {ckpt_id!r} of the samples is not in the store; pass --checkpoint PATH")
    return ckpt.path


def label_round(
    store: Any, run_id: str, index: int, *, rollouts: int = 8, temperature: float = 1.0,
    max_new_tokens: int = 32, checkpoint: str | None = None, judge: str = "arithmetic",
    limit: int | None = None, seed: int = 0, batch_size: int = 64, threads: int = 0,
    delimiter: str | None = None, policy: Any = None, progress=None, backend: str = "hf",
) -> tuple[int, LabelStats]:  # fmt: skip
    """Label (and store) the steps of round ``index``'s generated samples; (new rows, stats).

    ``limit``: label at most this many (not yet labelled) samples in this call.

    ``policy`` (anything with ``complete``) replaces loading ``checkpoint`` (tests).
    ``backend="vllm"``: roll out with the vLLM sampler (``loops/vllm_sampler.py``), released
    before returning.
    """
    from selftaught.judges import get_verifier

    verifier = get_verifier(judge)  # an unknown judge: one line, before any work
    if backend == "vllm" and policy is None:
        from selftaught.loops.vllm_sampler import require_vllm

        require_vllm("--backend vllm")  # before any work
    samples = store.get_samples(run_id, index, source=SampleSource.GENERATE)
    if not samples:
        raise StoreError(f"run {run_id!r} round {index} has no generated samples")
    done = {lab.sample_key for lab in store.get_step_labels(run_id, index)}
    todo = [s for s in samples if s.key not in done]
    if limit is not None:
        todo = todo[:limit]
    if not todo:
        return 0, LabelStats(0, 0, 0, 0, 0.0)
    params = SamplingParams(temperature=temperature, max_new_tokens=max_new_tokens)
    path = None
    with ExitStack() as loaded:
        if policy is None:
            path = _policy_path(store, todo, checkpoint)
            policy = loaded.enter_context(_rollout_policy(path, backend, threads=threads, seed=seed))
        labels, stats = label_steps(
            policy, todo, _problems(store, todo), rollouts=rollouts, params=params, seed=seed,
            judge=verifier, delimiter=delimiter, batch_size=batch_size, progress=progress,
        )  # fmt: skip
    meta = {"policy": path or checkpoint, "seed": seed, "params": asdict(params), "judge": judge,
            "delimiter": delimiter}  # fmt: skip
    return store.add_step_labels(run_id, index, labels, params=meta), stats


def _rollout_policy(path: str, backend: str, *, threads: int, seed: int):
    """The HF policy at ``path``, or a vLLM sampler released when the block ends."""
    if backend == "vllm":
        from selftaught.loops.vllm_sampler import vllm_policy

        return vllm_policy(path, seed=seed)
    from selftaught.loops.policy import load_policy

    return nullcontext(load_policy(path, threads=threads))


def _held_out(problem_id: str, fraction: float) -> bool:
    bucket = int.from_bytes(hashlib.sha256(f"prm-eval:{problem_id}".encode()).digest()[:4], "big") % 1000
    return bucket < fraction * 1000


def stepwise_for(store: Any, run_id: str, rounds: Sequence[int], *, soft: bool = False) -> tuple[list[dict], dict]:
    """Stepwise rows of every fully labelled sample of ``rounds`` and their problems."""
    rows: list[dict] = []
    problems: dict[str, Problem] = {}
    for r in rounds:
        labels = store.get_step_labels(run_id, r)
        if not labels:
            continue
        keys = {lab.sample_key for lab in labels}
        samples = [s for s in store.get_samples(run_id, r) if s.key in keys]
        by_id = _problems(store, samples)
        problems.update(by_id)
        for row in stepwise_rows(samples, labels, by_id, soft=soft):
            rows.append({**row, "round": r})
    return rows, problems


def _resolve_base(store: Any, run_id: str, rounds: Sequence[int], base: str | None) -> tuple[str, str | None]:
    if base is None:
        samples = [s for r in rounds for s in store.get_samples(run_id, r, source=SampleSource.GENERATE)]
        base = _producer(samples, "the rounds' samples", "--base CHECKPOINT_ID_OR_PATH")
    ckpt = store.get_checkpoint(base)
    if ckpt is not None:
        return ckpt.path, ckpt.id
    if not (Path(base) / "config.json").is_file():
        raise StoreError(f"--base {base!r}: neither a stored checkpoint id nor a saved model folder")
    return str(base), None


def _tracking(store: Any, run_id: str, name: str) -> TrackingTarget | None:
    """The run's ``log:`` target for a reward model's trainer (None without one); a backend
    this machine lacks is one ConfigError line before any work."""
    from selftaught.errors import ConfigError
    from selftaught.loops.tracking import not_installed, target_for

    run = store.get_run(run_id)
    log = None if run is None else run.recipe.get("log")
    target = None if log is None else target_for(log, project=run.name, home=store.home, run_id=run_id, name=name)
    why = None if target is None else not_installed(target.to)
    if why is not None:
        raise ConfigError(f"log.to: {why}", file=f"the recipe of run {run_id}")
    return target


def train_reward_model(
    store: Any, run_id: str, rounds: Sequence[int], *, kind: str, base: str | None, out_dir: str,
    cfg: RMSettings = RMSettings(), eval_fraction: float = 0.2, checkpoint_id: str | None = None,
    threads: int = 0,
) -> tuple[Checkpoint, dict]:  # fmt: skip
    """Train an ORM or a PRM from the store, evaluate it on held-out problems, record it.

    ``base``: a stored checkpoint id (it becomes the reward model's parent) or a path; None
    means the checkpoint that generated the rounds' samples. A run whose recipe has a ``log:``
    section gets the trainer's logs there too (run name ``RUN/<kind>-r<last round>``).
    """
    from selftaught.loops.checkpoint import checkpoint_sha256
    from selftaught.prm.quality import orm_quality, prm_quality
    from selftaught.prm.scorers import load_orm, load_prm
    from selftaught.prm.train import train_orm, train_prm

    if kind not in ("orm", "prm"):
        raise DataError(f"--kind must be orm or prm, got {kind!r}")
    if not 0 <= eval_fraction < 1:
        raise DataError(f"eval fraction must be in [0, 1), got {eval_fraction}")
    base, parent = _resolve_base(store, run_id, rounds, base)
    tracking = _tracking(store, run_id, f"{run_id}/{kind}-r{max(rounds)}")
    data: dict[str, Any] = {"run_id": run_id, "rounds": list(rounds), "eval_fraction": eval_fraction}
    if kind == "orm":
        judged = [j for r in rounds for j in store.get_judged(run_id, r, source=SampleSource.GENERATE)]
        if not judged:
            raise StoreError(f"run {run_id!r} rounds {list(rounds)}: no judged generated samples")
        problems = _problems(store, [j.sample for j in judged])
        rows = [(problems[j.sample.problem_id].prompt, j.sample.completion, j.verdict.outcome is Outcome.PASS)
                for j in judged]  # fmt: skip
        held = [_held_out(j.sample.problem_id, eval_fraction) for j in judged]
        train_rows = [r for r, h in zip(rows, held) if not h]
        eval_rows = [r for r, h in zip(rows, held) if h]
        result = train_orm(base, train_rows, out_dir, cfg=cfg, threads=threads, meta={"data": data}, tracking=tracking)
        metrics = orm_quality(load_orm(out_dir, threads=threads), *zip(*eval_rows)) if eval_rows else {}
    else:
        rows, problems = stepwise_for(store, run_id, rounds)
        if not rows:
            raise StoreError(f"run {run_id!r} rounds {list(rounds)}: no step labels (run `selftaught prm label` first)")
        train_rows = [r for r in rows if not _held_out(r["problem_id"], eval_fraction)]
        eval_rows = [r for r in rows if _held_out(r["problem_id"], eval_fraction)]
        result = train_prm(base, train_rows, out_dir, cfg=cfg, threads=threads, meta={"data": data}, tracking=tracking)
        exact = problems if all((p.meta or {}).get("task") == "addition" for p in problems.values()) else None
        metrics = prm_quality(load_prm(out_dir, threads=threads), eval_rows, exact) if eval_rows else {}
    data.update(train_rows=len(train_rows), eval_rows=len(eval_rows))
    metrics = {**metrics, "train_loss": result.train_loss, "train_seconds": result.seconds}
    ckpt = Checkpoint(
        id=checkpoint_id or f"{run_id}-{kind}-{result.sha256[:12]}", path=result.path,
        sha256=checkpoint_sha256(result.path), parent_id=parent, round_index=max(rounds),
        config={"kind": kind, "settings": asdict(cfg), "base_path": base},
    )  # fmt: skip
    store.add_reward_model(run_id, ckpt, kind=kind, data=data, metrics=metrics)
    return ckpt, metrics


def train_from_file(
    store: Any, run_id: str | None, data: str | Path, *, kind: str, base: str, out_dir: str,
    cfg: RMSettings = RMSettings(), threads: int = 0,
) -> tuple[Checkpoint, dict]:  # fmt: skip
    """Train from a JSONL file (``train.read_training_jsonl``); record it when ``store`` is given."""
    from selftaught.loops.checkpoint import checkpoint_sha256
    from selftaught.prm.train import read_training_jsonl, train_orm, train_prm

    if kind not in ("orm", "prm"):
        raise DataError(f"--kind must be orm or prm, got {kind!r}")
    rows = read_training_jsonl(data, kind)  # every row checked before any training
    path, parent = base, None
    if store is not None and store.get_checkpoint(base) is not None:
        ck = store.get_checkpoint(base)
        path, parent = ck.path, ck.id
    if not (Path(path) / "config.json").is_file():
        raise StoreError(f"--base {base!r}: neither a stored checkpoint id nor a saved model folder")
    trainer = train_orm if kind == "orm" else train_prm
    result = trainer(path, rows, out_dir, cfg=cfg, threads=threads, meta={"data": {"file": str(data)}})
    metrics = {"train_loss": result.train_loss, "train_seconds": result.seconds, "rows": result.rows}
    ckpt = Checkpoint(
        id=f"{run_id or 'file'}-{kind}-{result.sha256[:12]}", path=result.path,
        sha256=checkpoint_sha256(result.path), parent_id=parent, round_index=None,
        config={"kind": kind, "settings": asdict(cfg), "base_path": path, "data": str(data)},
    )  # fmt: skip
    if store is not None:
        store.add_reward_model(run_id, ckpt, kind=kind, data={"file": str(data), "rows": len(rows)}, metrics=metrics)
    return ckpt, metrics


def export_stepwise(store: Any, run_id: str, rounds: Sequence[int], out: str | Path, *, soft: bool = False) -> int:
    """Write the rounds' stepwise rows to ``out``: ``*.jsonl`` as JSON lines, else a
    ``datasets`` folder (``load_from_disk``). Returns the number of rows."""
    rows, _ = stepwise_for(store, run_id, rounds, soft=soft)
    if not rows:
        raise StoreError(f"run {run_id!r} rounds {list(rounds)}: no step labels to export")
    out = Path(out)
    if out.suffix == ".jsonl":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
        tmp.replace(out)
    else:
        from datasets import Dataset

        Dataset.from_list(rows).save_to_disk(str(out))
    return len(rows)
