"""The error model: every error has one base and a kind, and its kind its exit code and status.

The kinds live in :mod:`archive.errors`; the CLI maps them in one place
(``capture.cli.exits.fail_with``, in ``main()``), the server in one middleware. These
tests walk every module so a new exception class cannot slip out of the model, and
check the one error people meet most in a shared data directory: a busy catalog.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import archive
import capture
from archive.catalog import (
    CATALOG_NAME,
    BadCaseName,
    BadCatalogURL,
    BadFilter,
    Catalog,
    CatalogBusy,
    CatalogError,
    CatalogFull,
    CatalogUnavailable,
    NotInCatalog,
    NotSealed,
    StateConflict,
    TargetRemoved,
)
from archive.datadir import NoArchive
from archive.errors import (
    BadInput,
    Busy,
    Conflict,
    Denied,
    Failed,
    NotFound,
    OsintCaptureError,
    StorageFull,
    Tampered,
    Unauthenticated,
    Unavailable,
)
from archive.evidence.asn1 import DerError
from archive.evidence.checks import ExitStatus
from archive.evidence.custody import CustodyError, CustodyTampered, TornLogError
from archive.evidence.signing import BadFingerprint, SignatureError, SigningError
from archive.evidence.timestamps import BadTrustFile, TimestampError, TSAUnavailable
from archive.evidence.trust import TrustFileError
from archive.store import AlreadySealed, StoreError
from archive.wacz.export_types import ExportError, ExportTampered
from archive.wacz.replay import NoReplay, ReplayTampered
from archive.wacz.verify import NotAPackage
from archive.watch.snapshot import SnapshotError, SnapshotTampered
from capture.analysis.options import AnalysisOptionsError
from capture.browser import BrowserError
from capture.cli import entry
from capture.cli.entry import main
from capture.cli.exits import ExitCode
from capture.pipeline import CaptureFailed
from capture.scheduler import IntervalError
from capture.server.errors import BadRequest, Forbidden, MisdirectedRequest
from capture.urls import BadURL

ROOT = Path(__file__).resolve().parent.parent

#: Exceptions that are deliberately not domain errors, and why. Keep it short.
NOT_DOMAIN = {
    # A DER parsing internal: only archive.evidence.timestamps uses asn1, and turns
    # every DerError into a TimestampError (test_der_errors_never_leave_timestamps).
    DerError: "asn1 parsing internal",
}


def _exception_classes() -> list[type[BaseException]]:
    """Every exception class defined in a module of archive/ or capture/."""
    found: dict[str, type[BaseException]] = {}
    for package in (archive, capture):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for name, obj in vars(module).items():
                if (
                    inspect.isclass(obj)
                    and issubclass(obj, BaseException)
                    and obj.__module__ == module.__name__
                ):
                    found[f"{obj.__module__}.{name}"] = obj
    return [found[name] for name in sorted(found)]


CLASSES = _exception_classes()


def test_every_exception_class_derives_from_the_base() -> None:
    assert len(CLASSES) > 40, [c.__qualname__ for c in CLASSES]  # the walk found them
    outside = [
        f"{c.__module__}.{c.__qualname__}"
        for c in CLASSES
        if not issubclass(c, OsintCaptureError) and c not in NOT_DOMAIN
    ]
    assert outside == []


def test_no_domain_exception_is_a_value_error() -> None:
    """ValueError stays for programming errors: a domain error caught as ValueError would
    also swallow every unrelated one."""
    assert [c for c in CLASSES if issubclass(c, ValueError) and c not in NOT_DOMAIN] == []
    assert [
        c for c in CLASSES if issubclass(c, OsintCaptureError) and issubclass(c, ValueError)
    ] == []


def test_der_errors_never_leave_timestamps() -> None:
    """asn1 (and its DerError) is used only by the time-stamp modules that build a request
    and read a token, which convert every DerError into a TimestampError."""
    importers = []
    for path in sorted(
        [*ROOT.joinpath("archive").rglob("*.py"), *ROOT.joinpath("capture").rglob("*.py")]
    ):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module is not None:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            if "archive.evidence.asn1" in names:
                importers.append(str(path.relative_to(ROOT)))
    assert importers == [
        "archive/evidence/tsa_client.py",
        "archive/evidence/tsa_token.py",
        "archive/evidence/tsa_verify.py",
    ]


#: Each class, its exit code and HTTP status: the kinds, and classes whose kind was a choice.
TABLE: list[tuple[type[OsintCaptureError], int, int]] = [
    (Failed, 1, 500),
    (BadInput, 2, 400),
    (NotFound, 2, 404),
    (Conflict, 1, 409),
    (Busy, 1, 503),
    (Tampered, 1, 409),
    (StorageFull, 1, 507),
    (Unavailable, 1, 503),
    (Unauthenticated, 1, 401),
    (Denied, 1, 403),
    (BadCaseName, 2, 400),
    (BadURL, 2, 422),
    (IntervalError, 2, 400),
    (AnalysisOptionsError, 2, 400),
    (BadFingerprint, 2, 400),
    (TrustFileError, 2, 400),
    (BadTrustFile, 2, 400),
    (NotAPackage, 2, 400),
    (NoArchive, 2, 404),
    (CatalogError, 1, 500),
    (NotInCatalog, 2, 404),
    (NotSealed, 2, 400),
    (BadFilter, 2, 400),
    (StateConflict, 1, 409),
    (TargetRemoved, 2, 409),  # `watch resume` of a removed target: exit 2, as documented
    (CatalogBusy, 1, 503),
    (CatalogFull, 1, 507),
    (CatalogUnavailable, 1, 503),
    (BadCatalogURL, 2, 400),
    (StoreError, 1, 500),
    (AlreadySealed, 1, 409),
    (CustodyError, 1, 500),
    (CustodyTampered, 1, 409),
    (TornLogError, 1, 500),
    (SigningError, 1, 500),
    (SignatureError, 1, 409),
    (TimestampError, 1, 500),
    (TSAUnavailable, 1, 503),
    (ExportError, 1, 500),
    (ExportTampered, 1, 409),
    (NoReplay, 2, 404),
    (ReplayTampered, 1, 409),
    (SnapshotError, 1, 500),
    (SnapshotTampered, 1, 409),
    (BrowserError, 1, 503),
    (CaptureFailed, 1, 500),
    (BadRequest, 2, 400),
    (Forbidden, 1, 403),
    (MisdirectedRequest, 1, 421),
]


@pytest.mark.parametrize(
    ("cls", "exit_code", "status"), TABLE, ids=lambda v: getattr(v, "__name__", v)
)
def test_each_error_carries_its_exit_code_and_status(
    cls: type[OsintCaptureError], exit_code: int, status: int
) -> None:
    assert (cls.exit_code, cls.http_status) == (exit_code, status)
    assert cls.error and cls.error == cls.error.lower()


def test_the_kinds_codes_are_the_commands_codes() -> None:
    """An error exits as the command's own code for it would, verdict commands included."""
    assert BadInput.exit_code == ExitCode.BAD_INPUT == ExitStatus.UNREADABLE
    assert Failed.exit_code == ExitCode.FAILED == ExitStatus.FAILED
    # Failed names no codes of its own, so a kind mixed into a Failed class wins.
    assert not {"exit_code", "http_status", "error"} & set(vars(Failed))
    assert Busy.retry_after and CatalogBusy.retry_after == Busy.retry_after


def test_main_turns_any_error_into_its_own_exit_code(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuse(args: object, data_dir: Path) -> int:
        raise NotInCatalog("no capture nope in the catalog")

    monkeypatch.setitem(entry.RUNNERS, "list", refuse)
    assert main(["list"]) == 2
    assert capsys.readouterr().err == "osint-capture: no capture nope in the catalog\n"


# -- a busy catalog -----------------------------------------------------------------------


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another process's write in progress: SQLite's write lock held by a second connection."""
    other = sqlite3.connect(path, timeout=2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_a_busy_catalog_is_busy_not_failed(tmp_path: Path) -> None:
    path = tmp_path / CATALOG_NAME
    with Catalog.open(path, busy_timeout_ms=50) as catalog:
        catalog.ensure_case("before")
        with write_lock(path):
            with pytest.raises(CatalogBusy) as raised:
                catalog.ensure_case("during")
            assert [case.name for case in catalog.list_cases()] == ["before"]  # WAL: reads go on
            with pytest.raises(CatalogBusy):
                Catalog.open(path, busy_timeout_ms=50)  # opening checks the schema under the lock
        catalog.ensure_case("after")
    message = str(raised.value)
    assert f"the catalog {path} is locked by another process" in message
    assert "database is locked" in message and "try again" in message
    assert isinstance(raised.value, CatalogError) and raised.value.http_status == 503


def test_a_busy_catalog_exits_1_saying_what_holds_it_and_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI waits its whole busy timeout (5 s) before it gives up: that is the point."""
    data = tmp_path / "data"
    Catalog.open(data / CATALOG_NAME).close()
    with write_lock(data / CATALOG_NAME):
        code = main(["watch", "add", "https://example.org/", "--every", "1h", "--data", str(data)])
    err = capsys.readouterr().err
    assert code == ExitCode.FAILED, err
    assert err.startswith("osint-capture: the catalog ") and len(err.strip().splitlines()) == 1
    assert "locked by another process" in err and "try again" in err
    with Catalog.open(data / CATALOG_NAME) as catalog:
        assert catalog.list_targets() == []
