"""The one stage table (``loops/methods.PLANS``): every family fills every stage slot, and
every step it names has a task in the flow's dispatch dict."""

from __future__ import annotations

from selftaught.loops.methods import FAMILY, PLANS, START, Family, Method, Skip, Step, plan_for
from selftaught.records import Stage


def test_every_family_has_a_plan_over_all_six_slots_in_order():
    assert set(FAMILY.values()) == set(Family) == set(PLANS)
    for plan in [*PLANS.values(), *START.values()]:
        assert tuple(plan) == tuple(Stage)  # the flow runs the slots in this order
        assert all(isinstance(step, Step | Skip) for step in plan.values())


def test_every_step_of_the_table_has_a_task_in_the_flow():
    from selftaught.flows.rounds import STEPS

    named = {s for plan in [*PLANS.values(), *START.values()] for s in plan.values() if isinstance(s, Step)}
    assert named <= set(STEPS)
    assert set(STEPS) == set(Step)  # and no task without a place in the table


def test_cai_plans_put_the_constitution_where_the_docstring_says():
    sl, rl = PLANS[FAMILY[Method.SL_CAI]], PLANS[FAMILY[Method.RL_CAI]]
    assert sl[Stage.RATIONALIZE] is Step.REVISE and isinstance(sl[Stage.JUDGE], Skip)
    assert rl[Stage.JUDGE] is Step.FEEDBACK
    # AI-feedback pairs go through the same curate/train steps as DPO's verified pairs
    dpo = PLANS[Family.PREFERENCE]
    assert (rl[Stage.CURATE], rl[Stage.TRAIN]) == (dpo[Stage.CURATE], dpo[Stage.TRAIN]) == (
        Step.CURATE_PAIRS, Step.TRAIN_DPO)
    assert plan_for(Family.SL_CAI, 0)[Stage.TRAIN] is Step.REGISTER_CHAT
    assert plan_for(Family.SFT, 0)[Stage.TRAIN] is Step.COLD_START


def test_online_rl_skips_name_the_method():
    skip = PLANS[Family.ONLINE_RL][Stage.GENERATE]
    assert skip.reason.format(method="grpo") == "grpo: the trainer generates and judges its own rollouts"
