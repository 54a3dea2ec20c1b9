"""The TRL reward adapter: the signature TRL calls, None for unscored, verdicts handed on."""

from __future__ import annotations

import pytest

from selftaught.errors import JudgeError
from selftaught.judges import BaseVerifier, FormatVerifier, as_reward_function, get_verifier
from selftaught.records import Outcome, Problem

PROBLEMS = {
    "p1": Problem(id="p1", prompt="Q: 23+45=? A: ", answer="68"),
    "p2": Problem(id="p2", prompt="Q: 10+11=? A: ", answer="21"),
}


class Scripted(BaseVerifier):
    """Returns the outcome named in the completion text (to test None handling)."""

    name = "scripted"

    def verify(self, problem, completion):
        outcome = Outcome(completion)
        return self.verdict(outcome, 1.0 if outcome is Outcome.PASS else 0.0, "scripted")


def trl_kwargs(ids, logged):
    """Everything GRPOTrainer passes besides prompts and completions (STACK-NOTES)."""
    return {
        "completion_ids": [[1, 2, 3] for _ in ids],
        "problem_id": ids,
        "answer": ["68" for _ in ids],  # an extra dataset column the adapter must ignore
        "trainer_state": object(),
        "log_extra": lambda column, values: logged.append((column, values)),
        "log_metric": lambda name, value: logged.append((name, value)),
    }


def test_called_the_way_trl_calls_it():
    seen, logged = [], []
    reward = as_reward_function(
        get_verifier("math"), PROBLEMS, on_verdict=lambda *args: seen.append(args)
    )
    completions = ["<think>3+5=8 2+4=6</think> 68", "<think>1+0=1</think> 12", "garbage"]
    ids = ["p1", "p2", "p2"]
    scores = reward(prompts=["Q"] * 3, completions=completions, **trl_kwargs(ids, logged))
    assert scores == [1.0, 0.0, 0.0]
    assert [(pid, text) for pid, text, _ in seen] == list(zip(ids, completions))
    assert [v.outcome for _, _, v in seen] == [Outcome.PASS, Outcome.FAIL, Outcome.FAIL]
    assert ("math/timeout_frac", 0.0) in logged and ("math/error_frac", 0.0) in logged
    assert reward.__name__ == "math_reward"  # TRL logs rewards under this name


@pytest.mark.parametrize(
    "why, unscored, expected",
    [
        ("a timeout scores 0 (no dodging by stalling); a judge error is skipped (None)", "none", [1.0, 0.0, 0.0, None]),
        ("or scored 0 when the user asks for it", "zero", [1.0, 0.0, 0.0, 0.0]),
    ],
)
def test_unscored_verdicts(why, unscored, expected):
    reward = as_reward_function(Scripted(), PROBLEMS, unscored=unscored)
    completions = ["pass", "fail", "timeout", "error"]
    logged = []
    assert reward(prompts=None, completions=completions, **trl_kwargs(["p1"] * 4, logged)) == expected
    assert ("scripted/timeout_frac", 0.25) in logged


def test_conversational_completions():
    reward = as_reward_function(FormatVerifier(), PROBLEMS)
    completions = [[{"role": "assistant", "content": "<think>a</think> 68"}]]
    assert reward(prompts=[[{"role": "user", "content": "Q"}]], completions=completions, problem_id=["p1"]) == [1.0]


@pytest.mark.parametrize(
    "why, kwargs, fragment",
    [
        ("the dataset lacks the id column", {"answer": ["68"]}, "needs a 'problem_id' column"),
        ("an id the adapter was not given", {"problem_id": ["nope"]}, "unknown problem ids"),
    ],
)
def test_contract_violations_are_judge_errors(why, kwargs, fragment):
    reward = as_reward_function(FormatVerifier(), PROBLEMS)
    with pytest.raises(JudgeError, match=fragment):
        reward(prompts=["Q"], completions=["x"], **kwargs)


def test_custom_id_column():
    reward = as_reward_function(FormatVerifier(), PROBLEMS, id_column="qid")
    assert reward(prompts=["Q"], completions=["<think>a</think> 1"], qid=["p2"]) == [1.0]


@pytest.mark.slow
def test_real_grpo_trainer_step(tmp_path):
    """Two GRPO steps on a from-scratch ~50k-parameter Llama: TRL calls the adapter."""
    datasets = pytest.importorskip("datasets")
    trl = pytest.importorskip("trl")
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>"]
    chars = list("0123456789+=?:QA <>/thnik")
    vocab = {tok: i for i, tok in enumerate(specials + chars)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    core.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", bos_token="<s>", eos_token="</s>",
        unk_token="<unk>", padding_side="left",
    )
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
            pad_token_id=0, bos_token_id=1, eos_token_id=2,
        )
    )
    dataset = datasets.Dataset.from_dict(
        {"prompt": [PROBLEMS["p1"].prompt, PROBLEMS["p2"].prompt], "problem_id": ["p1", "p2"]}
    )
    seen = []
    reward = as_reward_function(
        get_verifier({"math": 1.0, "format": 0.2}), PROBLEMS, on_verdict=lambda *a: seen.append(a)
    )
    config = trl.GRPOConfig(
        output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2, num_generations=2,
        max_completion_length=6, learning_rate=1e-4, bf16=False, use_cpu=True,
        gradient_checkpointing=False, report_to="none", logging_steps=1, save_strategy="no",
    )
    trainer = trl.GRPOTrainer(
        model=model, reward_funcs=[reward], args=config, train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    assert len(seen) >= 4
    assert {pid for pid, _, _ in seen} <= {"p1", "p2"}
    assert all(v.judge.startswith("1*math+0.2*format") for _, _, v in seen)
    keys = {key for row in trainer.state.log_history for key in row}
    assert "rewards/weighted_reward/mean" in keys, sorted(keys)
    assert "weighted/timeout_frac" in keys, sorted(keys)  # log_metric reached TRL
