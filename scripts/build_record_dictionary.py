"""Rebuild the store's zstandard dictionary from the real sample records (see record_dictionary.md).

    .venv/bin/python scripts/build_record_dictionary.py

Samples: every study record in include/trialwatch/replay/data/samples (single records and the
studies of search answers), each whole and each of its modules alone, as compact JSON. Rebuilding
changes the dictionary's id: versions stored with the old one would no longer decode, so a new
dictionary needs a migration that re-compresses them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import msgspec
import zstandard

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "include/trialwatch/replay/data/samples"
OUT = REPO / "include/trialwatch/store/record_dictionary.zstd"
SIZE = 32 * 1024


def sample_records() -> list[dict]:
    found: dict[bytes, dict] = {}
    for path in sorted(SAMPLES.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        studies = data.get("studies", []) if isinstance(data, dict) else []
        if isinstance(data, dict) and "protocolSection" in data:
            studies = [data]
        for study in studies:
            found.setdefault(msgspec.json.encode(study), study)
    return list(found.values())


def main() -> None:
    samples = []
    for study in sample_records():
        samples.append(msgspec.json.encode(study))
        for section, modules in study.items():
            if isinstance(modules, dict):
                samples += [msgspec.json.encode({section: {name: value}}) for name, value in modules.items()]
    dictionary = zstandard.train_dictionary(SIZE, samples)
    OUT.write_bytes(dictionary.as_bytes())
    print(
        f"{OUT.relative_to(REPO)}: {len(dictionary.as_bytes()):,} bytes, id {dictionary.dict_id()}, "
        f"from {len(samples)} samples",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
