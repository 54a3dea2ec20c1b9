"""``selftaught search``: test-time search with a policy and reward models; ``selftaught
searches``: the searches in the store, or one search's nodes.

In: a policy checkpoint, a method and budget, optionally an ORM/PRM checkpoint
(``selftaught prm train``), problems (the embedded held-out split or a JSONL file). Out:
accuracy and cost printed, and the search stored (every candidate, partial path, score and
the selection: ``selftaught searches --show ID``). ``search`` checks its options and calls
``service/search.py`` (load the models, search, store); ``searches`` reads the store.
torch is imported only when a search runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from selftaught.cli.options import HomeOpt, JsonOpt, StoreUrlOpt, ThreadsOpt
from selftaught.records import SearchMethod

#: what ``--method`` accepts: every ``SearchMethod``, and ``bon`` (bon-prm with a PRM, else bon-orm)
METHOD_CHOICES = ("bon", *(m.value for m in SearchMethod))


def _method(method: str, orm: Path | None, prm: Path | None) -> str:
    from selftaught.cli.options import usage

    if method not in METHOD_CHOICES:
        usage(f"--method must be one of {', '.join(METHOD_CHOICES)}; got {method!r}")
    if method == "bon":
        return "bon-prm" if prm is not None else "bon-orm"
    return method


def search(
    checkpoint: Annotated[str, typer.Option(help="Policy checkpoint: a saved model folder, or a checkpoint id of the store (RUN/r3).")],
    method: Annotated[str, typer.Option(help="greedy | majority | bon (bon-prm with --prm, else bon-orm) | bon-orm | bon-prm | vote-orm | vote-prm (answer with the largest summed ORM/PRM score) | beam | mcts | revise.")] = "bon",
    budget: Annotated[int, typer.Option(min=1, help="Whole-solution equivalents per problem: samples (bon, majority), attempts (revise), samples per step (beam), tokens of this many samples (mcts, beam's cap).")] = 4,
    orm: Annotated[Optional[Path], typer.Option(help="Outcome reward model checkpoint (selftaught prm train).")] = None,
    prm: Annotated[Optional[Path], typer.Option(help="Process reward model checkpoint (selftaught prm train).")] = None,
    problems: Annotated[int, typer.Option(min=1, help="How many held-out problems of the embedded task.")] = 20,
    problems_file: Annotated[Optional[Path], typer.Option("--problems-file", help="JSONL problems instead ({id, prompt, answer} per line).")] = None,
    aggregate: Annotated[str, typer.Option(help="PRM step scores to one score: min, last or product.")] = "min",
    mcts_value: Annotated[str, typer.Option("--mcts-value", help="MCTS leaf value: prm (last step's score) or rollout (ORM of a completed rollout).")] = "prm",
    delimiter: Annotated[Optional[str], typer.Option(help="Step delimiter for user data (e.g. '\\n'); default the <think> format.")] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    run: Annotated[Optional[str], typer.Option(help="Record the search under this run id (created if missing).")] = None,
    as_json: JsonOpt = False,
    db: StoreUrlOpt = None,
    home: HomeOpt = None,
    threads: ThreadsOpt = None,
) -> None:
    """Search for better answers at test time, store every candidate and score, print accuracy.

    greedy is the baseline; majority votes over BUDGET samples; bon picks the sample the
    reward model scores highest; revise regenerates from the first step the PRM doubts;
    beam keeps the PRM's best partial step paths; mcts grows a step tree by UCB. The
    verifier only measures accuracy, it never selects.

    Example:  selftaught search --checkpoint /tmp/st7/policy --method beam --budget 16 --prm /tmp/st7/prm
              selftaught search --checkpoint ck --method bon --budget 8 --orm /tmp/st7/orm --run tts
              selftaught searches --show beam-b16-0123abcd45
    """
    from selftaught.cli.options import checkpoint_folder, console, err, resolve, usage
    from selftaught.cli.progress import reporting
    from selftaught.errors import ConfigError
    from selftaught.loops.arithmetic import load_problems_jsonl, make_problems
    from selftaught.records import Split

    name = _method(method, orm, prm)
    if aggregate not in ("min", "last", "product"):
        usage(f"--aggregate must be min, last or product; got {aggregate!r}")
    if mcts_value not in ("prm", "rollout"):
        usage(f"--mcts-value must be prm or rollout; got {mcts_value!r}")
    from selftaught.search.run import SearchConfig, check_models

    cfg = SearchConfig(method=name, budget=budget, aggregate=aggregate, mcts_value=mcts_value,
                       delimiter=None if delimiter is None else delimiter.encode().decode("unicode_escape"),
                       seed=seed)  # fmt: skip
    try:
        check_models(cfg, orm=orm is not None, prm=prm is not None)  # a method that needs --prm/--orm
    except ConfigError as e:
        usage(e.reason)
    db, home, threads = resolve(db, home, threads)
    probs = load_problems_jsonl(problems_file) if problems_file else make_problems(problems, Split.HELDOUT, seed=seed)
    folder, recorded = checkpoint_folder(checkpoint, db, home)
    from selftaught.service.search import search_and_store

    with reporting(err):
        done = search_and_store(cfg, probs, folder, recorded, orm=orm, prm=prm, run=run, db=db, home=home,
                                threads=threads)  # fmt: skip
    record, new = done.record, done.new
    n = len(record.results)
    summary = {
        "search": record.id, "method": name, "budget": budget, "n_problems": n, "accuracy": record.accuracy,
        "samples_per_problem": sum(r.samples for r in record.results) / n,
        "tokens_per_problem": sum(r.tokens for r in record.results) / n,
        "nodes": len(record.nodes), "stored": "new" if new else "already stored", "store": db,
    }  # fmt: skip
    if as_json:
        print(json.dumps(summary, indent=1))
        return
    for key, value in summary.items():
        console.print(f"{key:>20}: {value:.3f}" if isinstance(value, float) else f"{key:>20}: {value}")
    console.print(f"inspect: selftaught searches --show {record.id}")


def searches(
    run: Annotated[Optional[str], typer.Option(help="Only this run's searches.")] = None,
    show: Annotated[Optional[str], typer.Option(help="Print this search's nodes (per problem, as a tree).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="With --show: at most this many problems.")] = 3,
    as_json: JsonOpt = False,
    db: StoreUrlOpt = None,
) -> None:
    """List stored searches (method, budget, accuracy, cost), or show one search's nodes.

    Example:  selftaught searches --run tts
              selftaught searches --show beam-b16-0123abcd45 --limit 2
    """
    from selftaught.cli.options import console, resolve, store_at
    from selftaught.errors import StoreError

    db = resolve(db)[0]
    store = store_at(db)
    if show is None:
        rows = store.list_searches(run)
        if as_json:
            print(json.dumps([r.as_dict() for r in rows], default=str, indent=1))
            return
        for r in rows:
            console.print(f"{r.id:<28} {r.method:<9} B={r.budget:<3} acc {r.accuracy:.3f}  "
                          f"n={r.n_problems}  tokens/problem {r.tokens / max(1, r.n_problems):.0f}  "
                          f"run {r.run_id or '-'}", highlight=False, soft_wrap=True)  # fmt: skip
        return
    record = store.get_search(show)
    if record is None:
        raise StoreError(f"no search {show!r} in {db}")
    if as_json:
        from dataclasses import asdict

        print(json.dumps(asdict(record), default=str, indent=1))
        return
    for res in record.results[:limit]:
        console.print(f"[bold]{res.problem_id}[/]  selected node {res.node_index}: {res.completion!r}  "
                      f"correct={res.correct}  samples={res.samples} tokens={res.tokens}", soft_wrap=True)  # fmt: skip
        for n in (n for n in record.nodes if n.problem_id == res.problem_id):
            scores = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in n.scores.items()}
            mark = "*" if n.selected else " "
            console.print(f" {mark}{'  ' * max(n.depth, 0)}#{n.index} <{n.parent}> {n.kind:<9} {n.step!r} "
                          f"{'' if n.correct is None else ('ok' if n.correct else 'wrong')} {scores}",
                          highlight=False, markup=False, soft_wrap=True)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("search")(search)
    app.command("searches")(searches)
