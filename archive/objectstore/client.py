"""One aiobotocore S3 client on a private event loop, callable from any other thread.

The store's interface (:class:`~archive.sealed_store.SealedStore`) is synchronous and is
called from worker threads (``asyncio.to_thread``) and at times from the server's own
event loop. aiobotocore is asynchronous and its client belongs to the loop it was made
on. So the store owns one loop in one background thread; each blocking call submits a
coroutine there and waits for it. A call made *on that loop's thread* would wait for
itself forever: it is refused (:class:`WrongThread`) instead.

botocore's own errors are turned into the project's kinds here (:func:`store_error`), so
nothing above this module handles a ``ClientError``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import aiohttp
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from archive.objectstore.credentials import Credentials
from archive.objectstore.errors import (
    ObjectMissing,
    ObjectStoreError,
    StoreClosed,
    StoreUnreachable,
    WrongThread,
)
from archive.objectstore.location import StoreLocation

T = TypeVar("T")

#: Seconds to open a connection, and to wait for the next bytes of an answer.
CONNECT_TIMEOUT = 10
READ_TIMEOUT = 120
#: A request that fails for a passing reason (a dropped connection, a 503) is tried
#: this many times in all; botocore backs off between tries.
ATTEMPTS = 4
_MISSING = {"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "404", "NotFound"}


class S3Client:
    """An S3 client for one location; :meth:`run` and :meth:`call` block until done."""

    def __init__(self, location: StoreLocation, credentials: Credentials) -> None:
        self.location = location
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"s3-{location.bucket}", daemon=True
        )
        self._closed = False
        self._lock = threading.Lock()
        self._thread.start()
        try:
            self._client, self._context = self._submit(self._open(credentials)).result()
        except BaseException:
            self._stop_loop()
            raise

    async def _open(self, credentials: Credentials) -> tuple[Any, Any]:
        config = Config(
            s3={"addressing_style": "path"},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            retries={"max_attempts": ATTEMPTS, "mode": "standard"},
            # Checksums are the store's to choose (SHA-256, given explicitly); botocore's
            # default would add a CRC32 to every request beside it.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        context = get_session().create_client(
            "s3",
            endpoint_url=self.location.endpoint,
            region_name=self.location.region,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            config=config,
        )
        return await context.__aenter__(), context

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        return self._loop

    def on_own_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    def _submit(self, coro: Awaitable[T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)  # type: ignore[arg-type]

    def run(self, work: Callable[[Any], Awaitable[T]], what: str) -> T:
        """``work(client)`` run on the private loop; its result, or the project's error.

        ``what`` names the object or operation for the error message.
        """
        if self.on_own_thread():
            raise WrongThread(
                f"{what}: a blocking object-store call was made on the store's own event "
                "loop thread; call it from another thread (asyncio.to_thread)"
            )
        with self._lock:
            if self._closed:
                raise StoreClosed(f"{what}: the object store was closed")
            future = self._submit(self._guarded(work, what))
        return future.result()

    async def _guarded(self, work: Callable[[Any], Awaitable[T]], what: str) -> T:
        try:
            return await work(self._client)
        except (TimeoutError, ClientError, BotoCoreError, aiohttp.ClientError) as exc:
            raise store_error(exc, what) from exc

    def call(self, operation: str, what: str, **params: Any) -> dict[str, Any]:
        """One S3 operation (``head_object``, ...) with ``params``; its answer as a dict."""
        return self.run(lambda client: getattr(client, operation)(**params), what)

    def close(self) -> None:
        """Close the client's connections, then stop the loop and its thread. Idempotent."""
        if self.on_own_thread():
            raise WrongThread("the object store cannot be closed from its own loop thread")
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self._submit(self._context.__aexit__(None, None, None)).result(timeout=30)
        finally:
            self._stop_loop()

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        if not self._thread.is_alive():
            self._loop.close()


def error_code(exc: BaseException) -> str:
    """S3's error code of a ``ClientError`` (``NoSuchKey``, ``AccessDenied``, ...), or ''."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def store_error(exc: BaseException, what: str) -> ObjectStoreError:
    """The project's error for a botocore failure about ``what``."""
    code = error_code(exc)
    if code in _MISSING:
        return ObjectMissing(f"{what}: the bucket has no such object ({code})")
    if isinstance(
        exc, BotoConnectionError | HTTPClientError | aiohttp.ClientError | OSError | TimeoutError
    ):
        return StoreUnreachable(
            f"{what}: the S3 endpoint could not be reached ({exc}); check that it is up "
            "and the URL's endpoint is right, then try again"
        )
    return ObjectStoreError(f"{what}: the bucket refused the request: {exc}")
