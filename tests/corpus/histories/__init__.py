"""Real successive captures of real records, one module per record.

Each module declares ``CAPTURES`` (where each kept file comes from: repository, path, commit and
its length in the source index) and ``PAIRS`` (consecutive captures, with the events a trial office
expects, written from reading the two files). This package gathers them.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..model import Capture, Pair


def _modules() -> list:
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)
    ]


CAPTURES: tuple[Capture, ...] = tuple(c for module in _modules() for c in module.CAPTURES)
PAIRS: tuple[Pair, ...] = tuple(p for module in _modules() for p in module.PAIRS)
