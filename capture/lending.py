"""Cookies lent for one capture, carried to a worker on another machine (team mode).

An embedded server holds lent cookies in memory and hands them to the capture it runs
(:class:`capture.requests.LentCookies`). In team mode the capture runs in another
process, often on another machine, so the cookies must cross the catalog; they never
cross it in the clear. The server seals them with AES-256-GCM under a key every
process of the team shares (``OSINT_CAPTURE_LENDING_KEY``: 32 random bytes,
base64url; ``osint-capture config lending-key`` prints a fresh one), with the capture's
id as associated data, so a sealed blob opens only as the cookies of that capture. The
catalog keeps the ciphertext beside the queued row, in the row's own transaction
(:mod:`archive.catalog.lending`), and the worker that claims the capture takes it in
the claim's transaction: from then on it is gone from the catalog, and the cookies
live in the worker's memory for that one attempt, as on one machine.

A team server without the key refuses a request that lends cookies
(:class:`LendingKeyMissing`, HTTP 409) rather than capture without them unasked. A
worker that cannot open them (no key, another key) runs the capture without them and
its manifest says why (the capture is partial). Cookies are never logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from archive.errors import BadInput, Conflict, Failed
from capture.requests import LentCookies

log = logging.getLogger(__name__)

#: Where every process of a team finds the shared key.
LENDING_KEY_ENV = "OSINT_CAPTURE_LENDING_KEY"
KEY_BYTES = 32
NONCE_BYTES = 12
#: The first byte of every sealed blob: the form it was sealed in.
SEALED_FORM = b"\x01"
_CONTEXT = b"osint-capture lent cookies v1\x00capture "

#: Why a capture that was sent cookies ran without them, when nothing more is known.
NOT_IN_CATALOG = (
    "the cookies lent for this capture were not in the catalog when it ran (they are"
    " handed over once, to the attempt that first claimed it); captured without them"
)


class LendingKeyMissing(Conflict):
    """A team server was asked to lend cookies but has no key to seal them with."""


class BadLendingKey(BadInput):
    """``OSINT_CAPTURE_LENDING_KEY`` is set but is not 32 bytes in base64url."""


class CookiesUnreadable(Failed):
    """Sealed cookies did not open: another key, another capture's, or changed."""


def new_lending_key() -> str:
    """A fresh key, as ``OSINT_CAPTURE_LENDING_KEY`` takes it (base64url, no padding)."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).rstrip(b"=").decode("ascii")


class LendingKey:
    """The team's AES-256-GCM key for lent cookies (its bytes are never shown)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise BadLendingKey(f"a lending key is {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "LendingKey(...)"

    @classmethod
    def from_text(cls, text: str) -> LendingKey:
        """The key as ``OSINT_CAPTURE_LENDING_KEY`` holds it: base64url, padded or not."""
        cleaned = text.strip()
        try:
            key = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES or not cleaned:
            raise BadLendingKey(
                f"{LENDING_KEY_ENV} is not {KEY_BYTES} bytes in base64url: set it to the"
                " output of `osint-capture config lending-key`, the same on every server"
                " and worker of the team"
            )
        return cls(key)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> LendingKey | None:
        """The key from the environment; ``None`` when unset or empty."""
        text = (os.environ if environ is None else environ).get(LENDING_KEY_ENV, "")
        return cls.from_text(text) if text.strip() else None

    def seal(self, capture_id: str, cookies: list[dict[str, Any]]) -> bytes:
        """The cookies encrypted and bound to ``capture_id``: form, nonce, ciphertext."""
        nonce = os.urandom(NONCE_BYTES)
        plain = json.dumps(cookies, ensure_ascii=False, separators=(",", ":")).encode()
        return SEALED_FORM + nonce + self._aead.encrypt(nonce, plain, _bound(capture_id))

    def open(self, capture_id: str, sealed: bytes) -> list[dict[str, Any]]:
        """The cookies sealed for ``capture_id``; :class:`CookiesUnreadable` otherwise."""
        if not sealed.startswith(SEALED_FORM) or len(sealed) < 1 + NONCE_BYTES + 16:
            raise CookiesUnreadable(f"capture {capture_id}: its lent cookies are not sealed here")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, body, _bound(capture_id))
        except InvalidTag:
            raise CookiesUnreadable(
                f"capture {capture_id}: its lent cookies do not open with this process's"
                f" {LENDING_KEY_ENV} (the server that sealed them has another key, or they"
                " were changed): give every server and worker the same key"
            ) from None
        cookies = json.loads(plain)
        if not isinstance(cookies, list):
            raise CookiesUnreadable(f"capture {capture_id}: its lent cookies are not a list")
        return cookies


def _bound(capture_id: str) -> bytes:
    return _CONTEXT + capture_id.encode("utf-8")


class SealedLending(LentCookies):
    """Lent cookies in team mode: sealed for the catalog by the server, opened in memory
    by the worker that claimed the capture (:meth:`received`), then taken once."""

    def __init__(self, key: LendingKey | None) -> None:
        super().__init__()
        self.key = key
        self._why: dict[str, str] = {}

    def refuse_unless_able(self, cookies: list[dict[str, Any]] | None) -> None:
        if cookies and self.key is None:
            raise LendingKeyMissing(
                "this request lends cookies, but this team server has no key to seal them"
                f" for the worker that will capture: set {LENDING_KEY_ENV} (the output of"
                " `osint-capture config lending-key`, the same on every server and worker)"
                " and restart it, or send the request without cookies"
            )

    def lend(self, capture_id: str, cookies: list[dict[str, Any]] | None) -> bytes | None:
        """The sealed cookies for the queue row (nothing is kept here)."""
        if not cookies:
            return None
        self.refuse_unless_able(cookies)
        assert self.key is not None
        return self.key.seal(capture_id, cookies)

    def received(self, capture_id: str, sealed: bytes | None) -> None:
        """What the claim took from the catalog, opened and held for the capture."""
        if sealed is None:
            return
        if self.key is None:
            self._why[capture_id] = (
                f"the cookies lent for this capture could not be opened: this worker has no"
                f" {LENDING_KEY_ENV} (give it the team's key); captured without them"
            )
        else:
            try:
                self.hold(capture_id, self.key.open(capture_id, sealed))
                return
            except CookiesUnreadable as exc:
                self._why[capture_id] = f"{exc}; captured without them"
        log.warning("capture %s: %s", capture_id, self._why[capture_id])

    def lost(self, capture_id: str) -> str:
        return self._why.pop(capture_id, NOT_IN_CATALOG)
