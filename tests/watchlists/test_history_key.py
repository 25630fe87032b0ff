"""The watchlist ``history`` key: how much of a newly watched trial's past is backfilled."""

from __future__ import annotations

from pathlib import Path

import pytest
from trialwatch.watchlists import WatchlistError, describe, load_watchlist

MINIMAL = "title: Minimal\ntrials: [NCT02185781]\n"


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "office.yaml"
    path.write_text(text, encoding="utf-8")
    return load_watchlist(path)


def test_full_by_default(tmp_path: Path) -> None:
    watchlist = load(tmp_path, MINIMAL)
    assert watchlist.history is None
    assert not any("history:" in line for line in describe(watchlist))
    assert load(tmp_path, MINIMAL + "history: full\n").history is None


def test_recent_n_and_none(tmp_path: Path) -> None:
    recent = load(tmp_path, MINIMAL + "history: recent 2\n")
    assert recent.history == 2
    assert any(line.strip().startswith("history:    recent 2") for line in describe(recent))
    assert load(tmp_path, MINIMAL + "history: Recent   12\n").history == 12
    none = load(tmp_path, MINIMAL + "history: none\n")
    assert none.history == 0
    assert any(line.strip().startswith("history:    none") for line in describe(none))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("recent", "'recent'"),
        ("recent 0", "'recent 0'"),
        ("all", "'all'"),
        ("3", "a number"),
        ("", "nothing"),
    ],
)
def test_a_bad_value_names_the_file_key_and_line(tmp_path: Path, value: str, shown: str) -> None:
    with pytest.raises(WatchlistError) as caught:
        load(tmp_path, MINIMAL + f"history: {value}\n")
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'office.yaml'}: history (line 3) is {shown}")
    assert "allowed: full, recent N" in message
