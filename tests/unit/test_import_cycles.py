"""DESIGN.md §1, "no import cycles anywhere", checked on a static AST walk of bot, webhooks, models, sandbox.

The rule:
- the imports a module runs when it is imported (its body, class bodies, `if`/`try` blocks, and
  `if TYPE_CHECKING:` blocks, since a cycle hidden from the interpreter is still a cycle in the
  design) must form a DAG;
- imports inside functions run later, so they cannot break start-up, but they are dependencies all
  the same: together with the module-level ones they must form a DAG too;
- bot/bootstrap.py and webhooks/ do not import each other at all, at any level.

An import edge goes to the module named, or for `from x import y` to x.y when that is a module.
Whatever exists is checked, so modules written later are covered without changing this file.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "webhooks", "models", "sandbox")
MODULE, FUNCTION = "module", "function"


@dataclass(frozen=True)
class Edge:
    """One import of a project module by another, where it is written, and at which level."""

    source: str
    target: str
    path: str
    line: int
    level: str

    def __str__(self) -> str:
        where = "" if self.level == MODULE else " (inside a function)"
        return f"{self.path}:{self.line} {self.source} -> {self.target}{where}"


def module_name(path: Path) -> str:
    """The dotted module name of a source file under ROOT."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def is_project_module(dotted: str) -> bool:
    """True when `dotted` names a module or package of the project."""
    base = ROOT.joinpath(*dotted.split("."))
    return dotted.split(".")[0] in PACKAGES and (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file())


def _from_base(node: ast.ImportFrom, package: str) -> str:
    """The module a `from ... import` statement reads from, relative levels resolved."""
    if not node.level:
        return node.module or ""
    parts = package.split(".")
    anchor = parts[: len(parts) - (node.level - 1)]
    return ".".join(anchor + ([node.module] if node.module else []))


def _targets(node: ast.Import | ast.ImportFrom, package: str) -> Iterator[str]:
    """The project modules one import statement names."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = _from_base(node, package)
        names = [f"{base}.{alias.name}" if is_project_module(f"{base}.{alias.name}") else base
                 for alias in node.names]
    yield from (name for name in names if is_project_module(name))


class _ImportVisitor(ast.NodeVisitor):
    """Collects import statements with the level they run at: module (import time) or function."""

    def __init__(self, name: str, package: str, path: str) -> None:
        self.name, self.package, self.path = name, package, path
        self.depth = 0
        self.edges: list[Edge] = []

    def _function(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, targets: Iterable[str], line: int) -> None:
        level = FUNCTION if self.depth else MODULE
        for target in dict.fromkeys(targets):
            if target != self.name:
                self.edges.append(Edge(self.name, target, self.path, line, level))

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        self._add(_targets(node, self.package), node.lineno)

    visit_Import = visit_ImportFrom = _import

    def visit_Call(self, node: ast.Call) -> None:
        """importlib.import_module('x') and __import__('x') with a literal name."""
        func = node.func
        called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if called in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and is_project_module(node.args[0].value):
            self._add([node.args[0].value], node.lineno)
        self.generic_visit(node)


def edges_of(source: str, path: Path) -> list[Edge]:
    """Every import of a project module in one source file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    visitor = _ImportVisitor(name, package, str(path.relative_to(ROOT)))
    visitor.visit(ast.parse(source, filename=visitor.path))
    return visitor.edges


def all_edges() -> list[Edge]:
    """The import edges of every module in the application packages."""
    found: list[Edge] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found += edges_of(path.read_text(encoding="utf-8"), path)
    return found


def cycles(edges: Iterable[Edge]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set()).add(edge.target)
        graph.setdefault(edge.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def explain(components: list[list[str]], edges: Iterable[Edge]) -> str:
    """Each cycle with the import lines that make it."""
    lines = []
    for component in components:
        members = set(component)
        lines.append("cycle: " + ", ".join(component))
        lines += [f"  {edge}" for edge in edges if edge.source in members and edge.target in members]
    return "\n".join(lines)


def _bootstrap_webhooks(edge: Edge) -> bool:
    """An import between bot.bootstrap and webhooks, either way."""
    def webhooks(module: str) -> bool:
        return module == "webhooks" or module.startswith("webhooks.")

    return ((edge.source == "bot.bootstrap" and webhooks(edge.target))
            or (webhooks(edge.source) and edge.target == "bot.bootstrap"))


# ------------------------------------------------------------------ the project


@pytest.fixture(scope="module")
def project_edges() -> list[Edge]:
    return all_edges()


def test_module_level_imports_form_a_dag(project_edges):
    module_level = [e for e in project_edges if e.level == MODULE]
    found = cycles(module_level)
    assert not found, explain(found, module_level)


def test_imports_inside_functions_close_no_cycle(project_edges):
    # bootstrap <-> webhooks has a test of its own below
    edges = [e for e in project_edges if not _bootstrap_webhooks(e)]
    found = cycles(edges)
    assert not found, explain(found, edges)


def test_bootstrap_and_webhooks_do_not_import_each_other(project_edges):
    between = [e for e in project_edges if _bootstrap_webhooks(e)]
    assert not between, "\n".join(map(str, between))


def test_the_walk_sees_the_code(project_edges):
    sources = {e.source for e in project_edges}
    assert {"bot.bootstrap", "webhooks.app", "models.uow", "bot.core.payment"} <= sources
    assert any(e.level == FUNCTION for e in project_edges)


# ------------------------------------------------------------------ the checker itself


def _edges(files: dict[str, str]) -> list[Edge]:
    return [edge for rel, source in files.items() for edge in edges_of(source, ROOT / rel)]


@pytest.mark.parametrize("files, level", [
    ({"bot/core/money.py": "from bot.core import payment", "bot/core/payment.py": "import bot.core.money"}, MODULE),
    ({"bot/core/money.py": "from . import payment", "bot/core/payment.py": "from .money import Money"}, MODULE),
    ({"bot/ports.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.bootstrap import X",
      "bot/bootstrap.py": "from bot.ports import Clock"}, MODULE),
    ({"models/uow.py": "def f():\n    from models import repositories",
      "models/repositories.py": "from models.uow import X"}, FUNCTION),
    ({"models/uow.py": "import importlib\ndef f():\n    importlib.import_module('models.tables')",
      "models/tables.py": "import models.uow"}, FUNCTION),
    ({"models/uow.py": "class A:\n    def f(self):\n        import models.repositories",
      "models/repositories.py": "import models.tables", "models/tables.py": "import models.uow"}, FUNCTION),
])
def test_the_checker_finds_cycles(files, level):
    edges = _edges(files)
    assert cycles(edges)
    assert bool(cycles([e for e in edges if e.level == MODULE])) is (level == MODULE)


@pytest.mark.parametrize("files", [
    {"bot/core/money.py": "import decimal", "bot/core/payment.py": "from bot.core.money import Money"},
    {"bot/services/__init__.py": "from bot.services.payments import X", "bot/services/payments.py": "import bot.core"},
    {"sandbox/app.py": "import flask\nfrom sandbox import world", "sandbox/world.py": "import json"},
])
def test_the_checker_allows_a_dag(files):
    assert not cycles(_edges(files))


def test_the_checker_sees_bootstrap_and_webhooks_either_way():
    edges = _edges({"webhooks/wsgi.py": "def create():\n    from bot.bootstrap import build",
                    "bot/bootstrap.py": "def web():\n    from webhooks.app import create_app"})
    assert len([e for e in edges if _bootstrap_webhooks(e)]) == 2
