"""The import rules of the tree, checked from the source (every import, lazy ones inside functions included;
`if TYPE_CHECKING:` blocks excluded):

1. packages depend one way: cxrbench -> leaderboards, readerstudy -> bench; bench imports none of the others,
   leaderboards and readerstudy import neither each other nor cxrbench;
2. no import cycle between modules.

    .venv/bin/python scripts/check_imports.py      # prints each violation; exit 1 when there is one
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bench", "leaderboards", "readerstudy", "cxrbench")
ALLOWED = {
    "bench": {"bench"},
    "leaderboards": {"leaderboards", "bench"},
    "readerstudy": {"readerstudy", "bench"},
    "cxrbench": set(PACKAGES),
}


def modules(root: Path) -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports (a `from pkg import mod` counts as mod when mod is a module)."""
    out: set[str] = set()
    for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                parts = name.split(".")
                if path.name != "__init__.py":
                    parts = parts[:-1]
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, *([base] if base else [])])
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def violations(root: Path = ROOT) -> list[str]:
    known = modules(root)
    graph = {name: imported(name, path, known) for name, path in known.items()}
    problems = [
        f"{name} imports {target}: {name.split('.')[0]} may import only {', '.join(sorted(ALLOWED[name.split('.')[0]]))}"
        for name, targets in sorted(graph.items())
        for target in sorted(targets)
        if target.split(".")[0] not in ALLOWED[name.split(".")[0]]
    ]
    problems += [f"import cycle: {' -> '.join(component)}" for component in cycles(graph)]
    return problems


def main() -> int:
    problems = violations()
    for problem in problems:
        print(problem)
    print(f"{len(modules(ROOT))} modules, {len(problems)} import-rule violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
