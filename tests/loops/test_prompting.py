"""Prompt rendering: raw text for the tiny model, the chat template for instruct models, the
STaR hint in the user turn, no second BOS, every EOS id -- and the tokens a completion is
trained after are exactly the tokens it was sampled after (TRL's own tokenization)."""

from __future__ import annotations

import pytest

from selftaught.loops.arithmetic import make_problem
from selftaught.loops.policy import _count_tokens, encode_prompts, eos_ids
from selftaught.loops.prompting import CHAT_HINT, INSTRUCTIONS, RAW, PromptStyle
from selftaught.records import Problem

WORD = Problem(id="w1", prompt="Tom has 2 apples and buys 3 more. How many apples?", answer="5")


@pytest.mark.parametrize(
    "style, hint, expected",
    [
        # the tiny model's prompt goes through untouched: the demo's figures depend on it
        (RAW, False, "Q: 23+45=? A:"),
        # its STaR hint goes before the trailing A:, as its cold start taught it
        (RAW, True, "Q: 23+45=? (the answer is 68) A:"),
        # a base model without a template: instruction after a blank line
        (PromptStyle(instruction="Box it."), False, "Q: 23+45=? A:\n\nBox it."),
        # a system line before it
        (PromptStyle(system="Be exact."), False, "Be exact.\n\nQ: 23+45=? A:"),
    ],
)
def test_raw_rendering(style, hint, expected):
    assert style.render(make_problem(23, 45, 2), None, hint=hint) == expected


def test_chat_messages_put_instruction_and_hint_in_the_user_turn():
    style = PromptStyle(chat=True, system="Be exact.", instruction=INSTRUCTIONS["boxed"])
    msgs = style.messages(WORD.prompt, hint_answer="5")
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    assert user.startswith(WORD.prompt) and INSTRUCTIONS["boxed"] in user
    assert user.endswith(CHAT_HINT.format(answer="5"))
    # training rows never carry the hint
    assert "Hint" not in str(style.sft_row(WORD.prompt, "5")["prompt"])


def test_chat_hint_lands_before_the_assistant_marker(smollm2_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    style = PromptStyle(chat=True, instruction=INSTRUCTIONS["boxed"])
    text = style.render(WORD, tok, hint=True)
    assert text.endswith("<|im_start|>assistant\n")  # the model writes right after the marker
    assert text.index("the correct final answer is 5") < text.index("<|im_start|>assistant")
    assert style.render(WORD, tok).count("<|im_start|>") == 3  # (default) system, user, assistant


def test_rationalizations_that_mention_the_hint_are_not_trained_on():
    chat = PromptStyle(chat=True)
    assert chat.mentions_hint("Using the hint, 2 + 3 = 5. \\boxed{5}", "5")
    assert not chat.mentions_hint("2 + 3 = 5. \\boxed{5}", "5")
    assert RAW.mentions_hint(" (the answer is 68) 68", "68") and not RAW.mentions_hint(" <think>x</think> 68", "68")


def test_training_prompt_tokens_equal_the_sampled_prompt_tokens(smollm2_dir):
    """TRL's SFT preprocessing of our conversational rows gives, as the masked prompt part,
    exactly the ids the policy is sampled from; the trained part is the completion and the
    template's end of turn."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tok = AutoTokenizer.from_pretrained(smollm2_dir)
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir)
    style = PromptStyle(chat=True, system="Be exact.", instruction=INSTRUCTIONS["boxed"])
    completion = "2 + 3 = 5, so the answer is \\boxed{5}."
    data = Dataset.from_list([style.sft_row(WORD.prompt, completion)])
    args = SFTConfig(output_dir="/tmp/unused", use_cpu=True, bf16=False, report_to="none", max_length=512,
                     completion_only_loss=True, dataset_num_proc=None)  # fmt: skip
    row = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok).train_dataset[0]
    n_prompt = next(i for i, label in enumerate(row["labels"]) if label != -100)
    sampled = encode_prompts(tok, [style.render(WORD, tok)])["input_ids"][0].tolist()
    assert row["input_ids"][:n_prompt] == sampled
    assert tok.decode(row["input_ids"][n_prompt:]) == completion + "<|im_end|>\n"


def _bos_tokenizer():
    """A tokenizer that adds BOS itself (as Llama-3's does) and a template that renders one."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<bos>", "<eot>", "<unk>", "user", ":", "hi", "assistant"])}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    raw.post_processor = processors.TemplateProcessing(single="<bos> $A", special_tokens=[("<bos>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, bos_token="<bos>", eos_token="<eot>", pad_token="<pad>",
                                  unk_token="<unk>")  # fmt: skip
    tok.chat_template = "<bos>{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} <eot> {% endfor %}assistant :"
    return tok


def test_a_rendered_prompt_gets_no_second_bos():
    tok = _bos_tokenizer()
    text = PromptStyle(chat=True).render(Problem(id="p", prompt="hi"), tok)
    assert text.startswith("<bos>")
    ids = encode_prompts(tok, [text])["input_ids"][0].tolist()
    assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id
    # a raw prompt still gets the tokenizer's BOS
    assert encode_prompts(tok, ["hi"])["input_ids"][0].tolist()[0] == tok.bos_token_id


def test_every_eos_id_of_the_generation_config_stops_a_completion():
    class Gen:
        eos_token_id = [7, 9, 2]

    class Model:
        generation_config = Gen()

    tok = _bos_tokenizer()  # its own EOS is <eot> = 2
    assert eos_ids(Model(), tok) == [7, 9, 2]
    assert _count_tokens([4, 5, 9, 0, 0], eos_ids(Model(), tok), 0) == 3
