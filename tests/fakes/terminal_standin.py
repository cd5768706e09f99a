"""A stand-in for terminal64.exe in the supervisor agent's tests: a process that holds some memory and waits to be
stopped (or, with --ignore-term, ignores a graceful stop and must be killed; with --exit-code N, ends at once;
with --environment-to FILE, writes the environment it was started with; with --bridge-port P, registers itself as
the terminal of the MT5 bridge fake on 127.0.0.1:P, as a real terminal64.exe is the one the bridge's package talks
to — see tests/fakes/mt5_bridge.py `qa_terminal_started`).

Run: `python tests/fakes/terminal_standin.py [--hold-mib 48] [--ignore-term] [--exit-code N]`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hold-mib", type=int, default=0, help="resident memory to hold, in MiB")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--exit-code", type=int, default=None)
    parser.add_argument("--environment-to", default=None, help="write the environment it was given to this file")
    parser.add_argument("--bridge-port", type=int, default=None, help="the MT5 bridge fake to register with")
    args = parser.parse_args()
    if args.bridge_port:
        import rpyc  # the fake's own protocol (rpyc classic), as the tests script it

        connection = rpyc.classic.connect("127.0.0.1", args.bridge_port)
        try:
            connection.modules.MetaTrader5.qa_terminal_started(os.getpid())
        finally:
            connection.close()
    if args.environment_to:
        partial = Path(args.environment_to + ".partial")
        partial.write_text(json.dumps(dict(os.environ)))
        os.replace(partial, args.environment_to)  # whole or not there
    if args.exit_code is not None:
        sys.exit(args.exit_code)
    held = b"x" * (args.hold_mib * 1024 * 1024)  # written, so resident
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Event().wait()  # until stopped
    del held


if __name__ == "__main__":
    main()
