"""Package layers without circles: every import of hwnas (module level or inside a function) goes down.

The layers are DESIGN.md's: a package imports only packages of lower layers (and itself). A
function-local import is only for a heavy or optional dependency and says why in a comment (on its
line, or on the line of the first import of its group).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import hwnas

ROOT = Path(hwnas.__file__).parent

#: Lowest first; packages in one layer do not import each other.
LAYERS: list[set[str]] = [
    {"errors"},
    {"registry", "_defaults"},
    {"search_spaces", "tasks"},
    {"artifacts", "predictors"},
    {"hw_profiles"},
    {"training"},
    {"evaluators"},
    {"codesign"},
    {"export"},
    {"search"},
    {"dashboard"},
    {"cli", "hwnas"},  # the package itself: `hwnas.predict_model` and `hwnas.predict_onnx`, loaded on first use
]
RANK = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def _package(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "hwnas"
    name = parts[1]
    return "cli" if name.startswith(("cli", "_cli", "__main__")) else name


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> list[tuple[str, str, int, bool, Path]]:
    """(importing module, imported hwnas module, line, inside a function, file) for every hwnas import."""
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text())
        local = {id(sub) for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for sub in ast.walk(node)}
        typing_only = {id(sub) for node in ast.walk(tree) if isinstance(node, ast.If) and ast.unparse(node.test) in
                       ("TYPE_CHECKING", "typing.TYPE_CHECKING") for sub in ast.walk(node)}
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module]
                if node.module == "hwnas":
                    targets = [f"hwnas.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            for target in targets:
                if id(node) in typing_only:  # annotations only: no import at run time
                    continue
                if target == "hwnas" or target.startswith("hwnas."):
                    found.append((_module_name(path), target, node.lineno, id(node) in local, path))
    return found


def test_every_package_has_a_layer() -> None:
    packages = {_package(_module_name(p)) for p in ROOT.rglob("*.py")} - {"hwnas"}
    assert packages <= set(RANK), f"packages without a layer in this test: {sorted(packages - set(RANK))}"


def test_imports_go_down_the_layers() -> None:
    upward = []
    for source, target, line, _, path in _imports():
        a, b = _package(source), _package(target)
        if a == b or b == "hwnas":
            continue
        if RANK[b] >= RANK[a]:
            upward.append(f"{path.relative_to(ROOT.parent)}:{line}: {a} imports {b}")
    assert not upward, "imports that do not go down a layer:\n" + "\n".join(upward)


def test_no_module_import_cycles() -> None:
    """Within packages too: no two modules reach each other (runner ↔ ray_runner, cli ↔ cli_hardware)."""
    modules = {_module_name(p) for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target, *_ in _imports():
        while target not in modules and "." in target:  # `from pkg.mod import name` → the module itself
            target = target.rsplit(".", 1)[0]
        if target != source and not source.startswith(target + "."):  # a module importing its own package's __init__
            graph[source].add(target)

    def reachable(start: str) -> set[str]:
        seen, stack = set(), [start]
        while stack:
            for nxt in graph[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return seen

    cycles = sorted({tuple(sorted((a, b))) for a in list(graph) for b in graph[a] if a in reachable(b)
                     and not a.startswith(b + ".") and not b.startswith(a + ".")})
    assert not cycles, f"modules that import each other (directly or through others): {cycles}"


def test_function_local_imports_say_why() -> None:
    """A function-local import is for a heavy or optional dependency, with its reason in a comment."""
    silent = []
    for path in sorted(ROOT.rglob("*.py")):
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            body_imports = [sub for sub in ast.walk(node) if isinstance(sub, (ast.Import, ast.ImportFrom))]
            for sub in body_imports:
                above = lines[sub.lineno - 2].strip() if sub.lineno >= 2 else ""
                grouped = above.startswith(("import ", "from ")) and any(s.lineno == sub.lineno - 1 for s in body_imports)
                if "#" in lines[sub.lineno - 1] or above.startswith("#") or grouped:
                    continue
                silent.append(f"{path.relative_to(ROOT.parent)}:{sub.lineno}: {lines[sub.lineno - 1].strip()}")
    assert not silent, "function-local imports without a reason:\n" + "\n".join(sorted(set(silent)))
