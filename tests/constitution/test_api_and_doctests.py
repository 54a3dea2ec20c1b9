"""The public names of the constitution and CAI modules are pinned; their doctests run."""

from __future__ import annotations

import doctest
import importlib

import pytest

import selftaught.constitution as constitution


def test_constitution_public_api():
    assert sorted(constitution.__all__) == [
        "BUNDLED", "Constitution", "FewShotExample", "Principle", "bundled_path", "canonical_json",
        "constitution_hash", "load_constitution", "load_prompts", "parse_constitution", "prompt_tags",
        "read_prompts", "sample_principle",
    ]


def test_cai_and_chat_names():
    cai = importlib.import_module("selftaught.loops.cai")
    chat = importlib.import_module("selftaught.loops.chat")
    for name in ("SlCaiConfig", "RlCaiConfig", "SlCaiResult", "RlCaiResult", "sl_cai", "rl_cai", "answer",
                 "critique_and_revise", "curate_revisions", "compare", "curate_pairs", "sft_rows", "dpo_rows",
                 "preference_probability"):
        assert hasattr(cai, name), name
    for name in ("ChatModel", "ChatError", "HFChatModel", "OpenAIChatModel", "FakeChatModel", "load_smollm2",
                 "smollm2_gguf_path"):
        assert hasattr(chat, name), name


@pytest.mark.parametrize(
    "module",
    ["selftaught.constitution.checks", "selftaught.constitution.load", "selftaught.constitution.prompts",
     "selftaught.loops.cai", "selftaught.loops.chat"],
)
def test_doctests(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
