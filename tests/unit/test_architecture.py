"""The house rules between packages, checked on the source: imports flow one way, lib/ holds no UI.

    app_pages ─> lib.services ─> lib.bulk ─> lib.work ─> lib.crm, lib.claude ─> lib.usage, lib.auth ─> lib.core

A package may import only packages of a lower rank (and itself); the sandbox imports nothing else
from lib/; only the gateway's package imports `anthropic`; nothing in lib/ imports streamlit or plotly.
Imports under `if TYPE_CHECKING:` count too: they are still a dependency a reader has to follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"
RANK = {"core": 0, "usage": 1, "auth": 1, "claude": 2, "crm": 2, "work": 3, "bulk": 4, "services": 5}
UI_LIBRARIES = ("streamlit", "plotly")


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """Every module `path` imports (relative imports made absolute), with its line."""
    package = list(path.relative_to(root).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] if node.level else [])
            module = ".".join(p for p in (base, node.module or "") if p)
            found.append((module, node.lineno))
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def package_of(module: str) -> str | None:
    """`lib.crm.store` -> "crm"; `lib.services` -> "services"; not lib -> None."""
    parts = module.split(".")
    return parts[1] if parts[0] == "lib" and len(parts) > 1 else None


def violations(root: Path = ROOT) -> list[str]:
    out = []
    for path in sorted((root / "lib").rglob("*.py")):
        rel = path.relative_to(root)
        own = package_of(".".join(rel.with_suffix("").parts))
        if path.name == "__main__.py":
            own = "services"  # a command's entry point wires the app, as app.py does: it stands at the top
        for module, line in imports_of(path, root):
            where = f"{rel}:{line} imports {module}"
            top = module.split(".")[0]
            if top in UI_LIBRARIES:
                out.append(f"{where}: presentation belongs beside the pages (app_pages/_shared)")
            if top == "anthropic" and own not in ("claude", "sandbox"):
                out.append(f"{where}: only the gateway (lib/claude) imports anthropic")
            target = package_of(module)
            if target is None or target == own or target not in RANK and target != "sandbox":
                continue
            if own == "sandbox":
                out.append(f"{where}: the sandbox imports nothing else from lib/")
            elif target == "sandbox":
                if own != "services":
                    out.append(f"{where}: only the composition root starts the sandbox")
            elif RANK[target] >= RANK[own]:
                out.append(f"{where}: {own} (rank {RANK[own]}) may not import {target} (rank {RANK[target]})")
    return out


def test_every_lib_package_has_a_rank():
    packages = {p.name for p in LIB.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages - set(RANK) - {"sandbox"} == set(), "give a new package its place in RANK"


def test_imports_flow_one_way():
    assert violations() == []


def test_no_cycles_inside_the_sandbox():
    graph = {}
    for path in (LIB / "sandbox").glob("*.py"):
        name = f"lib.sandbox.{path.stem}"
        graph[name] = {".".join(m.split(".")[:3]) for m, _ in imports_of(path) if m.startswith("lib.sandbox.")}
        graph[name].discard(name)
    assert _cycle(graph) == []


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle in `graph` (its modules in order), or [] when there is none."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str]:
        if node in path:
            return path[path.index(node):] + [node]
        if node in done or node not in graph:
            return []
        for nxt in sorted(graph[node]):
            if found := visit(nxt, path + [node]):
                return found
        done.add(node)
        return []

    return next((c for n in sorted(graph) if (c := visit(n, []))), [])


def test_the_cycle_finder_finds_one():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("bad, expected", [
    ("import streamlit as st\n", "presentation"),
    ("from plotly import graph_objects\n", "presentation"),
    ("import anthropic\n", "only the gateway"),
    ("from lib.work.review import Review\n", "may not import"),
])
def test_the_checker_catches_what_it_should(tmp_path, bad, expected):
    """A rule that cannot fail protects nothing: plant a violation in a copy and see it reported."""
    fake_lib = tmp_path / "lib"
    (fake_lib / "crm").mkdir(parents=True)
    (fake_lib / "crm" / "__init__.py").write_text("")
    (fake_lib / "crm" / "bad.py").write_text(bad)
    assert any(expected in v for v in violations(tmp_path))


def test_the_checker_catches_a_sandbox_import(tmp_path):
    fake_lib = tmp_path / "lib"
    (fake_lib / "sandbox").mkdir(parents=True)
    (fake_lib / "sandbox" / "app.py").write_text("from lib.core.settings import Settings\n")
    assert any("the sandbox imports nothing" in v for v in violations(tmp_path))
