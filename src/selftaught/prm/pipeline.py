"""Build reward models from a policy in one call (for benchmarks and tests).

In: a policy checkpoint path and a work directory. Out: the paths of a trained ORM and a
trained PRM checkpoint (``BuiltRewardModels``, with a report of what it took and how
good they are). No store: this is the in-memory path the test-time-scaling benchmark
calls so its figures come from one run; the CLI (``selftaught prm label|train``) does
the same steps through the store.

``build_reward_models`` runs, on train-split problems only:

1. generate ``k`` samples per problem from the policy and judge them (ORM and PRM data),
   plus ``orm_k`` samples for each of ``orm_problems`` more problems (ORM data only);
2. Math-Shepherd labels for the steps of those samples (``label.label_steps``), keeping
   the judged rollouts (extra ORM rows by default; extra PRM rows if asked);
3. train the ORM and the PRM (``train.train_orm`` / ``train.train_prm``);
4. measure both on held-out problems (``quality``), sampled and labelled the same way.

Measured with the defaults on the demo's cold start (1 thread, load ~1): 364 s, of which
66 s sampling the ORM's 16,384 extra samples, 43 s Monte-Carlo labelling and 223 s
training the pairwise ORM (600 steps); on 64 held-out problems x 4 samples the ORM's
AUROC is 0.70 over all and 0.79 within a problem, the PRM's step AUROC 0.77 against the
exact checker (see the README for what that does for search).

``cold_start_policy`` builds the shared cold-start policy the way the demo does (the
demo's ``DemoConfig``: init, SFT on gold solutions, stopped early at 35% greedy on a
train-split probe).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from selftaught.loops.arithmetic import make_problems
from selftaught.prm.train import RMSettings
from selftaught.records import Outcome, SamplingParams, Split


def cold_start_policy(out: str | Path, *, seed: int = 0, threads: int = 1) -> str:
    """The demo's cold-start policy at ``out`` (reused if a valid checkpoint is there)."""
    from selftaught.loops.checkpoint import verify_checkpoint
    from selftaught.loops.defaults import DemoConfig
    from selftaught.loops.tinymodel import init_policy
    from selftaught.loops.train import cold_start

    out = Path(out)
    if (out / "manifest.json").exists():
        verify_checkpoint(out)
        return str(out)
    cfg = DemoConfig(seed=seed)
    pool = make_problems(cfg.task.n_train, Split.TRAIN, cfg.seed, cfg.task.digits)
    init = init_policy(out.with_name(out.name + "-init"), seed=seed, size=cfg.policy.size)
    cold_start(
        init, pool[: cfg.task.n_cold_start], str(out), cfg=cfg.cold_start_sft(),
        checkpoint_id="cold", threads=threads, hint_fraction=cfg.policy.cold_start_hint_fraction,
        stop=cfg.cold_start_stop(pool),
    )  # fmt: skip
    return str(out)


@dataclass(frozen=True)
class BuildSettings:
    """One ``build_reward_models`` run (defaults: the measured benchmark configuration)."""

    n_problems: int = 128  # train-split problems the reward models learn from
    k: int = 8  # policy samples per problem (the ORM's rows, the PRM's solutions)
    rollouts: int = 8  # Monte-Carlo continuations per step prefix
    temperature: float = 1.0  # sampling temperature of samples and rollouts
    max_new_tokens: int = 32  # per sample / rollout
    n_eval_problems: int = 64  # held-out problems for the quality figures (0 = skip)
    eval_k: int = 4  # samples per held-out problem
    seed: int = 0
    batch_size: int = 64  # prompts (prefixes) per generate call
    orm_on_rollouts: bool = True  # the ORM also learns from the judged MC rollouts (free data)
    orm_problems: int = 1024  # more train-split problems sampled for the ORM only (no labelling: cheap)
    orm_k: int = 16  # samples per ORM-only problem
    prm_on_rollouts: bool = False  # the PRM also learns from them (label.rollout_rows; measured, off)
    orm: RMSettings = field(default_factory=lambda: RMSettings(steps=600))  # pairwise (prm.train)
    prm: RMSettings = field(default_factory=RMSettings)


@dataclass(frozen=True)
class BuiltRewardModels:
    """Where the two checkpoints are, and what building them took and measured.

    Iterates as ``(orm_path, prm_path)``: ``orm, prm = build_reward_models(...)``.
    """

    orm_path: str
    prm_path: str
    report: dict

    def __iter__(self):
        return iter((self.orm_path, self.prm_path))


def _params(s: BuildSettings) -> SamplingParams:
    return SamplingParams(temperature=s.temperature, max_new_tokens=s.max_new_tokens)


def _judged_samples(policy: Any, problems: list, s: BuildSettings, k: int, seed: int) -> list:
    """``k`` samples per problem from the policy, judged (``loops.verify.Judged``)."""
    from selftaught.loops.generate import generate
    from selftaught.loops.verify import judge_all

    samples = generate(policy, problems, k=k, params=_params(s), seed=seed, batch_size=s.batch_size)
    return judge_all(samples, {p.id: p for p in problems})


def _sample_and_label(policy: Any, problems: list, s: BuildSettings, k: int, seed: int,
                      rollouts_out: list | None = None) -> tuple[list, list, dict]:  # fmt: skip
    from selftaught.prm.label import label_steps

    clock = time.perf_counter()
    judged = _judged_samples(policy, problems, s, k, seed)
    gen_seconds = time.perf_counter() - clock
    samples = [j.sample for j in judged]
    labels, stats = label_steps(policy, samples, {p.id: p for p in problems}, rollouts=s.rollouts,
                                params=_params(s), seed=seed + 1, batch_size=s.batch_size,
                                rollouts_out=rollouts_out)  # fmt: skip
    timing = {"samples": len(samples), "generate_seconds": gen_seconds, **asdict(stats)}
    return judged, labels, timing


def build_reward_models(
    policy_path: str | Path,
    work_dir: str | Path,
    *,
    settings: BuildSettings = BuildSettings(),
    threads: int = 1,
) -> BuiltRewardModels:
    """Sample, label, train and measure an ORM and a PRM from ``policy_path``, in one call.

    Writes ``work_dir/orm``, ``work_dir/prm`` (checkpoints), ``work_dir/stepwise.jsonl``
    (the PRM's training rows, TRL format) and ``work_dir/report.json`` (timings and
    held-out quality, also returned as ``.report``). Train-split problems only for
    training; held-out problems only for the quality figures.
    """
    import json

    from selftaught.loops.policy import load_policy
    from selftaught.prm.label import rollout_rows, stepwise_rows
    from selftaught.prm.quality import orm_quality, prm_quality
    from selftaught.prm.scorers import load_orm, load_prm
    from selftaught.prm.train import train_orm, train_prm

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    s = settings
    clock = time.perf_counter()
    policy = load_policy(policy_path, threads=threads)
    train_problems = make_problems(s.n_problems, Split.TRAIN, s.seed + 7, 2)
    rollouts: list = []
    judged, labels, label_timing = _sample_and_label(policy, train_problems, s, s.k, s.seed, rollouts)
    by_id = {p.id: p for p in train_problems}
    samples = [j.sample for j in judged]
    rows = stepwise_rows(samples, labels, by_id)
    with (work / "stepwise.jsonl").open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    orm_rows = [(by_id[j.sample.problem_id].prompt, j.sample.completion, j.verdict.outcome is Outcome.PASS)
                for j in judged]  # fmt: skip
    if s.orm_on_rollouts:
        orm_rows += [(r.prompt, r.completion, r.passed) for r in rollouts]
    orm_sampling = _orm_samples(policy, s, orm_rows)
    orm = train_orm(str(policy_path), orm_rows, str(work / "orm"), cfg=s.orm, threads=threads,
                    meta={"policy_sha256": _sha(policy_path)})  # fmt: skip
    prm_rows = rows + (rollout_rows(rollouts) if s.prm_on_rollouts else [])
    prm = train_prm(str(policy_path), prm_rows, str(work / "prm"), cfg=s.prm, threads=threads,
                    meta={"policy_sha256": _sha(policy_path), "rollouts": s.rollouts})  # fmt: skip
    report: dict = {
        "settings": asdict(s),
        "policy": str(policy_path),
        "labelling": label_timing,
        "orm_sampling": orm_sampling,
        "orm_train": asdict(orm),
        "prm_train": asdict(prm),
    }
    build_seconds = time.perf_counter() - clock
    if s.n_eval_problems > 0:
        held = make_problems(s.n_eval_problems, Split.HELDOUT, s.seed + 7, 2)
        hjudged, hlabels, htiming = _sample_and_label(policy, held, s, s.eval_k, s.seed + 100)
        hby_id = {p.id: p for p in held}
        report["eval_labelling"] = htiming
        report["orm_heldout"] = orm_quality(
            load_orm(orm.path, threads=threads), [hby_id[j.sample.problem_id].prompt for j in hjudged],
            [j.sample.completion for j in hjudged], [j.verdict.outcome is Outcome.PASS for j in hjudged],
        )  # fmt: skip
        hrows = stepwise_rows([j.sample for j in hjudged], hlabels, hby_id)
        report["prm_heldout"] = prm_quality(load_prm(prm.path, threads=threads), hrows, hby_id)
    report["build_seconds"] = build_seconds
    report["total_seconds"] = time.perf_counter() - clock
    (work / "report.json").write_text(json.dumps(report, indent=2, default=str))
    return BuiltRewardModels(orm.path, prm.path, report)


def _orm_samples(policy: Any, s: BuildSettings, rows: list) -> dict:
    """Append ``s.orm_k`` judged samples for each of ``s.orm_problems`` train problems to ``rows``.

    The ORM needs many (correct, wrong) pairs of one prompt, and unlike step labels they
    cost only sampling. Measured on the demo's cold start (100 held-out problems x 64):
    within-problem AUROC 0.63 from 256 problems x 16 (150 steps), 0.71 from 1,024 x 16 (600).
    """
    if s.orm_problems <= 0:
        return {"samples": 0, "seconds": 0.0}
    clock = time.perf_counter()
    problems = make_problems(s.orm_problems, Split.TRAIN, s.seed + 11, 2)
    by_id = {p.id: p for p in problems}
    judged = _judged_samples(policy, problems, s, s.orm_k, s.seed + 3)
    rows += [(by_id[j.sample.problem_id].prompt, j.sample.completion, j.verdict.outcome is Outcome.PASS)
             for j in judged]  # fmt: skip
    return {"samples": len(judged), "correct": sum(j.verdict.outcome is Outcome.PASS for j in judged),
            "seconds": time.perf_counter() - clock}  # fmt: skip


def _sha(path: str | Path) -> str:
    from selftaught.loops.checkpoint import checkpoint_sha256

    return checkpoint_sha256(path)
