"""Facts about the collecting machine and software, for the warcinfo record."""

from __future__ import annotations

import platform
import socket
from functools import cache
from importlib.metadata import PackageNotFoundError, version

import psutil

from archive import __version__


@cache
def package_version(name: str) -> str:
    """The installed version of a package, as this process loaded it.

    Cached: ``importlib.metadata`` searches every distribution on ``sys.path`` and
    reads its metadata file on each call, which showed in a profile of the server
    (a quarter of a worker thread's time while captures ran, make bench ONLY=api);
    a package upgraded on disk is not the code this process is running anyway.
    """
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


def software_versions(chromium: str | None = None) -> dict[str, str]:
    from capture.media import ffmpeg_version  # yt-dlp is heavy: only when asked

    versions = {
        "osint-capture": __version__,
        "playwright": package_version("playwright"),
        "warcio": package_version("warcio"),
        "yt-dlp": package_version("yt-dlp"),
        "ffmpeg": ffmpeg_version(),
        "python": platform.python_version(),
    }
    if chromium:
        versions["chromium"] = chromium
    return versions


def host_name() -> str:
    return socket.gethostname()


def operating_system() -> str:
    return platform.platform()


def ip_addresses() -> list[str]:
    """Every address of every interface, loopback included (it says how the page was reached)."""
    found: list[str] = []
    for name, addresses in sorted(psutil.net_if_addrs().items()):
        for address in addresses:
            if address.family in (socket.AF_INET, socket.AF_INET6):
                found.append(f"{address.address.split('%')[0]} ({name})")
    return found
