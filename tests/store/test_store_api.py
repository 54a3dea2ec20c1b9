"""The Store API is what flows and the CLI are written against: pin it."""

from __future__ import annotations

import inspect
import subprocess
import sys

from selftaught.store import Store

PUBLIC = {
    "close": "(self) -> 'None'",
    "create_run": "(self, run_id: 'str', *, name: 'str', recipe: 'dict') -> 'bool'",
    "get_run": "(self, run_id: 'str') -> 'RunInfo | None'",
    "set_run_status": "(self, run_id: 'str', status: 'RunStatus | str') -> 'None'",
    "list_runs": "(self) -> 'list[RunInfo]'",
    "add_problems": "(self, problems: 'Sequence[Problem]') -> 'int'",
    "get_problems": "(self, ids: 'Sequence[str] | None' = None, split: 'Split | None' = None) -> 'list[Problem]'",
    "ensure_round": "(self, run_id: 'str', index: 'int', *, constitution_hash: 'str | None' = None) -> 'None'",
    "stage_status": "(self, run_id: 'str', index: 'int') -> 'dict[Stage, StageStatus]'",
    "start_stage": "(self, run_id: 'str', index: 'int', stage: 'Stage') -> 'None'",
    "finish_stage": "(self, run_id: 'str', index: 'int', stage: 'Stage', *, seconds: 'float', metrics: 'dict', "
                    "device: 'str | None' = None, dtype: 'str | None' = None, peak_gpu_mb: 'float | None' = None) -> 'None'",
    "fail_stage": "(self, run_id: 'str', index: 'int', stage: 'Stage', *, error: 'str') -> 'None'",
    "last_round_index": "(self, run_id: 'str') -> 'int | None'",
    "add_samples": "(self, run_id: 'str', index: 'int', samples: 'Sequence[Sample]') -> 'int'",
    "get_samples": "(self, run_id: 'str', index: 'int', source: 'SampleSource | None' = None) -> 'list[Sample]'",
    "add_verdicts": "(self, run_id: 'str', index: 'int', judged: 'Sequence[Judged]') -> 'int'",
    "get_judged": "(self, run_id: 'str', index: 'int', source: 'SampleSource | None' = None, judge: 'str | None' = None, judge_version: 'str | None' = None) -> 'list[Judged]'",
    "add_training_set": "(self, run_id: 'str', index: 'int', ts: 'TrainingSet') -> 'int'",
    "get_training_set": "(self, run_id: 'str', index: 'int') -> 'TrainingSet | None'",
    "add_training_pairs": "(self, run_id: 'str', index: 'int', pairs: 'Sequence[Any]') -> 'int'",
    "get_training_pairs": "(self, run_id: 'str', index: 'int') -> 'list[StoredPair] | None'",
    "add_checkpoint": "(self, run_id: 'str', ckpt: 'Checkpoint') -> 'None'",
    "get_checkpoint": "(self, checkpoint_id: 'str') -> 'Checkpoint | None'",
    "checkpoint_run_id": "(self, checkpoint_id: 'str') -> 'str | None'",
    "checkpoint_chain": "(self, checkpoint_id: 'str') -> 'list[Checkpoint]'",
    "list_checkpoints": "(self, run_id: 'str') -> 'list[Checkpoint]'",
    "mark_checkpoint_pruned": "(self, checkpoint_id: 'str', *, at: 'dt.datetime | None' = None) -> 'bool'",
    "add_evaluation": "(self, run_id: 'str', index: 'int | None', ev: 'Evaluation') -> 'None'",
    "get_evaluations": "(self, run_id: 'str') -> 'list[tuple[int | None, Evaluation]]'",
    "round_table": "(self, run_id: 'str', *, judge_version: 'str | None' = None) -> 'list[RoundRow]'",
    # constitutional AI (flows/cai_stages.py)
    "add_constitution": "(self, hash: 'str', name: 'str', text: 'str') -> 'bool'",
    "get_constitution": "(self, hash: 'str') -> 'StoredConstitution | None'",
    "add_critiques": "(self, run_id: 'str', index: 'int', critiques: 'Sequence[Critique]') -> 'int'",
    "add_revisions": "(self, run_id: 'str', index: 'int', revisions: 'Sequence[Revision]') -> 'int'",
    "add_preference_pairs": "(self, run_id: 'str', index: 'int', pairs: 'Sequence[PreferencePair]', kept: 'Iterable[PreferencePair]' = ()) -> 'int'",
    "get_cai": "(self, run_id: 'str', index: 'int') -> 'CaiRecords'",
    # history (selftaught samples / problem / export / report)
    "sample_query_statement": "(self, *, order_by: 'str' = 'id', limit: 'int | None' = 50, **filters: 'Any') -> 'Select'",
    "count_samples": "(self, **filters: 'Any') -> 'int'",  # query_samples' filters, no limit: "20 of 14,936"
    "export_samples": "(self, *, limit: 'int | None' = None, **filters: 'Any') -> 'Iterator[ExportedSample]'",
    "problem_history": "(self, problem_id: 'str', *, run_id: 'str | None' = None, judge_version: 'str | None' = None) -> 'list[ProblemHistory]'",
    "problem_pass_rates": "(self, run_id: 'str', *, source: 'SampleSource | str' = 'generate', judge_version: 'str | None' = None) -> 'list[ProblemPassRate]'",
    "score_histogram": "(self, run_id: 'str', *, bins: 'int' = 10, source: 'SampleSource | str | None' = None, judge_version: 'str | None' = None) -> 'list[ScoreHistogram]'",
    # step labels and reward models (prm/, cli/prm_cmd.py)
    "add_step_labels": "(self, run_id: 'str', index: 'int', labels: 'Sequence[StepLabel]', *, params: 'dict | None' = None) -> 'int'",
    "get_step_labels": "(self, run_id: 'str', index: 'int') -> 'list[StepLabel]'",
    "add_reward_model": "(self, run_id: 'str', ckpt: 'Checkpoint', *, kind: 'str', data: 'dict | None' = None, metrics: 'dict | None' = None) -> 'None'",
    "get_reward_model": "(self, checkpoint_id: 'str') -> 'RewardModelInfo | None'",
    "list_reward_models": "(self, *, run_id: 'str | None' = None, kind: 'str | None' = None, checkpoint_id: 'str | None' = None) -> 'list[RewardModelInfo]'",
    # test-time search (search/, cli/search_cmd.py)
    "add_search": "(self, search: 'SearchRecord', *, run_id: 'str | None' = None) -> 'bool'",
    "get_search": "(self, search_id: 'str', *, nodes: 'bool' = True) -> 'SearchRecord | None'",
    "list_searches": "(self, run_id: 'str | None' = None) -> 'list[SearchInfo]'",
    # run leases (flows/lease.py)
    "get_lease": "(self, run_id: 'str') -> 'RunLease | None'",
    "take_lease": "(self, run_id: 'str', lease: 'RunLease', *, replacing: 'str | None', "
                  "expired_by: 'dt.datetime | None' = None) -> 'bool'",
    "renew_lease": "(self, run_id: 'str', token: 'str', *, expires_at: 'dt.datetime') -> 'bool'",
    "release_lease": "(self, run_id: 'str', token: 'str') -> 'bool'",
    # --retrain-from (store/supersede.py, flows/integrity.py)
    "supersede_rounds": "(self, run_id: 'str', first: 'int', archive_id: 'str', paths: 'Mapping[str, str]') -> 'list[int]'",
    # judge versions side by side (store/rejudge_store.py, flows/rejudge.py)
    "round_indexes": "(self, run_id: 'str') -> 'list[int]'",
    "own_versions": "(self, run_id: 'str', index: 'int') -> 'list[tuple[str, str]]'",
    "mark_rejudged": "(self, run_id: 'str', index: 'int', judge: 'str', version: 'str', options: 'Mapping[str, Any]') -> 'None'",
    "samples_without_verdict": "(self, run_id: 'str', index: 'int', judge: 'str', version: 'str', limit: 'int', after: 'int' = 0) -> 'list[tuple[int, Sample]]'",
    "verdict_flips": "(self, run_id: 'str', judge: 'str', version: 'str') -> 'list[VerdictFlips]'",
    "stale_checkpoints": "(self, run_id: 'str', judge: 'str', version: 'str') -> 'list[StaleCheckpoint]'",
    # the report's rounds and sample browser (store/report_store.py, report/html.py)
    "heldout_solved": "(self, run_id: 'str', *, judge_version: 'str | None' = None) -> 'list[ProblemSolved]'",
    "sample_counts": "(self, run_id: 'str', *, judge_version: 'str | None' = None) -> 'list[SampleCount]'",
    "sample_rows": "(self, run_id: 'str', *, per_stratum: 'int', judge_version: 'str | None' = None) -> 'list[SampleHit]'",
    # the wall time a run printed, for `rounds RUN`'s orchestration share (flows/rounds.py)
    "record_round_wall": "(self, run_id: 'str', index: 'int', seconds: 'float') -> 'None'",
}  # fmt: skip
QUERY_FILTERS = [
    "run_id", "round_index", "problem", "outcome", "judge", "source", "rationalized",
    "checkpoint_id", "min_score", "max_score", "text", "problem_text", "split", "judge_version", "order_by", "limit",
]  # fmt: skip


def test_public_methods_and_signatures_are_pinned():
    # the class is assembled from parts (store/base.py, runs.py, history.py, ...): walk the MRO
    public = {
        n for klass in Store.__mro__[:-1] for n, v in vars(klass).items()
        if callable(v) and not n.startswith("_")
    }  # fmt: skip
    assert public == set(PUBLIC) | {"query_samples"}
    for name, signature in PUBLIC.items():
        assert str(inspect.signature(getattr(Store, name))) == signature, name
    params = inspect.signature(Store.query_samples).parameters
    assert list(params)[1:] == QUERY_FILTERS
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in list(params.values())[1:])
    assert str(inspect.signature(Store.__init__)) == "(self, url: 'str', *, upgrade: 'bool' = True, home: 'str | Path | None' = None)"


def test_import_is_light():
    code = (
        "import sys, selftaught.store; "
        "print(sorted(m for m in ('torch', 'alembic', 'prefect', 'transformers') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_in_memory_store_works_for_quick_scripts():
    with Store("sqlite://") as store:
        assert store.create_run("r", name="n", recipe={}) is True
        assert store.url == "sqlite://"
