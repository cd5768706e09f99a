"""The engine process of the services topology: feeds → validation → spread engine → store + live push, and the
strategy runners and manual desk trading on it.

The same `MarketPipeline` the embedded platform runs inside its web process, on its own asyncio loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from quantarb import gc_tuning
from strategies.engine import run_trading
from trading.marketdata.feeds import serve_metrics
from trading.marketdata.pipeline import MarketPipeline

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the streaming feeds, spread engine, store and live push until SIGTERM or Ctrl+C."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=settings.QUANTARB_ENGINE_METRICS_PORT,
            help="Serve Prometheus metrics (feeds, counters, timings) on 127.0.0.1 at this port; 0: off.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["metrics_port"]:
            serve_metrics(options["metrics_port"])
            self.stdout.write(f"metrics at http://127.0.0.1:{options['metrics_port']}/metrics")
        asyncio.run(self.run())

    async def run(self) -> None:
        """Start the pipeline; stop it cleanly (flushing the store) on SIGTERM or SIGINT."""
        pipeline = MarketPipeline(seed=settings.QUANTARB_SIM_SEED, demo_calendar=settings.QUANTARB_DEMO_CALENDAR)
        # Start-up's objects out of later collections: a full collection's pause would land between a signal and
        # its orders on the wire (bench/order_legs.py), as it landed between a spread and its push.
        gc_tuning.settle()
        task = asyncio.create_task(self.both(pipeline), name="engine")
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, task.cancel)
        self.stdout.write(self.style.SUCCESS(f"engine running ({settings.QUANTARB_RUN_MODE}); SIGTERM stops it"))
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.stdout.write("engine stopped")

    @staticmethod
    async def both(pipeline: MarketPipeline) -> None:
        """The market pipeline and, reading it, the strategy runners and the manual desk."""
        await asyncio.gather(pipeline.run(), run_trading(pipeline))
