"""``evidence/VERIFY.md``: how a recipient checks a package, with or without osint-capture.

The first thing it says is what the recipient must bring, because that is what a
verdict rests on: the sender's key fingerprint, obtained from its holder through
another channel (never copied from the package), and the time-stamp authorities'
root certificates, obtained from the authorities. Then the one command that checks
everything and what its exit codes mean, then the same checks by hand with standard
tools (``sha256sum -c``, ``openssl dgst -verify``, ``openssl ts -verify``), then what
all of it proves and what it cannot. A test runs every command of it on a real export.

The text is ``templates/verify.md.j2`` (with ``_verify_addenda.md.j2`` and
``_verify_custody.md.j2``); this module works out what it names. Markdown is not
autoescaped, so the one captured text in it, each capture's URL, is made inline code
here (:func:`_md_code`) before the template sees it; a value filled in is never read
as template text again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archive.wacz.templating import render

TEMPLATE = "verify.md.j2"


@dataclass(frozen=True)
class PackagedCapture:
    """What VERIFY.md names of one capture."""

    id: str
    url: str
    manifest_sha256: str
    #: Package paths of its time-stamp tokens.
    tokens: tuple[str, ...]
    #: Its analysis runs in the package (machine drafts sealed after it), by number.
    addenda: tuple[int, ...] = ()
    #: Package paths of the tokens over its addenda, with the run each stamps.
    addendum_tokens: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class _Listed:
    """A capture as VERIFY.md lists it: its URL already safe for Markdown."""

    id: str
    url: str
    manifest_sha256: str


def verify_md(
    captures: Sequence[PackagedCapture],
    *,
    package_name: str,
    fingerprint: str,
    sums_path: str,
    has_custody: bool,
    has_anchors: bool,
    has_embedded_anchors: bool = False,
) -> str:
    return render(
        TEMPLATE,
        package_name=package_name,
        fingerprint=fingerprint,
        sums_path=sums_path,
        captures=[_Listed(c.id, _md_code(c.url), c.manifest_sha256) for c in captures],
        first=captures[0].id,
        manifest_tokens=[(c.id, token) for c in captures for token in c.tokens],
        has_addenda=any(c.addenda for c in captures),
        addendum_tokens=[
            (c.id, number, token) for c in captures for number, token in c.addendum_tokens
        ],
        has_custody=has_custody,
        has_anchors=has_anchors,
        has_embedded_anchors=has_embedded_anchors,
    )


def _md_code(text: str) -> str:
    """A URL shown as inline code, so captured text never becomes Markdown or HTML.

    Backticks and unprintable characters (newlines, bidi controls) are dropped: this is
    a reminder of which capture is which; the URL itself is in the manifest.
    """
    clean = "".join(ch for ch in str(text) if ch.isprintable() and ch != "`")
    return f"`{clean}`"
