"""List every import written inside a function without a reason beside it, and exit 1 if there is one
(`make lint`; docs/architecture.md, "Layers").

    .venv/bin/python scripts/deferred_imports.py

An import belongs at the top of its module. One stays inside a function only where the top would break: the app
registry is not ready yet (an `AppConfig.ready`), a cycle at load time, an optional or platform-only dependency,
a measured heavy import on a rare path, or a process that must not load it. The reason is a comment on the line
above the import (or at the end of its line), so a reader need not try the move to learn why it was not made.
Tests, benchmarks and scripts are outside the rule.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECKED = ("quantarb", "accounts", "strategies", "trading", "risk", "alerts", "mt5ops", "deploy", "manage.py")


def unexplained(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of each import inside a function of `path` with no comment on it or on the line above."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for function in ast.walk(ast.parse(source, filename=str(path))):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            line = lines[node.lineno - 1]
            above = lines[node.lineno - 2].strip() if node.lineno >= 2 else ""
            if "#" not in line and not above.startswith("#"):
                yield node.lineno, line.strip()


def files() -> Iterator[Path]:
    for name in CHECKED:
        target = ROOT / name
        candidates = [target] if target.is_file() else sorted(target.rglob("*.py"))
        for path in candidates:
            if "migrations" not in path.parts:
                yield path


def main() -> int:
    found = sorted(
        {(str(path.relative_to(ROOT)), lineno, text) for path in files() for lineno, text in unexplained(path)}
    )
    for name, lineno, text in found:
        print(f"{name}:{lineno}: {text}")
    if found:
        print(f"{len(found)} import(s) inside a function without a reason: move them to the top or say why above.")
        return 1
    print("every import inside a function says why")
    return 0


if __name__ == "__main__":
    sys.exit(main())
