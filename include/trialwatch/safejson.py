"""JSON parsing for input nobody vouches for: registry answers and files given to ``trialwatch diff``.

``json.loads`` accepts NaN and Infinity (not JSON), turns ``1e999`` into infinity, fails with a
RecursionError on deep nesting and with a bare ValueError on numbers past Python's 4,300-digit
int limit. ``loads`` refuses all of these with ``UnsafeJSON``, one line naming the problem.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Real study records nest about 12 levels deep; anything far deeper is not a record and would
# also exhaust the recursion of the canonical form and the diff.
MAX_DEPTH = 64
# The longest number a record holds is a count or a measurement value; 100 digits is generous.
MAX_NUMBER_CHARS = 100


class UnsafeJSON(ValueError):
    """Text that is not JSON a record can be: malformed, non-finite numbers, too deep, too long a number."""


class NotJSON(UnsafeJSON):
    """Not JSON at all (an HTML page, a truncated body, not UTF-8)."""


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_number_chars: int = MAX_NUMBER_CHARS) -> Any:
    """``json.loads`` with NaN/Infinity, over-long numbers and nesting deeper than ``max_depth`` refused.

    Raises ``UnsafeJSON`` for those and for any text that is not JSON at all (with line and column).
    """
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise NotJSON(f"not UTF-8 text (byte {exc.start})") from None

    def number(kind: str) -> Any:
        def parse(literal: str) -> Any:
            if len(literal) > max_number_chars:
                raise UnsafeJSON(
                    f"a number of {len(literal)} characters, more than the {max_number_chars} allowed"
                )
            value = int(literal) if kind == "int" else float(literal)
            if kind == "float" and not math.isfinite(value):
                raise UnsafeJSON(f"the number {literal} is out of range")
            return value

        return parse

    def constant(name: str) -> Any:
        raise UnsafeJSON(f"{name} is not a JSON value")

    try:
        data = json.loads(text, parse_int=number("int"), parse_float=number("float"), parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise NotJSON(f"not JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:  # the parser recurses per level: thousands of levels end here
        raise UnsafeJSON(f"nested more than {max_depth} levels deep") from None
    depth = nesting_depth(data, stop_after=max_depth)
    if depth > max_depth:
        raise UnsafeJSON(f"nested more than {max_depth} levels deep")
    return data


def nesting_depth(value: Any, *, stop_after: int | None = None) -> int:
    """How deep lists and dicts nest in ``value`` (a scalar is 0); stops early past ``stop_after``."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if stop_after is not None and depth > stop_after:
                break
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
    return deepest


def dumps(value: Any, **kwargs: Any) -> str:
    """``json.dumps`` that never writes NaN or Infinity (they are not JSON): ValueError instead."""
    return json.dumps(value, allow_nan=False, **kwargs)
