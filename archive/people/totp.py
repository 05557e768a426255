"""The second factor: time-based one-time codes (RFC 6238, with pyotp), one secret a person.

Enrolling takes two steps, so nobody is left with a secret their phone does not hold:
:func:`enrol` makes a secret and the ``otpauth://`` URI an authenticator app reads (as
text or a QR code) and keeps nothing; :func:`confirm` checks a code made from it and
only then stores the secret. From then on a dashboard login needs the code as well
(:meth:`archive.people.Directory.password_principal`), and the session it opens
counts as having passed a second factor (sensitive cases open in it).

A code is taken within one 30-second step either side of now (a phone's clock drifts),
and a step already used to log in is not taken again (the last one is kept in the
catalog, so neither a restart nor another server takes it), so a code read over a
shoulder cannot be replayed within its minute and a half.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pyotp

from archive.errors import BadInput, NotFound
from archive.timeutil import utc_now

if TYPE_CHECKING:
    from archive.people.directory import Directory

#: What an authenticator app shows the code under.
ISSUER = "osint-capture"
#: Steps either side of now whose codes are taken.
VALID_WINDOW = 1
_DIGITS = 6


class WrongCode(BadInput):
    """A code that does not match the secret being enrolled (exit 2, 400)."""


@dataclass(frozen=True)
class Enrolment:
    """A secret not yet stored: show ``uri`` (or ``secret``) to the person, then
    :func:`confirm` with a code their app makes from it."""

    user: str
    secret: str = field(repr=False)
    uri: str = field(repr=False)


def enrol(directory: Directory, name: str) -> Enrolment:
    """A new secret for ``name`` and its provisioning URI; nothing is stored yet."""
    if directory.catalog.user(name) is None:
        raise NotFound(f"no user called {name!r} (see `osint-capture user list`)")
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=ISSUER)
    return Enrolment(name, secret, uri)


def confirm(directory: Directory, enrolment: Enrolment, code: str) -> None:
    """Store the enrolment's secret once ``code`` shows the person's app holds it; a
    secret the person had before is replaced."""
    if not code_matches(enrolment.secret, code):
        raise WrongCode(
            f"the code {code.strip()!r} does not match the new secret of {enrolment.user}:"
            " check that the phone's clock is right, then type the code now shown"
        )
    directory.catalog.update_user(enrolment.user, totp_secret=enrolment.secret)


def remove(directory: Directory, name: str) -> None:
    """Stop asking ``name`` for a code (a lost phone); an admin's decision."""
    directory.catalog.update_user(name, totp_secret=None)


def code_matches(secret: str, code: str, *, at: datetime | None = None) -> bool:
    """Is ``code`` the code of ``secret`` within :data:`VALID_WINDOW` steps of ``at``?"""
    return _step_of(secret, code, at or utc_now()) is not None


def take_code(directory: Directory, name: str, secret: str, code: str) -> bool:
    """Take ``code`` for ``name`` if it matches ``secret`` and its step is newer than the
    last one they logged in with (then it becomes the last one, in the catalog: a
    restart or another server does not take it again)."""
    step = _step_of(secret, code, utc_now())
    return step is not None and directory.catalog.take_totp_step(name, step)


def _step_of(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code ``code`` is, within the window around ``at``; or ``None``."""
    code = "".join(code.split())
    if len(code) != _DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    for offset in range(-VALID_WINDOW, VALID_WINDOW + 1):
        moment = at + timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(moment), code):
            return totp.timecode(moment)
    return None
