"""
### trialwatch sync

Fetches every watched trial from ClinicalTrials.gov (API v2), stores each new version of a record
and records what changed as typed change events. Then it updates the **trialwatch_changes** asset,
which starts the digest DAGs.

**When:** every hour it asks the registry for its data build (`GET /version`); the registry
publishes once a day, so only the first check after a new build syncs. That sync is incremental: it
fetches only the watched records posted since the last synced build (less an overlap) and trials
never fetched. A full reconciliation (every watched trial; who left a query; records gone) runs
weekly (`TRIALWATCH_RECONCILE_DAYS`), on the first sync and when the watchlists changed. The same
check also notices a changed watchlist (a new file, a trial or query added) or a listed trial never
fetched: then it resolves the watchlists and fetches only the trials never stored, so a new
watchlist shows up within the hour. Trigger it by hand with **reconcile** for a full reconciliation
now, with **force** to sync everything even without new registry data, or with **nct_ids** to sync
given trials now (a value that is no NCT id fails the run).

**One at a time:** a run takes the store's sync lease; if another sync (a CLI sync, a second
deployment) holds it, the run is recorded as *skipped* on the health page and does nothing. A run
that fails early (registry `/version` down, store unreachable), or whose batch fails its last try,
is recorded as *failed* with its reason and gives the lease back.

**Steps:** `plan` (decide whether to sync, as above: a run with nothing to sync is *skipped* here,
with the reason in its log; else resolve the watchlists in `include/watchlists/` to NCT ids, store
them in batches, hand on small batch descriptors) → `fetch_batch` (one mapped task per batch, at
most 1000: load its ids from the store, fetch, compare content hashes, diff changed records version
by version; a new trial's current version is stored and its older versions queued for
**trialwatch_backfill**) → `finish` (close the sync run, update the asset).

**Settings:** connection `ctgov_api` (registry base URL; default clinicaltrials.gov), connection
`trialwatch_store` or `TRIALWATCH_STORE_URL` (the snapshot store; default a SQLite file); Variable
`trialwatch_sync_batch_size` (trials per `fetch_batch` task; default 500); every setting is in
`docs/configuration.md`.
Each trial's history is in the **Trial Watch** page of this Airflow UI.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import Asset, CronTriggerTimetable, Param, dag, get_current_context, task
from trialwatch import airflow_glue

if TYPE_CHECKING:
    from collections.abc import Sequence

    from trialwatch.registry.client import CtgovClient
    from trialwatch.store.db import Store
    from trialwatch.watchlists import Watchlist

log = logging.getLogger("airflow.task")
CHANGES = Asset(name=airflow_glue.CHANGES_ASSET_NAME)


def _what_to_sync(
    params: dict[str, Any], store: Store, client: CtgovClient, watchlists: Sequence[Watchlist]
) -> tuple[str, bool]:
    """(mode, reconcile) for ``plan_sync``, mode "ids", "daily" or "new"; skips the run if nothing is to sync.

    The trigger form's ``nct_ids`` and ``force`` sync without asking the registry; otherwise the gate
    (``sync_gate``) asks for its data build and compares the watchlists; ``reconcile`` forces a full
    reconciliation even without new data.
    """
    from airflow.sdk.exceptions import AirflowSkipException
    from trialwatch.pipeline import sync_gate

    if params["nct_ids"]:
        return "ids", False
    if params["force"]:
        log.info("manual run with force: syncing every watched trial")
        return "daily", True
    decision = sync_gate(store, client, watchlists)
    log.info("%s: %s", "syncing" if decision else "nothing to sync", decision.reason)
    if params["reconcile"]:
        log.info("manual run with reconcile: a full reconciliation even without new data")
        return "daily", True
    if not decision:
        raise AirflowSkipException(f"nothing to sync: {decision.reason}")
    return decision.mode, False


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
            description="Sync every watched trial even if the registry has published no new data.",
        ),
        "reconcile": Param(
            False,
            type="boolean",
            title="Reconcile",
            description="A full reconciliation now: every watched trial, not only the updated ones.",
        ),
    },
)
def trialwatch_sync() -> None:
    @task
    def plan(params: dict[str, Any]) -> list[dict[str, Any]]:
        """Decide whether the run syncs, then plan it: small batch descriptors for ``fetch_batch``.

        The decision and the plan share one task (one task start, one store connection); a run with
        nothing to sync, or another sync holding the lease, is skipped here with its reason, and so are
        its batches and ``finish``.
        """
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
        from trialwatch.pipeline import (
            SyncBusy,
            SyncUsageError,
            parse_nct_ids,
            plan_sync,
            store_unreachable,
        )
        from trialwatch.store.errors import StoreError
        from trialwatch.watchlists import load_watchlists

        if params["nct_ids"]:
            try:
                ids = parse_nct_ids(params["nct_ids"], what="nct_ids")
            except SyncUsageError as exc:
                raise AirflowFailException(str(exc)) from exc
            log.info("manual run for %s: syncing", ", ".join(ids))
        config = airflow_glue.settings()
        loaded = load_watchlists(config.watchlist_dir)
        for error in loaded.errors:
            log.error("skipping a broken watchlist: %s", error)
        try:
            store = airflow_glue.store(config)
            store.upgrade()
            client = airflow_glue.ctgov_client(config)
            mode, reconcile = _what_to_sync(params, store, client, loaded.watchlists)
            sync_plan = plan_sync(
                store,
                client,
                loaded.watchlists,
                only_ids=params["nct_ids"] if mode == "ids" else (),
                new_only=mode == "new",
                reconcile=reconcile,
                reconcile_days=config.reconcile_days,
                overlap_days=config.sync_overlap_days,
                batch_size=airflow_glue.sync_batch_size(),
                watchlist_errors=loaded.errors,
            )
        except SyncBusy as exc:
            raise AirflowSkipException(str(exc)) from exc
        except StoreError as exc:
            raise RuntimeError(store_unreachable(exc)) from exc
        return sync_plan.mapped_batches()

    @task(map_index_template="{{ batch_label }}", max_active_tis_per_dagrun=airflow_glue.FETCH_CONCURRENCY)
    def fetch_batch(run: int, batch: int, label: str, size: int) -> dict[str, Any]:
        """One planned batch: its ids come from the store, not through XCom."""
        from dataclasses import asdict

        from trialwatch.pipeline import abandon_sync, run_lease, sync_planned_batch

        context = get_current_context()
        context["batch_label"] = label  # type: ignore[typeddict-unknown-key]
        config = airflow_glue.settings()
        store = airflow_glue.store(config)
        try:
            summary = sync_planned_batch(
                store, airflow_glue.ctgov_client(config), run, batch, use_history=config.use_history
            )
        except Exception as exc:
            ti = context["ti"]
            if ti.try_number > ti.max_tries:
                # The last try: finish will not run, so close the run with the reason and free the lease.
                reason = f"batch {label} ({size} trials) failed: {type(exc).__name__}: {exc}"
                abandon_sync(store, run, run_lease(store, run) or "", reason)
            raise
        for nct_id in summary.changed:
            log.info("changed: %s", nct_id)
        for failure in summary.failures:
            log.warning("could not sync %s: %s", failure["nct_id"] or "-", failure["error"])
        return asdict(summary)

    @task(outlets=[CHANGES])
    def finish(planned_batches: list[dict[str, Any]], batches: list[dict[str, Any]]) -> dict[str, Any]:
        from trialwatch.pipeline import finish_sync, run_lease

        sync_run_id = planned_batches[0]["run"]
        store = airflow_glue.store(airflow_glue.settings())
        result = finish_sync(store, sync_run_id, run_lease(store, sync_run_id))
        changed = sorted({nct_id for batch in batches for nct_id in batch["changed"]})
        get_current_context()["outlet_events"][CHANGES].extra = {
            "sync_run": sync_run_id,
            "events": result["events"],
            "changed": changed[:100],
        }
        return result

    planned = plan()
    summaries = fetch_batch.expand_kwargs(planned)
    finish(planned, summaries)


trialwatch_sync()
