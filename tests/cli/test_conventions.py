"""The command-line conventions every `selftaught` command keeps, checked command by command.

The commands are found by walking the click tree (``typer.main.get_command``), so a new
command is checked without being listed here. Each is run in this process through
``main()`` (the installed entry point) for speed; ``test_cli.py`` runs real subprocesses.

* ``-h`` and ``--help`` print help (exit 0) with an example; a flag shows no value type
  (``<bool>``), an option read from the environment names its variable, and no help text
  holds ``[...]`` (Rich takes it for markup and prints nothing);
* one meaning per short option (``-o`` is ``--out`` wherever it exists);
* exit code 2 and one ``error:`` line for a usage error (an unknown option, a bad value,
  options that cannot go together): one bad invocation per command;
* exit code 1 and one ``error:`` line for a runtime error (a run, file or revision that
  does not exist);
* ``--version`` names selftaught's version without importing torch.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import version

import pytest
import typer.main

from selftaught.cli.main import app, main


def _walk(command, path: tuple[str, ...] = ()):
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _walk(sub, (*path, name))


TREE = dict(_walk(typer.main.get_command(app)))
GROUPS = [path for path, c in TREE.items() if getattr(c, "commands", None)]
LEAVES = [path for path, c in TREE.items() if not getattr(c, "commands", None)]


def invoke(args, monkeypatch, capsys, *, env: dict | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``selftaught ARGS`` through ``main()``."""
    monkeypatch.setattr(sys, "argv", ["selftaught", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "200")
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as done:
        main()
    out = capsys.readouterr()
    return done.value.code or 0, out.out, out.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


# ------------------------------------------------------------------------------ help


@pytest.mark.parametrize("path", list(TREE), ids=lambda p: " ".join(p) or "selftaught")
def test_every_command_answers_h_and_help(path, monkeypatch, capsys):
    code, short, _ = invoke([*path, "-h"], monkeypatch, capsys)
    assert code == 0 and "Usage:" in short
    code, long, _ = invoke([*path, "--help"], monkeypatch, capsys)
    assert code == 0 and long == short
    assert "<bool>" not in short, "a flag is shown as taking a value"
    if path in LEAVES:
        assert "Example" in short
    for param in TREE[path].params:
        assert "[" not in (getattr(param, "help", None) or ""), f"{param.name}: [...] is Rich markup: use show_default="
        if getattr(param, "envvar", None):
            assert f"env var: {param.envvar}" in short


def test_help_shows_the_environment_and_defaults_of_the_shared_options(monkeypatch, capsys):
    _, out, _ = invoke(["run", "-h"], monkeypatch, capsys)
    for text in ("env var: SELFTAUGHT_DB_URL", "default: (sqlite:///selftaught.db)", "env var: SELFTAUGHT_HOME",
                 "default: (./selftaught-home)", "env var: SELFTAUGHT_TORCH_THREADS", "SQLAlchemy URL of the store."):
        assert text in out, text


def test_a_short_option_means_one_thing_everywhere():
    meaning: dict[str, set[str]] = {}
    for command in TREE.values():
        for param in command.params:
            shorts = [o for o in getattr(param, "opts", []) if re.fullmatch(r"-[A-Za-z]", o)]
            longs = [o for o in param.opts if o.startswith("--")]
            for short in shorts:
                meaning.setdefault(short, set()).update(longs)
    assert all(len(longs) == 1 for longs in meaning.values()), meaning
    assert meaning.get("-o", {"--out"}) == {"--out"}


def test_no_option_is_named_after_a_command_that_does_something_else():
    commands = {path[0] for path in TREE if path}
    # an option named after a command is fine when it names the thing that command works on
    same_thing = {"--run": "a run id", "--checkpoint": "a checkpoint id", "--problem": "a problem id",
                  "--prm": "a PRM checkpoint (`prm train`)", "--compare": "rejudge: compares verdict versions",
                  "--db": "the store (`db` migrates it)", "--rounds": "demo: how many rounds (`rounds` shows them)"}
    clashes = {o for c in TREE.values() for p in c.params for o in getattr(p, "opts", [])
               if o.startswith("--") and o[2:] in commands and o not in same_thing}  # fmt: skip
    assert not clashes


# ------------------------------------------------------------------------------ exit codes


@pytest.mark.parametrize("path", LEAVES, ids=" ".join)
def test_an_unknown_option_is_a_usage_error(path, monkeypatch, capsys):
    code, out, err = invoke([*path, "--no-such-option"], monkeypatch, capsys)
    assert code == 2 and "No such option" in one_error_line(err) and out == ""


@pytest.mark.parametrize("path", GROUPS, ids=lambda p: " ".join(p) or "selftaught")
def test_an_unknown_sub_command_is_a_usage_error(path, monkeypatch, capsys):
    code, _, err = invoke([*path, "no-such-command"], monkeypatch, capsys)
    # `schedule RECIPE` is short for `schedule add RECIPE`, which then lacks --cron/--interval
    says = "exactly one of --cron or --interval" if path == ("schedule",) else "No such command"
    assert code == 2 and says in one_error_line(err)


#: (why, arguments, what the one line says): the command line itself is wrong -> exit 2
USAGE_ERRORS = [
    ("a value of the wrong type", ["samples", "--limit", "many"], "--limit"),
    ("a value outside its choices", ["samples", "--outcome", "maybe"], "maybe"),
    ("options that cannot go together", ["samples", "--json", "--jsonl"], "choose one of --json and --jsonl"),
    ("an option that needs another", ["run", "r.yaml", "--retrain-from", "1"], "give --resume RUN too"),
    ("a missing argument", ["db", "downgrade"], "REVISION"),
    ("an unknown judge", ["verify", "maths"], "valid names"),
    ("a bad judge option", ["verify", "math", "--option", "strict"], "KEY=VALUE"),
    ("an unknown search method", ["search", "--checkpoint", "x", "--method", "best"], "--method"),
    ("a method without its model", ["search", "--checkpoint", "x", "--method", "beam"], "needs a PRM"),
    ("an unknown export kind", ["export", "x.jsonl", "--kind", "nope"], "--kind"),
    ("an unknown verify mode", ["checkpoint", "verify", "r", "--mode", "md5"], "--mode"),
    ("an unknown bundled constitution", ["constitution", "init", "nope"], "default, concise"),
    ("an unknown recipe section", ["recipe", "keys", "nope"], "unknown recipe section"),
    ("one run to compare", ["compare", "a"], "at least two"),
    ("an unknown reward model kind", ["prm", "train", "r", "--round", "1", "--kind", "xrm"], "orm or prm"),
]


@pytest.mark.parametrize("why, args, says", USAGE_ERRORS, ids=[u[0] for u in USAGE_ERRORS])
def test_usage_errors_exit_2(why, args, says, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(args, monkeypatch, capsys, env={"SELFTAUGHT_DB_URL": f"sqlite:///{tmp_path / 's.db'}"})
    assert code == 2 and says in one_error_line(err)
    assert not (tmp_path / "s.db").exists()  # refused before anything ran


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> str:
    from selftaught.store import Store

    url = f"sqlite:///{tmp_path_factory.mktemp('conventions') / 'store.db'}"
    Store(url).close()
    return url


#: (why, arguments, what the one line says): the command ran and failed -> exit 1
RUNTIME_ERRORS = [
    ("an unknown run", ["rounds", "nope"], "no run 'nope'"),
    ("an unknown run's checkpoints", ["checkpoints", "nope"], "no run 'nope'"),
    ("an unknown run to prune", ["prune", "nope", "--keep", "1"], "no run 'nope'"),
    ("an unknown checkpoint", ["checkpoint", "show", "nope/r1"], "nope/r1"),
    ("an unknown problem", ["problem", "nope"], "no problem 'nope'"),
    ("an unknown search", ["searches", "--show", "nope"], "no search 'nope'"),
    ("an unknown run to export", ["export", "x.jsonl", "--run", "nope"], "no run 'nope'"),
    ("a missing recipe", ["run", "missing.yaml"], "file not found"),
    ("a missing file to import", ["import", "missing.jsonl"], "file not found"),
    ("a missing constitution", ["constitution", "validate", "missing.yaml"], "missing.yaml"),
    ("a bundled constitution edited in place", ["constitution", "edit", "default"], "constitution init default"),
    ("an unknown revision", ["db", "downgrade", "nope"], "nope"),
]


@pytest.mark.parametrize("why, args, says", RUNTIME_ERRORS, ids=[r[0] for r in RUNTIME_ERRORS])
def test_runtime_errors_exit_1(why, args, says, empty_store, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(args, monkeypatch, capsys, env={"SELFTAUGHT_DB_URL": empty_store})
    assert code == 1 and says in one_error_line(err)


# ------------------------------------------------------------------------------ --version


def test_version_names_selftaught_and_its_libraries_without_importing_torch():
    code = ("import sys; sys.argv = ['selftaught', '--version']\n"
            "from selftaught.cli.main import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            "print(sorted(m for m in ('torch', 'transformers', 'trl', 'prefect') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0] == f"selftaught {version('selftaught')}"
    assert {line.split()[0] for line in out[1:-1]} >= {"python", "torch", "transformers", "trl", "prefect"}
    assert out[-1] == "[]"


def test_help_paragraphs_are_reflowed_and_doctests_pass():
    import doctest

    from selftaught.cli import main as cli_main

    result = doctest.testmod(cli_main)
    assert result.attempted > 0 and result.failed == 0
    # a docstring paragraph wrapped in the source prints as one paragraph the terminal wraps
    samples = typer.main.get_command(cli_main.app).commands["samples"]
    assert "Unjudged samples show no outcome." in samples.help
