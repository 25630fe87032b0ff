"""
### trialwatch sync

Fetches every watched trial from ClinicalTrials.gov (API v2), stores each new version of a record
and records what changed as typed change events. Then it updates the **trialwatch_changes** asset,
which starts the digest DAGs.

**When:** every hour it asks the registry for its data build (`GET /version`); the registry
publishes once a day, so only the first check after a new build does the work. Trigger it by hand
with **force** to sync anyway, or with **nct_ids** to sync given trials now.

**Steps:** `registry_has_new_data` → `plan` (resolve the watchlists in `include/watchlists/` to NCT
ids and split them into batches) → `fetch_batch` (one mapped task per batch: fetch, compare content
hashes, diff changed records version by version) → `finish` (close the sync run, update the asset).

**Settings:** connection `ctgov_api` (registry base URL; default clinicaltrials.gov), connection
`trialwatch_store` or `TRIALWATCH_STORE_URL` (the snapshot store; default a SQLite file); Variable
`trialwatch_sync_batch_size` (trials per `fetch_batch` task; default 100).
Each trial's history is in the **Trial Watch** page of this Airflow UI.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import Asset, CronTriggerTimetable, Param, dag, get_current_context, task
from trialwatch import airflow_glue

log = logging.getLogger("airflow.task")
CHANGES = Asset(name=airflow_glue.CHANGES_ASSET_NAME)


@dag(
    dag_id="trialwatch_sync",
    schedule=CronTriggerTimetable("7 * * * *", timezone="UTC"),
    max_active_runs=1,
    is_paused_upon_creation=False,
    doc_md=__doc__,
    tags=["trialwatch"],
    default_args={
        "owner": "trialwatch",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
    },
    params={
        "nct_ids": Param(
            [],
            type="array",
            items={"type": "string"},
            title="NCT ids",
            description="Sync only these trials now (ids or study URLs). Empty: all watched trials.",
        ),
        "force": Param(
            False,
            type="boolean",
            title="Force",
            description="Sync even if the registry has published no new data since the last sync.",
        ),
    },
)
def trialwatch_sync() -> None:
    @task.short_circuit
    def registry_has_new_data(params: dict[str, Any]) -> bool:
        from trialwatch.store import repository

        if params["nct_ids"] or params["force"]:
            log.info("manual run (nct_ids=%s, force=%s): syncing", params["nct_ids"], params["force"])
            return True
        store = airflow_glue.store()
        store.upgrade()
        published = airflow_glue.ctgov_client().version().get("dataTimestamp")
        with store.session() as session:
            seen = repository.last_data_timestamp(session)
        log.info("registry data build %s; last synced build %s", published, seen)
        return published != seen

    @task
    def plan(params: dict[str, Any]) -> list[dict[str, Any]]:
        from trialwatch.pipeline import plan_sync
        from trialwatch.watchlists import load_watchlists

        loaded = load_watchlists()
        for error in loaded.errors:
            log.error("skipping a broken watchlist: %s", error)
        store = airflow_glue.store()
        store.upgrade()
        sync_plan = plan_sync(
            store,
            airflow_glue.ctgov_client(),
            loaded.watchlists,
            only_ids=params["nct_ids"],
            batch_size=airflow_glue.sync_batch_size(),
            watchlist_errors=loaded.errors,
        )
        return sync_plan.mapped_batches()

    @task(map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=airflow_glue.FETCH_CONCURRENCY)
    def fetch_batch(
        nct_ids: list[str], sync_run_id: int, data_timestamp: str | None, thresholds: dict[str, Any]
    ) -> dict[str, Any]:
        from dataclasses import asdict

        from trialwatch.pipeline import sync_batch

        get_current_context()["batch_label"] = airflow_glue.task_label(nct_ids)  # type: ignore[typeddict-unknown-key]
        summary = sync_batch(
            airflow_glue.store(),
            airflow_glue.ctgov_client(),
            nct_ids,
            run_id=sync_run_id,
            data_timestamp=data_timestamp,
            thresholds=thresholds,
            use_history=airflow_glue.use_history(),
        )
        for nct_id in summary.changed:
            log.info("changed: %s", nct_id)
        for failure in summary.failures:
            log.warning("could not sync %s: %s", failure["nct_id"] or "-", failure["error"])
        return asdict(summary)

    @task(outlets=[CHANGES])
    def finish(planned_batches: list[dict[str, Any]], batches: list[dict[str, Any]]) -> dict[str, Any]:
        from trialwatch.pipeline import finish_sync

        sync_run_id = planned_batches[0]["sync_run_id"]
        result = finish_sync(airflow_glue.store(), sync_run_id)
        changed = sorted({nct_id for batch in batches for nct_id in batch["changed"]})
        get_current_context()["outlet_events"][CHANGES].extra = {
            "sync_run": sync_run_id,
            "events": result["events"],
            "changed": changed[:100],
        }
        return result

    gate = registry_has_new_data()
    planned = plan()
    gate >> planned
    summaries = fetch_batch.expand_kwargs(planned)
    finish(planned, summaries)


trialwatch_sync()
