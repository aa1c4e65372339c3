"""The engine never imports Qt, and imports point downward only."""

from __future__ import annotations

import ast
import os
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


# Modules that take seconds to import and that the window must not load before
# the user starts work that needs them.
SLOW_MODULES = ("torch", "sklearn", "scipy.stats")


def _is_slow(name: str) -> bool:
    return any(name == slow or name.startswith(slow + ".") for slow in SLOW_MODULES)


def _import_chains(importtime_output: str) -> list[str]:
    """Return "importer > ... > module" for each slow module that a non-slow module imported.

    `python -X importtime` prints a module after the modules it imported, two
    spaces deeper per nesting level, so a module's importer is the next line
    printed with less indentation.
    """
    entries = []
    for line in importtime_output.splitlines():
        if not line.startswith("import time:"):
            continue
        column = line.split("|")[-1].removeprefix(" ")
        name = column.strip()
        if name != "imported package":
            entries.append((len(column) - len(column.lstrip()), name))
    chains = []
    for index, (depth, name) in enumerate(entries):
        chain = [name]
        level = depth
        for later_depth, later_name in entries[index + 1:]:
            if later_depth < level:
                chain.insert(0, later_name)
                level = later_depth
        importer = chain[-2] if len(chain) > 1 else ""
        if _is_slow(name) and not _is_slow(importer):
            chains.append(" > ".join(chain))
    return chains


def _slow_imports(code: str, tmp_path: Path) -> tuple[list[str], list[str]]:
    """Run `code` in a fresh interpreter; return the slow modules loaded and their import chains."""
    code += (
        "\nimport sys\n"
        f"print(sorted(m for m in sys.modules if any(m == s or m.startswith(s + '.') "
        f"for s in {SLOW_MODULES!r})))\n"
    )
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True, text=True, env=environment, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = ast.literal_eval(result.stdout.strip().splitlines()[-1])
    return loaded, _import_chains(result.stderr)


def test_import_chains_name_the_importer():
    output = (
        "import time: self [us] | cumulative | imported package\n"
        "import time:       10 |         10 |       torch._C\n"
        "import time:       10 |         20 |     torch\n"
        "import time:       10 |         30 |   specgan_gui.models.gan1d\n"
        "import time:       10 |         10 |   numpy\n"
        "import time:       10 |         50 | specgan_gui.gui.main_window\n"
    )
    assert _import_chains(output) == [
        "specgan_gui.gui.main_window > specgan_gui.models.gan1d > torch"
    ]


def test_window_import_loads_no_slow_modules(tmp_path):
    loaded, chains = _slow_imports("import specgan_gui.gui.main_window", tmp_path)
    assert chains == []
    assert loaded == []


def test_empty_window_loads_no_slow_modules(tmp_path):
    code = (
        "from PySide6.QtCore import QSettings\n"
        "from PySide6.QtWidgets import QApplication\n"
        "for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):\n"
        f"    QSettings.setPath(settings_format, QSettings.Scope.UserScope, {str(tmp_path)!r})\n"
        "app = QApplication([])\n"
        "from specgan_gui.gui.main_window import MainWindow\n"
        "window = MainWindow()\n"
        "window.show()\n"
        "app.processEvents()\n"
        "window.close()\n"
    )
    loaded, chains = _slow_imports(code, tmp_path)
    assert chains == []
    assert loaded == []
