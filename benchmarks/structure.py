"""The shape of the code: lines per paper space file, the package import graph and its cycles.

Every import of an hwnas module counts, at module level or inside a function (imports only for type
checkers do not). Prints a summary and, with --json, writes benchmarks/results/structure.json.

    python benchmarks/structure.py --json
"""

from __future__ import annotations

import argparse
import ast
import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "hwnas"
PAPER_SPACES = ("mixed_attention.py", "lighthubert.py", "mobiledets.py", "emov2.py")


def package(module: str) -> str:
    parts = module.split(".")
    name = parts[1] if len(parts) > 1 else "hwnas"
    return "cli" if name.startswith(("cli", "_cli", "__main__")) else name


def imports() -> tuple[dict[str, set[str]], int]:
    """Package -> packages it imports, and the number of function-local hwnas imports."""
    graph: dict[str, set[str]] = defaultdict(set)
    local = 0
    for path in ROOT.rglob("*.py"):
        source = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        tree = ast.parse(path.read_text())
        inside = {id(sub) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for sub in ast.walk(node)}
        typing_only = {id(sub) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
                       for sub in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets = [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for target in targets:
                if target.startswith("hwnas.") and package(target) != package(source):
                    graph[package(source)].add(package(target))
                    local += id(node) in inside
    return graph, local


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    def reach(start: str) -> set[str]:
        seen, stack = set(), [start]
        while stack:
            for nxt in graph.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    return sorted({tuple(sorted((a, b))) for a in graph for b in graph[a] if a in reach(b)})  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lines = {name: len((ROOT / "search_spaces" / name).read_text().splitlines()) for name in PAPER_SPACES}
    graph, local = imports()
    found = cycles(graph)
    result = {"paper_space_lines": lines, "import_graph": {k: sorted(v) for k, v in sorted(graph.items())},
              "package_cycles": found, "function_local_hwnas_imports": local}
    for name, count in lines.items():
        print(f"{name:20s} {count:4d} lines")
    for source, targets in result["import_graph"].items():
        print(f"{source:14s} -> {', '.join(targets)}")
    print(f"package cycles: {found or 'none'}; function-local imports between packages: {local}")
    if args.json:
        out = Path(__file__).parent / "results" / "structure.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
