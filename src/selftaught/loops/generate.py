"""generate: K completions per problem from a policy, as ``Sample`` records.

In: a policy (anything with ``complete``, see ``policy.py``), problems, K,
``SamplingParams`` and a seed. Out: ``len(problems) * k`` samples in problem order,
``index`` 0..k-1 within a problem, each carrying the seed, the params, the producing
checkpoint and its generated token count, so that any one can be replayed.

Problems go to the policy in batches of ``batch_size``; batch ``b`` is seeded with
``batch_seed(seed, b)``, so the output depends only on the seed, the params, the
batch size and the weights -- not on what ran before in the process. With
``params.do_sample=False`` the greedy completion is computed once per prompt and
repeated for indices 1..k-1.

``prompts`` overrides the text sent to the model while each sample still belongs to
its problem: STaR rationalization sends the prompt with the answer as a hint. This
module knows nothing about judging or about what the text means.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from selftaught.loops.policy import Completer
from selftaught.records import Problem, Sample, SampleSource, SamplingParams


def batch_seed(seed: int, batch_index: int) -> int:
    """A 63-bit seed for one batch, stable across processes and Python versions."""
    h = hashlib.sha256(f"generate:{seed}:{batch_index}".encode()).digest()
    return int.from_bytes(h[:8], "big") >> 1


def generate(
    policy: Completer,
    problems: Sequence[Problem],
    *,
    k: int,
    params: SamplingParams,
    seed: int,
    source: SampleSource = SampleSource.GENERATE,
    checkpoint_id: str | None = None,
    prompts: Sequence[str] | None = None,
    batch_size: int = 64,
    progress: Callable[[int], None] | None = None,
) -> list[Sample]:
    """Sample ``k`` completions for each problem; ``progress(n_done_problems)`` after each batch."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if prompts is not None and len(prompts) != len(problems):
        raise ValueError(f"{len(prompts)} prompts for {len(problems)} problems")
    texts = list(prompts) if prompts is not None else [p.prompt for p in problems]
    out: list[Sample] = []
    for b, start in enumerate(range(0, len(problems), batch_size)):
        batch = problems[start : start + batch_size]
        batch_texts = texts[start : start + batch_size]
        completions = policy.complete(batch_texts, n=k, params=params, seed=batch_seed(seed, b))
        for problem, text, comps in zip(batch, batch_texts, completions, strict=True):
            out.extend(
                Sample(
                    problem_id=problem.id,
                    index=j,
                    prompt=text,
                    completion=c.text,
                    source=source,
                    seed=seed,
                    params=params,
                    checkpoint_id=checkpoint_id,
                    n_tokens=c.n_tokens,
                )
                for j, c in enumerate(comps)
            )
        if progress is not None:
            progress(start + len(batch))
    return out
