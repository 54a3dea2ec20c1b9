"""`selftaught export` (TRL-format datasets: JSONL, Parquet, DatasetDict) and `selftaught import`."""

from __future__ import annotations

import json

import datasets
import pytest
from typer.testing import CliRunner

from selftaught.cli.main import app
from selftaught.records import Split
from selftaught.store import Store
from tests.history.synthetic import K, TRAIN, n_pass

runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_sft_jsonl_of_one_round_is_its_passing_samples_with_the_problem_prompt(syn_db, tmp_path):
    out = tmp_path / "sft.jsonl"
    invoke("export", str(out), "--db", syn_db, "--run", "syn", "--round", "2", "--source", "generate")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == sum(n_pass(i, 2) for i in range(len(TRAIN)))
    assert all(set(r) == {"prompt", "completion"} for r in rows)
    prompts = {p.prompt for p in TRAIN}
    assert all(r["prompt"] in prompts for r in rows)


def test_rationalized_rows_train_on_the_unhinted_prompt(syn_db, tmp_path):
    out = tmp_path / "rat.jsonl"
    invoke("export", str(out), "--db", syn_db, "--rationalized", "--with-meta")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all("(the answer is" not in r["prompt"] for r in rows)
    assert {r["source"] for r in rows} == {"rationalize"}




def test_preference_pairs_a_passing_and_a_failing_sample_of_one_problem(syn_db, tmp_path):
    out = tmp_path / "prefs"
    invoke("export", str(out), "--db", syn_db, "--kind", "preference", "--source", "generate", "--with-meta")
    dd = datasets.load_from_disk(str(out))
    assert list(dd) == ["train"]  # held-out problems are left out by default
    train = dd["train"]
    mixed = [(r, i) for r in (1, 2) for i in range(len(TRAIN)) if 0 < n_pass(i, r) < K]
    assert len(train) == len(mixed)
    for row in train:
        assert row["chosen"][-1].isdigit() and row["rejected"].endswith("x")
        assert row["chosen_sample_id"] != row["rejected_sample_id"]


def test_prompt_only_with_all_splits_becomes_train_and_test(syn_db, tmp_path):
    out = tmp_path / "prompts"
    invoke("export", str(out), "--db", syn_db, "--kind", "prompt", "--split", "all")
    dd = datasets.load_from_disk(str(out))
    assert sorted(dd) == ["test", "train"]
    assert len(dd["train"]) == len(TRAIN) and len(dd["test"]) == 2
    assert set(dd["train"].column_names) == {"id", "prompt", "answer", "split", "problem_id"}
    assert set(dd["test"]["split"]) == {"heldout"} and set(dd["train"]["split"]) == {"train"}


def test_import_jsonl_keeps_good_rows_and_names_the_bad_lines(tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    src = tmp_path / "problems.jsonl"
    src.write_text("\n".join([
        json.dumps({"qid": "a1", "question": "1+1?", "gold": "2"}),
        "{not json",
        json.dumps({"qid": "a2", "gold": "3"}),                    # no prompt
        "",                                                          # blank: skipped, still counted
        json.dumps({"qid": "a1", "question": "again", "gold": "2"}),  # duplicate id
        json.dumps(["a", "list"]),
        json.dumps({"qid": "a3", "question": "2+2?", "gold": 4, "split": "heldout"}),
        json.dumps({"qid": "a4", "question": "x", "split": "dev"}),
    ]) + "\n")
    result = runner.invoke(app, ["import", str(src), "--db", db, "--map", "id=qid", "--map", "prompt=question",
                                 "--map", "answer=gold", "--out", str(tmp_path / "good.jsonl")])
    assert result.exit_code == 0, result.output
    for where, reason in [("line 2", "not valid JSON"), ("line 3", "no prompt"), ("line 5", "duplicate id 'a1'"),
                          ("line 6", "expected an object"), ("line 8", "split must be train or heldout")]:
        assert f"{where}: {reason}" in result.output, result.output
    assert "imported 2 problems" in result.output and "rejected 5" in result.output
    with Store(db) as store:
        got = {p.meta["name"]: p for p in store.get_problems()}  # stored as NAME@hash
    assert set(got) == {"a1", "a3"} and got["a3"].answer == "4" and got["a3"].split is Split.HELDOUT
    assert got["a1"].id.startswith("a1@")
    assert [json.loads(line)["id"] for line in (tmp_path / "good.jsonl").read_text().splitlines()] == ["a1", "a3"]
    # a second import of a changed problem under a stored id is a new version beside the old
    src.write_text(json.dumps({"qid": "a1", "question": "changed", "gold": "2"}) + "\n"
                   + json.dumps({"qid": "a5", "question": "5?", "gold": "5"}) + "\n")
    again = runner.invoke(app, ["import", str(src), "--db", db, "--map", "id=qid", "--map", "prompt=question", "--map", "answer=gold"])
    assert again.exit_code == 0 and "imported 2 problems" in again.output and "rejected 0" in again.output
    with Store(db) as store:
        a1 = sorted(p.prompt for p in store.get_problems() if p.meta["name"] == "a1")
    assert a1 == ["1+1?", "changed"]
    # the same content in the other split is refused: a problem never crosses the wall
    src.write_text(json.dumps({"qid": "a5", "question": "5?", "gold": "5"}) + "\n")
    moved = runner.invoke(app, ["import", str(src), "--db", db, "--map", "id=qid", "--map", "prompt=question",
                                "--map", "answer=gold", "--split", "heldout"])
    assert moved.exit_code == 1 and "already in the store as a train problem" in moved.output, moved.output


def test_import_parquet_and_a_saved_datasetdict(tmp_path):
    db = f"sqlite:///{tmp_path / 'store.db'}"
    pq = tmp_path / "p.parquet"
    datasets.Dataset.from_list([{"q": "3+3?", "a": "6"}, {"q": None, "a": "1"}, {"q": "4+4?", "a": "8"}]).to_parquet(str(pq))
    result = runner.invoke(app, ["import", str(pq), "--db", db, "--map", "prompt=q", "--map", "answer=a", "--id-prefix", "pq-"])
    assert result.exit_code == 0 and "row 2: no prompt" in result.output and "imported 2" in result.output
    saved = tmp_path / "saved"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_list([{"id": "d1", "prompt": "p1", "answer": "1"}]),
        "test": datasets.Dataset.from_list([{"id": "d2", "prompt": "p2", "answer": "2"}]),
    }).save_to_disk(str(saved))
    invoke("import", str(saved), "--db", db)
    with Store(db) as store:
        splits = {p.meta["name"]: p.split for p in store.get_problems()}
    assert splits == {"pq-1": Split.TRAIN, "pq-3": Split.TRAIN, "d1": Split.TRAIN, "d2": Split.HELDOUT}


def test_import_with_nothing_usable_exits_1(tmp_path):  # a runtime error (issue 17: 2 is for usage errors)
    src = tmp_path / "bad.jsonl"
    src.write_text("nope\n")
    result = runner.invoke(app, ["import", str(src), "--db", f"sqlite:///{tmp_path / 's.db'}"])
    assert result.exit_code == 1 and "line 1: not valid JSON" in result.output


@pytest.mark.parametrize("command", [["problem"], ["export"], ["import"], ["report"]], ids=" ".join)
def test_history_commands_have_help_with_an_example(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Example" in result.stdout


def test_preference_pairs_are_the_ones_the_dpo_rounds_build(syn_db, tmp_path):
    """One pair rule: the export's pairs are ``loops/dpo.build_pairs`` of each round's samples."""
    from selftaught.loops.dpo import build_pairs
    from selftaught.records import Judged, Outcome, Sample, SampleSource, SamplingParams, Verdict

    out = tmp_path / "prefs.jsonl"
    invoke("export", str(out), "--db", syn_db, "--kind", "preference", "--source", "generate", "--with-meta",
           "--pairs-per-problem", "2")  # fmt: skip
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    expected = []
    for r in (1, 2):  # the samples synthetic.build stores for round r
        samples = [Sample(p.id, k, p.prompt, f"<think>r{r}</think> {p.answer if k < n_pass(i, r) else 'x'}",
                          SampleSource.GENERATE, seed=k, params=SamplingParams(max_new_tokens=8))
                   for i, p in enumerate(TRAIN) for k in range(K)]  # fmt: skip
        judged = [Judged(s, Verdict("arithmetic", Outcome.PASS if s.completion[-1].isdigit() else Outcome.FAIL, 1.0))
                  for s in samples]  # fmt: skip
        pairs = build_pairs(judged, {p.id: p for p in TRAIN}, max_pairs_per_problem=2)
        expected += [(r, x.problem_id, x.prompt, x.chosen, x.rejected) for x in pairs]
    assert expected and [(e["round"], e["problem_id"], e["prompt"], e["chosen"], e["rejected"]) for e in exported] == expected


def test_preference_export_leaves_samples_a_judge_could_not_judge_out(tmp_path):
    """As in a DPO round (``build_pairs``): a passing sample is chosen, a failing one
    rejected; one whose verdict is an error or a timeout is neither, and one never judged
    takes no part."""
    from selftaught.loops.arithmetic import make_problem
    from selftaught.records import Judged, Outcome, Sample, SampleSource, SamplingParams, Verdict
    from selftaught.service.export import dataset_rows
    from selftaught.store import Store

    p = make_problem(23, 45, 2)
    texts = {" 68": Outcome.PASS, " 67": Outcome.FAIL, " 66": Outcome.ERROR, " 65": Outcome.TIMEOUT, " 64": None}
    samples = [Sample(p.id, i, p.prompt, t, SampleSource.GENERATE, seed=i, params=SamplingParams())
               for i, t in enumerate(texts)]  # fmt: skip
    with Store(f"sqlite:///{tmp_path / 'store.db'}") as store:
        store.create_run("r", name="r", recipe={})
        store.add_problems([p])
        store.add_samples("r", 1, samples)
        store.add_verdicts("r", 1, [Judged(s, Verdict("arithmetic", texts[s.completion], 0.0))
                                    for s in samples if texts[s.completion] is not None])  # fmt: skip
        rows = dataset_rows(store.export_samples(run_id="r"), "preference", pairs_per_problem=4)
    assert [(r["chosen"], r["rejected"]) for r in rows] == [(" 68", " 67")]
