"""Django's HTTP handler as the web process serves it: each request's synchronous part (middleware, views, ORM) on
one of a fixed set of reused threads, and a body too large refused from its declared length before anything reads
it.

Threads. Django's stock ASGI handler gives every request a context of its own (`ThreadSensitiveContext()`), and
asgiref starts a new single-thread executor for it: a new thread per request, and — database connections being
thread-local — a new database connection per request, opened and torn down again (on PostgreSQL a backend process
forked each time: most of a small API answer's 20 ms, bench/api_load.py). Here each request borrows one of
`QUANTARB_WEB_THREADS` single-thread executors for its whole life, so its synchronous calls still all run on one
thread, as Django requires, and the thread keeps its connection from one request to the next (`CONN_MAX_AGE`,
closed and reopened by Django's own request signals when old or broken). A request beyond the pool waits for a
thread on the event loop, which costs nothing while it waits; the pool also bounds the process's connections.

Trips. A request's synchronous work — `request_started`, the middleware chain built as under WSGI, and `close()` of
a response held in memory — is one trip to its thread (`_respond`). Django's ASGI path made several, each waiting
for the event loop every connection shares and for a thread to wake: on a busy machine, most of a small answer's
time.

Bodies. A declared `Content-Length` beyond `DATA_UPLOAD_MAX_MEMORY_SIZE` is answered 413 here, before Django
reads a byte of it or takes a thread; a body with no declared length (chunked) is counted as it arrives and refused
the same way once it passes the limit. DRF's parsers read the request as a stream, which Django's own size check
(on `request.body`) never sees: without this, any API body of any size was read and parsed on a request thread.
Under daphne, `runplatform` refuses such a body earlier still, from its headers, without reading it
(quantarb/management/commands/runplatform.py); this is the same rule for any ASGI server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix
from django.utils.translation import gettext as _


class ExecutorPool:
    """Up to `size` single-thread executors, started on first need and lent one request at a time; the one
    returned last is lent first, so a quiet process keeps reusing one warm thread and its database connection
    (with several, each round trip would wake a thread, and on PostgreSQL a server process, idle the longest)."""

    def __init__(self, size: int, name: str = "web") -> None:
        if size < 1:
            raise ValueError("the pool needs at least one thread")
        self.size = size
        self.name = name
        self._idle: deque[ThreadPoolExecutor] = deque()
        self._waiters: deque[asyncio.Future[ThreadPoolExecutor]] = deque()
        self._started = 0

    @property
    def started(self) -> int:
        return self._started

    async def acquire(self) -> ThreadPoolExecutor:
        if self._idle:
            return self._idle.pop()
        if self._started < self.size:
            self._started += 1
            return ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{self.name}-{self._started}")
        waiter: asyncio.Future[ThreadPoolExecutor] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Cancelled after `release` handed it an executor: pass that on, or it would be lost to the pool.
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result())
            raise

    def release(self, executor: ThreadPoolExecutor) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(executor)
                return
        self._idle.append(executor)


def declared_length(scope: dict[str, Any]) -> int | None:
    """The request's `Content-Length` as a number; None when absent or not a number (Django answers those)."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def too_large_message(limit: int) -> str:
    return _("The request body is too large: at most %(limit)d bytes are accepted.") % {"limit": limit}


def too_large_response(path: str, limit: int) -> tuple[bytes, bytes]:
    """The body and content type of the 413 answer: `{"detail": ...}` for the API, plain text for pages."""
    message = too_large_message(limit)
    if path.startswith("/api/"):
        return json.dumps({"detail": message}).encode(), b"application/json"
    return message.encode(), b"text/plain; charset=utf-8"


class PooledASGIHandler(ASGIHandler):
    """Django's ASGI handler with a fixed pool of request threads, one trip to its thread per request, and a
    body-size guard: see the module."""

    def __init__(self, threads: int) -> None:
        super().__init__()
        self.pool = ExecutorPool(threads)

    def load_middleware(self, is_async: bool = False) -> None:
        """The middleware chain built as under WSGI: synchronous through to the view (`_respond` runs it).

        Built for ASGI, Django's chain starts from an async core, so with our synchronous middleware a request
        went to its thread, back to the event loop (async_to_sync around the async-capable inner middleware and
        the URL resolution), to the thread again for CSRF's `process_view`, again for the view, and back up. Async
        views still work (Django's synchronous path runs them with async_to_sync)."""
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: Any) -> Any:
        return await sync_to_async(self._respond, thread_sensitive=True)(request)

    def _respond(self, request: Any) -> Any:
        """The whole of a request's synchronous work, in one trip to its thread: `request_started`, the chain (with
        its closers and the log line of a 4xx/5xx, as `BaseHandler.get_response` does) and, for a response whose
        content is in memory, `close()` (`request_finished`: connections older than CONN_MAX_AGE closed).

        Django's ASGI path makes each of these a trip of its own, before, around and after sending the answer;
        every trip waits for a turn of the event loop all connections share and for the thread to be woken,
        which on a busy machine is most of a small request's time (bench/api_load.py). A streaming response is
        closed after it is sent, as Django does."""
        signals.request_started.send(sender=self.__class__, scope=request.scope)
        response: Any = self.get_response(request)
        response._handler_class = self.__class__
        if not response.streaming:
            response.close()
        return response

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Django 5.2's `ASGIHandler.handle`, with `request_started` and a non-streaming response's `close()` left
        to `_respond` on the request's thread instead of trips of their own."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None  # create_request answers one or the other
            await signals.request_started.asend(sender=self.__class__, scope=scope)
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return

        async def process_request() -> Any:
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # the client left while it was being sent
                await self.send_response(response, send)
            return response

        # As Django does: a client that disconnects while its request is served cancels the serving.
        tasks = [
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request()),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            if not response.closed:
                await sync_to_async(response.close)()
        body_file.close()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        length = declared_length(scope)
        if limit is not None and length is not None and length > limit:
            await self._refuse(scope, send, limit)
            return
        received = 0
        refused = False

        async def bounded_receive() -> dict[str, Any]:
            """Counts the body as it comes; past the limit, Django sees the client gone and stops reading."""
            nonlocal received, refused
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request" and limit is not None:
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    return {"type": "http.disconnect"}
            return message

        executor = await self.pool.acquire()
        try:
            async with ThreadSensitiveContext(executor=executor):
                await self.handle(scope, bounded_receive, send)
        finally:
            self.pool.release(executor)
        if refused:
            await self._refuse(scope, send, limit)

    @staticmethod
    async def _refuse(scope: dict[str, Any], send: Any, limit: int) -> None:
        body, content_type = too_large_response(scope.get("path", ""), limit)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
