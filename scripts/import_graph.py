"""Print the app-level import graph drawn from the code's own imports, and its cycles (docs/architecture.md).

    .venv/bin/python scripts/import_graph.py            # edges and cycles; exit 1 if any cycle
    .venv/bin/python scripts/import_graph.py --detail   # and, for each edge, the module imports behind it

An app is a top-level package, except `trading`, whose capability packages (`trading.marketdata`,
`trading.execution`, …, `trading.venues`) count as apps of their own, as in ARCHITECTURE.md's layers. The composition
root (quantarb's urls, asgi, routing, celery, schedule, wiring and the management commands that assemble the
platform) may import anything and is left out of the cycle count.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections import defaultdict
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("quantarb", "accounts", "strategies", "trading", "risk", "alerts", "mt5ops")
TRADING_PARTS = (
    "trading.venues",
    "trading.marketdata",
    "trading.execution",
    "trading.manual",
    "trading.reconciliation",
    "trading.portfolio",
    "trading.desk",
    "trading.account_sync",
    "trading.domain",
)
COMPOSITION_ROOT = (
    "quantarb.urls",
    "quantarb.api_urls",
    "quantarb.asgi",
    "quantarb.routing",
    "quantarb.celery",
    "quantarb.schedule",
    "quantarb.wiring",
    "quantarb.views",
    "quantarb.health",
    "quantarb.management",
    "quantarb.tasks",
    "quantarb.settings",
    "quantarb.api_schema",
)
# Each app's entry points, found by Django's or Celery's autodiscovery and imported by none of our modules: they sit
# on top of their app. trading's own are one node of their own, so that the records (models, choices, instruments)
# below its capability packages are not merged with the tasks above them.
ENTRY_POINTS = ("tasks", "admin", "alert_rules", "templatetags", "management", "apps")


# quantarb's request helpers stand just above accounts, its infrastructure below (pyproject's layers contract).
TENANCY = ("quantarb.tenancy", "quantarb.context_processors")


def app_of(module: str) -> str | None:
    if any(module == root or module.startswith(root + ".") for root in COMPOSITION_ROOT):
        return None
    if module.endswith(".migrations") or ".migrations." in module:
        return None
    for part in TRADING_PARTS:
        if module == part or module.startswith(part + "."):
            return part
    app, _, rest = module.partition(".")
    if app == "trading" and rest.split(".")[0] in ENTRY_POINTS:
        return "trading.entry"
    if module in TENANCY:
        return "quantarb.tenancy"
    return app


def app_graph(graph: grimp.ImportGraph) -> dict[tuple[str, str], list[tuple[str, str]]]:
    edges: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for module in graph.modules:
        source = app_of(module)
        if source is None:
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            target = app_of(imported)
            if target is None or target == source or imported.split(".")[0] not in PACKAGES:
                continue
            edges[(source, target)].append((module, imported))
    return edges


def cycles(edges: dict[tuple[str, str], list[tuple[str, str]]]) -> list[list[str]]:
    """Elementary cycles among apps (small graph: a depth-first search from each node is enough)."""
    successors: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        successors[source].add(target)
    nodes = sorted(set(itertools.chain.from_iterable(edges)))
    found: list[list[str]] = []
    for start in nodes:
        stack = [(start, [start])]
        while stack:
            node, path = stack.pop()
            for nxt in successors[node]:
                if nxt == start:
                    found.append(path)
                elif nxt > start and nxt not in path:
                    stack.append((nxt, [*path, nxt]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--detail", action="store_true", help="list the module imports behind each edge")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    # As pyproject's import-linter settings: an import under `if TYPE_CHECKING:` names a type in an annotation and
    # runs nothing, so it is no dependency.
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, exclude_type_checking_imports=True)
    edges = app_graph(graph)
    for (source, target), imports in sorted(edges.items()):
        print(f"{source} -> {target}  ({len(imports)} imports)")
        if args.detail:
            for module, imported in sorted(imports):
                print(f"    {module} -> {imported}")
    found = cycles(edges)
    two = [c for c in found if len(c) == 2]
    print(f"\n{len(found)} app-level cycles ({len(two)} between two apps)")
    for cycle in sorted(found, key=len):
        print("  " + " -> ".join([*cycle, cycle[0]]))
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
