"""The spectral data set type shared by readers, models and the project."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from specgan_gui.errors import DataError

#: Axis units the tool knows how to label.  "index" means the file gave
#: point numbers only, so no physical unit may be claimed.
AXIS_UNITS = {
    "cm-1": "Wavenumber (cm⁻¹)",
    "nm": "Wavelength (nm)",
    "index": "Point index",
}


#: A unit in brackets at the end of a column name, as in "glucose (g/L)".
_UNIT_PATTERN = re.compile(r"[(\[]\s*([^()\[\]]+?)\s*[)\]]\s*$")


def column_unit(column: str) -> str:
    """Return the unit in the trailing brackets of a column name, or ``""``."""
    match = _UNIT_PATTERN.search(str(column))
    return match.group(1) if match else ""


def missing_values(column: pd.Series) -> np.ndarray:
    """Return a bool mask of the cells of a reference column that hold no value.

    NaN is missing, and so is an empty or blank cell of a text column, as a
    table marks a missing value.
    """
    missing = column.isna().to_numpy(dtype=bool)
    if not pd.api.types.is_numeric_dtype(column):
        missing = missing | column.astype(str).str.strip().eq("").to_numpy(dtype=bool)
    return missing


def axis_label(unit: str) -> str:
    """Return a plot label for an axis unit, such as ``Wavenumber (cm⁻¹)``."""
    return AXIS_UNITS.get(unit, f"Axis ({unit})" if unit else "Axis")


@dataclass
class SpectralDataset:
    """Spectra on one shared axis, with sample ids and reference values.

    Attributes
    ----------
    axis
        Axis values, shape ``(n_points,)``.  Readers keep the file's order;
        `specgan_gui.io.importer` sorts them ascending and records the file's
        direction in ``metadata["axis_direction"]``.
    spectra
        Intensities, shape ``(n_samples, n_points)``, float64.
    axis_unit
        ``"cm-1"``, ``"nm"``, ``"index"`` or another unit string.
    sample_ids
        One unique id per row of `spectra`.
    references
        Reference values, one row per sample in the same order; numeric
        columns are targets for regression, text columns class labels.
    metadata
        Free text facts about the source (file names, instrument).
    y_unit
        Unit or kind of the intensities ("absorbance", "%T", "" if unknown).
    """

    axis: np.ndarray
    spectra: np.ndarray
    axis_unit: str
    sample_ids: list[str]
    references: pd.DataFrame = field(default_factory=pd.DataFrame)
    metadata: dict[str, str] = field(default_factory=dict)
    y_unit: str = ""
    name: str = ""

    def __post_init__(self) -> None:
        self.axis = np.asarray(self.axis, dtype=np.float64)
        self.spectra = np.asarray(self.spectra, dtype=np.float64)
        self.sample_ids = [str(s) for s in self.sample_ids]
        if self.spectra.ndim != 2:
            raise DataError(
                f"Spectra must form a matrix of samples x points; got an array "
                f"of shape {self.spectra.shape}."
            )
        if self.axis.shape != (self.spectra.shape[1],):
            raise DataError(
                f"The axis has {self.axis.size} values but each spectrum has "
                f"{self.spectra.shape[1]} points."
            )
        if len(self.sample_ids) != self.spectra.shape[0]:
            raise DataError(
                f"{len(self.sample_ids)} sample ids were given for "
                f"{self.spectra.shape[0]} spectra."
            )
        if len(set(self.sample_ids)) != len(self.sample_ids):
            seen: set[str] = set()
            duplicates = sorted({s for s in self.sample_ids if s in seen or seen.add(s)})
            raise DataError(
                f"Sample ids must be unique; repeated: {', '.join(duplicates[:5])}."
            )
        if self.references is None or self.references.empty and len(self.references.columns) == 0:
            self.references = pd.DataFrame(index=range(self.n_samples))
        if len(self.references) != self.n_samples:
            raise DataError(
                f"The reference table has {len(self.references)} rows for "
                f"{self.n_samples} spectra."
            )
        self.references = self.references.reset_index(drop=True)

    @property
    def n_samples(self) -> int:
        return int(self.spectra.shape[0])

    @property
    def n_points(self) -> int:
        return int(self.spectra.shape[1])

    @property
    def axis_label(self) -> str:
        return axis_label(self.axis_unit)

    def numeric_columns(self) -> list[str]:
        """Return the reference columns usable as regression targets."""
        return [
            str(c)
            for c in self.references.columns
            if pd.api.types.is_numeric_dtype(self.references[c])
        ]

    def class_columns(self) -> list[str]:
        """Return reference columns with few distinct values, usable as classes."""
        columns = []
        for c in self.references.columns:
            values = self.references[c].dropna()
            if values.empty:
                continue
            if not pd.api.types.is_numeric_dtype(values) or values.nunique() <= 10:
                columns.append(str(c))
        return columns

    def subset(self, rows) -> SpectralDataset:
        """Return a new data set with the given row positions."""
        rows = np.asarray(rows)
        return SpectralDataset(
            axis=self.axis.copy(),
            spectra=self.spectra[rows].copy(),
            axis_unit=self.axis_unit,
            sample_ids=[self.sample_ids[i] for i in rows],
            references=self.references.iloc[rows].reset_index(drop=True),
            metadata=dict(self.metadata),
            y_unit=self.y_unit,
            name=self.name,
        )
