"""pyproject's dependencies match what the code imports: core for the library, extras for the edges."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "include" / "trialwatch"
# Modules that may import an extra's packages, and which extra that is.
EXTRA_OF_MODULE = {"airflow_glue.py": "airflow", "mailsink.py": "replay"}
# Namespaces several distributions install into, and the one a project requires for them.
NAMESPACES = {"airflow": "apache-airflow"}


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!\[;~ ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def third_party_imports(path: Path) -> set[str]:
    """Distributions of the modules ``path`` imports, lazily or not, outside the stdlib and trialwatch."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            tops = [alias.name.split(".")[0] for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            tops = [node.module.split(".")[0]]
        else:
            continue
        for top in tops:
            if top in sys.stdlib_module_names or top in ("trialwatch", "__future__"):
                continue
            if top in NAMESPACES:
                found.add(NAMESPACES[top])
            else:
                found |= {dist.lower().replace("_", "-") for dist in packages_distributions()[top]}
    return found


def test_core_dependencies_are_what_the_library_imports() -> None:
    core: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name not in EXTRA_OF_MODULE:
            core |= third_party_imports(path)
    assert names(project()["dependencies"]) == core


def test_edge_modules_need_only_their_extra() -> None:
    extras = {name: names(reqs) for name, reqs in project()["optional-dependencies"].items()}
    for module, extra in EXTRA_OF_MODULE.items():
        imported = third_party_imports(PACKAGE / module)
        assert imported and imported <= extras[extra], (module, imported, extras[extra])
    assert "apache-airflow" not in names(project()["dependencies"])
