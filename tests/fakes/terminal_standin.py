"""A stand-in for terminal64.exe in the supervisor agent's tests: a process that holds some memory and waits to be
stopped (or, with --ignore-term, ignores a graceful stop and must be killed; with --exit-code N, ends at once;
with --environment-to FILE, writes the environment it was started with).

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
    args = parser.parse_args()
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
