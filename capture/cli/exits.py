"""The command's exit codes, and the one way a command says why it stops.

Checks of evidence (``verify``, ``custody verify``) exit with their verdict instead
(:class:`archive.evidence.checks.ExitStatus`: 0, 1, 2 and 4 mean the same there). Which error
gives which code stays with each command: the same error means different things to
different commands (a catalog error is a failed capture but a bad ``watch`` request).
"""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import TypeVar


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
