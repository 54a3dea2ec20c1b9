"""Step-level search: beam search and MCTS, both scored by the PRM.

In: ``ProblemState``s, a policy, the ``Scorers`` (a PRM; MCTS with rollout value may use
the ORM), step-generation params, a token cap per problem. Out: the states filled with
``partial`` step nodes (``parent`` links form the tree), ``candidate`` nodes that reached
an answer, MCTS ``rollout``s, and a selected node. Problems are searched side by side:
every round of step generation is one batched ``generate`` over all live problems.

**Beam search** (Snell et al. 2024's "beam search with a PRM"): keep ``width`` partial
paths; at each depth sample ``expand`` next steps for each (``width * expand`` = the budget
N in samples-per-step), score every new path with the PRM (aggregate ``how``), set the
ones that reached an answer aside, keep the best ``width`` of the rest. A problem stops
when it has ``width`` finished paths, no live path, ``max_steps`` depths, or its tokens
reach the cap. The finished path with the best PRM aggregate is selected.

**MCTS**: each iteration selects from the root by UCB, ``Q + c*sqrt(ln N / n)`` (``Q``
the mean value of a child, ``N`` its parent's visits, ``n`` its own), descending while
the node already has ``children`` children; it expands one sampled step there, values the
new node and backs the value up its path. Value ``"prm"``: the PRM's score of the new
node's last step (P(on a path to the correct answer)). Value ``"rollout"``: the policy
completes the path once (a stored ``rollout`` node, a candidate too), valued by the ORM
(or the PRM aggregate without one). Budget: tokens (the cap) and expansions. The finished
node with the best PRM aggregate (ORM without a PRM) is selected.

If a problem ends with no finished path (cap reached mid-way), its best partial path is
completed greedily (``kind="fallback"``) and those tokens are counted too. The verifier
never takes part in a search.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from selftaught.loops.policy import Completer
from selftaught.records import SamplingParams
from selftaught.search.state import Node, ProblemState, Scorers
from selftaught.search.stepgen import finish, next_steps, step_params


def _grow(policy: Completer, work: Sequence[tuple[ProblemState, Node | None]], *, n: int, params: SamplingParams,
          seed: int, scorers: Scorers, max_steps: int) -> list[tuple[ProblemState, Node]]:  # fmt: skip
    """Sample ``n`` next steps for each (state, parent) pair (None: from the prompt); PRM-score them."""
    texts = [s.prompt + (p.text if p is not None else "") for s, p in work]
    rows = next_steps(policy, texts, n=n, params=params, seed=seed, fmt=scorers.fmt)
    made: list[tuple[ProblemState, Node]] = []
    for (state, parent), steps in zip(work, rows, strict=True):
        state.budget.add_steps(steps)
        for st in steps:
            depth = 0 if parent is None else parent.depth + 1
            final = st.final or depth + 1 >= max_steps or not st.text.strip()
            base = parent.text if parent is not None else ""
            node = state.add(parent=None if parent is None else parent.index, kind="candidate" if final else "partial",
                             text=base + st.text, step=st.text, final=final, n_tokens=st.n_tokens)  # fmt: skip
            state.budget.samples += final
            made.append((state, node))
    scorers.score_prm([s for s, _ in made], [n for _, n in made])
    return made


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
    key = "agg" if scorers.prm is not None else "orm"
    return max(state.finals(), key=lambda n: n.scores.get(key, 0.0), default=None)


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
        for state, node in made:
            if not node.final:
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
            while not node.final and len(node.children) >= children:
                parent = node
                node = max((state.nodes[k] for k in parent.children), key=lambda ch: _ucb(parent, ch, c))
                path.append(node)
            if node.final:  # a finished path: back its value up again, nothing to generate
                _backup(path, node.scores["value"])
            else:
                work.append((state, node))
                paths.append(path)
        if not live:
            break
        if not work:
            continue
        made = _grow(policy, work, n=1, params=sp, seed=seed + 7919 * it, scorers=scorers, max_steps=max_steps)
        if value == "rollout":
            _rollouts(policy, made, params=params, seed=seed + 7919 * it + 1, scorers=scorers)
        else:
            for _, node in made:
                node.scores["value"] = node.scores["prm"][-1] if node.scores.get("prm") else 0.0
        for path, (_, node) in zip(paths, made, strict=True):
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


def _backup(path: Sequence[Node], v: float) -> None:
    for node in path:
        node.visits += 1
        node.value_sum += v


def _rollouts(policy: Completer, made: Sequence[tuple[ProblemState, Node]], *, params: SamplingParams, seed: int,
              scorers: Scorers) -> None:  # fmt: skip
    """Value each new node by one completed rollout (a final node is valued as it is)."""
    todo = [(s, n) for s, n in made if not n.final]
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
