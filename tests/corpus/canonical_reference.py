"""The canonical form written the plain way: one recursive walk, every list item's sort key in full.

``records.canonical_form`` takes shortcuts for speed (memoised texts, JSON text only for tied sort
keys, regexes that skip texts they cannot change); the tests hold it to this walk's output, byte
for byte. ``normalize_markup`` is written here the plain way too; the other text rules
(``repair_text``, ``parse_criteria``) and the per-path rules (``records._ROOT_SHAPE``) are the
records module's own.
"""

from __future__ import annotations

import json
import re
from typing import Any

from trialwatch import records

_LIST_MARKER_RE = re.compile(
    r"^[ \t]*(?:[-*+•·▪◦]|\(?(?:\d{1,3}|[A-Za-z]|[ivxIVX]{1,5})[.)])[ \t]+", re.MULTILINE
)
_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>|~^=])")
_EMPHASIS_RE = re.compile(r"\*+|(?<![0-9A-Za-z])_+|_+(?![0-9A-Za-z])")


def normalize_markup(text: str) -> str:
    text = _LIST_MARKER_RE.sub("- ", text)
    text = _ESCAPE_RE.sub(r"\1", text)
    text = _EMPHASIS_RE.sub("", text)
    return " ".join(text.split())


def _fold(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return " ".join(value.split()).casefold()
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _identity_key(item: Any, identity: tuple[str, ...]) -> tuple[str, ...]:
    if not identity or not isinstance(item, dict):
        return (_fold(item),)
    return tuple(_fold(item.get(name)) for name in identity)


def _sort_key(identity: tuple[str, ...]) -> Any:
    def key(item: Any) -> tuple[tuple[str, ...], str]:
        return _identity_key(item, identity), json.dumps(item, sort_keys=True, ensure_ascii=False)

    return key


def _is_empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


def _canon(value: Any, shape: Any) -> Any:
    if isinstance(value, str):
        if len(value) > records.HUGE_TEXT_CHARS:
            return records.squash_whitespace(value)
        value = records.repair_text(value)
        if shape.criteria:
            return {name: sorted(items) for name, items in records.parse_criteria(value).items()}
        if shape.markup:
            return normalize_markup(value)
        return records.squash_whitespace(value)
    if isinstance(value, dict):
        canonical = {}
        for key, item in value.items():
            if (
                key in shape.drop
                or _is_empty(item)
                or (key in shape.defaults and item == shape.defaults[key])
            ):
                continue
            item = _canon(item, shape.children.get(key, records._NO_SHAPE))
            if not _is_empty(item):
                canonical[key] = item
        return canonical
    if isinstance(value, list):
        items = [_canon(item, shape) for item in value]
        if shape.identity is not None:
            if shape.identity:
                items.sort(key=_sort_key(shape.identity))
            else:
                items.sort(key=_fold)
        return items
    return value


def canonical_form(study: dict[str, Any]) -> dict[str, Any]:
    return _canon(study, records._ROOT_SHAPE)  # type: ignore[no-any-return]
