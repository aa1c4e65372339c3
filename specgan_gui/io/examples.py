"""The example data sets that chemotools ships, read through the table reader.

- coffee: 60 ATR-FTIR spectra of 1841 points from three countries of
  origin (20 each).  The file gives point numbers 0-1840, not wavenumbers,
  so the axis unit is "index".
- fermentation: 21 training spectra of 1047 points (428-1833 cm-1) with
  glucose in g/L measured by HPLC.
"""

from __future__ import annotations

from pathlib import Path

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import SettingsError
from specgan_gui.io.table import TextTableReader, attach_references, read_reference_table

EXAMPLES = {
    "coffee": {
        "spectra": "coffee_spectra.csv",
        "references": "coffee_labels.csv",
        "rename": {"labels": "origin"},
        "axis_unit": "index",
        "y_unit": "absorbance",
        "description": "60 ATR-FTIR spectra of coffee from 3 countries (classification)",
        "target": "origin",
        "task": "classification",
    },
    "fermentation": {
        "spectra": "train_spectra.csv",
        "references": "train_hplc.csv",
        "rename": {},
        "axis_unit": "cm-1",
        "y_unit": "absorbance",
        "description": "21 mid-IR spectra of a fermentation with glucose in g/L (regression)",
        "target": "glucose",
        "task": "regression",
    },
}


def example_folder() -> Path:
    """Return the folder where chemotools keeps its data files."""
    import chemotools.datasets

    return Path(chemotools.datasets.__file__).parent / "data"


def load_example(name: str) -> SpectralDataset:
    """Read one of the bundled examples ("coffee" or "fermentation")."""
    try:
        info = EXAMPLES[name]
    except KeyError:
        raise SettingsError(
            f"Unknown example {name!r}; choose one of: {', '.join(EXAMPLES)}."
        ) from None
    folder = example_folder()
    path = folder / info["spectra"]
    result = TextTableReader().read(path, axis_unit=info["axis_unit"])
    table = read_reference_table(folder / info["references"]).rename(columns=info["rename"])
    dataset, _ = attach_references(result.dataset, table)
    width = len(str(dataset.n_samples))
    dataset.sample_ids = [f"{name}-{i + 1:0{width}d}" for i in range(dataset.n_samples)]
    dataset.name = name
    dataset.y_unit = info["y_unit"]
    dataset.metadata = {"source": f"chemotools example {name!r}", "description": info["description"]}
    return dataset
