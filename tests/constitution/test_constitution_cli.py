"""``selftaught constitution init|validate|show|diff|edit``: output, one-line errors, exit codes.

An invalid file is a runtime error: one ``error: file:line: reason`` line and exit code 1
(2 until issue 17, which keeps 2 for usage errors)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from selftaught.cli.constitution_cmd import register
from selftaught.constitution import bundled_path


@pytest.fixture
def cli():
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:  # keep "constitution" as a sub-command
        pass

    runner = CliRunner()
    return lambda *args, **env: runner.invoke(app, ["constitution", *map(str, args)], env=env or None)


@pytest.fixture
def concise_copy(tmp_path) -> Path:
    p = tmp_path / "concise.yaml"
    shutil.copy(bundled_path("concise"), p)
    return p


@pytest.fixture
def editor(tmp_path):
    """An $EDITOR that applies a Python replace(old, new) to the file it is given."""

    def make(old: str, new: str, rc: int = 0) -> str:
        script = tmp_path / "ed.py"
        script.write_text(
            textwrap.dedent(
                f"""
                import sys, pathlib
                p = pathlib.Path(sys.argv[1])
                p.write_text(p.read_text().replace({old!r}, {new!r}))
                sys.exit({rc})
                """
            )
        )
        return f"{sys.executable} {script}"

    return make


@pytest.mark.parametrize("cmd", ["init", "validate", "show", "diff", "edit"])
def test_every_command_help_has_an_example(cli, cmd):
    r = cli(cmd, "--help")
    assert r.exit_code == 0 and "Example:" in r.output and f"selftaught constitution {cmd}" in r.output


def test_validate_ok_and_error(cli, tmp_path, concise_copy):
    r = cli("validate", concise_copy)
    assert r.exit_code == 0 and "ok: 'concise', 4 principles, hash" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(concise_copy.read_text().replace("weight: 2", "weight: -2", 1))
    r = cli("validate", bad)
    assert r.exit_code == 1
    assert r.output.strip().count("\n") == 0 and "Traceback" not in r.output
    line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if "weight: -2" in l)
    assert r.output.startswith(f"error: {bad}:{line}: principles.0.weight: Input should be greater than 0")


def test_show_table(cli):
    r = cli("show", "default", "--all", COLUMNS="200")  # a bundled name stands for its file
    assert r.exit_code == 0
    for text in ("answer-the-question", "see-a-professional", "medical", "share", "hash"):
        assert text in r.output


def test_diff_added_removed_changed(cli, tmp_path, concise_copy):
    new = tmp_path / "new.yaml"
    text = concise_copy.read_text()
    text = text.replace("id: no-exclamations", "id: calm-tone")  # removed + added
    text = text.replace("weight: 2\n    tags: [style]", "weight: 5\n    tags: [style, length]", 1)  # changed 2 fields
    new.write_text(text)
    r = cli("diff", concise_copy, new)
    assert r.exit_code == 0, r.output
    assert "+ calm-tone" in r.output and "- no-exclamations" in r.output
    assert "~ at-most-60-words: weight, tags" in r.output
    # then the unified diff of the text: every changed line whole, old and new
    assert f"--- {concise_copy}" in r.output and f"+++ {new}" in r.output and "@@ " in r.output
    assert "-    weight: 2\n" in r.output and "+    weight: 5\n" in r.output
    assert "-  - id: no-exclamations" in r.output and "+  - id: calm-tone" in r.output
    assert cli("diff", concise_copy, new, "--exit-code").exit_code == 1
    same = cli("diff", concise_copy, concise_copy, "--exit-code")
    assert same.exit_code == 0 and "no differences" in same.output


def test_diff_of_an_invalid_file_is_one_line(cli, tmp_path, concise_copy):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    r = cli("diff", concise_copy, bad)
    assert r.exit_code == 1 and r.output.startswith(f"error: {bad}:1: ") and "Field required" in r.output


def test_edit_saves_a_valid_edit(cli, concise_copy, editor):
    r = cli("edit", concise_copy, EDITOR=editor("weight: 2", "weight: 3"), VISUAL="")
    assert r.exit_code == 0 and "saved; hash" in r.output
    assert "weight: 3" in concise_copy.read_text()


def test_edit_keeps_the_original_when_the_edit_is_invalid(cli, concise_copy, editor):
    before = concise_copy.read_text()
    r = cli("edit", concise_copy, EDITOR=editor("weight: 2", "wieght: 2"), VISUAL="")
    assert r.exit_code == 1
    assert "unknown key" in r.output and f"not saved: {concise_copy} is unchanged" in r.output
    assert r.output.strip().count("\n") == 0
    assert concise_copy.read_text() == before
    kept = Path(r.output.removeprefix("error: ").split(":")[0])  # the error names the kept, edited copy
    assert "wieght" in kept.read_text()


def test_edit_no_changes_and_failing_editor(cli, concise_copy, editor):
    before = concise_copy.read_text()
    assert "no changes" in cli("edit", concise_copy, EDITOR=editor("zzz", "yyy"), VISUAL="").output
    r = cli("edit", concise_copy, EDITOR=editor("weight: 2", "weight: 3", rc=1), VISUAL="")
    assert r.exit_code == 1 and "exited with 1; file unchanged" in r.output
    assert concise_copy.read_text() == before


def test_real_subprocess_error_is_one_line_exit_1(tmp_path):
    """The real entry point (not CliRunner): no traceback, exit code 1."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [\n")
    code = (
        "import typer, sys; from selftaught.cli.constitution_cmd import register;"
        "app = typer.Typer(); register(app); app.callback()(lambda: None); app()"
    )
    r = subprocess.run([sys.executable, "-c", code, "constitution", "validate", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().startswith(f"error: {bad}:2: invalid YAML") and "\n" not in r.stderr.strip()


def test_init_copies_a_bundled_constitution_once(cli, tmp_path):
    out = tmp_path / "mine.yaml"
    r = cli("init", "concise", "-o", out)
    assert r.exit_code == 0 and "constitution edit" in r.output
    assert out.read_text() == bundled_path("concise").read_text()
    again = cli("init", "default", "--out", out)  # never overwrites
    assert again.exit_code == 1 and "exists already" in again.output
    assert out.read_text() == bundled_path("concise").read_text()


def test_edit_of_a_bundled_name_says_to_init_a_copy(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("edit", "default", EDITOR="false", VISUAL="")
    assert r.exit_code == 1 and r.output.strip().count("\n") == 0
    assert "selftaught constitution init default -o" in r.output
