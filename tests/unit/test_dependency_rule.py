"""DESIGN.md §1, the dependency rule, checked on the import statements of every module (AST walk).

- bot.core imports the standard library and bot.core only;
- bot.services imports bot.core, bot.ports and the standard library only;
- only bot/adapters/ imports telegram, twilio or authy;
- only models/ imports SQLAlchemy, Alembic or a database driver;
- sandbox/ imports nothing from bot, webhooks or models (it is the outside world);
- webhooks/ imports no vendor client.

Whatever exists is checked, so modules written later are covered without changing this file.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "webhooks", "models", "sandbox")
STDLIB = frozenset(sys.stdlib_module_names)
MESSAGING_VENDORS = frozenset({"telegram", "twilio", "authy"})
DATABASE_LIBRARIES = frozenset({"sqlalchemy", "alembic", "psycopg", "psycopg2", "psycopg_pool"})


@dataclass(frozen=True)
class Import:
    """One imported module, where it was imported, and on which line."""

    module: str
    path: str
    line: int

    @property
    def top(self) -> str:
        """The top-level package name."""
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.module}"


def module_name(path: Path) -> str:
    """The dotted module name of a source file under ROOT."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str) -> bool:
    base = ROOT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(source: str, path: Path) -> list[Import]:
    """Every module `source` imports: import/from statements (relative ones resolved) and literal dynamic imports."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    rel = str(path.relative_to(ROOT))
    found: list[Import] = []
    for node in ast.walk(ast.parse(source, filename=rel)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, rel, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                found.append(Import(candidate if _is_module(candidate) else base, rel, node.lineno))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                found.append(Import(node.args[0].value, rel, node.lineno))
    return found


def all_imports() -> list[Import]:
    """The imports of every module in the application packages."""
    found: list[Import] = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "__pycache__" not in path.parts:
                found += imports_of(path.read_text(encoding="utf-8"), path)
    return found


def _under(imp: Import, *prefixes: str) -> bool:
    return any(imp.path == p or imp.path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def core_violations(imports: list[Import]) -> list[Import]:
    """bot/core imports other than the standard library and bot.core."""
    return [i for i in imports if _under(i, "bot/core")
            and not (i.top in STDLIB or _within(i.module, "bot.core"))]


def services_violations(imports: list[Import]) -> list[Import]:
    """bot/services imports other than the standard library, bot.core and bot.ports."""
    return [i for i in imports if _under(i, "bot/services.py", "bot/services")
            and not (i.top in STDLIB or _within(i.module, "bot.core", "bot.ports", "bot.services"))]


def vendor_violations(imports: list[Import]) -> list[Import]:
    """telegram, twilio or authy imported outside bot/adapters."""
    return [i for i in imports if i.top in MESSAGING_VENDORS and not _under(i, "bot/adapters")]


def database_violations(imports: list[Import]) -> list[Import]:
    """SQLAlchemy, Alembic or a database driver imported outside models."""
    return [i for i in imports if i.top in DATABASE_LIBRARIES and not _under(i, "models")]


def sandbox_violations(imports: list[Import]) -> list[Import]:
    """sandbox modules importing the application."""
    return [i for i in imports if _under(i, "sandbox") and i.top in ("bot", "webhooks", "models")]


def webhooks_violations(imports: list[Import]) -> list[Import]:
    """webhooks modules importing a vendor client, the database layer's libraries, or the process runtime."""
    return [i for i in imports if _under(i, "webhooks") and (i.top in MESSAGING_VENDORS | DATABASE_LIBRARIES
                                                              or _within(i.module, "bot.runtime", "bot.bootstrap"))]


RULES = [core_violations, services_violations, vendor_violations, database_violations, sandbox_violations,
         webhooks_violations]


@pytest.fixture(scope="module")
def project_imports() -> list[Import]:
    return all_imports()


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.__name__)
def test_dependency_rule(rule, project_imports):
    violations = rule(project_imports)
    assert not violations, "\n".join(map(str, violations))


def test_the_walk_sees_the_code(project_imports):
    modules = {i.path for i in project_imports}
    assert "bot/core/payment.py" in modules and "bot/ports.py" in modules


# ------------------------------------------------------------------ the checker itself


def _imports(rel: str, source: str) -> list[Import]:
    return imports_of(source, ROOT / rel)


@pytest.mark.parametrize("rel, source, rule", [
    ("bot/core/x.py", "import requests", core_violations),
    ("bot/core/x.py", "from bot.ports import Clock", core_violations),
    ("bot/core/x.py", "from ..ports import Clock", core_violations),
    ("bot/core/x.py", "from bot import settings", core_violations),
    ("bot/core/x.py", "import importlib\nimportlib.import_module('babel')", core_violations),
    ("bot/services.py", "from bot.adapters.telegram import TelegramMessenger", services_violations),
    ("bot/services.py", "import bot.settings", services_violations),
    ("bot/services/flows.py", "from bot.bootstrap import build", services_violations),
    ("bot/bootstrap.py", "from telegram import Bot", vendor_violations),
    ("webhooks/authy.py", "from twilio.request_validator import RequestValidator", vendor_violations),
    ("webhooks/app.py", "import sqlalchemy", webhooks_violations),
    ("webhooks/app.py", "from bot.runtime import start", webhooks_violations),
    ("webhooks/context.py", "from bot.bootstrap import Container", webhooks_violations),
    ("bot/services.py", "from sqlalchemy import select", database_violations),
    ("sandbox/app.py", "from bot.core.money import Money", sandbox_violations),
    ("sandbox/app.py", "__import__('webhooks.app')", sandbox_violations),
])
def test_the_checker_catches(rel, source, rule):
    assert rule(_imports(rel, source))


@pytest.mark.parametrize("rel, source", [
    ("bot/core/x.py", "from __future__ import annotations\nimport hashlib\nfrom decimal import Decimal"),
    ("bot/core/x.py", "from bot.core.money import Money\nfrom . import payment\nfrom .money import Money"),
    ("bot/core/x.py", "from bot import core"),
    ("bot/services.py", "from bot.core import sca\nfrom bot.ports import Clock\nimport logging"),
    ("bot/adapters/telegram.py", "from telegram import Bot\nimport twilio\nimport authy"),
    ("models/repositories.py", "from sqlalchemy import select\nfrom bot.core.entities import User"),
])
def test_the_checker_allows(rel, source):
    imports = _imports(rel, source)
    assert not [rule.__name__ for rule in RULES if rule(imports)]
