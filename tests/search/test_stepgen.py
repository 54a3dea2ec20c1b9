"""Steps: where a continuation's first step ends, and what generating one costs."""

from __future__ import annotations

import pytest

from selftaught.records import SamplingParams
from selftaught.search.stepgen import Budget, StepFormat, cut_step, next_steps

EMBEDDED = StepFormat().delimiters


@pytest.mark.parametrize(
    "text, step, closed",
    [
        (" <think>7+5=12 2+4+1=7</think> 72", " <think>7+5=12", True),  # the opening step keeps <think>
        (" 2+4+1=7</think> 72", " 2+4+1=7", True),  # a column step closed by </think>
        (" 2+4=6 9+9=18", " 2+4=6", True),  # a column step closed by a space
        ("</think> 72", "</think> 72", False),  # the answer step runs to the end
        ("", "", False),  # the model stopped at once
        ("   ", "   ", False),  # only delimiters: no step content, never closed
    ],
)
def test_cut_step_embedded(text, step, closed):
    assert cut_step(text, EMBEDDED) == (step, closed)


def test_cut_step_lines():
    assert cut_step("\nfirst line\nsecond", ("\n",)) == ("\nfirst line", True)


def test_next_steps_truncates_a_whole_completion_and_counts_every_generated_token(policy, problems):
    p = problems[0]
    rows = next_steps(policy, [p.prompt, p.prompt + " <think>7+5=12 2+4+1=7"], n=1,
                      params=SamplingParams(do_sample=False), seed=0)  # fmt: skip
    first, answer = rows[0][0], rows[1][0]
    assert (first.text, first.final) == (" <think>7+5=12", False)
    assert first.n_tokens == len(" <think>7+5=12 2+4+1=7</think> 72") + 1  # the fake generated it all
    assert (answer.text, answer.final) == ("</think> 72", True)  # the answer step ends the solution


def test_is_answer_only_in_the_embedded_format():
    assert StepFormat().is_answer("</think> 72") and not StepFormat("\n").is_answer("</think> 72")


def test_budget_adds_steps_and_completions():
    from selftaught.loops.policy import Completion
    from selftaught.search.stepgen import Step

    b = Budget()
    b.add_steps([Step("a", 3, False), Step("b", 4, True)])
    b.add_completions([Completion("x", 10)])
    assert (b.samples, b.tokens, b.expansions) == (1, 17, 2)


def test_the_search_package_imports_no_store_prefect_or_torch():
    import subprocess
    import sys

    code = "import sys, selftaught.search; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'sqlalchemy', 'prefect', 'transformers'}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("fmt, text, n_tokens, final, cut", [
    (StepFormat(), "</think> 72", 40, True, False),  # the answer, whatever it cost
    (StepFormat(), " <think>7+5=12", 4, False, True),  # unclosed, no answer: cut
    (StepFormat("\n"), "\nlast line", 3, True, False),  # the model ended the sequence: its answer
    (StepFormat("\n"), "\nlast li", 16, False, True),  # ran into the step's token cap: cut
    (StepFormat("\n"), "\nnext\nmore", 16, False, False),  # closed by a delimiter: a working step
])  # fmt: skip
def test_a_step_is_final_only_when_it_answers(fmt, text, n_tokens, final, cut):
    from selftaught.loops.policy import Completion

    class One:
        def complete(self, texts, *, n, params, seed):
            return [[Completion(text, n_tokens)] * n for _ in texts]

    (step,) = next_steps(One(), ["Q:"], n=1, params=SamplingParams(max_new_tokens=16), seed=0, fmt=fmt)[0]
    assert (step.final, step.cut) == (final, cut)
