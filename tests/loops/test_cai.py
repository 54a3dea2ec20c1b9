"""SL-CAI and RL-CAI with FakeChatModel: records, datasets, failures, preference maths."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from selftaught.constitution import bundled_path, constitution_hash, load_constitution, load_prompts
from selftaught.constitution.prompts import COMPARE_SUFFIX, REVISION_SUFFIX
from selftaught.loops.cai import (
    RlCaiConfig,
    SlCaiConfig,
    curate_pairs,
    dpo_rows,
    preference_probability,
    rl_cai,
    sft_rows,
    sl_cai,
)
from selftaught.loops.chat import ChatError, FakeChatModel
from selftaught.records import CaiStep, Problem


@pytest.fixture
def concise():
    return load_constitution(bundled_path("concise"))


@pytest.fixture
def problems():
    return [
        Problem(id="p1", prompt="Why is the sky blue?", meta={"tags": ("science",)}),
        Problem(id="p2", prompt="My ankle hurts. What now?", meta={"tags": ("medical",)}),
    ]


def scripted(msgs):
    """The answer shouts; critiques say so; revisions are calm (and count the pass)."""
    last = msgs[-1]["content"]
    if msgs[-1]["role"] == "user" and len(msgs) == 1:
        return f"ANSWER to {last}!"
    if last.endswith(REVISION_SUFFIX):
        prev = msgs[-4]["content"]  # the answer being revised
        return f"Revised answer: calm({prev})"
    return "CRITIQUE: too loud."


def test_sl_cai_produces_linked_records_and_sft_rows(concise, problems):
    model = FakeChatModel(scripted)
    r = sl_cai(problems, concise, model, SlCaiConfig(n_revisions=2, seed=1))
    h = constitution_hash(concise)
    assert r.constitution_hash == h and not r.failures
    assert [a.completion for a in r.answers] == ["ANSWER to Why is the sky blue?!", "ANSWER to My ankle hurts. What now?!"]
    assert len(r.critiques) == len(r.revisions) == 4
    for c in r.critiques + r.revisions:
        assert c.constitution_hash == h and c.principle_id in concise.ids
    # pass 1 revises pass 0's revision, and the label "Revised answer:" is stripped
    p1 = [v for v in r.revisions if v.problem_id == "p1"]
    assert [v.pass_index for v in p1] == [0, 1]
    assert p1[1].text == "calm(calm(ANSWER to Why is the sky blue?!))"
    crit1 = next(c for c in r.critiques if c.problem_id == "p1" and c.pass_index == 1)
    assert crit1.answer == p1[0].text and crit1.sample_key == r.answers[0].key
    # one principle per prompt unless resampling is asked for
    assert len({c.principle_id for c in r.critiques if c.problem_id == "p1"}) == 1
    # the SFT set is (prompt, final revision)
    ts = r.training_set
    assert ts.method == "sl-cai" and len(ts.examples) == 2
    rows = sft_rows(ts)
    assert rows[0] == {
        "prompt": [{"role": "user", "content": "Why is the sky blue?"}],
        "completion": [{"role": "assistant", "content": p1[1].text}],
    }


def test_principles_respect_applies_to(concise, problems):
    r = sl_cai(problems * 1, concise, FakeChatModel(scripted), SlCaiConfig(n_revisions=6, resample_principle=True))
    science = {c.principle_id for c in r.critiques if c.problem_id == "p1"}
    assert "professional-disclaimer" not in science


def test_critique_prompt_carries_the_principle_and_not_the_check(concise, problems):
    model = FakeChatModel(scripted)
    sl_cai(problems[1:], concise, model, SlCaiConfig())
    crit_msgs = model.calls[1][1]
    principle = next(p for p in concise.principles if p.critique_request == crit_msgs[-1]["content"])
    assert crit_msgs[-3:-1] == [
        {"role": "user", "content": "My ankle hurts. What now?"},
        {"role": "assistant", "content": "ANSWER to My ankle hurts. What now?!"},
    ]
    rev_msgs = model.calls[2][1]
    assert rev_msgs[-1]["content"] == f"{principle.revision_request} {REVISION_SUFFIX}"
    assert "checks" not in str(model.calls)


def test_same_seed_same_principles(problems):
    c = load_constitution(bundled_path("default"))
    draw = lambda: [x.principle_id for x in sl_cai(problems, c, FakeChatModel(scripted), SlCaiConfig(seed=3)).critiques]  # noqa: E731
    assert draw() == draw()


def test_failures_are_recorded_and_stop_only_that_chain(concise, problems):
    def flaky(msgs):
        if "ankle" in str(msgs) and msgs[-1]["content"].endswith(REVISION_SUFFIX):
            return ChatError("endpoint down", attempts=4, status=503)
        return scripted(msgs)

    r = sl_cai(problems, concise, FakeChatModel(flaky), SlCaiConfig(n_revisions=2))
    (f,) = r.failures
    assert f.step is CaiStep.REVISE and f.problem_id == "p2" and "503" in f.error and f.pass_index == 0
    assert [e.problem_id for e in r.training_set.examples] == ["p1"]
    assert len(r.critiques) == 3  # p1 twice, p2 once


def test_failed_answer_and_empty_revision(concise, problems):
    def bad(msgs):
        if len(msgs) == 1 and "sky" in msgs[0]["content"]:
            return ChatError("timeout")
        if msgs[-1]["content"].endswith(REVISION_SUFFIX):
            return "Revised answer:   "
        return scripted(msgs)

    r = sl_cai(problems, concise, FakeChatModel(bad), SlCaiConfig())
    assert [(f.problem_id, f.step) for f in r.failures] == [("p1", CaiStep.ANSWER), ("p2", CaiStep.REVISE)]
    assert r.training_set.examples == ()


def test_separate_critic(concise, problems):
    policy, critic = FakeChatModel("policy answer"), FakeChatModel(scripted, name="critic")
    r = sl_cai(problems, concise, policy, SlCaiConfig(), critic=critic)
    assert len(policy.calls) == 2 and len(critic.calls) == 4
    assert r.revisions[0].text == "calm(policy answer)"


# --- RL-CAI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "why,scores,p",
    [
        ("equal scores: no preference", [-1.0, -1.0], 0.5),
        ("normalised over the two options only", [math.log(0.3), math.log(0.1)], 0.75),
        ("an option missing from an endpoint's top-k", [-0.5, -math.inf], 1.0),
        ("both missing", [-math.inf, -math.inf], 0.5),
    ],
)
def test_preference_probability(why, scores, p):
    assert preference_probability(scores) == pytest.approx(p)


def prefers_calm(msgs, options):
    """Feedback that prefers the response without '!' (whichever position it is in)."""
    text = msgs[-1]["content"]
    a = text.split("Response (A):\n")[1].split("\n\nResponse (B):")[0]
    return [math.log(0.9), math.log(0.1)] if "!" not in a else [math.log(0.1), math.log(0.9)]


class SeededPolicy(FakeChatModel):
    """Answers differ by seed: even seeds shout, odd seeds are calm."""

    def complete(self, messages_batch, *, max_new_tokens=128, temperature=0.0, seed=0):
        return [f"reply {seed}" + ("!" if seed % 2 == 0 else ".") for _ in messages_batch]


def test_rl_cai_pairs_probabilities_and_dpo_rows(concise, problems):
    feedback = FakeChatModel(prefers_calm, prefer=prefers_calm, name="judge")
    r = rl_cai(problems, concise, SeededPolicy(), RlCaiConfig(seed=0, threshold=0.8), feedback=feedback)
    assert len(r.answers) == 4 and len(r.pairs) == 2 and not r.failures
    for p in r.pairs:
        assert p.chosen == "reply 1." and p.rejected == "reply 0!"
        assert p.p_chosen == pytest.approx(0.9) and p.feedback_model == "judge"
        assert p.chosen_key[2] == 1 and p.rejected_key[2] == 0
        assert len(p.option_logprobs) == 2  # both orders asked
        assert p.constitution_hash == constitution_hash(concise) and p.principle_id in concise.ids
    assert r.kept == r.pairs
    asks = [m for k, m in feedback.calls if k == "option_logprobs"]
    assert len(asks) == 4 and asks[0][-1]["content"].endswith(COMPARE_SUFFIX)
    rows = dpo_rows(r.kept)
    assert rows[0]["chosen"] == [{"role": "assistant", "content": "reply 1."}]
    assert rows[0]["prompt"] == [{"role": "user", "content": "Why is the sky blue?"}]


def test_position_bias_is_averaged_out(concise, problems):
    always_a = FakeChatModel(prefer=lambda m, o: [math.log(0.8), math.log(0.2)])
    r = rl_cai(problems, concise, SeededPolicy(), RlCaiConfig(threshold=0.6), feedback=always_a)
    assert all(p.p_chosen == pytest.approx(0.5) for p in r.pairs) and r.kept == ()
    r = rl_cai(problems, concise, SeededPolicy(), RlCaiConfig(threshold=0.6, debias_order=False), feedback=always_a)
    assert all(p.p_chosen == pytest.approx(0.8) for p in r.pairs) and len(r.kept) == 2


def test_threshold_and_feedback_errors(concise, problems):
    def half_broken(msgs, options):
        return ChatError("down", status=500) if "ankle" in msgs[-1]["content"] else [math.log(0.65), math.log(0.35)]

    r = rl_cai(problems, concise, SeededPolicy(), RlCaiConfig(debias_order=False), feedback=FakeChatModel(prefer=half_broken))
    assert [(f.problem_id, f.step) for f in r.failures] == [("p2", CaiStep.COMPARE)]
    assert len(r.pairs) == 1 and curate_pairs(r.pairs, 0.7) == [] and len(curate_pairs(r.pairs, 0.6)) == 1


def test_identical_answers_are_not_compared(concise, problems):
    r = rl_cai(problems, concise, FakeChatModel("same"), RlCaiConfig())
    assert r.pairs == () and r.identical == ("p1", "p2")
    with pytest.raises(ValueError, match="temperature"):
        rl_cai(problems, concise, FakeChatModel("same"), RlCaiConfig(temperature=0))


def test_bundled_prompts_run_through_sl_cai(concise):
    r = sl_cai(load_prompts("train"), concise, FakeChatModel(scripted), SlCaiConfig())
    assert len(r.training_set.examples) == len(load_prompts("train"))


def test_loops_cai_imports_no_prefect_or_sqlalchemy_or_torch():
    code = (
        "import sys, selftaught.loops.cai, selftaught.loops.chat, selftaught.constitution.checks;"
        "bad = [m for m in ('prefect', 'sqlalchemy', 'torch', 'transformers') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize(
    "why,revision,min_overlap,expected",
    [
        ("a real rewrite passes", "Calm: the sky looks blue because air scatters blue light.", 0.5, None),
        ("copying the critique is not a revision", "CRITIQUE: too loud.", 0.0, "revision repeats the critique"),
        ("off-topic text fails the overlap filter", "The answer is twelve words long.", 0.5, "off topic"),
        ("the overlap filter is off by default", "The answer is twelve words long.", 0.0, None),
    ],
)
def test_unusable_revisions_are_recorded_not_trained_on(concise, problems, why, revision, min_overlap, expected):
    def model(msgs):
        if msgs[-1]["content"].endswith(REVISION_SUFFIX):
            return revision
        return "ANSWER: the sky is blue because air scatters blue light!" if len(msgs) == 1 else "CRITIQUE: too loud."

    r = sl_cai(problems[:1], concise, FakeChatModel(model), SlCaiConfig(min_overlap=min_overlap))
    if expected is None:
        assert not r.failures and len(r.training_set.examples) == 1
    else:
        (f,) = r.failures
        assert f.step is CaiStep.REVISE and expected in f.error and r.training_set.examples == ()
