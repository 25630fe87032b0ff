"""How a stored version's record is kept: compact JSON, zstandard-compressed with a shipped dictionary.

Records of one registry share most of their keys and many phrases, so a dictionary trained on real
records (``record_dictionary.zstd``, see ``record_dictionary.md``) shrinks each about sevenfold,
where compressing one record alone gains far less. Every reader of a stored record goes through
``decode_record``; the frame names its dictionary, so a rebuilt dictionary would be told apart.
"""

from __future__ import annotations

import gc
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import zstandard

DICTIONARY_FILE = Path(__file__).resolve().parent / "record_dictionary.zstd"
# zstd's fast end: most of the gain is the dictionary's, and the sync compresses every new version.
# On the bench's 27 KB records level 1 took 61 µs and 4,834 B per record, level 3 90 µs and 4,572 B.
LEVEL = 1

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@cache
def _dictionary() -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(DICTIONARY_FILE.read_bytes())


@cache
def _compressor() -> zstandard.ZstdCompressor:
    return zstandard.ZstdCompressor(level=LEVEL, dict_data=_dictionary())


@cache
def _decompressor() -> zstandard.ZstdDecompressor:
    return zstandard.ZstdDecompressor(dict_data=_dictionary())


def encode_record(record: Any, *, served: bytes | None = None) -> bytes:
    """The stored bytes of a record (any JSON value); ``served``: its JSON text as the registry served
    it, where the caller has it (decoding it gave ``record``), stored instead of encoding ``record``."""
    return _compressor().compress(_encode(record) if served is None else served)


def record_json(blob: bytes | memoryview) -> bytes:
    """The compact JSON text of a stored record, for readers that decode only part of it."""
    return _decompressor().decompress(bytes(blob))


def decode_record(blob: bytes | memoryview | None) -> Any:
    """The record stored as ``blob`` (None stays None)."""
    if blob is None:
        return None
    text = _decompressor().decompress(bytes(blob))
    enabled = gc.isenabled()
    gc.disable()  # as in safejson: collections during a decode cost more than the decode
    try:
        return _decode(text)
    finally:
        if enabled:
            gc.enable()


def posted_of(record: Any) -> str | None:
    """The record's last-update posting date, kept beside it so the store can sort by it."""
    try:
        posted = record["protocolSection"]["statusModule"]["lastUpdatePostDateStruct"]["date"]
    except (KeyError, TypeError):
        return None
    return posted[:10] if isinstance(posted, str) else None
