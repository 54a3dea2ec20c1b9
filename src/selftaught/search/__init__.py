"""Test-time search: spend more generation on a problem, pick a better answer (issue #7).

In: a policy (``loops.policy``), problems, a ``SearchConfig`` and the reward models from
``selftaught.prm`` (an ORM ``OutcomeScorer``, a PRM ``StepScorer``). Out: a
``records.SearchRecord`` with every candidate, partial path and score, for the store.

- ``stepgen``: one step at a time (stop at the step delimiter) and the ``Budget``;
- ``bon``: greedy, majority vote, best-of-N by ORM or by PRM (min / last / product);
- ``revise``: answer -> reward-model check -> regenerate from the first doubtful step;
- ``tree``: beam search over steps and MCTS (UCB) with PRM or rollout value;
- ``run``: ``run_search`` (dispatch, budget accounting, records) and ``search_generate``
  (a round's generator: searched answers as ``SEARCH`` samples).

No store, no Prefect; torch only through the policy and the reward models.
"""

from selftaught.search.run import (
    METHODS,
    SearchConfig,
    run_search,
    samples_from,
    search_generate,
    search_id,
)

__all__ = ["METHODS", "SearchConfig", "run_search", "samples_from", "search_generate", "search_id"]
