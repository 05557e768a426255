"""The index and the page list, held to the WARC records they point at.

A replay tool trusts ``indexes/index.cdxj`` to say which record answers a URL, and
``pages/pages.jsonl`` to say which pages the package holds. Both are signed with the
rest, but a signature only proves who wrote them, not that they are true: an index
line that sends a URL to another record would show a viewer something the page never
returned. So every index line must point at a record that exists at its offset, with
its length, URI, date, status and the digests it names; every record an index should
list must be listed; and every page must be a capture of the package, with a record
of its URL in that capture's WARC (by the key replay looks it up by).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from surt import surt

from archive.evidence.checks import Check, Outcome
from archive.wacz.layout import INDEX_RECORDS
from archive.wacz.warc_check import RecordFacts

INDEX_CHECK = "index"
PAGES_CHECK = "pages"
#: The record types an index of ours lists.
INDEXED_TYPES = tuple(INDEX_RECORDS.split(","))
#: Failures reported one by one; the rest are counted.
MAX_REPORTED = 20


@dataclass(frozen=True)
class IndexLine:
    number: int
    filename: str
    offset: int
    length: int
    fields: dict[str, Any]
    timestamp: str


def parse_index(data: bytes, index_path: str) -> tuple[list[IndexLine], list[str]]:
    """The lines of a CDXJ index (``urlkey timestamp {json}``), and the malformed ones."""
    lines, problems = [], []
    for number, raw in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not raw.strip():
            continue
        parts = raw.split(" ", 2)
        try:
            fields = json.loads(parts[2])
            line = IndexLine(
                number,
                str(fields["filename"]),
                int(fields["offset"]),
                int(fields["length"]),
                fields,
                parts[1],
            )
        except (IndexError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"{index_path} line {number} is not a CDXJ line of ours ({exc!r})")
            continue
        lines.append(line)
    if not lines and not problems:
        problems.append(f"{index_path} is empty: replay would find nothing")
    return lines, problems


def check_index(
    lines: list[IndexLine],
    malformed: list[str],
    warcs: Mapping[str, Mapping[int, RecordFacts]],
    *,
    index_path: str,
    archive_dir: str,
) -> list[Check]:
    """Each index line against its record; each indexable record against the index."""
    problems = list(malformed)
    listed: set[tuple[str, int]] = set()
    for line in lines:
        name = f"{archive_dir}/{line.filename}"
        where = f"{index_path} line {line.number}"
        records = warcs.get(name)
        if records is None:
            problems.append(f"{where} points at {name}, which is not a WARC of the package")
            continue
        listed.add((name, line.offset))
        problem = _line_problem(line, records.get(line.offset))
        if problem:
            problems.append(f"{where} ({line.fields.get('url')!r}): {problem}")
    for name, records in sorted(warcs.items()):
        for facts in records.values():
            if facts.type in INDEXED_TYPES and (name, facts.offset) not in listed:
                problems.append(
                    f"{name}: the {facts.type} record at offset {facts.offset} ({facts.uri!r})"
                    f" is not in {index_path}"
                )
    if not problems:
        return [
            Check(
                INDEX_CHECK,
                Outcome.OK,
                f"{index_path}: {len(lines)} lines, each pointing at its record with the URI,"
                " date and digests it names; every record is indexed",
            )
        ]
    return _failures(INDEX_CHECK, problems)


def _line_problem(line: IndexLine, facts: RecordFacts | None) -> str | None:
    """What the line says that its record contradicts.

    ``recordDigest`` (the SHA-256 of the record's compressed bytes) is not hashed again:
    the WARC's own SHA-256 is checked against the signed ``datapackage.json``, and the
    record's content against its block and payload digests; a second pass over every
    byte would add time, not proof.
    """
    if facts is None:
        return f"no record starts at offset {line.offset}"
    fields = line.fields
    expected = {
        "length": (line.length, facts.length),
        "url": (fields.get("url"), facts.uri),
        "timestamp": (line.timestamp, facts.timestamp),
        "digest": (fields.get("digest"), facts.payload_digest),
    }
    if "status" in fields:
        expected["status"] = (str(fields["status"]), facts.http_status)
    wrong = [
        f"{name} {said!r} but the record has {actual!r}"
        for name, (said, actual) in expected.items()
        if said != actual
    ]
    if facts.type not in INDEXED_TYPES:
        wrong.append(f"it is a {facts.type} record, which replay must not serve")
    return "; ".join(wrong) or None


def check_pages(
    data: bytes | None,
    manifests: Mapping[str, Mapping[str, Any]],
    warcs: Mapping[str, Mapping[int, RecordFacts]],
    *,
    pages_path: str,
    archive_dir: str,
) -> list[Check]:
    """Every page is a capture of the package whose WARC holds a record of its URL."""
    if data is None:
        return [Check(PAGES_CHECK, Outcome.FAILED, f"{pages_path} is missing or too large")]
    problems: list[str] = []
    seen: set[str] = set()
    lines = data.decode("utf-8", "replace").splitlines()
    for number, raw in enumerate(lines[1:], 2):
        if raw.strip():
            problem = _page_problem(raw, manifests, warcs, archive_dir, seen)
            if problem:
                problems.append(f"{pages_path} line {number}: {problem}")
    missing = sorted(set(manifests) - seen)
    problems += [f"{pages_path} lists no page for capture {cid}" for cid in missing]
    if not lines or not lines[0].startswith('{"format"'):
        problems.insert(0, f"{pages_path} does not start with its format line")
    if not problems:
        return [
            Check(
                PAGES_CHECK,
                Outcome.OK,
                f"{pages_path}: {len(seen)} pages, each a capture of the package with a record"
                " of its URL",
            )
        ]
    return _failures(PAGES_CHECK, problems)


def _page_problem(
    raw: str,
    manifests: Mapping[str, Mapping[str, Any]],
    warcs: Mapping[str, Mapping[int, RecordFacts]],
    archive_dir: str,
    seen: set[str],
) -> str | None:
    try:
        page = json.loads(raw)
        capture_id, url = str(page["id"]), page["url"]
    except (ValueError, KeyError, TypeError) as exc:
        return f"not a page ({exc!r})"
    manifest = manifests.get(capture_id)
    if manifest is None:
        return f"page {capture_id!r} is no capture of the package"
    if capture_id in seen:
        return f"capture {capture_id} is listed twice"
    seen.add(capture_id)
    if url != manifest.get("url"):
        return f"page {capture_id} says {url!r}, its manifest {manifest.get('url')!r}"
    records = warcs.get(f"{archive_dir}/{manifest.get('warc')}", {})
    key = _lookup_key(url)
    if not any(f.type in INDEXED_TYPES and _lookup_key(f.uri) == key for f in records.values()):
        return f"page {capture_id}: no record of {url!r} in {archive_dir}/{manifest.get('warc')}"
    return None


def _lookup_key(url: object) -> str:
    """The key replay looks a URL up by (SURT, as the index's first column): the browser
    never sends a fragment and gives a bare origin its slash, so the record of the page
    asked for may not carry its URL to the letter."""
    try:
        return surt(str(url))
    except Exception:  # a URL surt cannot read matches only itself
        return f"unreadable:{url}"


def _failures(name: str, problems: list[str]) -> list[Check]:
    checks = [Check(name, Outcome.FAILED, problem) for problem in problems[:MAX_REPORTED]]
    if len(problems) > MAX_REPORTED:
        checks.append(Check(name, Outcome.FAILED, f"{len(problems) - MAX_REPORTED} more problems"))
    return checks
