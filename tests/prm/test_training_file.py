"""Training rows from a JSONL file: every bad row is named by file, line and reason."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from selftaught.errors import DataError
from selftaught.prm.train import read_training_jsonl

GOOD_PRM = {"prompt": "Q: 1+2=? A:", "completions": ["1+2=3", "3"], "labels": [True, True]}
GOOD_ORM = {"prompt": "Q: 1+2=? A:", "completion": " <think>1+2=3</think> 3", "label": True}


def _write(tmp_path: Path, rows: list) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def test_good_rows_of_both_kinds(tmp_path):
    soft = {**GOOD_PRM, "labels": [0.25, 1]}
    assert read_training_jsonl(_write(tmp_path, [GOOD_PRM, "", soft]), "prm")[1]["labels"] == [0.25, 1]
    assert read_training_jsonl(_write(tmp_path, [GOOD_ORM]), "orm") == [(GOOD_ORM["prompt"], GOOD_ORM["completion"], True)]


@pytest.mark.parametrize(
    "bad, kind, reason",
    [
        ("{not json", "prm", "not valid JSON"),  # syntax
        ([1, 2], "prm", "expected a JSON object"),  # not an object
        ({**GOOD_PRM, "completions": []}, "prm", "non-empty list"),  # no steps
        ({**GOOD_PRM, "labels": [True]}, "prm", "one label per step"),  # lengths differ
        ({**GOOD_PRM, "labels": [True, 2]}, "prm", "neither a boolean"),  # a label out of range
        ({**GOOD_PRM, "labels": [True, "yes"]}, "prm", "neither a boolean"),  # a label of the wrong type
        ({**GOOD_ORM, "label": 1}, "orm", "boolean 'label'"),  # ORM labels are booleans
        ({"prompt": "p", "label": True}, "orm", "string 'completion'"),  # no completion
    ],
)
def test_a_bad_row_names_file_line_and_reason(tmp_path, bad, kind, reason):
    good = GOOD_PRM if kind == "prm" else GOOD_ORM
    path = _write(tmp_path, [good, good, bad])
    with pytest.raises(DataError, match=reason) as info:
        read_training_jsonl(path, kind)
    assert str(info.value).startswith(f"{path}:3: ")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_training_jsonl(tmp_path / "absent.jsonl", "prm")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no training rows"):
        read_training_jsonl(tmp_path / "empty.jsonl", "prm")


def test_the_cli_reports_a_bad_file_in_one_line_before_training(tmp_path):
    path = _write(tmp_path, [GOOD_PRM, {**GOOD_PRM, "labels": []}])
    result = subprocess.run(
        [str(Path(sys.executable).parent / "selftaught"), "prm", "train", "--kind", "prm", "--data", str(path),
         "--base", str(tmp_path), "--out", str(tmp_path / "out")],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1  # a bad file: a runtime error (issue 17)
    assert result.stderr.strip().splitlines() == [f"error: {path}:2: 'labels' must be a list with one label per step (2)"]
    assert not (tmp_path / "out").exists()
