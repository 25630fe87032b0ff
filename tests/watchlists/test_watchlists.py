"""Watchlist files: what loads, and the message each kind of mistake produces."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
from trialwatch import cli
from trialwatch.events import CATEGORIES
from trialwatch.watchlists import (
    DEFAULT_MAX_RESULTS,
    Query,
    WatchlistError,
    load_watchlist,
    load_watchlists,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "include" / "watchlists"

MINIMAL = "title: Minimal\ntrials: [NCT02185781]\n"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str, name: str = "broken.yaml") -> WatchlistError:
    path = write(tmp_path, name, text)
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    error = caught.value
    assert error.path == path
    for line in str(error).splitlines():
        assert line.startswith(f"{path}: "), line
    return error


class TestShippedWatchlists:
    def test_all_load_without_errors(self) -> None:
        loaded = load_watchlists(SHIPPED)
        assert loaded.errors == []
        assert {w.name for w in loaded} == {"nk_cell_leukemia", "partner_trials"}
        assert all(not w.warnings for w in loaded)

    def test_nk_cell_leukemia_watches_the_seed_trials_and_searches(self) -> None:
        watchlist = load_watchlists(SHIPPED).get("nk_cell_leukemia")
        assert watchlist.nct_ids == ("NCT02185781", "NCT04327037")
        assert watchlist.queries == (
            Query(
                name="NK-cell therapy, acute leukemia",
                params={"query.cond": "acute leukemia", "query.intr": "NK cells"},
                max_results=500,
            ),
        )
        assert watchlist.cadence == "daily"
        assert watchlist.min_severity == "minor"
        assert all(r.endswith("@example.org") for r in watchlist.recipients)

    def test_partner_trials_is_weekly_major_with_immediate_critical(self) -> None:
        watchlist = load_watchlists(SHIPPED).get("partner_trials")
        assert watchlist.nct_ids == ("NCT02552212", "NCT00184067")
        assert (watchlist.cadence, watchlist.min_severity, watchlist.immediate_severity) == (
            "weekly",
            "major",
            "critical",
        )
        for nct_id in watchlist.nct_ids:
            assert list((REPO / "include/trialwatch/replay/data/samples").glob(f"study_{nct_id}*.json"))

    def test_schema_comment_names_every_key(self) -> None:
        from trialwatch.watchlists import KEYS, QUERY_KEYS

        header = (SHIPPED / "nk_cell_leukemia.yaml").read_text().split("\ntitle:")[0]
        for key in (*KEYS, *QUERY_KEYS, *CATEGORIES):
            assert key in header, key


class TestTrialIds:
    def test_every_link_form_yields_the_upper_case_id(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "links.yaml",
            """\
            title: Links
            trials:
              - nct02185781
              - https://clinicaltrials.gov/study/NCT04327037?tab=history
              - https://clinicaltrials.gov/ct2/show/NCT02552212?term=certolizumab&draw=2
              - https://ctv.veeva.com/study/safety-of-expanded-haploidentical-natural-killer-cells-nct00184067
              - "Phase I study of autologous NK cells (NCT00763412), GIMEMA"
              - https://www.clinicaltrials.gov/study/NCT00973089
            """,
        )
        assert load_watchlist(path).nct_ids == (
            "NCT02185781",
            "NCT04327037",
            "NCT02552212",
            "NCT00184067",
            "NCT00763412",
            "NCT00973089",
        )

    def test_single_text_value_is_one_entry(self, tmp_path: Path) -> None:
        path = write(tmp_path, "one.yaml", "title: One\ntrials: NCT02185781\n")
        assert load_watchlist(path).nct_ids == ("NCT02185781",)

    def test_duplicates_are_watched_once_with_a_warning(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "dupes.yaml",
            """\
            title: Dupes
            trials: [NCT02185781, https://clinicaltrials.gov/study/nct02185781, NCT04327037]
            recipients: [a@example.org]
            """,
        )
        watchlist = load_watchlist(path)
        assert watchlist.nct_ids == ("NCT02185781", "NCT04327037")
        assert any("NCT02185781 more than once" in w for w in watchlist.warnings)

    def test_duplicates_are_logged_when_loading_a_directory(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        write(
            tmp_path,
            "dupes.yaml",
            "title: D\ntrials: [NCT02185781, NCT02185781]\nrecipients: [a@example.org]\n",
        )
        with caplog.at_level(logging.WARNING, logger="trialwatch.watchlists"):
            loaded = load_watchlists(tmp_path)
        assert loaded.errors == []
        assert "NCT02185781 more than once" in caplog.text


class TestDefaults:
    def test_minimal_file_gets_every_default(self, tmp_path: Path) -> None:
        watchlist = load_watchlist(write(tmp_path, "minimal.yaml", MINIMAL))
        assert watchlist.name == "minimal"
        assert watchlist.title == "Minimal"
        assert watchlist.description == ""
        assert watchlist.queries == ()
        assert watchlist.recipients == ()
        assert watchlist.cadence == "daily"
        assert watchlist.immediate_severity == "critical"
        assert watchlist.min_severity == "minor"
        assert watchlist.categories == ()
        assert watchlist.thresholds == {}
        assert watchlist.combine is True
        assert any("no recipients" in w for w in watchlist.warnings)

    def test_query_defaults_and_list_filters(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "q.yaml",
            """\
            title: Queries
            queries:
              - query.cond: melanoma
                filter.overallStatus: [recruiting, NOT_YET_RECRUITING]
              - name: by id
                filter.ids: NCT02185781, nct04327037
                max_results: 20
                query.term: 2024
            """,
        )
        first, second = load_watchlist(path).queries
        assert first.name == "query.cond=melanoma; filter.overallStatus=RECRUITING|NOT_YET_RECRUITING"
        assert first.params == {
            "query.cond": "melanoma",
            "filter.overallStatus": "RECRUITING|NOT_YET_RECRUITING",
        }
        assert first.max_results == DEFAULT_MAX_RESULTS
        assert second == Query(
            name="by id",
            params={"filter.ids": "NCT02185781|NCT04327037", "query.term": "2024"},
            max_results=20,
        )

    def test_immediate_none_disables_and_values_are_case_insensitive(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            "quiet.yaml",
            MINIMAL
            + "immediate_severity: none\ncadence: Weekly\nmin_severity: MAJOR\ncategories: [Status, dates, status]\n"
            "combine: false\nthresholds: {enrollment_major_pct: 20}\nrecipients: [A@Example.org, a@example.org]\n",
        )
        watchlist = load_watchlist(path)
        assert watchlist.immediate_severity is None
        assert (watchlist.cadence, watchlist.min_severity) == ("weekly", "major")
        assert watchlist.categories == ("status", "dates")
        assert watchlist.combine is False
        assert watchlist.thresholds == {"enrollment_major_pct": 20}
        assert watchlist.recipients == ("A@Example.org",)
        assert any("listed more than once" in w for w in watchlist.warnings)

    def test_watchlists_are_hashable_and_comparable(self, tmp_path: Path) -> None:
        path = write(tmp_path, "minimal.yaml", MINIMAL)
        assert load_watchlist(path) == load_watchlist(path)
        assert len({load_watchlist(path), load_watchlist(path)}) == 1


# (file text, fragments the message must contain). Line numbers are 1-based.
MISTAKES: dict[str, tuple[str, list[str]]] = {
    "unknown key": (
        MINIMAL + "recipient: [a@example.org]\n",
        ["unknown key 'recipient'", "line 3", "(did you mean 'recipients'?)"],
    ),
    "title missing": ("trials: [NCT02185781]\n", ["'title' is required"]),
    "title wrong type": (
        "title: [a, b]\ntrials: [NCT02185781]\n",
        ["title (line 1) must be text, got a list"],
    ),
    "trials wrong type": ("title: T\ntrials: {a: 1}\n", ["trials (line 2) must be a list", "got a mapping"]),
    "trial entry wrong type": (
        "title: T\ntrials: [2185781]\n",
        ["trials[0] (line 2) must be an NCT id", "got a number"],
    ),
    "combine wrong type": (
        MINIMAL + "combine: maybe\n",
        ["combine (line 3) must be true or false", "'maybe'"],
    ),
    "nothing to watch": (
        "title: T\nrecipients: [a@example.org]\n",
        ["nothing to watch", "'trials'", "'queries'"],
    ),
    "empty lists": ("title: T\ntrials: []\nqueries: []\n", ["nothing to watch"]),
    "entry without an id": (
        "title: T\ntrials:\n  - NCT02185781\n  - https://ctv.veeva.com/study/nk-cells\n",
        ["trials[1] (line 4): no NCT id in 'https://ctv.veeva.com/study/nk-cells'"],
    ),
    "malformed id": (
        "title: T\ntrials:\n  - NCT123\n",
        ["trials[0] (line 3): malformed NCT id 'NCT123'", "exactly 8 digits"],
    ),
    "id with nine digits": ("title: T\ntrials: [NCT021857810]\n", ["malformed NCT id 'NCT021857810'"]),
    "bad recipient": (
        MINIMAL + "recipients:\n  - ok@example.org\n  - trial office@example\n",
        ["recipients[1] (line 5): 'trial office@example' is not an email address"],
    ),
    "recipient without a domain dot": (
        MINIMAL + "recipients: [office@localhost]\n",
        ["'office@localhost' is not an email address"],
    ),
    "recipients wrong type": (
        MINIMAL + "recipients: {a: b}\n",
        ["recipients (line 3) must be a list of email addresses"],
    ),
    "bad cadence": (
        MINIMAL + "cadence: monthly\n",
        ["cadence (line 3) is 'monthly'", "allowed: daily, weekly"],
    ),
    "bad min severity": (
        MINIMAL + "min_severity: high\n",
        ["min_severity (line 3) is 'high'", "allowed: critical, major, minor, info"],
    ),
    "bad immediate severity": (
        MINIMAL + "immediate_severity: urgent\n",
        ["immediate_severity (line 3)", "critical, major, minor, info, none"],
    ),
    "bad category": (
        MINIMAL + "categories: [stauts]\n",
        ["unknown category 'stauts'", "(did you mean 'status'?)", "allowed: status, enrollment"],
    ),
    "unknown query key": (
        "title: T\nqueries:\n  - name: q\n    query.condition: leukemia\n",
        [
            "queries[0].query.condition (line 4): unknown query key 'query.condition'",
            "did you mean 'query.cond'",
        ],
    ),
    "query key without prefix": (
        "title: T\nqueries:\n  - cond: leukemia\n",
        ["unknown query key 'cond'", "did you mean 'query.cond'"],
    ),
    "query without a search": (
        "title: T\nqueries:\n  - name: everything\n",
        ["queries[0] (line 3) has no search parameter"],
    ),
    "query not a mapping": ("title: T\nqueries:\n  - leukemia\n", ["queries[0] (line 3) must be a mapping"]),
    "query bad max_results": (
        "title: T\nqueries:\n  - query.cond: x\n    max_results: 0\n",
        ["queries[0].max_results (line 4) must be a whole number of 1 or more"],
    ),
    "query bad status": (
        "title: T\nqueries:\n  - filter.overallStatus: OPEN\n",
        ["unknown status 'OPEN'", "RECRUITING"],
    ),
    "query bad filter id": ("title: T\nqueries:\n  - filter.ids: [NCT1]\n", ["'NCT1' is not an NCT id"]),
    "query names repeat": (
        "title: T\nqueries:\n  - {name: a, query.cond: x}\n  - {name: a, query.cond: y}\n",
        ["queries[1] (line 4): query name 'a' is already used by queries[0]"],
    ),
    "thresholds not numbers": (
        MINIMAL + "thresholds: {enrollment_major_pct: lots}\n",
        ["thresholds.enrollment_major_pct (line 3)", "'lots'"],
    ),
    "thresholds wrong type": (MINIMAL + "thresholds: [20]\n", ["thresholds (line 3) must be a mapping"]),
    "duplicate key": ("title: A\ntrials: [NCT02185781]\ntitle: B\n", ["title appears twice (lines 1 and 3)"]),
    "syntax error": (
        "title: T\ntrials: [NCT02185781\ncadence: daily\n",
        [
            "YAML syntax error at line 3, column 8",
            "while parsing a flow sequence started at line 2, column 9",
        ],
    ),
    "bad indentation": ("title: T\n  trials: x\n", ["YAML syntax error at line 2, column 9"]),
    "empty file": ("", ["the file is empty"]),
    "only comments": ("# nothing here\n", ["the file is empty"]),
    "top level is a list": ("- NCT02185781\n", ["the top level must be a mapping", "got a list"]),
    "top level is text": ("NCT02185781\n", ["the top level must be a mapping", "got text"]),
}


@pytest.mark.parametrize("case", list(MISTAKES), ids=list(MISTAKES))
def test_each_mistake_names_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    text, fragments = MISTAKES[case]
    error = error_for(tmp_path, text)
    message = str(error)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_every_problem_in_a_file_is_reported_at_once(tmp_path: Path) -> None:
    error = error_for(tmp_path, "title: T\ntrials: [NCT1]\ncadence: hourly\nrecipients: [nobody]\nextra: 1\n")
    assert len(error.problems) == 4
    assert len(str(error).splitlines()) == 4


def test_thresholds_are_checked_by_the_diff_module_key_by_key(tmp_path: Path) -> None:
    text = (
        MINIMAL
        + "thresholds:\n  enrollment_major_pct: 20\n  no_such_threshold: 5\n  start_major_days: soon\n"
    )
    error = error_for(tmp_path, text)
    assert error.problems[0].startswith("thresholds.no_such_threshold (line 5): unknown threshold")
    assert "enrollment_major_pct" in error.problems[0]  # the known names are listed
    assert error.problems[1].startswith("thresholds.start_major_days (line 6):")


def test_thresholds_the_diff_module_accepts_are_kept_as_written(tmp_path: Path) -> None:
    path = write(
        tmp_path, "t.yaml", MINIMAL + "thresholds: {enrollment_major_pct: 20, completion_major_days: null}\n"
    )
    assert load_watchlist(path).thresholds == {"enrollment_major_pct": 20, "completion_major_days": None}


def test_file_name_must_be_a_valid_watchlist_name(tmp_path: Path) -> None:
    error = error_for(tmp_path, MINIMAL, name="NK Cells.yaml")
    assert "file name 'NK Cells.yaml'" in str(error)


def test_unreadable_bytes_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: Études\ntrials: [NCT02185781]\n".encode("latin-1"))
    with pytest.raises(WatchlistError, match=r"latin1\.yaml: not UTF-8 text"):
        load_watchlist(path)


class TestDirectory:
    def test_one_bad_file_does_not_stop_the_others(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        write(tmp_path, "alpha.yaml", MINIMAL)
        bad = write(tmp_path, "beta.yaml", "title: Beta\ntrials: [NCT02185781\n")
        write(tmp_path, "gamma.yml", "title: Gamma\ntrials: [NCT04327037]\nrecipients: [a@example.org]\n")
        write(tmp_path, "notes.txt", "not a watchlist")
        with caplog.at_level(logging.ERROR, logger="trialwatch.watchlists"):
            loaded = load_watchlists(tmp_path)
        assert [w.name for w in loaded.watchlists] == ["alpha", "gamma"]
        assert [e.path for e in loaded.errors] == [bad]
        assert "YAML syntax error" in str(loaded.errors[0])
        assert f"{bad}: YAML syntax error" in caplog.text

    def test_two_files_with_the_same_name(self, tmp_path: Path) -> None:
        write(tmp_path, "same.yaml", MINIMAL)
        second = write(tmp_path, "same.yml", MINIMAL)
        loaded = load_watchlists(tmp_path)
        assert [w.path.name for w in loaded.watchlists] == ["same.yaml"]
        assert len(loaded.errors) == 1
        assert str(loaded.errors[0]).startswith(
            f"{second}: watchlist name 'same' is already used by same.yaml"
        )

    def test_missing_directory_is_an_error_not_a_crash(self, tmp_path: Path) -> None:
        loaded = load_watchlists(tmp_path / "nowhere")
        assert loaded.watchlists == []
        assert "watchlist directory does not exist" in str(loaded.errors[0])

    def test_default_directory_comes_from_settings(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write(tmp_path, "mine.yaml", MINIMAL)
        monkeypatch.setenv("TRIALWATCH_WATCHLISTS", str(tmp_path))
        assert [w.name for w in load_watchlists()] == ["mine"]

    def test_get_and_all_nct_ids(self, tmp_path: Path) -> None:
        write(tmp_path, "a.yaml", "title: A\ntrials: [NCT04327037, NCT02185781]\n")
        write(tmp_path, "b.yaml", "title: B\ntrials: [NCT02185781, NCT00184067]\n")
        loaded = load_watchlists(tmp_path)
        assert loaded.get("b").title == "B"
        assert loaded.all_nct_ids() == ["NCT00184067", "NCT02185781", "NCT04327037"]
        with pytest.raises(KeyError, match="no watchlist named 'c'; known watchlists: a, b"):
            loaded.get("c")


class TestCommand:
    def test_valid_directory_prints_each_watchlist(self, capsys: pytest.CaptureFixture[str]) -> None:
        assert cli.main(["watchlists", "--dir", str(SHIPPED)]) == 0
        out = capsys.readouterr().out
        assert "nk_cell_leukemia" in out and "partner_trials" in out
        assert "NCT02185781, NCT04327037" in out
        assert "query.cond=acute leukemia; query.intr=NK cells" in out
        assert "trial-office@example.org" in out
        assert "weekly" in out
        assert "2 valid, 0 invalid" in out

    def test_invalid_file_prints_the_error_and_exits_1(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        write(tmp_path, "good.yaml", MINIMAL)
        bad = write(tmp_path, "bad.yaml", MINIMAL + "cadence: monthly\n")
        assert cli.main(["watchlists", "--dir", str(tmp_path)]) == 1
        out = capsys.readouterr().out
        assert f"ERROR {bad}: cadence (line 3) is 'monthly'" in out
        assert "good  (" in out
        assert "1 valid, 1 invalid" in out
