"""The teacher as a Completer: an endpoint (fake chat model here) or a local checkpoint."""

from __future__ import annotations

import pytest

from selftaught.errors import ConfigError
from selftaught.loops.chat import ChatError, FakeChatModel
from selftaught.loops.distill import ChatCompleter, TeacherSpec, load_teacher
from selftaught.loops.generate import generate
from selftaught.loops.verify import judge_all
from selftaught.loops.curate import curate_rft
from selftaught.records import SamplingParams


def test_teacher_samples_are_judged_and_only_correct_ones_kept(two_problems):
    a, b = two_problems
    # right on the first prompt; the second one's requests fail for good
    chat = FakeChatModel(lambda m: a.solution if m[-1]["content"] == a.prompt else ChatError("boom", attempts=3))
    samples = generate(
        ChatCompleter(chat), two_problems, k=2, params=SamplingParams(max_new_tokens=40), seed=3,
        checkpoint_id="teacher:openai:big",
    )
    assert [s.completion for s in samples] == [a.solution, a.solution, "", ""]  # a failed request is empty
    assert {s.checkpoint_id for s in samples} == {"teacher:openai:big"}
    ts = curate_rft(judge_all(samples, {p.id: p for p in two_problems}), {p.id: p for p in two_problems})
    assert [e.problem_id for e in ts.examples] == [a.id]


@pytest.mark.parametrize(
    "spec, message",
    [
        (TeacherSpec(), "exactly one"),
        (TeacherSpec(path="x", base_url="http://h"), "exactly one"),
        (TeacherSpec(base_url="http://h"), "needs `model`"),
        (TeacherSpec(base_url="http://h", model="m", api_key_env="SELFTAUGHT_NO_SUCH_KEY"), "not set"),
    ],
)
def test_bad_teacher_specs(spec, message):
    with pytest.raises(ConfigError, match=message):
        load_teacher(spec)


def test_local_teacher_is_a_policy(micro_policy_path):
    teacher = load_teacher(TeacherSpec(path=micro_policy_path), threads=1)
    out = teacher.complete(["Q: 1+2=? A:"], n=2, params=SamplingParams(max_new_tokens=4), seed=0)
    assert len(out) == 1 and len(out[0]) == 2
