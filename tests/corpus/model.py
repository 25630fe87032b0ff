"""What a corpus pair is, and how real captures are read (shared by pairs.py and histories/)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .legacy_xml import to_api_v2

REAL = Path(__file__).resolve().parent / "real"  # registry captures kept as found (SOURCES.md)

Study = dict[str, Any]
Expected = tuple[tuple[str, str, int | None], ...]


@dataclass(frozen=True)
class Pair:
    name: str
    origin: str  # real | real-derived
    sources: tuple[str, ...]
    story: str
    build: Callable[[], tuple[Study, Study]]
    expected: Expected

    @property
    def noise_only(self) -> bool:
        return not self.expected


@dataclass(frozen=True)
class Capture:
    """One stored version of a file in a public repository, kept in ``real/`` as found.

    ``chars`` is the length of the kept text; ``full_chars`` the length the source index reports for
    the whole file. They differ only where the file holds posted results: then the text is kept up to
    (not including) the ``<clinical_results>`` line, which the converter ignores anyway.
    """

    file: str
    repo: str
    path: str
    commit: str
    chars: int
    full_chars: int

    @property
    def whole(self) -> bool:
        return self.chars == self.full_chars


def read_capture(name: str) -> str:
    return (REAL / name).read_bytes().decode("utf-8")


def capture_study(name: str) -> Study:
    """A kept capture in the API v2 shape: classic XML through the converter, JSON as it is."""
    text = read_capture(name)
    if name.endswith(".json"):
        data = json.loads(text)
        return data["studies"][0] if "studies" in data else data
    if "</clinical_study>" not in text:  # kept up to the results section
        text += "\n</clinical_study>\n"
    return to_api_v2(text)


def real_captures(old: str, new: str) -> Callable[[], tuple[Study, Study]]:
    """Two captures of one record, both read the same way."""

    def build() -> tuple[Study, Study]:
        return capture_study(old), capture_study(new)

    return build
