"""A stand-in for terminal64.exe in the supervisor agent's tests: a process that holds some memory and waits to be
stopped (or, with --ignore-term, ignores a graceful stop and must be killed; with --exit-code N, ends at once).

Run: `python tests/fakes/terminal_standin.py [--hold-mib 48] [--ignore-term] [--exit-code N]`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hold-mib", type=int, default=0, help="resident memory to hold, in MiB")
    parser.add_argument("--ignore-term", action="store_true")
    parser.add_argument("--exit-code", type=int, default=None)
    args = parser.parse_args()
    if args.exit_code is not None:
        sys.exit(args.exit_code)
    held = b"x" * (args.hold_mib * 1024 * 1024)  # written, so resident
    if args.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    threading.Event().wait()  # until stopped
    del held


if __name__ == "__main__":
    main()
