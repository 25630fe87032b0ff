"""
### trialwatch digest: {title}

Emails the changes recorded for the watchlist **{name}** (`{path}`) to its recipients:
{recipients}.

**When:** after every sync that recorded changes (asset **trialwatch_changes**), and every hour so
that a failed send is retried and a {cadence} digest goes out when its period starts. One run at a
time: syncs that end while a run waits its turn go out with that run, as it reads the store. Cadence
**{cadence}**; changes at or above **{immediate}** go out right after the sync that found them.
Only changes at or above **{min_severity}** are included.

**Steps:** `prepare` renders the digest (HTML + text + CSV) into the outbox, one row per period and
recipient, so a retried or re-run task never queues or sends the same digest twice; it also leaves
a local copy of the watchlist's Atom feed on the worker (`$TRIALWATCH_HOME/feeds/{name}.atom`), which
nothing reads. Feed readers subscribe to the watchlist's capability URL shown in Trial Watch
(`/trialwatch/feed.atom?token=…`, no login): Trial Watch builds the feed from the store on each
request. `send` delivers every queued row through the `smtp_default` connection and keeps failed ones
queued for the next run; `send_channels` posts the watchlist's webhook, Slack and Teams messages ({channels}) the same way, each
channel on its own, so a failing one neither blocks nor repeats email or the others.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import DAG, Asset, AssetOrTimeSchedule, CronTriggerTimetable, task
from trialwatch import airflow_glue
from trialwatch.watchlists import Watchlist, load_watchlists

log = logging.getLogger("airflow.task")
CHANGES = Asset(name=airflow_glue.CHANGES_ASSET_NAME)


def build_digest_dag(watchlist: Watchlist) -> DAG:
    with DAG(
        dag_id=f"trialwatch_digest_{watchlist.name}",
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable("37 * * * *", timezone="UTC"), assets=[CHANGES]
        ),
        max_active_runs=1,
        is_paused_upon_creation=False,
        doc_md=__doc__.format(
            title=watchlist.title,
            name=watchlist.name,
            path=watchlist.path.name,
            recipients=", ".join(watchlist.recipients) or "none",
            cadence=watchlist.cadence,
            immediate=watchlist.immediate_severity or "(never)",
            min_severity=watchlist.min_severity,
            channels=", ".join(c.ref for c in watchlist.channels) or "none",
        ),
        tags=["trialwatch", "digest"],
        default_args={
            "owner": "trialwatch",
            "retries": 3,
            "retry_delay": airflow_glue.DIGEST_RETRY_DELAY,
            "retry_exponential_backoff": 2.0,
        },
    ) as digest_dag:

        @task
        def prepare() -> list[int]:
            from trialwatch.digest.feed import write_feed
            from trialwatch.digest.service import prepare_digests

            config = airflow_glue.settings()
            loaded = load_watchlists(config.watchlist_dir)
            store = airflow_glue.store(config)
            store.upgrade()  # the digest may run before the first sync created the schema
            queued = prepare_digests(
                store,
                loaded.watchlists,
                watchlist=watchlist.name,
                sender=config.mail_from,
                ui_url=config.ui_url,
            )
            log.info("%d digest(s) queued for %s", len(queued), watchlist.name)
            if loaded.get(watchlist.name).channels:
                from trialwatch.digest.channels import prepare_channel_messages

                posts = prepare_channel_messages(
                    store,
                    loaded.watchlists,
                    watchlist=watchlist.name,
                    trial_watch_url=airflow_glue.trial_watch_url(),
                )
                log.info("%d channel message(s) queued for %s", len(posts), watchlist.name)
            feed = write_feed(store, loaded.get(watchlist.name), config.home / "feeds")
            log.info("Atom feed updated: %s", feed)
            return queued

        @task
        def send() -> dict[str, Any]:
            from dataclasses import asdict

            from trialwatch.digest.service import send_queued

            config = airflow_glue.settings()
            report = send_queued(
                airflow_glue.store(config), airflow_glue.smtp_settings(config), watchlist=watchlist.name
            )
            return asdict(report)

        @task
        def send_channels() -> dict[str, Any]:
            from dataclasses import asdict

            from trialwatch.digest.channels import send_channel_messages

            targets = airflow_glue.channel_targets(load_watchlists().get(watchlist.name).channels)
            report = send_channel_messages(airflow_glue.store(), targets, watchlist=watchlist.name)
            return asdict(report)

        prepared = prepare()
        prepared >> send()
        prepared >> send_channels()
    return digest_dag


for _watchlist in load_watchlists().watchlists:
    globals()[f"trialwatch_digest_{_watchlist.name}"] = build_digest_dag(_watchlist)
