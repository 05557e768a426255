"""Options more than one command takes, and the parsers of their values.

One definition each, so ``--data``, ``--tsa``, the media limits and the reading
options mean the same (and are documented the same) on every command that has them.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from archive.errors import BadInput
from archive.evidence.trustedtime import TimestampConfig
from capture.analysis.options import DEFAULT_OCR_LANGUAGES, AnalysisOptions
from capture.analysis.runs import require_installed
from capture.media import MediaLimits
from capture.scheduler import IntervalError, parse_interval

if TYPE_CHECKING:
    #: What ``add_subparsers`` returns: each command group adds its commands to it.
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

#: Captures at once of a server (``serve --workers``) or a worker (``--concurrency``)
#: given none: measured, docs/performance.md section 8.
DEFAULT_WORKERS = 3


def default_data_dir() -> Path:
    return Path(os.environ.get("OSINT_CAPTURE_DATA") or "./data")


def data_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="data directory (default: $OSINT_CAPTURE_DATA or ./data)",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help="settings file naming the catalog, store and queue (docs/team.md; default:"
        " $OSINT_CAPTURE_CONFIG, else DATA/osint-capture.toml if present, else all in DATA)",
    )


def anchor_trust_option(parser: argparse.ArgumentParser) -> None:
    """``--tsa-trust`` for a command that checks a log's anchors (custody, access log)."""
    parser.add_argument(
        "--tsa-trust",
        action="append",
        type=Path,
        metavar="FILE",
        help="PEM file of extra trust roots for the anchors' TSAs (repeatable)",
    )


def tsa_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("trusted time (RFC 3161)")
    group.add_argument(
        "--tsa",
        action="append",
        metavar="URL",
        help="time-stamp authority (repeatable; default $OSINT_CAPTURE_TSA, comma-separated, "
        "else a few public TSAs; an empty $OSINT_CAPTURE_TSA asks none)",
    )
    group.add_argument(
        "--tsa-trust",
        action="append",
        type=Path,
        metavar="FILE",
        help="PEM file of extra trust roots for TSAs (repeatable)",
    )


def tsa_config(args: argparse.Namespace) -> TimestampConfig:
    return TimestampConfig.resolve(args.tsa, args.tsa_trust)


class NoAuthority(BadInput):
    """An anchor asked for with no time-stamp authority to ask (exit 2)."""


def anchoring_config(args: argparse.Namespace) -> TimestampConfig:
    """The TSAs to anchor with; :class:`NoAuthority` when none is configured."""
    config = tsa_config(args)
    if not config.tsas:
        raise NoAuthority(
            "no time-stamp authority configured to anchor with: pass --tsa URL"
            " (or set $OSINT_CAPTURE_TSA)"
        )
    return config


def check_trust_files(files: list[Path] | None) -> None:
    """Refuse a ``--tsa-trust`` file that cannot be used before any work starts
    (:class:`archive.evidence.timestamps.BadTrustFile`, exit 2).

    Found later, a missing root would leave every token unverifiable halfway through a
    capture or an export; every command that takes the option is checked here, once.
    """
    from archive.evidence.tsa_roots import TrustStore

    TrustStore.load(files or ())


def media_options(parser: argparse.ArgumentParser) -> None:
    defaults = MediaLimits()
    group = parser.add_argument_group("media (videos and audio, downloaded whole with yt-dlp)")
    group.add_argument("--no-media", action="store_true", help="do not download media")
    group.add_argument(
        "--media-max-size",
        type=size,
        default=defaults.max_file_bytes,
        help="largest media file, e.g. 500M or 2G (default 4G); larger ones are cut",
    )
    group.add_argument(
        "--media-max-total",
        type=size,
        default=defaults.max_capture_bytes,
        help="all media of one capture together (default 16G)",
    )
    group.add_argument(
        "--media-max-duration",
        type=positive_seconds,
        default=defaults.max_duration,
        help="longest media in seconds (default 21600)",
    )
    group.add_argument(
        "--media-timeout",
        type=positive_seconds,
        default=defaults.budget,
        help="time for all media downloads of a capture, in seconds (default 1800)",
    )


def media_limits(args: argparse.Namespace) -> MediaLimits | None:
    if args.no_media:
        return None
    return MediaLimits(
        max_file_bytes=args.media_max_size,
        max_capture_bytes=args.media_max_total,
        max_duration=args.media_max_duration,
        budget=args.media_timeout,
    )


def add_reading_options(parser: argparse.ArgumentParser, *, server: bool = False) -> None:
    """--ocr, --transcribe, --translate and their settings (a server's are its defaults)."""
    group = parser.add_argument_group(
        "reading the evidence (machine drafts, sealed as addenda: docs/analysis.md)"
    )
    whose = "every capture's default: " if server else ""
    group.add_argument(
        "--ocr",
        action="store_true",
        help=f"{whose}read text in the screenshot, the page's images and video frames",
    )
    group.add_argument(
        "--transcribe",
        action="store_true",
        help=f"{whose}a draft transcript of each downloaded video or audio file (slow)",
    )
    group.add_argument(
        "--translate",
        action="store_true",
        help=f"{whose}translate what was read with the --translation-model",
    )
    _reading_settings(group, server=server)


def _reading_settings(group: argparse._ArgumentGroup, *, server: bool) -> None:
    """The languages and models the three steps use; a server's own worker count."""
    group.add_argument(
        "--ocr-languages",
        default=DEFAULT_OCR_LANGUAGES,
        metavar="LANGS",
        help=f"tesseract languages joined by + (default {DEFAULT_OCR_LANGUAGES})",
    )
    group.add_argument(
        "--language",
        metavar="CODE",
        help="the spoken language for transcripts (ar, en); otherwise the model guesses",
    )
    group.add_argument(
        "--translation-model",
        type=Path,
        metavar="DIR",
        help="a CTranslate2 translation model directory you supply (none: translation skipped)",
    )
    if server:
        group.add_argument(
            "--analysis-workers",
            type=int,
            default=1,
            metavar="N",
            help="analysis runs at once, apart from the capture workers (default 1)",
        )


def reading_options(args: argparse.Namespace, *, default_ocr: bool = False) -> AnalysisOptions:
    """The options as given; ``default_ocr``: OCR when none of the three was asked for.

    Raises :class:`AnalysisOptionsError` for options this machine cannot honour (an OCR
    language whose model is not installed), before anything is captured or queued.
    """
    ocr = args.ocr or (default_ocr and not (args.transcribe or args.translate))
    options = AnalysisOptions(
        ocr=ocr,
        transcribe=args.transcribe,
        translate=args.translate,
        languages=args.ocr_languages,
        language=args.language,
    )
    require_installed(options)
    return options


def positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds") from None
    if not 1 <= seconds <= 24 * 3600:
        raise argparse.ArgumentTypeError("the time budget must be between 1 and 86400 seconds")
    return seconds


def size(value: str) -> int:
    """Bytes from ``500M``, ``2G``, ``1.5T`` or a plain number (a trailing B is allowed)."""
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    text = value.strip().upper().removesuffix("B")
    number, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "")
    try:
        found = int(float(number) * units[unit])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a size like 500M or 2G") from None
    if found <= 0:
        raise argparse.ArgumentTypeError("a size must be more than 0")
    return found


def workers(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 1 <= count <= 16:
        raise argparse.ArgumentTypeError("workers must be between 1 and 16")
    return count


def anchor_interval(value: str) -> float:
    """An interval as ``watch`` writes them (``90s``, ``1h``), in seconds; short ones allowed."""
    try:
        return float(parse_interval(value, allow_fast=True))
    except IntervalError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
