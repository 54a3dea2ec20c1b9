"""``selftaught prm label|train|export``: Math-Shepherd step labels and reward models.

Light at import (typer only); the work is in ``selftaught.prm.stored``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from selftaught.cli.options import HomeOpt, StoreUrlOpt, ThreadsOpt

prm_app = typer.Typer(
    help="Process/outcome reward models: label steps by Monte-Carlo rollouts (Math-Shepherd), "
    "train an ORM or a PRM from the store, export TRL stepwise data.",
    no_args_is_help=True,
)

RoundsOpt = Annotated[Optional[list[int]], typer.Option("--round", help="Round index; repeat for several rounds.")]


@prm_app.command("label")
def label(
    run: Annotated[str, typer.Argument(metavar="RUN", help="The run whose samples to label.")],
    round_: Annotated[int, typer.Option("--round", min=0, help="The round whose generated samples to label.")],
    rollouts: Annotated[int, typer.Option(min=1, help="Continuations per step prefix (N).")] = 8,
    temperature: Annotated[float, typer.Option(min=1e-6, help="Sampling temperature of the rollouts (> 0).")] = 1.0,
    max_new_tokens: Annotated[int, typer.Option(min=1, help="Tokens per rollout.")] = 32,
    checkpoint: Annotated[Optional[str], typer.Option(help="Policy to roll out (default: the one that wrote the samples).")] = None,
    judge: Annotated[str, typer.Option(help="Judge of the rollouts' final answers.")] = "arithmetic",
    delimiter: Annotated[Optional[str], typer.Option(help="Step delimiter for non-embedded data, e.g. '\\n' (default: <think> steps).")] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="Label at most this many samples now (the rest on the next call).")] = None,
    seed: Annotated[int, typer.Option(help="Rollout seed.")] = 0,
    batch_size: Annotated[int, typer.Option(min=1, help="Step prefixes per generate call (x rollouts sequences).")] = 64,
    backend: Annotated[str, typer.Option(help="Rollout sampler: hf (in-process generate) or vllm (a CUDA GPU and the vllm extra; docs/vllm.md).")] = "hf",
    db: StoreUrlOpt = None,
    home: HomeOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Label every step of a round's samples: from each step prefix, roll out N completions;
    the step's label is how many reach the correct answer (hard: any, soft: the fraction).

    Labels are stored per (sample, step); samples already labelled are skipped, so a
    killed call can simply be run again.

    Example:  selftaught prm label demo-20261125-101500 --round 1 --rollouts 8
    """
    import time

    from selftaught.cli.options import console, err, resolve, store_at
    from selftaught.cli.progress import reporting
    from selftaught.prm.stored import label_round
    from selftaught.progress import step

    if backend not in ("hf", "vllm"):
        raise typer.BadParameter(f"must be hf or vllm, got {backend!r}", param_hint="--backend")
    db, home, threads = resolve(db, home, threads)
    delim = None if delimiter is None else delimiter.encode().decode("unicode_escape")
    clock = time.perf_counter()
    with reporting(err), step(f"prm label: prefixes of round {round_}") as advance:
        new, stats = label_round(
            store_at(db, home), run, round_, rollouts=rollouts, temperature=temperature, max_new_tokens=max_new_tokens,
            checkpoint=checkpoint, judge=judge, limit=limit, seed=seed, batch_size=batch_size, threads=threads,
            delimiter=delim, backend=backend, progress=lambda done, total: advance(done, total=total),
        )  # fmt: skip
    seconds = time.perf_counter() - clock
    if stats.samples == 0:
        err.print(f"run {run} round {round_}: every sample is labelled already")
        return
    console.print(
        f"labelled {stats.samples} samples: {stats.steps} steps ({new} new rows), "
        f"{stats.prefixes_rolled_out} distinct prefixes x {rollouts} rollouts = "
        f"{stats.sequences_generated} sequences in {seconds:.1f} s "
        f"({stats.sequences_generated / max(stats.seconds, 1e-9):.0f} rollouts/s)"
    )


@prm_app.command("train")
def train(
    run: Annotated[Optional[str], typer.Argument(metavar="RUN", help="The run whose data to train on (and to record the model in).")] = None,
    rounds: RoundsOpt = None,
    kind: Annotated[str, typer.Option(help="orm: outcome model on verdicts; prm: process model on step labels.")] = "prm",
    data: Annotated[Optional[Path], typer.Option(help="Train from this JSONL file instead of the store (PRM: prompt/completions/labels as `prm export` writes; ORM: prompt/completion/label).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Checkpoint folder (default: HOME/runs/RUN/KIND-rROUND).")] = None,
    base: Annotated[Optional[str], typer.Option(help="Checkpoint id or path to start from (default: the policy of the samples).")] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimizer steps.")] = 150,
    lr: Annotated[float, typer.Option(min=1e-12, help="Peak learning rate (> 0).")] = 5e-4,
    batch_size: Annotated[int, typer.Option(min=1, help="Rows per optimizer step.")] = 32,
    objective: Annotated[str, typer.Option(help="ORM loss: pairwise (TRL RewardTrainer on a prompt's correct/wrong pairs; ranks a problem's answers) or classify (P(correct) over all samples).")] = "pairwise",
    balance: Annotated[str, typer.Option(help="Cross-entropy weights (PRM, classify ORM): class (the two classes equal overall), prompt (equal within each prompt; one-class prompts left out) or none.")] = "class",
    eval_fraction: Annotated[float, typer.Option(min=0.0, max=0.9, help="Share of problems held out for the quality figures.")] = 0.2,
    seed: Annotated[int, typer.Option(help="Training seed.")] = 0,
    db: StoreUrlOpt = None,
    home: HomeOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Train a reward model from the store and record its checkpoint.

    ORM: a scorer of the rounds' judged samples -- by default trained pairwise (TRL's
    RewardTrainer on a prompt's correct vs wrong samples), or a P(correct) classifier
    with --objective classify. PRM: a token
    classifier on the step labels (`selftaught prm label` first), P(step on a correct
    path). Both start from the policy's weights. A share of the problems is held out;
    its AUC/accuracy (ORM) or step accuracy (PRM) is printed and stored with the model.

    With --data FILE.jsonl the rows come from a file (checked line by line) and --base
    must name the model to start from; with a RUN as well, the model is recorded in it.

    Example:  selftaught prm train demo-20261125-101500 --round 1 --kind prm
              selftaught prm train --data steps.jsonl --base runs/x/round-001 --out prm-x
    """
    from selftaught.cli.options import console, err, resolve, store_at
    from selftaught.cli.progress import reporting
    from selftaught.prm.stored import train_reward_model
    from selftaught.prm.train import RMSettings

    if kind not in ("orm", "prm"):
        raise typer.BadParameter(f"must be orm or prm, got {kind!r}", param_hint="--kind")
    if objective not in ("pairwise", "classify"):
        raise typer.BadParameter(f"must be pairwise or classify, got {objective!r}", param_hint="--objective")
    if balance not in ("class", "prompt", "none"):
        raise typer.BadParameter(f"must be class, prompt or none, got {balance!r}", param_hint="--balance")
    db, home, threads = resolve(db, home, threads)
    cfg = RMSettings(lr=lr, steps=steps, batch_size=batch_size, seed=seed, objective=objective,  # type: ignore[arg-type]
                     balance=balance)  # type: ignore[arg-type]
    if data is not None:
        from selftaught.prm.stored import train_from_file

        if base is None or (out is None and run is None):
            raise typer.BadParameter("needs --base (the model to start from) and --out or a RUN", param_hint="--data")
        dest = out or Path(home) / "runs" / str(run) / f"{kind}-file"
        with reporting(err):
            ckpt, metrics = train_from_file(
                store_at(db, home) if run else None, run, data, kind=kind, base=base, out_dir=str(dest), cfg=cfg,
                threads=threads,
            )  # fmt: skip
        console.print(f"{kind} checkpoint {ckpt.id} at {ckpt.path}" + ("" if run else " (not recorded: no RUN)"))
        for key, value in metrics.items():
            console.print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")
        return
    if run is None or not rounds:
        raise typer.BadParameter("give a RUN and at least one --round (or --data FILE)", param_hint="RUN")
    dest = out or Path(home) / "runs" / run / f"{kind}-r{max(rounds)}"
    with reporting(err):
        ckpt, metrics = train_reward_model(
            store_at(db, home), run, rounds, kind=kind, base=base, out_dir=str(dest), cfg=cfg,
            eval_fraction=eval_fraction, threads=threads,
        )  # fmt: skip
    console.print(f"{kind} checkpoint {ckpt.id} at {ckpt.path}")
    for key, value in metrics.items():
        console.print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")


@prm_app.command("export")
def export(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="*.jsonl for JSON lines, else a datasets folder.")],
    run: Annotated[str, typer.Option("--run", help="The run whose labels to export.")],
    rounds: RoundsOpt,
    soft: Annotated[bool, typer.Option(help="Soft labels (fraction of successful rollouts) instead of hard (any).")] = False,
    db: StoreUrlOpt = None,
) -> None:
    """Export step labels in TRL's stepwise-supervision format: one row per solution with
    `prompt`, `completions` (the steps) and `labels` (one per step), plus where it came from.

    Example:  selftaught prm export steps.jsonl --run demo-20261125-101500 --round 1
    """
    from selftaught.cli.options import console, resolve, store_at
    from selftaught.prm.stored import export_stepwise

    db, _, _ = resolve(db, None, None)
    n = export_stepwise(store_at(db), run, rounds, out, soft=soft)
    console.print(f"wrote {n} solutions to {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(prm_app, name="prm")
