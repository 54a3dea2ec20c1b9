"""Fixtures for the search tests: a scripted branching policy, exact-checker scorers (unit
tests of the logic only), and -- for the real-model paths -- a micro policy with a really
trained micro ORM and PRM (built once per session, a few seconds)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from selftaught.loops.arithmetic import make_problem
from selftaught.loops.policy import Completion
from selftaught.prm.steps import check_arithmetic_steps, split_steps
from selftaught.records import Problem, SamplingParams

P1, P2 = make_problem(27, 45, 2), make_problem(23, 45, 2)
#: per problem, the whole completions the scripted policy can write (right first)
PATHS = {
    P1.prompt: [" <think>7+5=12 2+4+1=7</think> 72", " <think>7+5=12 2+4=6</think> 62",
                " <think>7+5=11 2+4=6</think> 61", " <think>7+5=12 2+4=6</think> 62"],
    P2.prompt: [" <think>3+5=8 2+4=6</think> 68", " <think>3+5=9 2+4=6</think> 69",
                " <think>3+5=9 2+4=6</think> 69", " <think>3+5=8 2+4=7</think> 78"],
}  # fmt: skip


@dataclass
class BranchingPolicy:
    """A ``Completer`` that continues any prefix of its scripted paths.

    For ``prompt + prefix`` it finds the scripted paths that start with ``prefix`` and
    returns their rests, cycling through them from an offset that moves with the seed
    (so different seeds branch differently); greedy always takes the first. A prefix no
    path starts with gets ``"</think> 0"``. Records every call (texts, n).
    """

    paths: Mapping[str, Sequence[str]] = field(default_factory=lambda: PATHS)
    calls: list[tuple[tuple[str, ...], int]] = field(default_factory=list)

    def complete(self, texts: Sequence[str], *, n: int, params: SamplingParams, seed: int) -> list[list[Completion]]:
        self.calls.append((tuple(texts), n))
        out = []
        for text in texts:
            prompt = next(p for p in self.paths if text.startswith(p))
            prefix = text[len(prompt):]
            rests = [c[len(prefix):] for c in self.paths[prompt] if c.startswith(prefix)] or ["</think> 0"]
            picks = [rests[0]] * n if not params.do_sample else [rests[(seed + j) % len(rests)] for j in range(n)]
            out.append([Completion(t, len(t) + 1) for t in picks])
        return out


class CheckerPRM:
    """The exact step checker as a stand-in PRM (unit tests of the logic ONLY): 0.9 while
    every step so far is right, 0.1 from the first wrong step on."""

    def __init__(self, problems: Sequence[Problem]):
        self.by_prompt = {p.prompt: p for p in problems}

    def score_steps(self, prompts, steps):
        out = []
        for prompt, st in zip(prompts, steps):
            ok, row = True, []
            for good in check_arithmetic_steps(self.by_prompt[prompt], st):
                ok = ok and good
                row.append(0.9 if ok else 0.1)
            out.append(row)
        return out


class CheckerORM:
    """Stand-in ORM from the same checker: 0.9 when every step is right, else 0.1."""

    def __init__(self, problems: Sequence[Problem]):
        self.prm = CheckerPRM(problems)

    def score(self, prompts, completions):
        rows = self.prm.score_steps(prompts, [split_steps(c) for c in completions])
        return [min(r) if r else 0.0 for r in rows]


@pytest.fixture
def problems() -> list[Problem]:
    return [P1, P2]


@pytest.fixture
def policy() -> BranchingPolicy:
    return BranchingPolicy()


@pytest.fixture
def prm(problems) -> CheckerPRM:
    return CheckerPRM(problems)


@pytest.fixture
def orm(problems) -> CheckerORM:
    return CheckerORM(problems)


@pytest.fixture(scope="session")
def real_models(tmp_path_factory) -> dict[str, str]:
    """A micro policy cold-started on gold solutions until it writes the ``<think>`` format
    (100 SFT steps, ~15 s: an untrained one never closes a step), and an ORM and a PRM
    really trained from it with ``prm.train`` on the 8 scripted paths, labelled by their
    verdicts (20 steps each)."""
    from selftaught.loops.arithmetic import make_problems
    from selftaught.loops.tinymodel import init_policy
    from selftaught.loops.train import SFTSettings, cold_start
    from selftaught.loops.verify import ARITHMETIC
    from selftaught.prm.train import RMSettings, train_orm, train_prm
    from selftaught.records import Split

    root = Path(tmp_path_factory.mktemp("search-real"))
    init = init_policy(root / "init", seed=0, size="micro")
    policy = str(root / "policy")
    cold_start(init, make_problems(256, Split.TRAIN, 0), policy, cfg=SFTSettings(steps=100, lr=3e-3),
               checkpoint_id="micro-cold", threads=1)  # fmt: skip
    probs = {p.prompt: p for p in (P1, P2)}
    orm_rows, prm_rows = [], []
    for prompt, comps in PATHS.items():
        for c in comps:
            orm_rows.append((prompt, c, ARITHMETIC.verify(probs[prompt], c).passed))
            steps = split_steps(c)  # every step labelled with the outcome (no exact checker in training)
            prm_rows.append({"prompt": prompt, "completions": steps, "labels": [orm_rows[-1][2]] * len(steps)})
    cfg = RMSettings(steps=20, batch_size=8)
    orm = train_orm(policy, orm_rows, str(root / "orm"), cfg=cfg, threads=1)
    prm = train_prm(policy, prm_rows, str(root / "prm"), cfg=cfg, threads=1)
    return {"policy": policy, "orm": orm.path, "prm": prm.path}
