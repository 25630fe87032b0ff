"""Hostile watchlist files: each loader ends with a clear error naming file and line, the others still load."""

from __future__ import annotations

from pathlib import Path

import pytest
from trialwatch import cli
from trialwatch.watchlists import (
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    WatchlistError,
    load_watchlist,
    load_watchlists,
)

GOOD = "title: Good\ntrials: [NCT03418623]\nrecipients: [office@example.org]\n"
LEVELS = 9


def billion_laughs(levels: int = LEVELS) -> str:
    """Each level lists the previous one nine times: under 1 kB of text, 9**levels strings once expanded."""
    lines = ['title: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    lines.append(f"trials: [*l{levels - 1}]")
    return "\n".join(lines) + "\n"


def error_for(path: Path, text: str) -> WatchlistError:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    return caught.value


@pytest.fixture
def hostile_dir(tmp_path: Path) -> Path:
    """A watchlist folder with one good file and a billion-laughs file."""
    (tmp_path / "good.yaml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "laughs.yaml").write_text(billion_laughs(), encoding="utf-8")
    return tmp_path


def test_billion_laughs_is_small_and_refused_with_each_alias_and_its_line(tmp_path: Path) -> None:
    text = billion_laughs()
    assert len(text.encode()) < 1024
    error = error_for(tmp_path / "laughs.yaml", text)
    # Alias *l{n} is first used on line n + 2 (line 1 is the title holding &l0); the last on the trials line.
    uses = {level: " (used 9 times)" for level in range(LEVELS - 1)} | {LEVELS - 1: ""}
    assert list(error.problems) == [
        f"line {level + 2}: YAML alias *l{level}{uses[level]} "
        "is not allowed in a watchlist; write the value out where it is needed"
        for level in range(LEVELS)
    ]
    assert all(line.startswith(f"{tmp_path / 'laughs.yaml'}: line ") for line in str(error).splitlines())


def test_a_merge_key_is_an_alias_and_is_refused(tmp_path: Path) -> None:
    text = "base: &base {cadence: weekly}\ntitle: Merge\ntrials: [NCT03418623]\n<<: *base\n"
    error = error_for(tmp_path / "merge.yaml", text)
    assert error.problems == (
        "line 4: YAML alias *base is not allowed in a watchlist; write the value out where it is needed",
    )


def test_an_anchor_that_is_never_used_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "anchored.yaml"
    path.write_text("title: &t Anchored\ntrials: [NCT03418623]\n", encoding="utf-8")
    assert load_watchlist(path).title == "Anchored"


def test_more_aliases_than_are_worth_listing_are_counted(tmp_path: Path) -> None:
    anchors = "\n".join(f"a{i}: &a{i} x" for i in range(15))
    uses = ", ".join(f"*a{i}" for i in range(15))
    error = error_for(tmp_path / "many.yaml", f"{anchors}\ntitle: Many\ntrials: [{uses}]\n")
    assert len(error.problems) == 11
    assert error.problems[-1] == "and 5 more aliases"


def test_a_file_over_the_size_limit_is_not_even_parsed(tmp_path: Path) -> None:
    padding = "# " + "x" * 98 + "\n"
    text = GOOD + padding * (MAX_FILE_BYTES // len(padding) + 1)
    error = error_for(tmp_path / "huge.yaml", text)
    assert error.problems == (
        f"the file is larger than {MAX_FILE_BYTES:,} bytes; a watchlist is a short list",
    )


def test_a_file_at_the_size_limit_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "padded.yaml"
    path.write_text(GOOD + "#" * (MAX_FILE_BYTES - len(GOOD) - 1) + "\n", encoding="utf-8")
    assert path.stat().st_size == MAX_FILE_BYTES
    assert load_watchlist(path).nct_ids == ("NCT03418623",)


def test_too_many_values_are_refused_at_the_line_where_the_limit_is_passed(tmp_path: Path) -> None:
    # The top mapping, title, its value, the trials key and the list are 5 values before the items;
    # item k is on line 2 + k, so item MAX_NODES - 4 is the value that passes the limit.
    items = "".join("- 1\n" for _ in range(MAX_NODES))
    error = error_for(tmp_path / "many.yaml", f"title: Many\ntrials:\n{items}")
    limit_line = 2 + (MAX_NODES + 1 - 5)
    assert error.problems == (f"line {limit_line}: more than {MAX_NODES:,} YAML values; split the watchlist",)


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_deep_nesting_is_refused_without_exhausting_the_stack(tmp_path: Path, depth: int) -> None:
    text = "title: Deep\ntrials: " + "[" * depth + "]" * depth + "\n"
    error = error_for(tmp_path / "deep.yaml", text)
    assert error.problems == (f"line 2: lists and mappings nested more than {MAX_DEPTH} levels deep",)


def test_nesting_at_the_limit_reaches_the_usual_checks(tmp_path: Path) -> None:
    # The top mapping is level 1, so MAX_DEPTH - 1 brackets stay within the limit.
    depth = MAX_DEPTH - 1
    error = error_for(tmp_path / "nested.yaml", "title: Nested\ntrials: " + "[" * depth + "]" * depth + "\n")
    assert all("nested more than" not in problem for problem in error.problems)
    assert any(problem.startswith("trials[0] (line 2)") for problem in error.problems), error.problems


def test_load_watchlists_reports_the_laughs_and_loads_the_rest(hostile_dir: Path) -> None:
    loaded = load_watchlists(hostile_dir)
    assert [w.name for w in loaded] == ["good"]
    [error] = loaded.errors
    assert error.path == hostile_dir / "laughs.yaml"
    assert "YAML alias *l0" in str(error)


def test_cli_watchlists_prints_the_error_and_lists_the_good_file(
    hostile_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["watchlists", "--dir", str(hostile_dir)]) == 1
    out = capsys.readouterr().out
    assert f"ERROR {hostile_dir / 'laughs.yaml'}: line 2: YAML alias *l0 (used 9 times)" in out
    assert f"good  ({hostile_dir / 'good.yaml'})" in out
    assert "1 valid, 1 invalid" in out


def test_sync_skips_the_laughs_and_fetches_the_good_watchlist(
    hostile_dir: Path,
    store,  # type: ignore[no-untyped-def]
    replay,  # type: ignore[no-untyped-def]
) -> None:
    from trialwatch.pipeline import run_sync
    from trialwatch.registry.client import CtgovClient

    loaded = load_watchlists(hostile_dir)
    client = CtgovClient(replay.base_url, min_interval=0, max_retries=1, backoff_base=0)
    summary = run_sync(store, client, loaded.watchlists, watchlist_errors=loaded.errors)
    assert summary.fetched == 1
    assert any("laughs.yaml" in failure["error"] for failure in summary.failures)


def test_digest_dag_file_imports_with_the_laughs_in_the_folder(
    hostile_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("TRIALWATCH_WATCHLISTS", str(hostile_dir))
    dags = Path(__file__).resolve().parents[2] / "dags" / "trialwatch_digest.py"
    bag = DagBag(dag_folder=str(dags))
    assert bag.import_errors == {}
    assert set(bag.dags) == {"trialwatch_digest_good"}
