"""``selftaught rejudge``: judge a run's stored samples again, beside the old verdicts.

    selftaught rejudge --run R --judge arithmetic --option strict=true --option answer_format=boxed
    selftaught rejudge --run R --round 2 --judge math --option strict=true --compare

Prints, per round, how many verdicts of the judge's version were added (``flows/rejudge.py``:
batched, resumable after ``kill -9``, never overwriting). ``--compare`` then prints per round
the flips between the round's own verdicts and the new version's (pass->fail, fail->pass),
and the checkpoints whose training sets hold samples the new version does not pass
(``store/rejudge_store.py``). ``--json`` prints all of it as one object. The new verdicts
are read with ``samples``/``rounds``/``problem``/``report --judge-version VERSION``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Optional

import typer

from selftaught.cli.options import DbOpt


def rejudge(
    run: Annotated[str, typer.Option(help="Run id.")],
    judge: Annotated[str, typer.Option(help="arithmetic, math, code, choice, keyword, format, or a weighted spec such as \"math=1,format=0.2\".")],
    round_index: Annotated[Optional[list[int]], typer.Option("--round", min=0, help="Round index (repeat for several; default: every round).")] = None,
    option: Annotated[Optional[list[str]], typer.Option("--option", help="Judge option KEY=VALUE (PART.KEY=VALUE for a spec), e.g. strict=true.")] = None,
    compare: Annotated[bool, typer.Option("--compare", help="Then print the flips per round and the checkpoints trained on samples that no longer pass.")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Samples judged and written per transaction.")] = 1024,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object, for scripts.")] = False,
    db: DbOpt = None,
) -> None:
    """Judge a run's samples again with another judge version; old verdicts stay. Batched,
    resumable after kill -9; --compare prints the flips and the checkpoints trained on
    samples that no longer pass. Read the new verdicts with --judge-version.

    Example:  selftaught rejudge --run R --judge arithmetic --option strict=true --option answer_format=boxed
              selftaught rejudge --run R --round 2 --judge math --option strict=true --compare
    """
    from selftaught.cli.options import console, err, judge_from_options, judge_options, resolve, store_at
    from selftaught.cli.progress import reporting
    from selftaught.flows.rejudge import rejudge as run_rejudge, verdict_judge

    options = judge_options(judge, option or [], None, None, False)
    verifier = judge_from_options(judge, options)
    store = store_at(resolve(db)[0])
    name, version = verdict_judge(verifier), verifier.version
    with reporting(err):
        added = run_rejudge(store, run, verifier, rounds=round_index, options=options, batch=batch)
    out: dict[str, Any] = {"run": run, "judge": name, "judge_version": version, "rounds": added}
    if compare:
        own = {r["round"]: store.own_versions(run, r["round"]) for r in added}
        out["flips"] = [{**f.as_dict(), "own_versions": [v for _, v in own.get(f.round, [])]}
                        for f in store.verdict_flips(run, name, version)]  # fmt: skip
        out["stale_checkpoints"] = [s.as_dict() for s in store.stale_checkpoints(run, name, version)]
    if as_json:
        print(json.dumps(out, indent=1))
        return
    for r in added:
        what = ("judged by this version already (its own verdicts)" if r["own"]
                else f"skipped: {r['skipped']}" if "skipped" in r else f"+{r['n_added']} verdicts")  # fmt: skip
        console.print(f"run {run} round {r['round']}: {what}", highlight=False)
    console.print(f"judge {name}, version {version} (read with --judge-version {version})", highlight=False)
    if compare:
        _print_compare(console, out)


def _print_compare(console: Any, out: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"flips: each round's own verdicts -> {out['judge_version']}")
    for col in ("round", "own version", "compared", "pass->fail", "fail->pass"):
        table.add_column(col)
    for f in out["flips"]:
        table.add_row(str(f["round"]), ",".join(f["own_versions"]), str(f["n_compared"]),
                      str(f["pass_to_fail"]), str(f["fail_to_pass"]))  # fmt: skip
    console.print(table)
    stale = out["stale_checkpoints"]
    if not stale:
        console.print("no checkpoint was trained on samples that no longer pass")
    for s in stale:
        console.print(f"checkpoint {s['checkpoint_id']} (round {s['round']}): {s['n_no_longer_pass']} of its "
                      f"{s['n_train']} training rows no longer pass", highlight=False)  # fmt: skip


def register(app: typer.Typer) -> None:
    app.command("rejudge")(rejudge)
