"""The bucket's credentials: from the environment or a file only its owner can read.

Never from the store's URL (refused there), never written to the catalog, a manifest or
a log: :class:`Credentials` does not show its secret in ``repr``, and what the rest of
the code may say about it is :attr:`Credentials.source`.

Order: ``AWS_ACCESS_KEY_ID`` with ``AWS_SECRET_ACCESS_KEY`` when both are set; else the
file named by the caller or by ``AWS_SHARED_CREDENTIALS_FILE``, in AWS's INI form
(``[default]`` with ``aws_access_key_id`` and ``aws_secret_access_key``), refused unless
it is a regular file of its reader's that no one else may read (mode 0600 or stricter).
Nothing else is consulted: no instance metadata, no profile search, so a worker never
uses credentials nobody configured for it.
"""

from __future__ import annotations

import configparser
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from archive.objectstore.errors import BadLocation

ENV_KEY_ID = "AWS_ACCESS_KEY_ID"
ENV_SECRET = "AWS_SECRET_ACCESS_KEY"
ENV_FILE = "AWS_SHARED_CREDENTIALS_FILE"
SECTION = "default"


@dataclass(frozen=True)
class Credentials:
    """An access key pair, and where it came from (safe to show; the secret is not)."""

    access_key_id: str
    secret_access_key: str = field(repr=False)
    source: str = ""


def load_credentials(
    environ: Mapping[str, str] | None = None, file: Path | None = None
) -> Credentials:
    """The credentials to sign requests with, or :class:`BadLocation` saying what to set."""
    env = os.environ if environ is None else environ
    key_id, secret = env.get(ENV_KEY_ID, ""), env.get(ENV_SECRET, "")
    if key_id and secret:
        return Credentials(key_id, secret, source="environment")
    if key_id or secret:
        missing = ENV_SECRET if key_id else ENV_KEY_ID
        raise BadLocation(f"{missing} is not set (its pair is): set both, or neither")
    path = file if file is not None else (Path(env[ENV_FILE]) if env.get(ENV_FILE) else None)
    if path is None:
        raise BadLocation(
            f"no S3 credentials: set {ENV_KEY_ID} and {ENV_SECRET}, or name a credentials "
            f"file of mode 0600 in {ENV_FILE}"
        )
    return _from_file(path)


def _from_file(path: Path) -> Credentials:
    """A credentials file, refused when others could read it or it is not the reader's."""
    try:
        info = os.stat(path, follow_symlinks=False)
    except OSError as exc:
        raise BadLocation(f"cannot read the credentials file {path}: {exc.strerror}") from exc
    if not stat.S_ISREG(info.st_mode):
        raise BadLocation(f"credentials file {path} is not a regular file")
    if info.st_mode & 0o077:
        raise BadLocation(
            f"credentials file {path} has mode {stat.S_IMODE(info.st_mode):04o}: others "
            f"could read the secret; run `chmod 600 {path}`"
        )
    if info.st_uid != os.geteuid():
        raise BadLocation(f"credentials file {path} belongs to another user: refusing it")
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(path.read_text(encoding="utf-8"), source=str(path))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise BadLocation(f"credentials file {path} is not AWS's INI form: {exc}") from exc
    if not parser.has_section(SECTION):
        raise BadLocation(f"credentials file {path} has no [{SECTION}] section")
    section = parser[SECTION]
    key_id = section.get("aws_access_key_id", "").strip()
    secret = section.get("aws_secret_access_key", "").strip()
    if not key_id or not secret:
        raise BadLocation(
            f"credentials file {path}: [{SECTION}] needs aws_access_key_id and "
            "aws_secret_access_key"
        )
    return Credentials(key_id, secret, source=str(path))
