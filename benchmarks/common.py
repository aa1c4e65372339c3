"""Reference data, timing and memory helpers shared by the benchmarks."""

from __future__ import annotations

import os
import resource
import statistics
import time
from collections.abc import Callable

import numpy as np

#: Reference size of the GAN benchmarks: 40 spectra of 1868 points.
REFERENCE_SPECTRA = 40
REFERENCE_POINTS = 1868


def reference_spectra() -> np.ndarray:
    """Return the spectra of `reference_project` scaled to [-1, 1], float32 ``(40, 1868)``."""
    from specgan_gui.data.preprocessing import Pipeline

    dataset = reference_project().dataset
    scaled = Pipeline.default().fit_transform(dataset.axis, dataset.spectra)
    return np.ascontiguousarray(scaled, dtype=np.float32)


def time_call(function: Callable[[], object]) -> float:
    """Return the wall-clock seconds of one call."""
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def matmul_flop_rate(size: int = 2048, repeats: int = 7) -> float:
    """Measure the FLOP rate of a float32 ``size x size`` matrix product on the CPU."""
    import torch

    a = torch.randn(size, size)
    b = torch.randn(size, size)
    for _ in range(2):
        a @ b
    seconds = median([time_call(lambda: a @ b) for _ in range(repeats)])
    return 2 * size**3 / seconds


def copy_bandwidth(megabytes: float = 61.2, repeats: int = 7) -> float:
    """Measure the bytes per second of copying a float32 array into another one.

    The default size is one weight matrix of the reference Dense layers.
    The rate counts the bytes read and the bytes written.
    """
    import torch

    count = int(megabytes * 1e6 / 4)
    source, target = torch.ones(count), torch.zeros(count)
    for _ in range(2):
        target.copy_(source)
    seconds = median([time_call(lambda: target.copy_(source)) for _ in range(repeats)])
    return 2 * 4 * count / seconds


def resident_memory_mb() -> float:
    """Return the current resident memory of this process in MB (Linux)."""
    with open("/proc/self/statm") as file:
        pages = int(file.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_resident_memory_mb() -> float:
    """Return the peak resident memory of this process in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def load_average() -> str:
    """Return the 1-minute load average, to judge how noisy the timings are."""
    return f"{os.getloadavg()[0]:.1f}"


def reference_project():
    """Return a new project of 40 real coffee spectra resampled to 1868 points.

    The chemotools coffee example has 60 spectra of 1841 points; linear
    interpolation onto 1868 evenly spaced points over the same range gives
    the reference length.  The project keeps the default pipeline (scaling
    to [-1, 1]) and the example's reference column as its target.
    """
    from specgan_gui.data.dataset import SpectralDataset
    from specgan_gui.io.examples import load_example
    from specgan_gui.project.project import Project

    coffee = load_example("coffee")
    axis = np.asarray(coffee.axis, dtype=np.float64)
    order = np.argsort(axis)
    grid = np.linspace(axis[order[0]], axis[order[-1]], REFERENCE_POINTS)
    spectra = np.asarray(coffee.spectra, dtype=np.float64)[:REFERENCE_SPECTRA, order]
    resampled = np.stack([np.interp(grid, axis[order], row) for row in spectra])
    dataset = SpectralDataset(
        axis=grid,
        spectra=resampled,
        axis_unit=coffee.axis_unit,
        sample_ids=list(coffee.sample_ids[:REFERENCE_SPECTRA]),
        references=coffee.references.iloc[:REFERENCE_SPECTRA].reset_index(drop=True),
        y_unit=coffee.y_unit,
        name="coffee-reference",
    )
    return Project(dataset=dataset, target=coffee.references.columns[0])
