"""
### trialwatch backfill

Fetches the older versions of newly watched trials from ClinicalTrials.gov's version history. The
sync stores a new trial's current version at once and queues its history; this DAG drains that
queue, the most recently changed trials first and each trial from its newest version backwards, so
the Trial Watch timeline fills in over the following hours. Backfilled versions and their changes
are history: they appear in the timeline only, never in a digest. How much history a watchlist
wants is its `history` key (`full`, `recent N`, `none`).

**When:** every hour, at most `TRIALWATCH_BACKFILL_REQUESTS` registry requests per run (default
500, about 8 minutes at one request a second); a registry-wide first sync spreads its history over
many runs instead of holding up the daily sync.

**One at a time:** the run takes the store's sync lease, so it never runs beside a sync (or another
backfill); if the lease is taken the run is skipped and the next hour tries again.

**Settings:** connection `ctgov_api`, `trialwatch_store`; every setting is in `docs/configuration.md`.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import CronTriggerTimetable, dag, task
from trialwatch import airflow_glue

log = logging.getLogger("airflow.task")


@dag(
    dag_id="trialwatch_backfill",
    schedule=CronTriggerTimetable("37 * * * *", timezone="UTC"),
    max_active_runs=1,
    is_paused_upon_creation=False,
    doc_md=__doc__,
    tags=["trialwatch"],
    default_args={
        "owner": "trialwatch",
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
    },
)
def trialwatch_backfill() -> None:
    @task
    def backfill() -> dict[str, Any]:
        from dataclasses import asdict

        from airflow.sdk.exceptions import AirflowSkipException
        from trialwatch.backfill import BackfillBusy, run_backfill
        from trialwatch.pipeline import store_unreachable
        from trialwatch.store.errors import StoreError

        config = airflow_glue.settings()
        client = airflow_glue.ctgov_client(config, tasks_at_once=1)
        try:
            store = airflow_glue.store(config)
            store.upgrade()
            summary = run_backfill(store, client, budget=config.backfill_requests)
        except BackfillBusy as exc:
            raise AirflowSkipException(str(exc)) from exc
        except StoreError as exc:
            raise RuntimeError(store_unreachable(exc)) from exc
        finally:
            client.close()
        for failure in summary.failures:
            log.warning("history of %s unavailable: %s", failure["nct_id"], failure["error"])
        return asdict(summary)

    backfill()


trialwatch_backfill()
