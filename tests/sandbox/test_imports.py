"""The sandbox's module graph: no import cycle inside lib/sandbox/, and nothing from lib/ outside it.

Every import counts: top-level, function-level and `if TYPE_CHECKING:` ones, since a cycle that only a
type checker follows is still a cycle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.sandbox

PKG = Path(__file__).resolve().parents[2] / "lib" / "sandbox"


def _graph() -> dict[str, set[str]]:
    modules = {p.stem for p in PKG.glob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for path in PKG.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:
                    targets = [node.module] if node.module else [a.name for a in node.names]
                elif node.module and node.module.startswith("lib.sandbox"):
                    rest = node.module.removeprefix("lib.sandbox").lstrip(".")
                    targets = [rest] if rest else [a.name for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name.removeprefix("lib.sandbox.") for a in node.names if a.name.startswith("lib.sandbox.")]
            graph[path.stem].update(t.split(".")[0] for t in targets if t.split(".")[0] in modules)
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_module_in_the_sandbox_takes_part_in_an_import_cycle():
    graph = _graph()
    assert "simulator" in graph and graph["simulator"], "the graph was read"
    cycle = _cycle(graph)
    assert cycle is None, " -> ".join(cycle or [])


def test_the_sandbox_imports_nothing_from_lib_outside_itself():
    offenders = []
    for path in PKG.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("lib") and not n.startswith("lib.sandbox")
                          and (n == "lib" or n.startswith("lib."))]
    assert offenders == []
