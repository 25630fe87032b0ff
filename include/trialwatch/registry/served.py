"""Study records as the registry served them: kept as bytes, decoded only where needed.

On a day when 1% of the registry changed, 99% of the fetched records only pass the batch gate:
their quick hash matches the stored one and nothing else reads them. Decoding a 27 KB record into
Python objects costs several times its hash, so a ``filter.ids`` page is split into each study's
top-level members without building them (msgspec skips over them), the quick hash reads those
bytes, and a record becomes a dict only when something asks for it.

A page whose studies hold any other top-level member than the known ones is decoded the ordinary
way (``page_of_served`` returns None): the quick hash must see everything but derivedSection.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import msgspec

from trialwatch import records, safejson
from trialwatch.records import MalformedRecord

# A study's top-level members as bytes (empty: absent), in the registry's order; any other member
# fails the decode, so the page goes the ordinary way.
_Members = msgspec.defstruct(
    "_Members",
    [(name, msgspec.Raw, msgspec.Raw()) for name in records.MEMBERS],
    forbid_unknown_fields=True,
)


class _Page(msgspec.Struct):
    studies: list[_Members]  # type: ignore[valid-type]
    nextPageToken: str | None = None
    totalCount: int | None = None


class _Identification(msgspec.Struct):
    identificationModule: dict[str, Any] = {}


_PAGE = msgspec.json.Decoder(_Page)
_IDENTIFICATION = msgspec.json.Decoder(_Identification)
_DECODE = msgspec.json.Decoder().decode
# A section's modules as bytes: the shape ``records.check_study`` asks for, read without decoding them.
_SECTION = msgspec.json.Decoder(dict[str, msgspec.Raw])
# The modules a trial's ``studies`` row reads (title, status, posting date, enrollment).
OUTLINE_MODULES = ("identificationModule", "statusModule", "designModule")
_NAMES = _Members.__struct_fields__
_KEYS = tuple((name, b'"%s":' % name.encode()) for name in _NAMES)
_QUICK = tuple((name, records.quick_member_key(name)) for name in records.QUICK_MEMBERS)


class ServedStudy(Mapping[str, Any]):
    """One study of a page: its id and aliases read at once, the rest decoded on first use (``study``).

    A read-only mapping over the decoded record, so code that reads a record reads this too.
    """

    __slots__ = ("_members", "_study", "aliases", "nct_id", "size")

    def __init__(self, members: _Members) -> None:
        self._members = members
        self._study: dict[str, Any] | None = None
        # The size as served, if compact: braces, keys, colons and commas around the members' bytes.
        present = [name for name in _NAMES if len(getattr(members, name))]
        self.size = 1 + sum(len(name) + 4 + len(getattr(members, name)) for name in present)
        ident: dict[str, Any] = {}
        if len(members.protocolSection):
            try:
                ident = _IDENTIFICATION.decode(members.protocolSection).identificationModule
            except (msgspec.MsgspecError, UnicodeDecodeError):
                # No readable id: the batch asks for the record alone, which names the problem.
                ident = {}
        nct_id = ident.get("nctId")
        self.nct_id: str | None = (
            nct_id.upper() if isinstance(nct_id, str) and records.NCT_RE.fullmatch(nct_id) else None
        )
        aliases = ident.get("nctIdAliases")
        self.aliases: frozenset[str] = (
            frozenset(alias.strip().upper() for alias in aliases if isinstance(alias, str))
            if isinstance(aliases, list)
            else frozenset()
        )

    def json(self) -> bytes:
        """The record's JSON text as served (its members' own bytes): what decoding it gives ``study``."""
        members = self._members
        return b"{%s}" % b",".join(key + raw for name, key in _KEYS if len(raw := getattr(members, name)))

    def outline(self, served: bytes) -> dict[str, Any] | None:
        """The record's shape checked as ``records.check_study`` does and the modules its overview reads
        (``OUTLINE_MODULES``) decoded, the rest not; ``served`` is ``json()``. None where only decoding
        it whole can vouch for the record (``study`` then names the problem): a section or module that
        is no object, bytes that are not UTF-8.

        The page's checks (``safejson.loads_typed``) vouched for the rest: syntax, escapes, depth and
        numbers.
        """
        if self.nct_id is None:
            return None
        if not served.isascii():
            try:
                served.decode("utf-8")
            except UnicodeDecodeError:
                return None
        outline: dict[str, Any] = {}
        with safejson.collector_paused():
            for name in records.SECTIONS:
                raw = getattr(self._members, name)
                if not len(raw):
                    continue
                try:
                    modules = _SECTION.decode(raw)
                except msgspec.MsgspecError:  # not an object (null, a list): check_study's problem
                    return None
                if not all(memoryview(module)[:1] == b"{" for module in modules.values()):
                    return None
                if name == "protocolSection":
                    outline[name] = {
                        module: _DECODE(modules[module]) for module in OUTLINE_MODULES if module in modules
                    }
        return outline

    def quick_hash(self) -> str:
        """``records.quick_hash`` of the record, read from the bytes as served."""
        members = self._members
        return records.quick_hash_of_members(
            (key, raw) for name, key in _QUICK if len(raw := getattr(members, name))
        )

    @property
    def study(self) -> dict[str, Any]:
        """The record decoded. Raises MalformedRecord, naming the record, the member and the problem,
        for what the page's checks could not see: a number out of range, bytes that are not UTF-8."""
        if self._study is None:
            study: dict[str, Any] = {}
            with safejson.collector_paused():
                for name in _NAMES:
                    raw = getattr(self._members, name)
                    if len(raw):
                        try:
                            study[name] = _DECODE(raw)
                        except (msgspec.MsgspecError, UnicodeDecodeError):
                            raise MalformedRecord(
                                f"{self.nct_id or 'a study'}: {name}: {_problem(raw)}"
                            ) from None
            self._study = study
        return self._study

    def __getitem__(self, key: str) -> Any:
        return self.study[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.study)

    def __len__(self) -> int:
        return len(self.study)

    def __repr__(self) -> str:
        return f"ServedStudy({self.nct_id or '?'})"


def page_of_served(body: bytes) -> dict[str, Any] | None:
    """A ``/studies`` page with each study as a ``ServedStudy``; None where the ordinary path must
    read it (not this shape, or not JSON ``safejson`` vouches for: it then names the problem)."""
    page = safejson.loads_typed(body, _PAGE)
    if page is None:
        return None
    data: dict[str, Any] = {"studies": [ServedStudy(members) for members in page.studies]}
    if page.nextPageToken is not None:
        data["nextPageToken"] = page.nextPageToken
    if page.totalCount is not None:
        data["totalCount"] = page.totalCount
    return data


def _problem(raw: msgspec.Raw) -> str:
    try:
        safejson.loads(bytes(raw))
    except safejson.UnsafeJSON as exc:
        return str(exc)
    return "could not be decoded"


def as_dict(study: Mapping[str, Any]) -> dict[str, Any]:
    return study.study if isinstance(study, ServedStudy) else study  # type: ignore[return-value]
