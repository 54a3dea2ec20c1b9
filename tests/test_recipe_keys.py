"""Every recipe key has a one-line doc, and `selftaught recipe keys` prints them with defaults."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from selftaught.cli.main import app
from selftaught.cli.recipe_cmd import keys, section_of
from selftaught.errors import ConfigError
from selftaught.recipe import Recipe, load_recipe


def _fields(model, prefix=""):
    for name in model.recipe_keys():
        field = model.model_fields[name]
        yield prefix + name, field
        section = section_of(field.annotation)
        if section is not None:
            yield from _fields(section, f"{prefix}{name}.")


def test_every_recipe_key_has_a_one_line_doc():
    fields = dict(_fields(Recipe))
    assert len(fields) > 100 and "grpo.beta" in fields and "search.budget" in fields
    assert "constitution.threshold" in fields  # the CAI section is walked like the others
    undocumented = [k for k, f in fields.items() if not (f.description or "").strip()]
    assert not undocumented, f"recipe keys without a doc line: {undocumented}"
    multi_line = [k for k, f in fields.items() if "\n" in f.description]
    assert not multi_line, multi_line


def test_every_nested_model_is_a_section():
    """A section that is a plain pydantic model would be skipped by `recipe keys` and by the
    doc check above: every model a recipe field holds is a ``Section``."""
    import typing

    from pydantic import BaseModel

    from selftaught.loops.section import Section

    def models(annotation):
        for t in (annotation, *typing.get_args(annotation)):
            if isinstance(t, type) and issubclass(t, BaseModel):
                yield t

    plain = [(name, m.__name__) for name, f in _fields(Recipe) for m in models(f.annotation) if not issubclass(m, Section)]
    top = [(name, m.__name__) for name, f in Recipe.model_fields.items() for m in models(f.annotation)
           if not issubclass(m, Section)]  # fmt: skip
    assert not plain + top, f"sections that are not Section models: {plain + top}"


def test_runtime_fields_are_not_recipe_keys():
    listed = {k for k, *_ in keys(Recipe)}
    assert "grpo.seed" not in listed and "train.placement" not in listed and "search.seed" not in listed
    assert {"grpo.lr", "train.max_per_problem", "lora.save", "teacher.concurrency"} <= listed


@pytest.mark.parametrize("text, line, reason", [
    ("grpo:\n  seed: 3\n", 1, "seed: not a recipe key"),
    ("name: x\ntrain:\n  placement: cpu\n", 2, "placement: not a recipe key"),
])  # fmt: skip
def test_a_runtime_field_in_a_recipe_fails_at_its_section(tmp_path, text, line, reason):
    f = tmp_path / "r.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_recipe(f)
    assert e.value.line == line and reason in str(e.value), str(e.value)


def test_recipe_keys_prints_type_default_and_doc():
    result = CliRunner().invoke(app, ["recipe", "keys", "grpo"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "grpo.beta (float, default 0.05): KL coefficient" in result.output
    assert "grpo.scale_rewards (group | batch | none, default none):" in result.output
    assert all(line.startswith("grpo.") for line in lines) and len(lines) == len(Recipe.model_fields["grpo"].annotation.recipe_keys())
    everything = CliRunner().invoke(app, ["recipe", "keys"]).output
    assert "task.digits (int, default 2):" in everything and "search.method (greedy | majority" in everything


def test_recipe_keys_of_an_unknown_section_is_one_line_and_exit_2(monkeypatch, capsys):
    from selftaught.cli.main import main

    monkeypatch.setattr("sys.argv", ["selftaught", "recipe", "keys", "nope"])
    with pytest.raises(SystemExit) as done:  # through main(): a usage error is one line
        main()
    err = capsys.readouterr().err
    assert done.value.code == 2
    assert err.strip().count("\n") == 0 and "error: " in err and "unknown recipe section 'nope'" in err
