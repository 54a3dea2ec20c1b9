"""``--retrain-from N``: a run's rounds >= N superseded into ``RUN~superseded-K`` (one
transaction, folders moved first), refusals that change nothing, real ``kill -9`` at the two
interesting points, and the check that stops a round from building on a damaged checkpoint.

Runs here are written straight into a real store, with real checkpoint folders saved by
``save_checkpoint`` from a stand-in model (no torch); the end-to-end test with the tiny
model and the CLI is ``test_retrain_run.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from selftaught.errors import CheckpointError, ConfigError
from selftaught.flows.integrity import require_verified, retrain_from
from selftaught.flows.prune import RunFolders
from selftaught.loops.checkpoint import forget_verified, save_checkpoint, verify_checkpoint
from selftaught.records import (
    Checkpoint,
    Evaluation,
    Problem,
    SampleSource,
    SamplingParams,
    SearchMethod,
    SearchNode,
    SearchRecord,
    SearchResult,
    Split,
    Stage,
)
from selftaught.store import Store
from tests.store.factories import BACKENDS, fresh_url, make_judged, make_sample

SEARCH = "bon-orm-b4-0123456789"
ARCHIVE = "r~superseded-1"


class _Saves:
    """Stands in for a model or tokenizer: ``save_pretrained`` writes fixed files."""

    def __init__(self, files: dict[str, bytes]):
        self.files = files

    def save_pretrained(self, folder) -> None:
        for name, data in self.files.items():
            (Path(folder) / name).write_bytes(data)


def _fake_run(url: str, home: Path, n: int = 3) -> RunFolders:
    """Run ``r``: rounds 0..n-1 finished, each with a real checkpoint folder, samples made by
    the round's parent, verdicts, an evaluation; round 2 generated through a search with round
    1's checkpoint; a reward model trained on round 2's policy."""
    layout = RunFolders("r", url, home)
    store = layout.store
    store.create_run("r", name="r", recipe={"method": "rft"})
    store.add_problems([Problem(id="p1", prompt="1+1=?", answer="2"), Problem(id="h1", prompt="2+2=?", answer="4",
                                                                           split=Split.HELDOUT)])  # fmt: skip
    for i in range(n):
        model = _Saves({"model.safetensors": bytes([i]) * 1000, "config.json": b"{}"})
        folder = layout.checkpoint_dir(i)
        sha = save_checkpoint(model, _Saves({"tokenizer.json": b"t" * 10}), folder, meta={"round_index": i})
        parent = layout.checkpoint_id(i - 1) if i else None
        store.add_checkpoint("r", Checkpoint(layout.checkpoint_id(i), str(folder), sha, parent, i))
        if i:
            samples = [make_sample("p1", k, checkpoint_id=parent) for k in range(2)]
            if i == 2:  # the search's selected answers, as a search round stores them
                from dataclasses import replace

                samples = [replace(s, params=SamplingParams(search=SEARCH)) for s in samples]
                store.add_search(SearchRecord(SEARCH, SearchMethod.BON_ORM, 4, {}, parent, (
                    SearchResult("p1", "2", "2", True, 4, 10, node_index=0),), (
                    SearchNode("p1", 0, None, 0, "candidate", "2", "2", True, 3),)), run_id="r")  # fmt: skip
            store.add_samples("r", i, samples)
            store.add_verdicts("r", i, [make_judged(s) for s in samples])
        store.add_evaluation("r", i, Evaluation(layout.checkpoint_id(i), Split.HELDOUT, 1, 1, 0.5, 0.5, 0.5, 0.5))
        for stage in Stage:
            store.finish_stage("r", i, stage, seconds=0.0, metrics={})
    store.add_reward_model("r", Checkpoint("r-orm", str(home / "orm"), "o" * 64, layout.checkpoint_id(2), 2),
                           kind="orm")  # fmt: skip
    forget_verified()  # as a later process finds the folders
    return layout


@pytest.fixture(params=BACKENDS)
def run(request, tmp_path):
    with fresh_url(request.param, tmp_path) as url:
        layout = _fake_run(url, tmp_path / "home")
        yield layout
        layout.store.close()


def _snapshot(store: Store) -> dict:
    """What a refused or interrupted retrain must leave unchanged."""
    return {
        run: ([(c.id, c.path, c.parent_id) for c in store.list_checkpoints(run)],
              [(r.index, r.n_samples) for r in store.round_table(run)])
        for run in [r.id for r in store.list_runs()]
    }  # fmt: skip


def _copies_disagree(url: str) -> int:
    """Samples and verdicts whose copied run_id is not their round's (must be none)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        return sum(conn.execute(sa.text(
            f"SELECT count(*) FROM {t} x JOIN rounds r ON r.id = x.round_id WHERE x.run_id != r.run_id")).scalar()
            for t in ("samples", "verdicts"))  # fmt: skip


def test_rounds_from_n_move_to_a_superseded_run_with_everything_that_hangs_off_them(run):
    store = run.store
    before = {c.id: c.sha256 for c in store.list_checkpoints("r")}
    done = retrain_from(run, 1)
    assert (done.archive_id, done.rounds) == (ARCHIVE, [1, 2])
    old = RunFolders(ARCHIVE, run.db_url, run.home)

    # the run ends at round 0, as if rounds 1.. had never run
    assert [r.index for r in store.round_table("r")] == [0]
    assert [c.id for c in store.list_checkpoints("r")] == ["r/r0"]
    assert not run.checkpoint_dir(1).exists() and not run.checkpoint_dir(2).exists()
    assert store.get_run("r").status != "superseded" and store.get_run(ARCHIVE).status == "superseded"

    # the superseded rounds: stages, samples, verdicts, evaluations, lineage back to r/r0
    rows = store.round_table(ARCHIVE)
    assert [(r.index, r.n_samples) for r in rows] == [(1, 2), (2, 2)]
    assert all(set(store.stage_status(ARCHIVE, i).values()) == {"done"} for i in (1, 2))
    chain = store.checkpoint_chain(f"{ARCHIVE}/r2")
    assert [c.id for c in chain] == [f"{ARCHIVE}/r2", f"{ARCHIVE}/r1", "r/r0"]
    for ckpt in chain[:2]:
        assert ckpt.path == str(old.checkpoint_dir(ckpt.round_index))
        assert verify_checkpoint(ckpt.path)["sha256"] == ckpt.sha256 == before[f"r/r{ckpt.round_index}"]
    assert [e.checkpoint_id for _, e in store.get_evaluations(ARCHIVE)] == [f"{ARCHIVE}/r1", f"{ARCHIVE}/r2"]
    produced = {(s.round, s.checkpoint_id) for s in store.query_samples(run_id=ARCHIVE, limit=None)}
    assert produced == {(1, "r/r0"), (2, f"{ARCHIVE}/r1")}
    assert _copies_disagree(run.db_url) == 0  # samples' and verdicts' run_id follow their round

    # the reward model trained on round 2's policy follows it; the search made with round 1's
    # checkpoint is renamed, so a rebuilt round 2 stores its own search under the old id
    orm = store.get_checkpoint("r-orm")
    assert orm.parent_id == f"{ARCHIVE}/r2" and "r-orm" in [c.id for c in store.list_checkpoints(ARCHIVE)]
    assert store.get_search(SEARCH) is None
    moved = store.get_search(f"{SEARCH}~{ARCHIVE}")
    assert moved.checkpoint == f"{ARCHIVE}/r1" and len(moved.nodes) == 1 and len(moved.results) == 1
    assert {s.params.search for s in store.get_samples(ARCHIVE, 2, SampleSource.GENERATE)} == {f"{SEARCH}~{ARCHIVE}"}

    # a second retrain supersedes into the next free id
    store.finish_stage("r", 1, Stage.TRAIN, seconds=0.0, metrics={})
    assert retrain_from(run, 1).archive_id == "r~superseded-2"


def test_refusals_change_nothing(run):
    store = run.store
    before = _snapshot(store)
    with pytest.raises(ConfigError, match=r"--retrain-from 5: run r has rounds 0\.\.2; `--resume r` alone"):
        retrain_from(run, 5)
    (run.checkpoint_dir(0) / "model.safetensors").write_bytes(b"\1" * 1000)  # same size, other bytes
    with pytest.raises(CheckpointError, match=r"round-000: model.safetensors is damaged \(sha256 mismatch.*"
                                              r"--retrain-from 1 starts from it: try --retrain-from 0$"):
        retrain_from(run, 1)
    assert _snapshot(store) == before and run.checkpoint_dir(1).is_dir() and run.checkpoint_dir(2).is_dir()
    assert retrain_from(run, 0).rounds == [0, 1, 2]  # the cold start itself can be rebuilt


def test_a_round_never_starts_from_a_damaged_checkpoint(run):
    """require_verified: what round_flow checks before any stage loads a model."""
    store = run.store
    require_verified(run, 3)  # round 3 starts from round 2's checkpoint, which is sound
    with (run.checkpoint_dir(2) / "model.safetensors").open("r+b") as f:
        f.truncate(500)
    with pytest.raises(CheckpointError) as caught:
        require_verified(run, 3)
    assert str(caught.value) == (
        f"checkpoint {run.checkpoint_dir(2)}: model.safetensors is damaged (truncated: 500 of 1,000 bytes); "
        "round 3 of run r needs it: rebuild from the last good checkpoint with `selftaught run RECIPE --resume r "
        "--retrain-from 2` (`selftaught checkpoint verify r` lists every checkpoint)"
    )
    require_verified(run, 2)  # a finished round needs nothing
    store.start_stage("r", 2, Stage.EVALUATE)  # round 2 not evaluated yet: it needs its own
    with pytest.raises(CheckpointError, match="round 2 of run r needs it"):
        require_verified(run, 2)


_KILLED = """
import os, signal
from pathlib import Path
import selftaught.flows.integrity as integrity
from selftaught.flows.prune import RunFolders
from selftaught.store.supersede import SupersedeMixin

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

if {point!r} == "after-first-move":
    real = integrity.move_checkpoint
    def move_then_die(src, dest):
        real(src, dest)
        die()
    integrity.move_checkpoint = move_then_die
else:  # inside the store transaction, after the rounds moved, before the commit
    SupersedeMixin._rename_searches = die
integrity.retrain_from(RunFolders("r", {url!r}, Path({home!r})), 1)
"""


@pytest.mark.parametrize("point", ["after-first-move", "in-the-transaction"])
def test_kill_9_in_the_middle_leaves_a_store_that_retrains_on_the_next_try(tmp_path, point):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    layout = _fake_run(url, tmp_path / "home")
    before = _snapshot(layout.store)
    layout.store.close()
    code = _KILLED.format(point=point, url=url, home=str(layout.home))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr

    store = Store(url, home=layout.home)  # its paths read back under the run's home
    assert _snapshot(store) == before  # nothing committed: the store is as it was
    old = RunFolders(ARCHIVE, url, layout.home)
    assert old.checkpoint_dir(1).is_dir()  # round 1's folder had moved (both points)
    assert old.checkpoint_dir(2).is_dir() == (point == "in-the-transaction")
    store.start_stage("r", 2, Stage.TRAIN)  # a plain --resume meanwhile: round 2 would train from round 1's
    with pytest.raises(CheckpointError, match="round-001: checkpoint directory does not exist; round 2 .*--retrain-from 1"):
        require_verified(RunFolders("r", url, layout.home), 2)

    done = retrain_from(RunFolders("r", url, layout.home), 1)  # the same command again
    assert (done.archive_id, done.rounds) == (ARCHIVE, [1, 2])
    assert [c.id for c in store.list_checkpoints("r")] == ["r/r0"]
    for ckpt in store.checkpoint_chain(f"{ARCHIVE}/r2")[:2]:
        assert verify_checkpoint(ckpt.path)["sha256"] == ckpt.sha256
    store.close()


# ------------------------------------------------------------------------------- the CLI


BIN = Path(sys.executable).parent / "selftaught"


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, timeout=300)


def test_cli_checkpoint_verify_lists_ok_damaged_and_pruned(tmp_path):
    layout = _fake_run(f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "home")
    env = dict(os.environ, SELFTAUGHT_DB_URL=layout.db_url, SELFTAUGHT_HOME=str(layout.home))
    helped = _cli("checkpoint", "verify", "--help", env=env)
    assert helped.returncode == 0 and "Example" in helped.stdout

    weights = layout.checkpoint_dir(1) / "model.safetensors"
    weights.write_bytes(b"\7" * 1000)  # same size, other bytes
    from selftaught.flows.prune import prune_run

    prune_run(layout, 2)  # round 0's weights deleted on purpose
    listed = _cli("checkpoint", "verify", "r", "--json", env=env)
    assert listed.returncode == 1, listed.stderr
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert {k: (r["status"], r["file"]) for k, r in rows.items()} == {
        "r/r0": ("pruned", None), "r/r1": ("damaged", "model.safetensors"), "r/r2": ("ok", None),
        "r-orm": ("damaged", None),  # recorded, but its folder was never written
    }  # fmt: skip
    assert rows["r/r1"]["why"].startswith("is damaged (sha256 mismatch; expected ")

    # sizes only: the same-size damage passes (the documented trade-off), a truncation does not
    sizes = json.loads(_cli("checkpoint", "verify", "r", "--json", "--mode", "sizes", env=env).stdout)
    assert [r["status"] for r in sizes if r["id"] == "r/r1"] == ["ok"]
    weights.write_bytes(b"\7" * 10)
    table = _cli("checkpoint", "verify", "r", env={**env, "SELFTAUGHT_VERIFY": "sizes", "COLUMNS": "300"})
    assert table.returncode == 1 and "truncated: 10 of 1,000 bytes" in table.stdout, table.stdout
    assert "2 damaged, 1 pruned" in table.stdout

    missing = _cli("checkpoint", "verify", "nope", env=env)
    assert missing.returncode == 1 and "no run 'nope'" in missing.stderr and "Traceback" not in missing.stderr
    bad_mode = _cli("checkpoint", "verify", "r", env={**env, "SELFTAUGHT_VERIFY": "md5"})
    assert bad_mode.returncode == 1 and "SELFTAUGHT_VERIFY='md5'" in bad_mode.stderr


def test_cli_a_superseded_run_is_not_resumed(tmp_path):
    from tests.conftest import tiny_recipe_text

    layout = _fake_run(f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "home")
    layout.store.set_run_status("r", "done")
    retrain_from(layout, 1)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(tiny_recipe_text())
    env = dict(os.environ, SELFTAUGHT_DB_URL=layout.db_url, SELFTAUGHT_HOME=str(layout.home))
    out = _cli("run", str(recipe), "--resume", ARCHIVE, env=env)
    assert out.returncode == 1 and f"--resume: run '{ARCHIVE}' holds rounds that --retrain-from superseded" in out.stderr


def test_cli_retrain_from_needs_resume(tmp_path):
    recipe = tmp_path / "r.yaml"
    from tests.conftest import tiny_recipe_text

    recipe.write_text(tiny_recipe_text())
    env = dict(os.environ, SELFTAUGHT_DB_URL=f"sqlite:///{tmp_path / 's.db'}", SELFTAUGHT_HOME=str(tmp_path / "h"))
    out = _cli("run", str(recipe), "--retrain-from", "1", env=env)
    assert out.returncode == 2 and "--retrain-from N rebuilds rounds of an existing run: give --resume RUN" in out.stderr
    assert not (tmp_path / "s.db").exists()  # refused before any store was made
