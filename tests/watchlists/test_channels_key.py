"""The watchlist ``channels`` key: connection ids only, every mistake reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from trialwatch.watchlists import Channel, WatchlistError, describe, load_watchlist

MINIMAL = "title: Minimal\ntrials: [NCT02185781]\n"


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "office.yaml"
    path.write_text(text, encoding="utf-8")
    return load_watchlist(path)


def test_channels_load_in_order_with_their_connection_ids(tmp_path: Path) -> None:
    watchlist = load(
        tmp_path,
        MINIMAL
        + "channels:\n  - webhook: trialwatch_webhook_partner\n  - Slack: slack_trial_office\n"
        + "  - teams: teams.oncology-1\n  - webhook: trialwatch_webhook_partner\n",
    )
    assert watchlist.channels == (
        Channel("webhook", "trialwatch_webhook_partner"),
        Channel("slack", "slack_trial_office"),
        Channel("teams", "teams.oncology-1"),
    )
    assert [c.ref for c in watchlist.channels][1] == "slack:slack_trial_office"
    assert any(
        "channel webhook:trialwatch_webhook_partner is listed more than once" in w for w in watchlist.warnings
    )
    assert any(line.strip().startswith("channels:   webhook:trialwatch") for line in describe(watchlist))


def test_no_channels_key_means_email_only(tmp_path: Path) -> None:
    assert load(tmp_path, MINIMAL).channels == ()


MISTAKES = {
    "unknown kind": (
        "channels:\n  - slak: office\n",
        [
            "channels[0] (line 4): unknown channel kind 'slak' (did you mean 'slack'?)",
            "allowed: webhook, slack",
        ],
    ),
    "a URL instead of a connection": (
        "channels:\n  - slack: https://hooks.slack.com/services/T0/B0/XXXX\n",
        [
            "channels[0] (line 4): slack 'https://hooks.slack.com/services/T0/B0/XXXX' is not a connection id",
            "put the URL (and any secret) in an Airflow connection",
        ],
    ),
    "not a list": ("channels: {slack: office}\n", ["channels (line 3) must be a list like", "got a mapping"]),
    "two kinds in one item": (
        "channels:\n  - {slack: a, teams: b}\n",
        ["channels[0] (line 4) must be one 'kind: connection id' pair", "got 2 keys"],
    ),
    "bare text": ("channels:\n  - office\n", ["channels[0] (line 4) must be one 'kind: connection id' pair"]),
    "empty connection": ("channels:\n  - teams:\n", ["teams nothing (null) is not a connection id"]),
    "spaces in the id": ("channels:\n  - webhook: partner hook\n", ["expected an Airflow connection id"]),
}


@pytest.mark.parametrize("case", list(MISTAKES), ids=list(MISTAKES))
def test_each_channel_mistake_is_reported(tmp_path: Path, case: str) -> None:
    text, fragments = MISTAKES[case]
    with pytest.raises(WatchlistError) as caught:
        load(tmp_path, MINIMAL + text)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message


def test_all_channel_mistakes_at_once(tmp_path: Path) -> None:
    with pytest.raises(WatchlistError) as caught:
        load(tmp_path, MINIMAL + "channels:\n  - email: x\n  - slack: http://x/y\n  - teams: ok_id\n")
    assert len(caught.value.problems) == 2
