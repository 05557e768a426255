"""The command's exit codes, and the one way a command says why it stops.

Which error gives which code is the error's own (:mod:`archive.errors`: each kind
carries its ``exit_code``), mapped in one place: :func:`fail_with`, which
:func:`capture.cli.entry.main` applies to any :class:`OsintCaptureError` a command
lets through. Commands raise, or let through, what went wrong; they do not map it.

Checks of evidence (``verify``, ``custody verify``) exit with their verdict instead
(:class:`archive.evidence.checks.ExitStatus`: 0, 1, 2 and 4 mean the same there, so
an error that stops them before a verdict exits as it would anywhere else).
"""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import TypeVar

from archive.errors import OsintCaptureError


class ExitCode(IntEnum):
    COMPLETE = 0
    FAILED = 1
    BAD_INPUT = 2
    PARTIAL = 3
    INTERRUPTED = 130


Code = TypeVar("Code", bound=int)


def complain(message: object, code: Code) -> Code:
    """Say on stderr why the command stops (``osint-capture: ...``); its exit code back."""
    print(f"osint-capture: {message}", file=sys.stderr)
    return code


def fail_with(exc: OsintCaptureError) -> int:
    """The one map from an error to an exit code: say the error on stderr, return its own
    code (:attr:`OsintCaptureError.exit_code`: 1 failed, 2 bad input, ...)."""
    return complain(exc, exc.exit_code)
