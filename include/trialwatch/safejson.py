"""JSON parsing for input nobody vouches for: registry answers and files given to ``trialwatch diff``.

``json.loads`` accepts NaN and Infinity (not JSON), turns ``1e999`` into infinity, fails with a
RecursionError on deep nesting and with a bare ValueError on numbers past Python's 4,300-digit
int limit. ``loads`` refuses all of these with ``UnsafeJSON``, one line naming the problem.

Registry pages are megabytes, so ``loads`` parses with msgspec (C), checks the depth level by level
and number lengths with bytes operations; whatever this fast path does not vouch for is parsed again
by the strict ``json`` path, which names the problem.
"""

from __future__ import annotations

import gc
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import msgspec

# Real study records nest about 12 levels deep; anything far deeper is not a record and would
# also exhaust the recursion of the canonical form and the diff.
MAX_DEPTH = 64
# The longest number a record holds is a count or a measurement value; 100 digits is generous.
MAX_NUMBER_CHARS = 100


class UnsafeJSON(ValueError):
    """Text that is not JSON a record can be: malformed, non-finite numbers, too deep, too long a number."""


class NotJSON(UnsafeJSON):
    """Not JSON at all (an HTML page, a truncated body, not UTF-8)."""


_DECODER = msgspec.json.Decoder()
_NOT_VOUCHED = object()
# Number characters become "0" but the exponent's "e", everything else a space. A long run of "0"
# may be a long number, and "0e000" an exponent of three digits or more (or a signed one of two):
# the only way a number of at most MAX_NUMBER_CHARS leaves a float's range. Either may also be a
# text's, which the exact check then clears.
_NUMBER_CHARS = bytes.maketrans(
    bytes(range(256)),
    bytes(0x30 if chr(c) in "0123456789+-." else 0x65 if chr(c) in "eE" else 0x20 for c in range(256)),
)
_NUMBER = re.compile(rb"-?[0-9][0-9.eE+-]*")
_BIG_EXPONENT = re.compile(rb"[eE]\+?[0-9]{3}")


def loads(text: str | bytes, *, max_depth: int = MAX_DEPTH, max_number_chars: int = MAX_NUMBER_CHARS) -> Any:
    """``json.loads`` with NaN/Infinity, over-long numbers and nesting deeper than ``max_depth`` refused.

    Raises ``UnsafeJSON`` for those and for any text that is not JSON at all (with line and column).
    """
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    data = _vouched(raw, _DECODER, max_depth, max_number_chars)
    if data is not _NOT_VOUCHED:
        return data
    return _strict_loads(text, max_depth=max_depth, max_number_chars=max_number_chars)


def loads_typed(
    raw: bytes,
    decoder: msgspec.json.Decoder,
    *,
    max_depth: int = MAX_DEPTH,
    max_number_chars: int = MAX_NUMBER_CHARS,
) -> Any:
    """``raw`` decoded by a typed msgspec decoder, under the depth and number-length checks of ``loads``;
    None where it does not fit the type or the checks do not vouch for it (``loads`` then parses it, or
    names the problem).

    What a typed decode skips over (``msgspec.Raw``) it does not read, but its syntax, escapes,
    depth and numbers are vouched for, a number out of a float's range included. Bytes that are not
    UTF-8 there show only when that part is decoded (``loads`` then names the problem).
    """
    data = _vouched(raw, decoder, max_depth, max_number_chars)
    return None if data is _NOT_VOUCHED else data


def _vouched(raw: bytes, decoder: msgspec.json.Decoder, max_depth: int, max_number_chars: int) -> Any:
    """The fast path: ``raw`` decoded, or ``_NOT_VOUCHED`` where it is not JSON ``decoder`` reads (NaN,
    out of range, a BOM, bytes that are not UTF-8, another shape) or fails the depth or number checks."""
    try:
        with collector_paused():
            data = decoder.decode(raw)
    except (msgspec.MsgspecError, RecursionError, UnicodeDecodeError):
        return _NOT_VOUCHED
    if _deeper_than(raw, max_depth) or _may_hold_unsafe_number(raw, max_number_chars):
        return _NOT_VOUCHED
    return data


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection while a page becomes objects: a decode allocates only what it keeps,
    and collections of a heap that grows by megabytes cost more than the decode."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# Every byte but the four brackets and the quote: what is left of a text's structure once they
# are deleted (escapes taken out first).
_NOT_STRUCTURE = bytes(c for c in range(256) if c not in b'[]{}"')
# Valid JSON closes each bracket with its own kind, so for the depth one kind of pair is enough, and
# deleting "()" is a plain bytes.replace, several times faster than a regex over two kinds.
_ONE_KIND = bytes.maketrans(b"[]{}", b"()()")
# A backslash and the byte it escapes: one regex pass, several times faster on registry pages than
# two bytes.replace passes (their two-byte search is slow where backslashes are frequent).
_ESCAPES = re.compile(rb"\\.", re.DOTALL)


def _deeper_than(raw: bytes, max_depth: int) -> bool:
    """Whether valid JSON ``raw`` nests lists and dicts more than ``max_depth`` deep.

    Its brackets outside strings, alone, are balanced; each pass deletes the innermost pairs (those
    holding no container), one level, so the number of passes that empties them is the depth. All
    in C: a Python walk of the decoded page cost more than the decode itself.
    """
    brackets = _brackets_outside_strings(raw).translate(_ONE_KIND)
    for _ in range(max_depth):
        if not brackets:
            return False
        brackets = brackets.replace(b"()", b"")
    return bool(brackets)


def _brackets_outside_strings(raw: bytes) -> bytes:
    r"""The brackets of valid JSON ``raw`` that are not inside a string, in order.

    Escapes go first: each backslash with the byte it escapes, left to right, so the quote of
    ``\\"`` (an escaped backslash) still closes its string and that of ``\"`` does not.
    Then every byte but brackets and quotes. Two adjacent quotes then close one string and open
    the next, or enclose nothing left: deleting them keeps every other quote's role, and leaves
    quotes only around the rare strings that hold a bracket; only those need the exact split.
    """
    if b"\\" in raw:
        raw = _ESCAPES.sub(b"", raw)
    structure = raw.translate(None, _NOT_STRUCTURE).replace(b'""', b"")
    if b'"' not in structure:
        return structure
    return b"".join(structure.split(b'"')[0::2])


def _may_hold_unsafe_number(raw: bytes, max_number_chars: int) -> bool:
    """False if valid JSON ``raw`` has no number longer than ``max_number_chars`` characters and none
    with an exponent that may put it out of a float's range (a typed decode skips over numbers)."""
    numbers = raw.translate(_NUMBER_CHARS)
    # A number longer than the limit either has such an exponent or a run of limit - 2 characters
    # before its "e" (an exponent of at most "e+9" or "e99" is three characters).
    if not _may_hold_big_exponent(numbers) and b"0" * (max_number_chars - 2) not in numbers:
        return False
    return any(
        len(number) > max_number_chars or _BIG_EXPONENT.search(number)
        for number in _NUMBER.findall(_outside_strings(raw))
    )


def _may_hold_big_exponent(numbers: bytes) -> bool:
    """Whether ``numbers`` (translated by ``_NUMBER_CHARS``) holds "0e000". Searched as "e000", then
    the byte before it: far faster on long runs of "0", and texts such as "PLoS One. e0123456"
    (no digit before the "e") are not candidates."""
    at = numbers.find(b"e000")
    while at != -1:
        if at and numbers[at - 1] == 0x30:
            return True
        at = numbers.find(b"e000", at + 1)
    return False


def _outside_strings(raw: bytes) -> bytes:
    r"""The bytes of valid JSON ``raw`` that are not inside a string (the strings' quotes go too).

    Inside a valid string every backslash starts a two-character escape, so taking ``\`` pairs
    first, left to right, leaves exactly the escaped quotes as ``"``; the remaining quotes then
    alternate opening and closing.
    """
    if b"\\" in raw:
        raw = _ESCAPES.sub(b"__", raw)
    return b"".join(raw.split(b'"')[0::2])


def _strict_loads(text: str | bytes, *, max_depth: int, max_number_chars: int) -> Any:
    """The reference parser: slow, but names every problem (the fast path falls back to it)."""
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
