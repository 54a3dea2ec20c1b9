"""CAI recipes (``recipe_cai.py``): the new form's checks, and old CAI files read in the new form."""

from __future__ import annotations

import pytest

from selftaught.errors import ConfigError
from selftaught.recipe import load_recipe, recipe_from_dict


def test_a_cai_method_gets_the_cai_defaults():
    r = recipe_from_dict({"method": "rl-cai"})
    assert (r.task.kind, r.judge, r.policy.init, r.constitution.name) == ("prompts", "constitution", "smollm2", "concise")
    assert (r.train.steps, r.dpo.steps, r.dpo.max_pairs_per_problem, r.task.prompts_per_round) == (8, 8, 1, 8)
    assert r.is_cai() and not recipe_from_dict({}).is_cai()


@pytest.mark.parametrize(
    "data, why",
    [
        ({"stages": ["sl-cai", "rft"]}, "cannot be mixed"),  # prompts have no answers for rft to verify
        ({"method": "sl-cai", "task": {"kind": "arithmetic"}}, "kind: prompts"),
        ({"method": "rft", "task": {"kind": "prompts"}}, "a prompts task"),  # nothing to verify against
        ({"method": "rft", "constitution": {"passes": 2}}, "only sl-cai/rl-cai rounds read it"),
        ({"method": "sl-cai", "judge": "math"}, "a prompts task"),  # math reads answers prompts lack
        ({"method": "sl-cai", "curriculum": {}}, "curriculum: not used"),
    ],
)
def test_cai_and_other_rounds_do_not_mix(data, why):
    with pytest.raises(ConfigError, match=why):
        recipe_from_dict(data)


def test_an_old_cai_recipe_loads_with_a_one_line_note(tmp_path, capsys):
    f = tmp_path / "old.yaml"
    f.write_text("name: old\nmode: rl\nthreshold: 0.7\ntrain: {steps: 3, beta: 0.2}\nn_train: 5\n")
    r = load_recipe(f)
    assert (r.method, r.constitution.threshold, r.train.steps, r.dpo.steps, r.dpo.beta) == ("rl-cai", 0.7, 3, 3, 0.2)
    assert r.task.prompts_per_round == 5
    note = capsys.readouterr().err.strip().splitlines()
    assert len(note) == 1 and note[0].startswith(f"{f}:2: an old CAI recipe")


def test_an_old_cai_recipe_error_names_the_old_line(tmp_path):
    f = tmp_path / "old.yaml"
    f.write_text("name: old\nmode: sl\ntrain:\n  steps: 0\n")
    with pytest.raises(ConfigError, match=r"old.yaml:4: train.steps"):
        load_recipe(f)


def test_an_old_cai_run_stored_recipe_reads_in_the_new_form():
    r = recipe_from_dict({"kind": "cai", "name": "x", "mode": "sl", "constitution": "concise", "policy": "tiny",
                          "passes": 2, "train": {"steps": 1}})  # fmt: skip
    assert (r.method, r.constitution.passes, r.policy.init, r.train.steps) == ("sl-cai", 2, "tiny", 1)
