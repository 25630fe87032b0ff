"""The Airflow plugin: mounts the Trial Watch app, adds it to the navigation, links tasks to it.

Airflow loads plugins in every process that may need a part of one: the api-server, the scheduler
and the dag-processor, and every task (for macros). Only the api-server mounts FastAPI apps, so the
app (FastAPI, Airflow's API security, the store's read models, Jinja templates: over a second of
CPU) is imported and built the first time ``fastapi_apps`` is read, not when this module is.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlparse

from airflow.configuration import conf
from airflow.plugins_manager import AirflowPlugin
from airflow.sdk import BaseOperatorLink

from trialwatch_ui import URL_PREFIX

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

NAV_ROUTE = "trialwatch"
DAG_TAG = "trialwatch"


def _ui_base_path() -> str:
    """The path part of ``[api] base_url`` (empty when Airflow is served at the root)."""
    return urlparse(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


class TrialWatchLink(BaseOperatorLink):
    """A button on every task of the trialwatch DAGs that opens Trial Watch in the Airflow UI."""

    name = "Trial Watch"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        dag = getattr(operator, "dag", None)
        tags = set(getattr(dag, "tags", None) or ())
        if DAG_TAG not in tags and not ti_key.dag_id.startswith(f"{DAG_TAG}_"):
            return ""  # an empty link is shown disabled on other DAGs' tasks
        return f"{_ui_base_path()}/plugin/{NAV_ROUTE}"


def _icon(name: str) -> str:
    # The navigation shows it as <img src>: an absolute path on the api-server, under [api] base_url.
    return f"{_ui_base_path()}{URL_PREFIX}/static/{name}"


class _TrialWatchApps:
    """The plugin's ``fastapi_apps`` list, built on first read and then kept.

    Airflow reads the attribute only where it mounts or lists the apps (the api-server at start,
    ``airflow plugins``, ``GET /api/v2/plugins``); every other process never builds the app.
    """

    def __init__(self) -> None:
        self._apps: list[dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def __get__(self, instance: object, owner: type | None = None) -> list[dict[str, Any]]:
        with self._lock:
            if self._apps is None:
                from trialwatch_ui.app import create_app

                self._apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Trial Watch"}]
            return self._apps


class TrialWatchPlugin(AirflowPlugin):
    """Trial Watch in the Airflow UI: what happened to each watched trial, and to the pipeline.

    ``nav_top_level`` without a menu category puts it in Airflow's left navigation beside Dags and
    Assets, with its own icon, instead of under Browse.
    """

    name = "trialwatch"
    fastapi_apps: ClassVar[list[dict[str, Any]]] = _TrialWatchApps()  # type: ignore[assignment]
    external_views: ClassVar[list[dict[str, Any]]] = [
        {
            "name": "Trial Watch",
            "href": f"{NAV_ROUTE}/",
            "destination": "nav",
            "nav_top_level": True,
            "icon": _icon("icon.svg"),
            "icon_dark_mode": _icon("icon-dark.svg"),
            "url_route": NAV_ROUTE,
        }
    ]
    global_operator_extra_links: ClassVar[list[BaseOperatorLink]] = [TrialWatchLink()]
