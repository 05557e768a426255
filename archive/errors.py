"""The error model: one base class, a few kinds, each carrying its exit code and HTTP status.

Every error this project raises on purpose derives from :class:`OsintCaptureError`
through one of the kinds below, so the two places that speak to people map any of
them the same way: the CLI (:func:`capture.cli.exits.fail_with`, used by
``main()``) exits with ``exit_code`` and says the message on stderr; the server's
error middleware (:mod:`capture.server.errors`) answers ``http_status`` with
``{"error": error, "detail": str(exc)}``. Code that raises says *what* went wrong
(its own class, derived from the right kind); it never maps it to a code itself.

A class whose kind varies by case has a subclass per kind, raised where that case
is known (``CatalogError`` is :class:`Failed`; ``CatalogBusy(CatalogError, Busy)``
is raised where SQLite says the database is locked). :class:`Failed` sets no codes
of its own, so mixing a kind into a ``Failed`` class (``class X(SomeError, Busy)``)
takes that kind's codes.

The exit codes agree with :class:`capture.cli.exits.ExitCode` and
:class:`archive.evidence.checks.ExitStatus` (1 failed, 2 bad or unreadable input);
a test keeps them so. Lives in ``archive/`` because ``archive`` never imports
``capture``: ``capture`` imports these.
"""

from __future__ import annotations

from typing import ClassVar


class OsintCaptureError(Exception):
    """Something osint-capture refuses or cannot do; the message says what, and what to do.

    The defaults are :class:`Failed`'s: an error of no more specific kind failed.
    """

    #: The CLI's exit code for it (``ExitCode``: 1 failed, 2 bad input).
    exit_code: ClassVar[int] = 1
    #: The API's HTTP status for it.
    http_status: ClassVar[int] = 500
    #: The short name in the API's JSON body (``{"error": ..., "detail": ...}``).
    error: ClassVar[str] = "failed"
    #: Seconds after which asking again may succeed (the API's ``Retry-After``), if any.
    retry_after: ClassVar[int | None] = None


class Failed(OsintCaptureError):
    """It could not be done, for a reason no other kind names (exit 1, 500).

    Sets no codes of its own (the base's are these), so a kind mixed into a subclass
    of it (``class CatalogBusy(CatalogError, Busy)``) wins.
    """


class BadInput(OsintCaptureError):
    """What was asked is malformed or cannot be honoured as given (exit 2, 400)."""

    exit_code = 2
    http_status = 400
    error = "bad request"


class NotFound(OsintCaptureError):
    """What was named does not exist here (exit 2, 404)."""

    exit_code = 2
    http_status = 404
    error = "not found"


class Conflict(OsintCaptureError):
    """The thing's state does not allow it (exit 1, 409); say which state, and why."""

    exit_code = 1
    http_status = 409
    error = "conflict"


class Busy(OsintCaptureError):
    """Another process holds what this needs (the catalog's write lock) longer than we
    wait (exit 1, 503 with ``Retry-After``); the message says who, and to try again."""

    exit_code = 1
    http_status = 503
    error = "busy"
    retry_after = 5


class Tampered(OsintCaptureError):
    """A sealed file (or signed record) no longer has the hash it was sealed with
    (exit 1, 409): it changed since, and is not used as evidence."""

    exit_code = 1
    http_status = 409
    error = "tampered"


class StorageFull(OsintCaptureError):
    """The disk (or quota, or file-size limit) refused the write (exit 1, 507)."""

    exit_code = 1
    http_status = 507
    error = "storage full"


class Unavailable(OsintCaptureError):
    """Something outside could not be reached or started: a time-stamp authority, the
    browser (exit 1, 503). Asking again later may help."""

    exit_code = 1
    http_status = 503
    error = "unavailable"


class Unauthenticated(OsintCaptureError):
    """Who is asking is not known: no token or session, a wrong one, a revoked token or a
    disabled account (exit 1, 401); the message says which, and how to get in."""

    exit_code = 1
    http_status = 401
    error = "unauthorized"


class Denied(OsintCaptureError):
    """The person is known and may not do this (exit 1, 403): their role lacks the
    permission, or the evidence is in a case they do not belong to. ``permission``
    names what was missing, so the answer can say it in a field of its own."""

    exit_code = 1
    http_status = 403
    error = "forbidden"

    def __init__(self, message: str, *, permission: str | None = None) -> None:
        super().__init__(message)
        self.permission = permission
