"""Every `trialwatch` command in the README's ```bash blocks runs as printed against a demo's state.

The demo state: by default this runs `trialwatch demo` once into a temporary folder (about a
minute, through Airflow). After `make demo`, `TRIALWATCH_README_DEMO=.demo` reuses that folder
instead, which is exactly "the README's commands work after make demo". `TRIALWATCH_HOME=.demo`
in a command is pointed at the demo state either way. Placeholders get real files: OLD.json and
NEW.json are two registry versions of one study, RECORD.json a real record, and /tmp/... paths move into the test's folder.
`make` lines are not run here.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STUDY = REPO / "include/trialwatch/replay/data/studies/NCT04327037"
SAMPLES = REPO / "include/trialwatch/replay/data/samples"
PLACEHOLDERS = {
    "OLD.json": str(STUDY / "v2.json"),
    "NEW.json": str(STUDY / "v3.json"),
    # completed in 2020 with FDA flags and no results: "results overdue" by 2026
    "RECORD.json": str(SAMPLES / "study_NCT03418623.json"),
}
PROGRAMS = {"trialwatch", ".venv/bin/trialwatch"}

pytestmark = [pytest.mark.readme, pytest.mark.airflow]


def readme_commands() -> list[str]:
    """The lines of the README's bash blocks that run the trialwatch command."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            program = next((w for w in words if not re.match(r"^[A-Z_][A-Z0-9_]*=", w)), None)
            if program in PROGRAMS:
                found.append(line)
    return found


COMMANDS = readme_commands()


def test_the_readme_shows_the_commands_this_test_runs() -> None:
    assert any("digest preview" in line for line in COMMANDS), COMMANDS
    assert any(" diff " in line for line in COMMANDS), COMMANDS
    assert any(" watchlists" in line for line in COMMANDS), COMMANDS
    assert any(" findings " in line for line in COMMANDS), COMMANDS


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    given = os.environ.get("TRIALWATCH_README_DEMO")
    if given:
        home = (REPO / given).resolve()
        assert (home / "trialwatch.db").is_file(), (
            f"TRIALWATCH_README_DEMO={given}: no trialwatch.db (run make demo)"
        )
        yield home
        return
    home = tmp_path_factory.mktemp("readme-demo") / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "trialwatch.cli", "demo", "--workdir", str(home)],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    yield home


def clean_env() -> dict[str, str]:
    """This process's environment without trialwatch settings, so only the command's own apply."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("TRIALWATCH_", "AIRFLOW_CONN_"))}


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_command_runs_as_printed(line: str, demo_home: Path, tmp_path: Path) -> None:
    words = shlex.split(line, comments=True)
    env = clean_env()
    while re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = str(demo_home) if (name, value) == ("TRIALWATCH_HOME", ".demo") else value
    words.pop(0)  # the program: run as `python -m trialwatch.cli`, the console script's own main()
    stdin = None
    if "<" in words:
        at = words.index("<")
        stdin = Path(PLACEHOLDERS.get(words[at + 1], words[at + 1])).read_text(encoding="utf-8")
        del words[at : at + 2]
    argv = []
    for word in words:
        if word in PLACEHOLDERS:
            argv.append(PLACEHOLDERS[word])  # a real file in the repo, wherever the clone lives
            continue
        if word.startswith("/tmp/"):
            word = str(tmp_path / word.removeprefix("/tmp/"))
        argv.append(word)

    result = subprocess.run(
        [sys.executable, "-m", "trialwatch.cli", *argv],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    # With --exit-code, 1 says the records differ, and v2 → v3 of NCT04327037 do differ.
    expected = 1 if "--exit-code" in argv else 0
    assert result.returncode == expected, (
        f"{line}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
    )
    assert "error" not in result.stderr.lower(), result.stderr
    if argv[:2] == ["digest", "preview"]:
        out = Path(argv[argv.index("--out") + 1])
        assert sorted(p.suffix for p in out.iterdir()) == [".csv", ".eml", ".html", ".txt", ".xml"]
        watchlist = yaml.safe_load(
            (REPO / "include/watchlists" / f"{argv[2]}.yaml").read_text(encoding="utf-8")
        )
        message = email.message_from_bytes(next(out.glob("*.eml")).read_bytes(), policy=email.policy.default)
        assert watchlist["title"] in message["Subject"]
        assert message["To"] == watchlist["recipients"][0]
    if argv[:1] == ["diff"]:
        assert "NCT04327037" in result.stdout
    if argv[:1] == ["findings"]:
        assert "NCT03418623" in result.stdout and "2021-03-13" in result.stdout
    if argv[:1] == ["watchlists"]:
        assert "nk_cell_leukemia" in result.stdout and "0 invalid" in result.stdout
