"""Axis and intensity conversions that an import applies to spectra from one file.

Every function here changes one `SpectralDataset` in place and returns a
sentence for the user that describes the change (or None when nothing
changed), so that no conversion happens silently.  Errors name the file and
what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import ReadError

#: Axis units that convert into each other by ``x' = 1e7 / x``.
AXIS_UNITS_CONVERTIBLE = ("nm", "cm-1")
#: Names of the import options in messages, as the window and the command line show them.
AXIS_UNIT_OPTION = (
    "the axis unit when importing (Axis unit in the import dialog, --axis-unit for "
    "`specgan import`)"
)
AXIS_CONVERSION_OPTION = (
    "Axis conversion in the import dialog, or --convert-axis for `specgan import`"
)
Y_UNIT_OPTION = (
    "the y unit when importing (Y unit in the import dialog, --y-unit for `specgan import`)"
)
Y_CONVERSION_OPTION = (
    "Convert transmittance to absorbance in the import dialog, or --to-absorbance for "
    "`specgan import`"
)
#: A "transmittance" spectrum whose largest value exceeds this is read as percent (%T).
#: Fractions slightly above 1 occur through noise, and 2 leaves room for that.
PERCENT_THRESHOLD = 2.0


def axis_direction(axis: np.ndarray) -> str:
    """Return "ascending", "descending" or "unordered" for an axis in file order."""
    steps = np.diff(np.asarray(axis, dtype=np.float64))
    if steps.size == 0 or np.all(steps > 0):
        return "ascending"
    if np.all(steps < 0):
        return "descending"
    return "unordered"


def sort_axis_ascending(dataset: SpectralDataset) -> None:
    """Sort the axis ascending and reorder the spectra's columns to match."""
    if dataset.n_points < 2 or np.all(np.diff(dataset.axis) > 0):
        return
    # A stable sort keeps repeated x values (peak tables) in file order.
    order = np.argsort(dataset.axis, kind="stable")
    dataset.axis = dataset.axis[order]
    dataset.spectra = dataset.spectra[:, order]


def convert_axis_unit(path: Path, dataset: SpectralDataset, target: str) -> str | None:
    """Convert the axis between nm and cm-1 by ``1e7 / x``, then sort it ascending.

    Raises
    ------
    ReadError
        When the axis is in another unit, or has values at or below zero.
    """
    if dataset.axis_unit == target:
        return None
    if target not in AXIS_UNITS_CONVERTIBLE or dataset.axis_unit not in AXIS_UNITS_CONVERTIBLE:
        raise ReadError(
            path,
            f"its axis unit is {dataset.axis_unit!r}, so it cannot be converted to {target}; "
            f"only nm and cm-1 convert into each other.",
            hint=f"If the file states its unit wrongly, set {AXIS_UNIT_OPTION}.",
        )
    bad = int(np.count_nonzero(dataset.axis <= 0))
    if bad:
        raise ReadError(
            path,
            f"{bad} axis {'value is' if bad == 1 else 'values are'} zero or negative (from "
            f"{dataset.axis.min():g}), and "
            f"1e7 / x is undefined or negative there, so the axis cannot be converted to "
            f"{target}.",
            hint="Import this file without converting the axis.",
        )
    source = dataset.axis_unit
    dataset.axis = 1e7 / dataset.axis
    dataset.axis_unit = target
    sort_axis_ascending(dataset)
    return (
        f"Axis converted from {source} to {target} by 1e7 / x: now {dataset.axis[0]:g} to "
        f"{dataset.axis[-1]:g} {target}."
    )


def y_kind(y_unit: str, spectra: np.ndarray | None = None) -> str:
    """Return "absorbance", "transmittance" (a fraction), "%T" or "" for a y unit.

    A unit that states transmittance without a percent sign counts as %T when
    the values exceed `PERCENT_THRESHOLD`: files often state "transmittance"
    and store percent (the Thermo-Galactic SPC Ft-ir.spc and the JCAMP-DX
    dupdec1.jdx example files both do).
    """
    text = str(y_unit or "").strip().lower()
    if not text:
        return ""
    if "absorb" in text or text in ("a", "abs"):
        return "absorbance"
    is_transmittance = "transm" in text or text in ("t", "%t", "% t")
    if not is_transmittance:
        return ""
    if "%" in text or "percent" in text:
        return "%T"
    if spectra is not None:
        values = np.asarray(spectra, dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size and float(values.max()) > PERCENT_THRESHOLD:
            return "%T"
    return "transmittance"


def convert_y_unit(path: Path, dataset: SpectralDataset, target: str) -> str | None:
    """Convert transmittance to absorbance (``A = -log10(T)``) or absorbance to transmittance.

    %T is divided by 100 first; converting to transmittance gives a fraction.
    NaN points stay NaN.

    Raises
    ------
    ReadError
        When the y unit is unknown or not convertible, or when converting to
        absorbance meets transmittance values at or below zero (with their count).
    """
    kind = y_kind(dataset.y_unit, dataset.spectra)
    if kind == target:
        return None
    convertible = ("transmittance", "%T") if target == "absorbance" else ("absorbance", "%T")
    if kind not in convertible:
        stated = (f"states the y unit {dataset.y_unit!r}" if dataset.y_unit
                  else "does not state its y unit")
        raise ReadError(
            path,
            f"the file {stated}, so it cannot be converted to {target}.",
            hint=f"If you know it, set {Y_UNIT_OPTION}: absorbance, transmittance or %T.",
        )
    if target == "absorbance":
        transmittance = dataset.spectra / 100.0 if kind == "%T" else dataset.spectra
        bad = np.isfinite(transmittance) & (transmittance <= 0)
        if bad.any():
            row, column = np.argwhere(bad)[0]
            count = int(bad.sum())
            raise ReadError(
                path,
                f"{count} transmittance {'value is' if count == 1 else 'values are'} zero or "
                f"negative (the first in "
                f"{dataset.sample_ids[row]} at x {dataset.axis[column]:g}), and absorbance "
                f"-log10(T) is undefined there.",
                hint="Crop the axis to exclude those points, or import without converting.",
            )
        dataset.spectra = -np.log10(transmittance)
        how = "A = -log10(T / 100)" if kind == "%T" else "A = -log10(T)"
    elif kind == "%T":
        dataset.spectra = dataset.spectra / 100.0
        how = "T = %T / 100, as a fraction"
    else:
        dataset.spectra = np.power(10.0, -dataset.spectra)
        how = "T = 10^(-A), as a fraction"
    dataset.y_unit = target
    return f"Converted {kind} to {target} ({how})."


@dataclass
class MaskedPoints:
    """NaN points of one spectrum: how many and the axis ranges (ascending) they cover."""

    sample_id: str
    count: int
    ranges: list[tuple[float, float]]

    def describe(self) -> str:
        """Return ``id (n points at a-b, c-d ...)`` for messages."""
        places = ", ".join(f"{a:g}" if a == b else f"{a:g}-{b:g}" for a, b in self.ranges[:3])
        if len(self.ranges) > 3:
            places += f" and {len(self.ranges) - 3} more ranges"
        return f"{self.sample_id} ({self.count} points at {places})"


def masked_points(dataset: SpectralDataset) -> list[MaskedPoints]:
    """Return the NaN points of each spectrum as counts and axis ranges."""
    found = []
    for row, sample in enumerate(dataset.sample_ids):
        missing = np.flatnonzero(np.isnan(dataset.spectra[row]))
        if missing.size:
            ranges = [(float(dataset.axis[a]), float(dataset.axis[b])) for a, b in _runs(missing)]
            found.append(MaskedPoints(sample, int(missing.size), ranges))
    return found


def widest_clean_range(dataset: SpectralDataset) -> tuple[float, float] | None:
    """Return the widest axis range where no spectrum has NaN, or None if there is none."""
    clean = ~np.isnan(dataset.spectra).any(axis=0)
    if not clean.any():
        return None
    runs = _runs(np.flatnonzero(clean))
    first, last = max(runs, key=lambda run: dataset.axis[run[1]] - dataset.axis[run[0]])
    return float(dataset.axis[first]), float(dataset.axis[last])


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Group sorted indices into (first, last) runs of consecutive values."""
    if indices.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(indices) != 1)
    starts = np.concatenate([[indices[0]], indices[breaks + 1]])
    ends = np.concatenate([indices[breaks], [indices[-1]]])
    return [(int(a), int(b)) for a, b in zip(starts, ends)]
