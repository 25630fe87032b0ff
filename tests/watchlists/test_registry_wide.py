"""`all: true`: a query that watches every study in the registry, and the mistakes it can carry."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from trialwatch.watchlists import (
    REGISTRY_WIDE_MAX_RESULTS,
    WatchlistError,
    describe,
    load_watchlist,
    registry_wide_query,
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_all_true_is_a_query_with_no_parameter_that_matches_every_study(tmp_path: Path) -> None:
    path = write(tmp_path, "title: Everything\nqueries:\n  - all: true\n")
    watchlist = load_watchlist(path)
    [query] = watchlist.queries
    assert query.params == {} and query.matches_all
    assert query.max_results == REGISTRY_WIDE_MAX_RESULTS > 606_000
    assert query == registry_wide_query()
    # The cost is said where the author looks: the load warnings, which `trialwatch watchlists` prints.
    [warning] = [w for w in watchlist.warnings if "whole registry" in w]
    assert "606,000 studies" in warning and "10 GB" in warning
    assert any("every study in the registry" in line for line in describe(watchlist))


def test_a_named_registry_wide_query_with_its_own_limit(tmp_path: Path) -> None:
    path = write(tmp_path, "title: E\nqueries:\n  - {name: everything, all: true, max_results: 50}\n")
    [query] = load_watchlist(path).queries
    assert (query.name, query.params, query.max_results, query.matches_all) == ("everything", {}, 50, True)


def test_ordinary_queries_do_not_match_all(tmp_path: Path) -> None:
    path = write(tmp_path, "title: E\nqueries:\n  - {query.cond: leukemia, all: false}\n")
    [query] = load_watchlist(path).queries
    assert query.params == {"query.cond": "leukemia"} and not query.matches_all


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("title: E\nqueries:\n  - all: yes please\n", "queries[0].all (line 3) must be true or false"),
        ("title: E\nqueries:\n  - all: 1\n", "queries[0].all (line 3) must be true or false, got 1"),
        (
            "title: E\nqueries:\n  - name: x\n    all: true\n    query.cond: leukemia\n",
            "queries[0].all (line 4): 'all: true' matches every study, so it cannot be combined with query.cond",
        ),
        ("title: E\nqueries:\n  - all: false\n", "queries[0] (line 3) has no search parameter"),
        ("title: E\nqueries:\n  - alll: true\n", "unknown query key 'alll' (did you mean 'all'?)"),
    ],
)
def test_mistakes_name_the_file_and_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    assert f"{path}: " in str(caught.value)
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems
