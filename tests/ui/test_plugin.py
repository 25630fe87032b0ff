"""The plugin's registration: what Airflow reads from it, and where the task link points."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest


@pytest.fixture(scope="module")
def plugin_module():  # type: ignore[no-untyped-def]
    import trialwatch_plugin

    return trialwatch_plugin


def _task(dag_id: str, tags: list[str]):  # type: ignore[no-untyped-def]
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG(dag_id, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC), tags=tags):
        return EmptyOperator(task_id="work")


def _key(dag_id: str):  # type: ignore[no-untyped-def]
    from airflow.models.taskinstancekey import TaskInstanceKey

    return TaskInstanceKey(dag_id=dag_id, task_id="work", run_id="manual__1", try_number=1)


def test_plugin_mounts_the_app_and_adds_a_nav_entry(plugin_module) -> None:  # type: ignore[no-untyped-def]
    plugin = plugin_module.TrialWatchPlugin
    assert plugin.name == "trialwatch"
    assert [(app["url_prefix"], app["name"]) for app in plugin.fastapi_apps] == [
        ("/trialwatch", "Trial Watch")
    ]
    assert plugin.external_views == [
        {
            "name": "Trial Watch",
            "href": "trialwatch/",
            "destination": "nav",
            "nav_top_level": True,
            "icon": "/trialwatch/static/icon.svg",
            "icon_dark_mode": "/trialwatch/static/icon-dark.svg",
            "url_route": "trialwatch",
        }
    ]


def test_nav_icons_are_served_by_the_app(plugin_module, client) -> None:  # type: ignore[no-untyped-def]
    for view in plugin_module.TrialWatchPlugin.external_views:
        for key in ("icon", "icon_dark_mode"):
            response = client.get(view[key].removeprefix("/trialwatch"))
            assert response.status_code == 200
            assert response.text.startswith("<svg")


def test_task_link_opens_trial_watch_for_trialwatch_dags_only(plugin_module) -> None:  # type: ignore[no-untyped-def]
    (link,) = plugin_module.TrialWatchPlugin.global_operator_extra_links
    assert link.name == "Trial Watch"
    tagged = _task("nightly_sync", ["trialwatch"])
    assert link.get_link(tagged, ti_key=_key("nightly_sync")) == "/plugin/trialwatch"
    by_name = _task("trialwatch_digest_nk", [])
    assert link.get_link(by_name, ti_key=_key("trialwatch_digest_nk")) == "/plugin/trialwatch"
    other = _task("billing", ["finance"])
    assert link.get_link(other, ti_key=_key("billing")) == ""


def test_loading_the_plugin_builds_no_app() -> None:
    """Tasks and the scheduler load plugins too; only the api-server, reading fastapi_apps, builds the app."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "include"), str(root / "plugins")])}
    code = (
        "import sys, trialwatch_plugin\n"
        "heavy = [m for m in ('trialwatch_ui.app', 'fastapi', 'airflow.api_fastapi.core_api.security')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "(app,) = trialwatch_plugin.TrialWatchPlugin.fastapi_apps\n"
        "assert type(app['app']).__name__ == 'FastAPI'\n"
        "assert trialwatch_plugin.TrialWatchPlugin().fastapi_apps[0] is app\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
