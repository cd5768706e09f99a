"""The web process's Django handler (quantarb/web_handler.py): requests run on a fixed set of reused threads, and a
body beyond DATA_UPLOAD_MAX_MEMORY_SIZE is answered 413 before Django reads it or takes a thread.

Django's stock handler started a thread — and so a database connection — per request (on PostgreSQL most
of a small API answer's time), and DRF read any API body whatever its size on that thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from asgiref.sync import AsyncToSync, SyncToAsync
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import path

from quantarb.web_handler import ExecutorPool, PooledASGIHandler


def scope(path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *(headers or [])],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(
    handler: Any, request_scope: dict[str, Any], chunks: list[bytes] | None = None
) -> tuple[int, dict[bytes, bytes], bytes]:
    """Send the request (its body in `chunks`), return status, headers and body."""
    communicator: Any = ApplicationCommunicator(handler, request_scope)  # type: ignore[no-untyped-call]
    parts = chunks or [b""]
    for index, chunk in enumerate(parts):
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": index < len(parts) - 1})
    start = await communicator.receive_output(10)
    body = b""
    while True:
        message = await communicator.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await communicator.wait(10)
    return start["status"], dict(start.get("headers", [])), body


@pytest.fixture
def threads_seen() -> Any:
    """The name of the thread each request's synchronous code started on (Django's request_started runs there)."""
    names: list[str] = []

    def record(**kwargs: Any) -> None:
        names.append(threading.current_thread().name)

    request_started.connect(record, weak=False)
    yield names
    request_started.disconnect(record)


async def test_successive_requests_reuse_one_thread(threads_seen: list[str]) -> None:
    handler = PooledASGIHandler(threads=4)

    for _ in range(3):
        status, _headers, body = await call(handler, scope("/healthz"))
        assert (status, json.loads(body)) == (200, {"status": "ok"})

    # One thread, kept: its database connection lives on with it (CONN_MAX_AGE). Django's own handler ran each
    # request on a new thread, so each opened a connection of its own.
    assert threads_seen == ["web-1_0"] * 3
    assert handler.pool.started == 1


async def test_a_request_goes_to_its_thread_once(monkeypatch: pytest.MonkeyPatch, threads_seen: list[str]) -> None:
    # Django's ASGI path went to the thread for request_started, ran the synchronous middleware there, came back to
    # the event loop for the async-capable inner ones and the URL, went to the thread again for CSRF's process_view
    # and the view, and once more for response.close(): each hand-over waited for a turn of the loop every
    # connection shares. Now a request's synchronous work is one trip.
    trips: list[str] = []
    returns: list[str] = []
    to_thread, to_loop = SyncToAsync.__call__, AsyncToSync.__call__

    async def counting_trip(self: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await to_thread(self, *args, **kwargs)

    def counting_return(self: Any, *args: Any, **kwargs: Any) -> Any:
        returns.append(getattr(self.awaitable, "__qualname__", repr(self.awaitable)))
        return to_loop(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counting_trip)
    monkeypatch.setattr(AsyncToSync, "__call__", counting_return)
    handler = PooledASGIHandler(threads=1)

    status, _headers, _body = await call(handler, scope("/healthz"))

    assert status == 200
    assert (trips, returns) == (["PooledASGIHandler._respond"], [])
    assert threads_seen == ["web-1_0"]  # request_started, on the request's thread


async def test_concurrent_requests_never_take_more_threads_than_the_pool(threads_seen: list[str]) -> None:
    handler = PooledASGIHandler(threads=2)

    answers = await asyncio.gather(*(call(handler, scope("/healthz")) for _ in range(6)))

    assert [status for status, _headers, _body in answers] == [200] * 6
    assert handler.pool.started == 2
    assert set(threads_seen) <= {"web-1_0", "web-2_0"}


async def test_the_pool_lends_each_executor_to_one_request_at_a_time() -> None:
    pool = ExecutorPool(2)
    first, second = await pool.acquire(), await pool.acquire()
    third = asyncio.ensure_future(pool.acquire())
    cancelled = asyncio.ensure_future(pool.acquire())
    await asyncio.sleep(0)  # one turn of the loop, so the waiters run as far as they can (there is nothing to await)
    assert not third.done()

    cancelled.cancel()
    pool.release(first)

    assert await asyncio.wait_for(third, 5) is first  # the next waiter gets it; the cancelled one is skipped
    pool.release(second)
    assert await pool.acquire() is second  # idle again, lent again: never a third thread
    assert pool.started == 2
    for executor in (first, second):
        executor.shutdown()


@pytest.mark.parametrize(
    ("path", "content_type"), [("/api/v1/strategies/", b"application/json"), ("/members/", b"text/plain")]
)
async def test_a_declared_body_beyond_the_limit_is_a_413_before_django_reads_it(
    settings: Any, threads_seen: list[str], path: str, content_type: bytes
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    handler = PooledASGIHandler(threads=1)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1001")]

    status, answer_headers, body = await call(handler, scope(path, "POST", headers), [b"x" * 1001])

    assert status == 413
    assert answer_headers[b"content-type"].startswith(content_type)
    assert b"at most 1000 bytes" in body
    # Refused from the header alone: Django never started the request, no thread was taken.
    assert threads_seen == []
    assert handler.pool.started == 0


async def test_a_chunked_body_growing_beyond_the_limit_is_a_413(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    handler = PooledASGIHandler(threads=1)
    chunked = scope("/api/v1/strategies/", "POST", [(b"transfer-encoding", b"chunked")])

    status, _headers, body = await call(handler, chunked, [b"x" * 600, b"x" * 600])

    assert status == 413
    assert json.loads(body) == {"detail": "The request body is too large: at most 1000 bytes are accepted."}


async def test_a_body_within_the_limit_reaches_django(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    handler = PooledASGIHandler(threads=1)
    headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]

    status, _headers, _body = await call(handler, scope("/api/v1/strategies/", "POST", headers), [b"x" * 1000])

    assert status == 401  # Django's answer (no credentials), not the size guard's


async def test_the_served_application_is_guarded(settings: Any) -> None:
    from quantarb.asgi import application

    headers = [(b"content-type", b"application/json"), (b"content-length", str(300 * 1024).encode())]

    status, _headers, _body = await call(
        application, scope("/api/v1/strategies/", "POST", headers), [b"x" * 300 * 1024]
    )

    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 256 * 1024
    assert status == 413


# --- views of every kind still answer through the one-trip path ----------------------------------------------------
def _streaming(request: HttpRequest) -> StreamingHttpResponse:
    return StreamingHttpResponse(iter([b"first,", b"second"]), content_type="text/csv")


async def _async_view(request: HttpRequest) -> HttpResponse:
    await asyncio.sleep(0)  # a view that really awaits: it yields to the loop once
    return HttpResponse(b"from an async view")


urlpatterns = [path("streaming/", _streaming), path("async/", _async_view)]


@pytest.mark.urls(__name__)
@pytest.mark.parametrize(("route", "body"), [("/streaming/", b"first,second"), ("/async/", b"from an async view")])
async def test_streaming_and_async_views_still_answer(route: str, body: bytes) -> None:
    finished: list[str] = []

    def record(**kwargs: Any) -> None:
        finished.append(threading.current_thread().name)

    request_finished.connect(record, weak=False)
    try:
        status, _headers, answer = await call(PooledASGIHandler(threads=1), scope(route))
    finally:
        request_finished.disconnect(record)

    assert (status, answer) == (200, body)
    assert len(finished) == 1  # closed once: after it was sent when streaming, on its thread otherwise
