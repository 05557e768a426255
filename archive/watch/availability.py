"""Is a captured page there at all? The signs that it was taken down, on one capture.

A capture is *down* when the server answered 4xx/5xx, when the browser was sent to a
login page it was not asked for, or when the page says its content is unavailable
(:data:`UNAVAILABLE_PHRASES`). Each sign is a :class:`Signal`; comparing them with
the previous capture's (:mod:`archive.watch.compare`) tells a takedown from a page
that was down all along, or back again.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from archive.watch.snapshot import Snapshot

#: What an HTTP error status means, in the words of a summary. Any status from 400
#: up counts as down; these are the ones named.
STATUS_MEANINGS = {
    401: "login required",
    403: "forbidden",
    404: "not found",
    410: "gone",
    429: "too many requests",
    451: "unavailable for legal reasons",
    500: "server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}

#: What platforms show in place of removed, blocked or withheld content, matched
#: case-insensitively in the title and the visible text (apostrophes and Arabic
#: vowel marks folded first). A phrase only signals a takedown when the previous
#: capture did not show it, so an article that merely quotes one is not flagged.
UNAVAILABLE_PHRASES: tuple[str, ...] = (
    # English
    "content isn't available",
    "content is not available",
    "content is no longer available",
    "content unavailable",
    "content not available",
    "page isn't available",
    "page is not available",
    "page not found",
    "page no longer exists",
    "page doesn't exist",
    "page does not exist",
    "the link you followed may be broken",
    "video unavailable",
    "video is unavailable",
    "video isn't available",
    "video is no longer available",
    "video has been removed",
    "video is private",
    "post is unavailable",
    "post isn't available",
    "post has been removed",
    "post was removed",
    "post has been deleted",
    "post was deleted",
    "tweet is unavailable",
    "account suspended",
    "account has been suspended",
    "account doesn't exist",
    "account does not exist",
    "channel does not exist",
    "channel is not available",
    "removed for violating",
    "removed due to a copyright",
    "has been withheld",
    "withheld in your country",
    "not available in your country",
    "no longer available",
    # French
    "contenu indisponible",
    "contenu n'est pas disponible",
    "contenu n'est plus disponible",
    "page introuvable",
    "page n'est pas disponible",
    "vidéo non disponible",
    "vidéo n'est pas disponible",
    "vidéo n'est plus disponible",
    "publication n'est pas disponible",
    "compte suspendu",
    "n'est plus disponible",
    # Spanish
    "contenido no disponible",
    "contenido no está disponible",
    "página no encontrada",
    "página no está disponible",
    "video no disponible",
    "vídeo no disponible",
    "video no está disponible",
    "vídeo no está disponible",
    "publicación no está disponible",
    "cuenta suspendida",
    "ya no está disponible",
    # Russian
    "контент недоступен",
    "содержимое недоступно",
    "материал недоступен",
    "страница не найдена",
    "страница недоступна",
    "видео недоступно",
    "публикация недоступна",
    "запись удалена",
    "публикация удалена",
    "аккаунт заблокирован",
    "больше недоступ",
    # Arabic (written without vowel marks: they are folded away before matching)
    "المحتوى غير متاح",
    "المحتوى غير متوفر",
    "الصفحة غير متاحة",
    "الصفحة غير موجودة",
    "لم يتم العثور على الصفحة",
    "الفيديو غير متاح",
    "المنشور غير متاح",
    "تم حذف هذا المنشور",
    "تم حذف هذا الفيديو",
    "الحساب معلق",
    "تم تعليق الحساب",
    "لم يعد متاحا",
)

#: Path segments (or host names' first label) that mean "log in first". Whole
#: words, so ``/author`` is not ``auth``...
LOGIN_WORDS = frozenset({"auth", "oauth", "sso", "authorize", "authenticate", "authwall"})
#: ...and fragments that mean it anywhere in a segment (``ServiceLogin``, ``login.php``).
LOGIN_FRAGMENTS = ("login", "log-in", "log_in", "logon", "signin", "sign-in", "sign_in")

_ARABIC_MARKS = dict.fromkeys([*range(0x064B, 0x0660), 0x0670, 0x0640])
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'"})


@dataclass(frozen=True)
class Signal:
    """One reason to think a page is down (``kind``: status, login, unavailable, media)."""

    kind: str
    detail: str

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


def down_signals(snapshot: Snapshot) -> list[Signal]:
    """Why this capture, on its own, looks like a page that is not there (or none)."""
    signals = []
    status = snapshot.http_status
    if status is not None and status >= 400:
        signals.append(Signal("status", f"HTTP {status_words(status)}"))
    final = snapshot.final_url or snapshot.url
    if is_login_url(final) and not is_login_url(snapshot.url):
        signals.append(Signal("login", f"redirected to a login page ({final})"))
    phrase = unavailable_phrase(snapshot)
    if phrase is not None:
        signals.append(Signal("unavailable", f"the page says \u201c{phrase}\u201d"))
    return signals


def is_login_url(url: str) -> bool:
    """Does ``url`` look like a login page (``/login``, ``/accounts/login/``, ``/authwall``)?"""
    parts = urlsplit(url)
    host_label = (parts.hostname or "").split(".")[0]
    if host_label in LOGIN_WORDS or host_label in ("login", "signin"):
        return True
    for segment in parts.path.lower().split("/"):
        word = segment.rsplit(".", 1)[0]
        if word in LOGIN_WORDS or any(fragment in word for fragment in LOGIN_FRAGMENTS):
            return True
    return False


def unavailable_phrase(snapshot: Snapshot) -> str | None:
    """The first of :data:`UNAVAILABLE_PHRASES` the page's title or text contains."""
    haystack = _fold(f"{snapshot.title or ''}\n{snapshot.text}")
    return next((p for p in _FOLDED_PHRASES if p in haystack), None)


def _fold(text: str) -> str:
    """Lower case, one kind of apostrophe, no Arabic vowel marks, single spaces."""
    text = unicodedata.normalize("NFC", text).translate(_APOSTROPHES).translate(_ARABIC_MARKS)
    return " ".join(text.casefold().split())


_FOLDED_PHRASES = tuple(_fold(p) for p in UNAVAILABLE_PHRASES)


def describe_availability(snapshot: Snapshot, signals: list[Signal]) -> dict[str, Any]:
    """One capture's side of ``details.availability``: status, redirects, its signals."""
    return {
        "capture_id": snapshot.capture_id,
        "http_status": snapshot.http_status,
        "final_url": snapshot.final_url,
        "redirects": [{"url": hop.url, "status": hop.status} for hop in snapshot.redirect_chain],
        "available": not signals,
        "signals": [s.to_dict() for s in signals],
    }


def status_words(status: int | None) -> str:
    """``404 (not found)``: the status with its meaning, when it has a name."""
    if status is None:
        return "no status"
    meaning = STATUS_MEANINGS.get(status)
    return f"{status} ({meaning})" if meaning else str(status)
