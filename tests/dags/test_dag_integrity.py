"""The DAG files parse without import errors and keep the settings unattended runs rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dagbag():  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_no_import_errors(dagbag) -> None:  # type: ignore[no-untyped-def]
    assert dagbag.import_errors == {}


def test_sync_and_one_digest_dag_per_watchlist(dagbag) -> None:  # type: ignore[no-untyped-def]
    from trialwatch.watchlists import load_watchlists

    expected = {"trialwatch_sync", "trialwatch_backfill"} | {
        f"trialwatch_digest_{w.name}" for w in load_watchlists().watchlists
    }
    assert "trialwatch_digest_nk_cell_leukemia" in expected
    assert set(dagbag.dags) == expected


def test_dags_run_unattended(dagbag) -> None:  # type: ignore[no-untyped-def]
    for dag_id, dag in dagbag.dags.items():
        assert dag.max_active_runs == 1, dag_id
        assert dag.is_paused_upon_creation is False, dag_id
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        assert "trialwatch" in dag.tags, dag_id
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id}"


def test_sync_dag_shape_and_trigger_form(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["trialwatch_sync"]
    # The gate is part of plan: one task start less per run; a run with nothing to sync skips plan.
    assert dag.get_task("plan").upstream_task_ids == set()
    assert dag.get_task("plan").downstream_task_ids == {"fetch_batch", "finish"}
    assert dag.get_task("fetch_batch").downstream_task_ids == {"finish"}
    assert [outlet.name for outlet in dag.get_task("finish").outlets] == ["trialwatch_changes"]
    assert set(dag.params) == {"nct_ids", "force", "reconcile"}
    assert dag.params["reconcile"] is False
    assert dag.params["nct_ids"] == []


def test_digest_dags_follow_the_changes_asset(dagbag) -> None:  # type: ignore[no-untyped-def]
    dag = dagbag.dags["trialwatch_digest_nk_cell_leukemia"]
    assert "trialwatch_changes" in repr(dag.timetable.asset_condition)
    assert dag.get_task("prepare").downstream_task_ids == {"send", "send_channels"}
