"""One checkpoint on one problem file, outside any run (``selftaught eval``).

In: a checkpoint folder and the id or path to report it as, the problems, the judge and
prompt settings as a recipe would give them, k, seed and sampling limits. Out: a summary
dict (checkpoint, problems, n_problems, k, prompt, answer format, strict, greedy
accuracy, pass@1, pass@k, maj@k) in the order the command prints it. Nothing is stored.

The checkpoint is verified against its manifest before anything loads; the prompt and
judge settings are validated as a recipe's (a bad value is one ``ConfigError`` line), and
the prompts are rendered and judged exactly as a run with those settings would (the run's
``RunContext`` supplies the judge, the answer extractor and the prompt style).
"""

from __future__ import annotations

from pathlib import Path

from selftaught.errors import ConfigError
from selftaught.records import Problem


def evaluate_checkpoint(folder: Path, name: str, problems: list[Problem], problems_file: Path, *, judge: str,
                        prompt: dict, k: int, seed: int, temperature: float | None, max_new_tokens: int | None,
                        threads: int) -> dict:  # fmt: skip
    """Greedy accuracy, pass@1, pass@k and maj@k of the policy at ``folder`` on ``problems``."""
    from selftaught.loops.checkpoint import verify_for_load
    from selftaught.loops.evaluate import evaluate
    from selftaught.loops.policy import load_policy
    from selftaught.recipe import Recipe

    verify_for_load(folder)  # a damaged checkpoint: one line, before anything loads
    try:
        recipe = Recipe.model_validate({"judge": judge, "policy": {"init": str(folder.resolve())}, "prompt": prompt})
    except ValueError as e:  # pydantic's ValidationError: one line per the CLI's rule
        first = e.errors()[0] if hasattr(e, "errors") else {"loc": (), "msg": str(e)}
        raise ConfigError(f"{'.'.join(map(str, first['loc']))}: {first['msg'].removeprefix('Value error, ')}") from None
    from selftaught.flows.context import RunContext

    ctx = RunContext(run_id="eval", recipe=recipe, db_url="", home=Path("."))
    from selftaught.loops.prompting import tokenizer_of
    from selftaught.progress import step

    # the bar counts problems twice: k samples each, then the greedy answer (as the evaluate stage's)
    with step("eval: problems sampled, then greedy", total=2 * len(problems)) as advance:
        policy = load_policy(folder, threads=threads)
        ev, _, _ = evaluate(
            policy, problems, k=k, seed=seed, checkpoint_id=name,
            temperature=recipe.evaluate.temperature if temperature is None else temperature,
            judge=ctx.judge(), max_new_tokens=max_new_tokens or recipe.generate.max_new_tokens,
            prompts=ctx.style.render_all(problems, tokenizer_of(policy)), answer_fn=ctx.answer_fn(),
            batch_size=recipe.generate.batch_size, progress=advance,
        )
    return {
        "checkpoint": name, "problems": str(problems_file), "n_problems": ev.n_problems, "k": ev.k,
        "prompt": recipe.prompt.format, "answer_format": recipe.prompt.answer_format, "strict": recipe.prompt.strict,
        "greedy_accuracy": ev.greedy_accuracy, "pass_at_1": ev.pass_at_1,
        f"pass_at_{k}": ev.pass_at_k, f"maj_at_{k}": ev.maj_at_k,
    }  # fmt: skip
