"""Run the embedded platform in one process: daphne (web + WebSockets), the feeds, the spread engine and the
beat jobs, with no Redis. `make run` starts this."""

from __future__ import annotations

import io
from typing import Any

# daphne.server installs the asyncio Twisted reactor on import, before anything else uses Twisted: django.setup()
# has imported it (daphne is the first installed app) by the time manage.py loads this command.
from daphne import http_protocol
from daphne.server import Server, twisted_loop
from django.conf import settings
from django.core.management.base import BaseCommand

from quantarb import gc_tuning
from quantarb.asgi import application
from quantarb.scheduler import run_schedule
from quantarb.web_handler import too_large_response
from strategies.engine import run_trading
from trading.marketdata.pipeline import MarketPipeline

# A refused body up to this size is still read to its end (and dropped) before the connection closes, so that a
# client that reads only once it has sent everything gets its 413 rather than a reset; beyond it the connection
# closes as soon as the answer is written (Go's net/http draws the same line at 256 KB).
REFUSED_BODY_DRAIN_BYTES = 1024 * 1024


def leave_form_bodies_to_django() -> None:
    """Serve with daphne's request without Twisted's own parse of POST form bodies, and with bodies bounded.

    Twisted parses every urlencoded or multipart POST body before daphne hands the request to Django, which parses
    it again; a body Twisted cannot parse (an empty multipart, a bad boundary) got a bare `400 Bad Request` with no
    content type nor message, and every form upload was parsed on the event loop that serves everyone. Django parses
    them once, in the application, and answers a malformed one with a 400 and its reason (quantarb/input_guard.py).

    A body beyond DATA_UPLOAD_MAX_MEMORY_SIZE — declared so by its `Content-Length`, or found so as a chunked one
    arrives — is answered 413 at once, with `Connection: close`, and never read: the application does not start,
    nothing is spooled, and the connection closes (after reading and dropping at most REFUSED_BODY_DRAIN_BYTES of
    the rest). Reading a 2.4 MB body to refuse it, again and again on one connection, took the event loop every
    other request waits for (bench/api_load.py). quantarb/web_handler.py applies the same limit under any server.
    """
    if getattr(http_protocol.WebRequest, "leaves_form_bodies_to_django", False):
        return

    class DjangoParsedWebRequest(http_protocol.WebRequest):  # type: ignore[misc]
        content: Any  # twisted's request body: a file it writes the chunks into
        leaves_form_bodies_to_django = True

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["parsePOSTFormSubmission"] = False
            self.body_limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            self.body_received = 0
            self.body_refused = False
            super().__init__(*args, **kwargs)

        def gotLength(self, length: int | None) -> None:
            if self.body_limit is not None and length is not None and length > self.body_limit:
                super().gotLength(0)
                self._refuse_body(drain=length <= REFUSED_BODY_DRAIN_BYTES)
                return
            super().gotLength(length)

        def handleContentChunk(self, data: bytes) -> None:
            self.body_received += len(data)
            if self.body_refused:
                if self.body_received > REFUSED_BODY_DRAIN_BYTES:
                    self.loseConnection()
                return
            if self.body_limit is not None and self.body_received > self.body_limit:
                self.content.close()
                self.content = io.BytesIO()
                self._refuse_body(drain=self.body_received <= REFUSED_BODY_DRAIN_BYTES)
                return
            super().handleContentChunk(data)

        def _refuse_body(self, *, drain: bool) -> None:
            """Answer 413 now, before the body; close at once, or once what is left of it has been dropped."""
            self.body_refused = True
            target = getattr(self.channel, "_path", b"") or b""  # the request line's target: parsed, not yet set
            body, content_type = too_large_response(target.decode("ascii", "replace"), self.body_limit or 0)
            self.channel.transport.write(
                b"HTTP/1.1 413 Content Too Large\r\nContent-Type: "
                + content_type
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            if not drain:
                self.loseConnection()

        def process(self) -> Any:
            if self.body_refused:  # all of a drained body came: it was answered already
                self.loseConnection()
                return None
            return super().process()

    # daphne's HTTPFactory.buildProtocol reads the module's `WebRequest` for each connection.
    http_protocol.WebRequest = DjangoParsedWebRequest


class Command(BaseCommand):
    help = "Serve the embedded platform: web, feeds, spread engine and scheduled jobs in one process."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--no-engine", action="store_true", help="Serve the web only (another process runs the engine)."
        )
        parser.add_argument("--no-scheduler", action="store_true", help="Do not run the beat jobs in-process.")

    def handle(self, *args: Any, **options: Any) -> None:
        leave_form_bodies_to_django()

        host, port = options["host"], options["port"]
        background = []

        def started() -> None:
            """Start the pipeline, the strategies and the scheduler on daphne's event loop once it listens."""
            gc_tuning.settle()  # what start-up built is never walked by a collection again
            if not options["no_engine"]:
                pipeline = MarketPipeline(
                    seed=settings.QUANTARB_SIM_SEED, demo_calendar=settings.QUANTARB_DEMO_CALENDAR
                )
                background.append(twisted_loop.create_task(pipeline.run()))
                background.append(twisted_loop.create_task(run_trading(pipeline)))
            if not options["no_scheduler"]:
                background.append(twisted_loop.create_task(run_schedule()))
            self.stdout.write(
                self.style.SUCCESS(
                    f"quantarb ({settings.QUANTARB_RUN_MODE}) at http://{host}:{port}/  —  Ctrl+C stops it"
                )
            )

        Server(
            application=application,
            endpoints=[f"tcp:port={port}:interface={host}"],
            ready_callable=started,
            signal_handlers=True,
        ).run()
