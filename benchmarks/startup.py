"""Time from launching ``specgan-gui`` to its window shown, and what the imports cost."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

from benchmarks.common import median

#: Modules whose import time is reported separately.
HEAVY_MODULES = ("torch", "sklearn", "chemotools", "pyqtgraph", "PySide6.QtWidgets", "h5py")


def _launch_seconds() -> float:
    """Launch the window offscreen and return the seconds until it prints 'window shown'."""
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "specgan_gui.gui", "--print-shown", "--quit-after", "0.2"]
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True, env=environment) as process:
        for line in process.stdout:
            if line.strip() == "window shown":
                seconds = time.perf_counter() - started
                break
        else:
            raise RuntimeError(f"{' '.join(command)} ended without showing the window")
        process.wait(timeout=60)
    return seconds


def _import_seconds(module: str) -> float:
    """Return the cumulative import time of `module` in a fresh interpreter (-X importtime)."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True, text=True, check=True,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    pattern = re.compile(r"import time:\s+\d+ \|\s+(\d+) \|\s*" + re.escape(module) + r"$")
    for line in result.stderr.splitlines():
        match = pattern.search(line)
        if match:
            return int(match.group(1)) / 1e6
    return float("nan")


def run(quick: bool) -> dict:
    repeats = 2 if quick else 5
    _launch_seconds()  # the first launch fills the file cache
    launches = [_launch_seconds() for _ in range(repeats)]
    figures = {"launch_seconds": median(launches)}
    print(f"  launch to window shown (offscreen): median {figures['launch_seconds']:.2f} s "
          f"over {repeats} launches ({', '.join(f'{s:.2f}' for s in launches)})")
    imports = {name: _import_seconds(name) for name in
               ("specgan_gui.gui.main_window", *HEAVY_MODULES)}
    figures["import_seconds"] = imports
    text = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in imports.items())
    print(f"  import time, each in a fresh interpreter: {text}")
    return figures
