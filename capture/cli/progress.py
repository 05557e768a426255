"""A capture's progress on the terminal: its stages as lines, its byte counts kept on one.

Progress goes to stderr so stdout stays the result (a manifest with ``--json``); the
running counts rewrite their line only on a terminal, never in a log file.
"""

from __future__ import annotations

from typing import Any, TextIO


class ProgressDisplay:
    """Progress on the terminal while a capture works: stages, then a running count."""

    def __init__(self, out: TextIO, *, quiet: bool = False) -> None:
        self.out = out
        self.quiet = quiet
        self.live = out.isatty()
        self._line_open = False

    def __call__(self, kind: str, data: dict[str, Any]) -> None:
        if self.quiet:
            return
        if kind == "stage":
            self._write_line(f"[{data['stage']}]" + (f" {data['url']}" if "url" in data else ""))
        elif kind == "resource" and self.live:
            text = f"  {data['recorded']} records, {data['bytes'] / 1e6:.1f} MB streamed"
            self._rewrite(text.ljust(60))
        elif kind == "media" and "downloaded" in data and self.live:
            total = f"/{data['total'] / 1e6:.1f}" if data.get("total") else ""
            text = f"  media {data['downloaded'] / 1e6:.1f}{total} MB  {data['url'][-40:]}"
            self._rewrite(text.ljust(70))
        elif kind == "timestamp":
            self._write_line(f"  trusted time: {data['state']}")
            for problem in data.get("problems", []):
                self._write_line(f"    {problem}")
        elif kind == "media" and "found" in data:
            self._write_line(f"  media found: {len(data['found'])}")
        elif kind == "behaviour":
            state = "done" if data["finished"] else "stopped"
            self._write_line(f"  {data['name']}: {state}")

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
