"""Step-level search: beam search and MCTS, both scored by the PRM.

In: ``ProblemState``s, a policy, the ``Scorers`` (a PRM; MCTS with rollout value may use
the ORM), step-generation params, a token cap per problem. Out: the states filled with
``partial`` step nodes (``parent`` links form the tree), ``candidate`` nodes that reached
an answer, ``truncated`` dead ends, MCTS ``rollout``s, and a selected node. Problems are
searched side by side: every round of step generation is one batched ``generate`` over all
live problems.

**Finished means answered.** A step node is ``final`` (a ``candidate``) only when its step
gives the final answer (``stepgen.next_steps``). A path that stops without one -- its step
was cut at the per-step token cap, was blank, or the path reached ``max_steps`` -- is a
``truncated`` dead end: not final, never expanded, never selected.

**Beam search** (Snell et al. 2024's "beam search with a PRM"): keep ``width`` partial
paths; at each depth sample ``expand`` next steps for each (``width * expand`` = the budget
N in samples-per-step), score every new path with the PRM (aggregate ``how``), set the
ones that reached an answer aside, keep the best ``width`` of the ``partial`` rest (dead
ends drop out). A problem stops when it has ``width`` answered paths, no live path,
``max_steps`` depths, or its tokens reach the cap. The answered path with the best PRM
aggregate is selected. Beam search keeps duplicate siblings (merging is MCTS's).

**MCTS**: each iteration selects from the root by UCB, ``Q + c*sqrt(ln N / n)`` (``Q``
the mean value of a child, ``N`` its parent's visits, ``n`` its own), descending while
the node has already drawn ``children`` step samples (a rollout is not one); it expands one
sampled step there, values the new node and backs the value up its path. Value ``"prm"``:
the PRM's score of the new node's last step (P(on a path to the correct answer)). Value
``"rollout"``: the policy completes the path once (a stored ``rollout`` node, a candidate
too), valued by the ORM (or the PRM aggregate without one). A ``truncated`` dead end is
valued 0 (no answer lies below it) and, like a final node, is only backed up again when
selection reaches it. Budget: tokens (the cap) and expansions (every sample, merged or
not). The finished node with the best PRM aggregate (ORM without a PRM) is selected, one
that answers before one that does not (a rollout that ran out of tokens).

**MCTS merges duplicate children**: a sampled step whose stripped text equals one of the
node's step children makes no new node. It counts towards that child: its tokens are added
to the child's ``n_tokens`` (the stored nodes still add up to the tokens spent; a final
one also counts one more sample), ``scores["dups"]`` counts it, and the iteration backs
the child's existing value up through the child (as if selection had picked it). A node's
draws are its step children plus their ``dups``, so a node whose samples keep repeating is
still fully expanded after ``children`` draws and the search goes deeper.

If a problem ends with no finished path (nothing answered: the cap was reached mid-way, or
every path was a dead end), its best unfinished path (``partial`` or ``truncated``; beam:
by PRM aggregate, MCTS: the most visited) is completed greedily (``kind="fallback"``,
final whatever it says) and those tokens are counted too: only then does an unanswered
path make the answer. The verifier never takes part in a search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from selftaught.loops.policy import Completer
from selftaught.records import SamplingParams
from selftaught.search.state import Node, ProblemState, Scorers
from selftaught.search.stepgen import Step, StepFormat, finish, next_steps, step_params


def _grow(policy: Completer, work: Sequence[tuple[ProblemState, Node | None]], *, n: int, params: SamplingParams,
          seed: int, scorers: Scorers, max_steps: int,
          merge: bool = False) -> list[tuple[ProblemState, Node, bool]]:  # fmt: skip
    """Sample ``n`` next steps for each (state, parent) pair (None: from the prompt); PRM-score the new nodes.

    Out: per sample (in ``work`` order), ``(state, node, new)``; with ``merge``, a step that
    repeats one of the parent's children gives that child and ``new=False`` (``_merge``).
    Every sample is charged to the budget, merged or not.
    """
    texts = [s.prompt + (p.text if p is not None else "") for s, p in work]
    rows = next_steps(policy, texts, n=n, params=params, seed=seed, fmt=scorers.fmt)
    made: list[tuple[ProblemState, Node, bool]] = []
    for (state, parent), steps in zip(work, rows, strict=True):
        state.budget.add_steps(steps)
        for st in steps:
            twin = _twin(state, parent, st.text) if merge else None
            if twin is not None:
                _merge(state, twin, st)
                made.append((state, twin, False))
            else:
                made.append((state, _add_step(state, parent, st, max_steps), True))
    new = [(s, node) for s, node, fresh in made if fresh]
    scorers.score_prm([s for s, _ in new], [node for _, node in new])
    return made


def _add_step(state: ProblemState, parent: Node | None, st: Step, max_steps: int) -> Node:
    """A node for one sampled step: ``candidate`` (it answers: final, one sample), ``truncated``
    (a dead end: cut, blank, or at ``max_steps`` with no answer) or ``partial``."""
    depth = 0 if parent is None else parent.depth + 1
    dead = st.cut or not st.text.strip() or depth + 1 >= max_steps
    kind = "candidate" if st.final else "truncated" if dead else "partial"
    base = parent.text if parent is not None else ""
    state.budget.samples += st.final
    return state.add(parent=None if parent is None else parent.index, kind=kind, text=base + st.text, step=st.text,
                     final=st.final, n_tokens=st.n_tokens)  # fmt: skip


def _twin(state: ProblemState, parent: Node | None, step: str) -> Node | None:
    """The step child of ``parent`` whose stripped step text is ``step``'s, if any."""
    if parent is None:
        return None
    key = step.strip()
    kids = (state.nodes[k] for k in parent.children)
    return next((ch for ch in kids if ch.kind != "rollout" and ch.step.strip() == key), None)


def _merge(state: ProblemState, twin: Node, st: Step) -> None:
    """Count a repeated sample towards its twin: its tokens (and, if final, one more sample)."""
    twin.n_tokens += st.n_tokens
    twin.scores["dups"] = twin.scores.get("dups", 0) + 1
    state.budget.samples += twin.final


def _terminal(node: Node) -> bool:
    """Nothing grows below a finished node or a dead end."""
    return node.final or node.kind == "truncated"


def _draws(state: ProblemState, node: Node) -> int:
    """Step samples drawn at ``node`` so far: its step children and the duplicates merged into
    them (a rollout child is not a step sample)."""
    kids = (state.nodes[k] for k in node.children)
    return sum(1 + ch.scores.get("dups", 0) for ch in kids if ch.kind != "rollout")


def _fallback(policy: Completer, pending: Sequence[tuple[ProblemState, Node | None]], *, params: SamplingParams,
              seed: int, scorers: Scorers) -> None:  # fmt: skip
    """Complete a path greedily for problems that ended with nothing finished (counted)."""
    if not pending:
        return
    greedy = replace(params, do_sample=False)
    rows = finish(policy, [s.prompt + (p.text if p else "") for s, p in pending], n=1, params=greedy, seed=seed)
    made = []
    for (state, parent), comps in zip(pending, rows, strict=True):
        c = comps[0]
        state.budget.add_completions([c])
        base = parent.text if parent is not None else ""
        node = state.add(parent=None if parent is None else parent.index, kind="fallback", text=base + c.text,
                         step=c.text, final=True, n_tokens=c.n_tokens)  # fmt: skip
        made.append((state, node))
    scorers.score_prm([s for s, _ in made], [n for _, n in made])
    scorers.score_orm([s for s, _ in made], [n for _, n in made])


def _best_final(state: ProblemState, scorers: Scorers) -> Node | None:
    """The finished node to select: one that answers first, then by PRM aggregate (ORM without a PRM)."""
    key = "agg" if scorers.prm is not None else "orm"
    fmt = scorers.fmt
    return max(state.finals(), key=lambda n: (_answers(n, fmt), n.scores.get(key, 0.0)), default=None)


def _answers(node: Node, fmt: StepFormat) -> bool:
    """Whether a final node gives an answer. A step ``candidate`` always does; a rollout or
    fallback completion is checked in the embedded format (``</think>``) and taken as
    answered with a delimiter (its ``Completion`` does not say why it stopped)."""
    return node.kind == "candidate" or fmt.delimiter is not None or fmt.is_answer(node.text)


def beam_search(policy: Completer, states: Sequence[ProblemState], *, width: int, expand: int,
                params: SamplingParams, max_step_tokens: int, max_steps: int, token_cap: int, seed: int,
                scorers: Scorers) -> None:  # fmt: skip
    """Beam search over steps (see the module docstring)."""
    scorers.need("prm", "beam")
    sp = step_params(params, max_step_tokens)
    beams: dict[int, list[Node | None]] = {i: [None] for i in range(len(states))}
    index = {id(s): i for i, s in enumerate(states)}
    for depth in range(max_steps):
        work = [(states[i], b) for i, bs in beams.items() for b in bs]
        if not work:
            break
        made = _grow(policy, work, n=expand, params=sp, seed=seed + 1009 * depth, scorers=scorers,
                     max_steps=max_steps)  # fmt: skip
        by_state: dict[int, list[Node]] = {}
        for state, node, _ in made:
            if node.kind == "partial":
                by_state.setdefault(index[id(state)], []).append(node)
        nxt: dict[int, list[Node | None]] = {}
        for i in beams:
            s = states[i]
            live = sorted(by_state.get(i, []), key=lambda n: -n.scores["agg"])[:width]
            if live and len(s.finals()) < width and s.budget.tokens < token_cap:
                nxt[i] = list(live)
        beams = nxt
    pending = []
    for state in states:
        if not state.finals():
            partial = max((n for n in state.nodes), key=lambda n: n.scores.get("agg", 0.0), default=None)
            pending.append((state, partial))
    _fallback(policy, pending, params=params, seed=seed + 1, scorers=scorers)
    for state in states:
        best = _best_final(state, scorers)
        state.selected = None if best is None else best.index


def _ucb(parent: Node, child: Node, c: float) -> float:
    return child.q + c * math.sqrt(math.log(max(parent.visits, 1)) / max(child.visits, 1))


def mcts(policy: Completer, states: Sequence[ProblemState], *, children: int, c: float, value: str,
         params: SamplingParams, max_step_tokens: int, max_steps: int, token_cap: int, max_expansions: int,
         seed: int, scorers: Scorers) -> None:  # fmt: skip
    """Monte-Carlo tree search over steps (see the module docstring)."""
    if value not in ("prm", "rollout"):
        raise ValueError(f"MCTS value must be 'prm' or 'rollout', got {value!r}")
    if value == "prm" or scorers.orm is None:
        scorers.need("prm", "mcts")
    sp = step_params(params, max_step_tokens)
    # the root is the bare prompt (depth -1), so a node's depth is its step index
    roots = [s.add(parent=None, kind="root", text="", step="", final=False, n_tokens=0, depth=-1) for s in states]
    iterations = [0] * len(states)
    for it in range(3 * max_expansions + 3):
        work: list[tuple[ProblemState, Node]] = []
        paths: list[list[Node]] = []
        live = 0
        for i, state in enumerate(states):
            b = state.budget
            if b.tokens >= token_cap or b.expansions >= max_expansions or iterations[i] >= 3 * max_expansions:
                continue
            iterations[i] += 1
            live += 1
            node, path = roots[i], [roots[i]]
            while not _terminal(node) and _draws(state, node) >= children:
                parent = node
                node = max((state.nodes[k] for k in parent.children), key=lambda ch: _ucb(parent, ch, c))
                path.append(node)
            if _terminal(node):  # a finished path or a dead end: back its value up again, nothing to generate
                _backup(path, node.scores["value"])
            else:
                work.append((state, node))
                paths.append(path)
        if not live:
            break
        if not work:
            continue
        made = _grow(policy, work, n=1, params=sp, seed=seed + 7919 * it, scorers=scorers, max_steps=max_steps,
                     merge=True)  # fmt: skip
        _value([(s, node) for s, node, new in made if new], policy=policy, value=value, params=params,
               seed=seed + 7919 * it + 1, scorers=scorers)  # fmt: skip
        for path, (_, node, _) in zip(paths, made, strict=True):
            _backup(path + [node], node.scores["value"])
    for state, root in zip(states, roots):
        for n in state.nodes:
            n.scores["visits"], n.scores["q"] = n.visits, round(n.q, 6)
        if not state.finals():
            leaf = root
            while leaf.children:
                leaf = max((state.nodes[k] for k in leaf.children), key=lambda ch: ch.visits)
            _fallback(policy, [(state, leaf if leaf is not root else None)], params=params, seed=seed + 2,
                      scorers=scorers)  # fmt: skip
        best = _best_final(state, scorers)
        state.selected = None if best is None else best.index


def _value(new: Sequence[tuple[ProblemState, Node]], *, policy: Completer, value: str, params: SamplingParams,
           seed: int, scorers: Scorers) -> None:  # fmt: skip
    """Set ``scores["value"]`` of newly made nodes: ``value`` ("prm" or "rollout"); a dead end 0."""
    if value == "rollout":
        _rollouts(policy, new, params=params, seed=seed, scorers=scorers)
    else:
        for _, node in new:
            node.scores["value"] = node.scores["prm"][-1] if node.scores.get("prm") else 0.0
    for _, node in new:
        if node.kind == "truncated":
            node.scores["value"] = 0.0


def _backup(path: Sequence[Node], v: float) -> None:
    for node in path:
        node.visits += 1
        node.value_sum += v


def _rollouts(policy: Completer, made: Sequence[tuple[ProblemState, Node]], *, params: SamplingParams, seed: int,
              scorers: Scorers) -> None:  # fmt: skip
    """Value each new node by one completed rollout (a final node is valued as it is, a dead end not at all)."""
    todo = [(s, n) for s, n in made if not _terminal(n)]
    rows = finish(policy, [s.prompt + n.text for s, n in todo], n=1, params=params, seed=seed)
    outs: list[tuple[ProblemState, Node]] = []
    for (state, node), comps in zip(todo, rows, strict=True):
        c = comps[0]
        state.budget.add_completions([c])
        r = state.add(parent=node.index, kind="rollout", text=node.text + c.text, step=c.text, final=True,
                      n_tokens=c.n_tokens)  # fmt: skip
        node.scores["rollout"] = r.index
        outs.append((state, r))
    scorers.score_prm([s for s, _ in outs], [n for _, n in outs])
    scorers.score_orm([s for s, _ in outs] + [s for s, n in made if n.final],
                      [n for _, n in outs] + [n for _, n in made if n.final])  # fmt: skip
    key = "orm" if scorers.orm is not None else "agg"
    for state, r in outs:
        r.scores["value"] = r.scores.get(key, 0.0)
        state.nodes[r.parent].scores["value"] = r.scores["value"]  # type: ignore[index]
    for _, node in made:
        if node.final:
            node.scores["value"] = node.scores.get(key, 0.0)
