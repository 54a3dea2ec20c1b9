"""Loading a constitution: valid files load, invalid ones fail with file:line: reason."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from selftaught.constitution import BUNDLED, bundled_path, load_constitution, parse_constitution
from selftaught.errors import ConfigError

VALID = textwrap.dedent(
    """\
    name: tiny
    description: two principles
    principles:
      - id: short
        critique_request: Is it long?
        revision_request: Make it short.
        comparison_question: Which is shorter?
        weight: 2
        tags: [style]
      - id: kind
        critique_request: Is it rude?
        revision_request: Make it kind.
        comparison_question: Which is kinder?
    """
)


@pytest.fixture
def write(tmp_path: Path):
    def _write(text: str) -> Path:
        p = tmp_path / "c.yaml"
        p.write_text(text)
        return p

    return _write


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_constitutions_load(name):
    c = load_constitution(bundled_path(name))
    assert c.name == name
    if name == "default":
        assert 8 <= len(c.principles) <= 16
        assert {"helpful", "honest", "harmless"} <= {t for p in c.principles for t in p.tags}


def test_valid_file_loads_with_defaults(write):
    c = load_constitution(write(VALID))
    assert c.ids == ("short", "kind")
    assert c.principle("kind").weight == 1.0 and c.principle("kind").applies_to is None
    assert c.few_shot == () and c.system_prompt is None


# each row: (why it exists, edit to VALID, expected line, fragment of the reason)
BAD = [
    ("YAML syntax error points at the bad line", VALID.replace("Is it rude?", "Is: it: rude?"), 11, "invalid YAML"),
    ("unknown key (a typo) must not be ignored", VALID.replace("    weight: 2", "    wieght: 2"), 8, "unknown key"),
    ("missing required field", VALID.replace("    comparison_question: Which is kinder?\n", ""), 10, "comparison_question: Field required"),
    ("weight must be > 0", VALID.replace("weight: 2", "weight: 0"), 8, "greater than 0"),
    ("negative weight", VALID.replace("weight: 2", "weight: -1"), 8, "greater than 0"),
    ("duplicate principle id names the duplicate's line", VALID.replace("id: kind", "id: short"), 10, "duplicate principle id 'short' (first at line 4)"),
    ("empty principles list", "name: x\ndescription: y\nprinciples: []\n", 3, "at least 1"),
    ("empty request text", VALID.replace("Make it kind.", "''"), 12, "at least 1 character"),
    ("duplicate YAML key", VALID.replace("    tags: [style]", "    tags: [style]\n    tags: [x]"), 10, "duplicate key"),
    ("id must be a lowercase slug", VALID.replace("id: kind", "id: Be Kind"), 10, "should match pattern"),
    ("empty file", "", 1, "file is empty"),
]


@pytest.mark.parametrize("why,text,line,reason", BAD, ids=[b[0] for b in BAD])
def test_invalid_files_fail_with_file_line_reason(write, why, text, line, reason):
    path = write(text)
    with pytest.raises(ConfigError) as e:
        load_constitution(path)
    assert e.value.file == str(path)
    assert e.value.line == line, str(e.value)
    assert reason in e.value.reason
    assert str(e.value).startswith(f"{path}:{line}: ")


def test_missing_file():
    with pytest.raises(ConfigError, match="file not found"):
        load_constitution("/nonexistent/c.yaml")


def test_parse_constitution_from_text_names_the_given_file():
    with pytest.raises(ConfigError, match=r"^edited\.yaml:1: "):
        parse_constitution("name: [", "edited.yaml")
