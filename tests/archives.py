"""Tests that capture into a data directory by path: the archive is opened around one capture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from archive.datadir import Archive
from archive.manifest import Manifest
from capture.pipeline import capture_page
from capture.requests import CaptureRequest


async def capture_into(request: CaptureRequest, data_dir: Path, **kwargs: Any) -> Manifest:
    """:func:`capture_page` into the archive at ``data_dir``, opened for this capture only."""
    with Archive.open(data_dir) as archive:
        return await capture_page(request, archive, **kwargs)
