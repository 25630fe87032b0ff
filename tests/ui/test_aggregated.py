"""An aggregated event ("12 sites: not yet recruiting → recruiting") in the Trial Watch timeline:
one row with its count, its members behind a <details> toggle, escaped; the JSON API carries both."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

NCT = "NCT22222222"
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MEMBERS = [f"Site {n}, City {n}, Germany" for n in range(1, 12)] + [
    '<img src=x onerror="alert(1)">, Lyon, France'
]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient
    from trialwatch.store import Store
    from trialwatch.store.models import ChangeEventRow, Study, StudyVersion
    from trialwatch_ui.app import create_app, require_user

    store = Store(f"sqlite:///{tmp_path_factory.mktemp('aggregated') / 'store.db'}")
    store.upgrade()
    with store.session() as session:
        session.add(Study(nct_id=NCT, title="Twelve sites open", first_seen_at=NOW, registry_version=2))
        session.flush()
        version = StudyVersion(
            nct_id=NCT, content_hash="2" * 64, registry_version=2, fetched_at=NOW, raw_json={}
        )
        session.add(version)
        session.flush()
        session.get(Study, NCT).current_version_id = version.id
        session.add_all(
            [
                ChangeEventRow(
                    nct_id=NCT,
                    version_id=version.id,
                    category="sites",
                    field="Site recruitment status",
                    path="protocolSection.contactsLocationsModule.locations.status",
                    old="NOT_YET_RECRUITING",
                    new="RECRUITING",
                    severity="minor",
                    detail="12 sites",
                    old_version=1,
                    new_version=2,
                    extra={"count": 12, "members": MEMBERS},
                    detected_at=NOW,
                ),
                ChangeEventRow(
                    nct_id=NCT,
                    version_id=version.id,
                    category="enrollment",
                    field="Enrollment",
                    path="protocolSection.designModule.enrollmentInfo.count",
                    old=100,
                    new=120,
                    severity="minor",
                    detail="",
                    old_version=1,
                    new_version=2,
                    detected_at=NOW,
                ),
            ]
        )
    app = create_app(store)
    app.dependency_overrides[require_user] = lambda: None
    with TestClient(app) as test_client:
        yield test_client
    store.dispose()


def test_api_returns_count_and_members(client) -> None:  # type: ignore[no-untyped-def]
    events = client.get(f"/api/trials/{NCT}").json()["timeline"][0]["events"]
    sites = next(e for e in events if e["category"] == "sites")
    assert (sites["count"], sites["members"]) == (12, MEMBERS)
    single = next(e for e in events if e["category"] == "enrollment")
    assert (single["count"], single["members"]) == (1, [])


def test_timeline_row_opens_to_escaped_members(client) -> None:  # type: ignore[no-untyped-def]
    page = client.get(f"/trials/{NCT}").text
    rows = re.findall(r"<tr[^>]*>.*?</tr>", page, flags=re.DOTALL)
    [row] = [r for r in rows if "Site recruitment status" in r]
    assert 'class="aggregated"' in row
    summary = re.search(r"<summary>(.*?)</summary>", row, flags=re.DOTALL)
    assert summary and "12 sites" in summary.group(1) and "show 12" in summary.group(1)
    items = re.findall(r"<li>(.*?)</li>", row, flags=re.DOTALL)
    assert [html.unescape(item) for item in items] == MEMBERS
    assert "<img" not in row and "&lt;img src=x" in row
    # A single change stays a plain row.
    [single] = [r for r in rows if "Enrollment" in r and "<td" in r]
    assert "<details" not in single
