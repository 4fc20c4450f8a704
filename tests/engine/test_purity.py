"""The engine is pure: it imports no I/O library, directly or through its dependencies."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "bot" / "engine"
# Libraries that do I/O (network, database, files, processes, clocks): channels and storage use them.
FORBIDDEN = {
    "telegram", "sqlalchemy", "httpx", "langdetect", "rasa", "psycopg", "requests", "aiohttp",
    "socket", "subprocess", "os", "pathlib", "io", "shutil", "asyncio", "time", "random",
    "sqlite3", "urllib", "http", "smtplib", "storage", "nlu", "babel", "gettext",
}
FORBIDDEN_CALLS = {"open", "input", "print"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_no_engine_module_imports_an_io_library() -> None:
    offenders = {
        path.name: sorted(imported_roots(path) & FORBIDDEN) for path in sorted(ENGINE.glob("*.py"))
    }
    assert {name: libs for name, libs in offenders.items() if libs} == {}


def test_no_engine_module_reads_files_the_clock_or_the_terminal() -> None:
    for path in sorted(ENGINE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in FORBIDDEN_CALLS, f"{path.name}:{node.lineno} calls {node.func.id}"
            reads_clock = (isinstance(node, ast.Attribute) and node.attr in {"now", "utcnow", "today"}
                           and isinstance(node.value, ast.Name) and node.value.id in {"datetime", "date"})
            assert not reads_clock, f"{path.name}:{getattr(node, 'lineno', 0)} reads the clock: inject it"


def test_importing_the_engine_loads_no_io_library_transitively() -> None:
    probe = (
        "import sys, importlib, pkgutil, bot.engine as e\n"
        "for m in pkgutil.iter_modules(e.__path__): importlib.import_module('bot.engine.' + m.name)\n"
        "print(' '.join(sorted({n.split('.')[0] for n in sys.modules})))"
    )
    loaded = set(subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                                text=True).stdout.split())
    heavy = {"telegram", "sqlalchemy", "httpx", "langdetect", "rasa", "psycopg", "requests", "storage",
             "nlu", "babel"}
    assert loaded & heavy == set()


def test_the_check_would_catch_an_offender(tmp_path: Path) -> None:
    offender = tmp_path / "offender.py"
    offender.write_text("import sqlalchemy\nfrom telegram import Bot\n", encoding="utf-8")
    assert imported_roots(offender) & FORBIDDEN == {"sqlalchemy", "telegram"}
