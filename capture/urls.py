"""Which URLs may be captured: http and https only, checked before a browser starts."""

from __future__ import annotations

from urllib.parse import urlsplit

from archive.errors import BadInput

ALLOWED_SCHEMES = ("http", "https")


class BadURL(BadInput):
    """The URL cannot be captured; the message says why and what to do.

    Bad input (exit 2); on the API ``422``: the request is well-formed, the URL in it
    is one this tool does not capture.
    """

    http_status = 422
    error = "unprocessable"


def validate_url(url: str) -> str:
    """Return ``url`` stripped of surrounding space, or raise :class:`BadURL`."""
    candidate = url.strip()
    if not candidate:
        raise BadURL(
            "empty URL: give the address of the page to capture, e.g. https://example.org/"
        )
    if any(ch in candidate for ch in "\r\n\t\x00") or " " in candidate:
        raise BadURL(f"malformed URL {candidate!r}: it contains spaces or control characters")
    try:
        split = urlsplit(candidate)
        port = split.port
    except ValueError as exc:
        raise BadURL(f"malformed URL {candidate!r}: {exc}") from exc
    scheme = split.scheme.lower()
    if not scheme:
        raise BadURL(f"malformed URL {candidate!r}: no scheme; did you mean https://{candidate}?")
    if scheme not in ALLOWED_SCHEMES:
        raise BadURL(
            f"refused URL {candidate!r}: scheme {scheme!r} is not captured; "
            "only http and https pages can be captured"
        )
    if not split.hostname:
        raise BadURL(f"malformed URL {candidate!r}: no host name")
    if port == 0:
        raise BadURL(f"malformed URL {candidate!r}: port 0 is not a valid port")
    return candidate
