"""The house's shape, kept: imports go one way (farm.yaml → clients → collectors and
procedures → the CLI and the view) and no two files import each other, directly or round
a loop. Imports under `if TYPE_CHECKING:` are for type hints only and do not count."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "wpfarm_tui"
# Below the procedures: may not import actions/ or the view.
LOWER = ("farm", "status", "sites", "stacks", "lab", "swarmlab", "setup", "inventory",
         "secrets", "steps", "files", "programs", "safe_yaml", "contexts", "keys")
UPPER = ("actions", "commands", "cli", "app", "screens", "widgets")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_imports(tree: ast.Module) -> list[str]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for n in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names]
    return [name for name in found if name.startswith("wpfarm_tui")]


def graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {t for t in _runtime_imports(ast.parse(p.read_text())) if t in files and t != m}
            for m, p in files.items()}


def _layer(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_no_upward_imports() -> None:
    upward = sorted((m, t) for m, targets in graph().items() for t in targets
                    if _layer(m) in LOWER and _layer(t) in UPPER)
    assert not upward, f"modules below the procedures import them or the view: {upward}"


def test_no_import_cycles() -> None:
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:  # Tarjan's SCCs, iteratively (no recursion limit)
        nonlocal counter
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        cycles.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = counter
                counter += 1
                stack.append(child)
                work.append((child, iter(sorted(edges[child]))))
            elif child in stack:
                low[node] = min(low[node], index[child])

    for module in sorted(edges):
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"
