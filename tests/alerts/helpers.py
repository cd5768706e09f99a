"""The webhook receiver of the alerts tests: tests/alerts/webhook_receiver.py run in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from alerts.models import Channel

RECEIVER = Path(__file__).with_name("webhook_receiver.py")
KEY = "whsec-0123456789abcdef"


class Receiver:
    def __init__(self, port: int, log: Path) -> None:
        self.port, self.log = port, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(self.port), KEY, str(self.log)], stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None and self.process.stdout.readline().strip() == b"ready"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(5)

    def received(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def webhook(alice: Any, port: int) -> Channel:
    return Channel.objects.create(
        tenant=alice.tenant,
        name="ops hook",
        kind="webhook",
        target=f"http://127.0.0.1:{port}/hook",
        secrets={"signing_key": KEY},  # type: ignore[misc]
        min_severity="info",
    )
