"""docs/reliability.md: every row of the fault matrix is complete and names a test that exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MATRIX = REPO / "docs" / "reliability.md"
HEADER = ["#", "cell", "how injected", "expected outcome", "test"]
TEST_ID = re.compile(r"^`(tests/[\w/]+\.py)((?:::\w+)+)`$")


def _rows() -> list[list[str]]:
    rows = []
    for line in MATRIX.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| ") or line.startswith("|---"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if cells != HEADER:
            rows.append(cells)
    return rows


def _defined(path: Path, names: list[str]) -> bool:
    """Whether ``Class::test`` or ``test`` is defined at that nesting in the file."""
    body: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8")).body
    for name in names:
        found = next(
            (
                node
                for node in body
                if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.name == name
            ),
            None,
        )
        if found is None:
            return False
        body = found.body if isinstance(found, ast.ClassDef) else []
    return True


ROWS = _rows()


def test_the_matrix_has_rows_with_unique_numbers() -> None:
    numbers = [row[0] for row in ROWS]
    assert len(numbers) >= 80, len(numbers)  # the bar for the matrix
    assert len(numbers) == len(set(numbers)), [n for n in numbers if numbers.count(n) > 1]


@pytest.mark.parametrize("row", ROWS, ids=[row[0] for row in ROWS])
def test_each_row_is_complete_and_names_an_existing_test(row: list[str]) -> None:
    assert len(row) == len(HEADER), row
    assert all(row), f"{row[0]}: a column is empty"
    assert re.fullmatch(r"[A-Z]\d+", row[0]), f"{row[0]}: numbers are a section letter and a number"
    match = TEST_ID.match(row[-1])
    assert match, f"{row[0]}: the test column must be `tests/…py::name`, got {row[-1]!r}"
    path = REPO / match.group(1)
    assert path.is_file(), f"{row[0]}: {match.group(1)} does not exist"
    names = match.group(2).strip(":").split("::")
    assert _defined(path, names), f"{row[0]}: {match.group(1)} defines no {'::'.join(names)}"
