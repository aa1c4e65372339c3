"""The engine never imports Qt, and imports point downward only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "specgan_gui"
QT_MODULES = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6")

# Floors: a module may import from its own floor or below, never above.
FLOORS = {"errors": 0, "data": 1, "models": 1, "io": 2, "project": 2, "training": 2,
          "gui": 3, "cli": 3}


def _engine_files():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] not in ("gui", "cli.py"):
            yield path


def _imports(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_engine_sources_import_no_qt():
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _engine_files()
        for name in _imports(path)
        if name.split(".")[0] in QT_MODULES
    ]
    assert offenders == []


def test_imports_point_downward():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        own = FLOORS.get(relative.parts[0].removesuffix(".py"))
        if own is None:
            continue
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "specgan_gui" or len(parts) < 2:
                continue
            target = FLOORS.get(parts[1])
            if target is not None and target > own:
                offenders.append(f"{relative} imports {name}")
    assert offenders == []


def test_engine_import_loads_no_qt():
    modules = sorted(
        ".".join(("specgan_gui",) + path.relative_to(PACKAGE).with_suffix("").parts)
        .removesuffix(".__init__")
        for path in _engine_files()
    )
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert output.strip() == "[]"
