"""A capture's progress on the terminal: its stages as lines, its byte counts kept on one.

Progress goes to stderr so stdout stays the result (a manifest with ``--json``); the
running counts rewrite their line only on a terminal, never in a log file.
"""

from __future__ import annotations

from typing import TextIO

from capture.progress_events import (
    BehaviourEnded,
    Event,
    MediaDownloading,
    MediaFound,
    ResourceRecorded,
    StageEntered,
    TrustedTimeResult,
)


class ProgressDisplay:
    """Progress on the terminal while a capture works: stages, then a running count."""

    def __init__(self, out: TextIO, *, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.live = out.isatty()
        self._line_open = False

    def __call__(self, event: Event) -> None:
        if self.quiet:
            return
        match event:
            case StageEntered(stage=stage, url=url):
                self._write_line(f"[{stage}]" + (f" {url}" if url is not None else ""))
            case ResourceRecorded(recorded=recorded, bytes=size) if self.live:
                self._rewrite(f"  {recorded} records, {size / 1e6:.1f} MB streamed".ljust(60))
            case MediaDownloading(url=url, downloaded=downloaded, total=total) if self.live:
                of = f"/{total / 1e6:.1f}" if total else ""
                self._rewrite(f"  media {downloaded / 1e6:.1f}{of} MB  {url[-40:]}".ljust(70))
            case TrustedTimeResult(state=state, problems=problems):
                self._write_line(f"  trusted time: {state}")
                for problem in problems:
                    self._write_line(f"    {problem}")
            case MediaFound(urls=urls):
                self._write_line(f"  media found: {len(urls)}")
            case BehaviourEnded(name=name, finished=finished):
                self._write_line(f"  {name}: {'done' if finished else 'stopped'}")

    def _rewrite(self, text: str) -> None:
        """Replace the running count's line with ``text`` (left open for the next one)."""
        self.out.write("\r" + text)
        self.out.flush()
        self._line_open = True

    def _write_line(self, text: str) -> None:
        if self._line_open:
            self.out.write("\n")
            self._line_open = False
        self.out.write(text + "\n")
        self.out.flush()

    def finish(self) -> None:
        if self._line_open:
            self.out.write("\n")
            self._line_open = False
