"""Tables whose header cells are numbers: wide (axis in the header) or long (axis in column 1)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from specgan_gui.errors import ReadError
from specgan_gui.io import read_spectra
from specgan_gui.io.base import pick_reader
from specgan_gui.io.importer import ImportOptions, import_files
from specgan_gui.io.table import (
    AMBIGUOUS,
    LONG,
    WIDE,
    TextTableReader,
    numeric_header_layout,
)
from specgan_gui.io.text_columns import TextColumnsReader

AXIS = np.arange(4000.0, 598.0, -2.0)  # 1701 wavenumbers, descending


def _spectra(n_samples: int, n_points: int) -> np.ndarray:
    """Return (samples, points) values rounded to the 6 decimals that the files keep."""
    rng = np.random.default_rng(n_samples)
    return np.round(rng.random((n_samples, n_points)), 6)


def _write_long(path, first_cell: str, axis, spectra, sample_names) -> None:
    lines = [",".join([first_cell, *sample_names])]
    for x, values in zip(axis, spectra.T):
        lines.append(f"{x:g}," + ",".join(f"{v:.6f}" for v in values))
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("n_samples", [4, 10])
def test_long_numeric_header_read_as_long(tmp_path, n_samples):
    spectra = _spectra(n_samples, AXIS.size)
    names = [str(i + 1) for i in range(n_samples)]
    path = tmp_path / "long.csv"
    _write_long(path, "wavenumber", AXIS, spectra, names)

    assert isinstance(pick_reader(path), TextColumnsReader)
    result = read_spectra(path, column="all")
    data = result.dataset
    np.testing.assert_array_equal(data.axis, AXIS)
    assert data.axis_unit == "cm-1"
    assert data.spectra.shape == (n_samples, AXIS.size)
    np.testing.assert_allclose(data.spectra, spectra, rtol=0, atol=1e-12)
    assert data.sample_ids == [f"long: {name}" for name in names]
    assert "x = 'wavenumber'" in result.format


def test_long_numeric_header_ids_from_table(tmp_path):
    spectra = _spectra(10, AXIS.size)
    names = [str(i + 1) for i in range(10)]
    path = tmp_path / "long.csv"
    _write_long(path, "wavenumber", AXIS, spectra, names)

    result = import_files([path], ImportOptions(column="all", id_source="table"))
    data = result.dataset
    assert data.sample_ids == names
    # The import sorts the axis ascending.
    np.testing.assert_array_equal(data.axis, AXIS[::-1])
    np.testing.assert_allclose(data.spectra, spectra[:, ::-1], rtol=0, atol=1e-12)


def test_long_table_beyond_sniffed_head(tmp_path):
    """200 samples make each row about 1.8 kB, so the first 4 kB show only two rows."""
    axis = np.arange(1100.0, 2500.0, 2.0)  # 700 points
    spectra = _spectra(200, axis.size)
    names = [str(i + 1) for i in range(200)]
    path = tmp_path / "many.csv"
    _write_long(path, "label", axis, spectra, names)

    assert isinstance(pick_reader(path), TextTableReader)
    result = read_spectra(path, column="all")
    data = result.dataset
    assert result.format.startswith(TextColumnsReader.name)
    np.testing.assert_array_equal(data.axis, axis)
    assert data.spectra.shape == (200, axis.size)
    np.testing.assert_allclose(data.spectra, spectra, rtol=0, atol=1e-12)
    assert data.sample_ids[:2] == ["many: 1", "many: 2"]
    assert data.sample_ids[-1] == "many: 200"


@pytest.mark.parametrize("id_cells", ["text", "numbers"])
def test_wide_numeric_axis_still_wide(tmp_path, id_cells):
    axis = np.arange(400.0, 2500.0, 2.0)  # 1050 points in the header
    spectra = _spectra(20, axis.size)
    ids = [f"s{i + 1:02d}" for i in range(20)] if id_cells == "text" else list(range(1, 21))
    frame = pd.DataFrame(spectra, columns=[f"{x:g}" for x in axis])
    frame.insert(0, "no", ids)
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False, float_format="%.6f")

    assert isinstance(pick_reader(path), TextTableReader)
    data = read_spectra(path).dataset
    np.testing.assert_array_equal(data.axis, axis)
    assert data.spectra.shape == (20, axis.size)
    np.testing.assert_allclose(data.spectra, spectra, rtol=0, atol=1e-12)
    assert data.sample_ids == [str(sample) for sample in ids]


def test_square_table_rejected_as_ambiguous(tmp_path):
    names = [str(i + 1) for i in range(20)]
    path = tmp_path / "square.csv"
    _write_long(path, "label", np.arange(1.0, 21.0), _spectra(20, 20), names)

    with pytest.raises(ReadError) as caught:
        read_spectra(path)
    message = str(caught.value)
    assert "square.csv" in message
    assert "layout is ambiguous" in message
    assert "20 numbers (1 to 20)" in message
    assert "name the first column after the axis" in message


def test_small_square_table_rejected_as_ambiguous(tmp_path):
    """Five header numbers are too few for the wide-table reader, so `TextColumnsReader` raises."""
    names = [str(i + 1) for i in range(5)]
    path = tmp_path / "small.csv"
    _write_long(path, "label", np.arange(1.0, 6.0), _spectra(5, 5), names)

    assert isinstance(pick_reader(path), TextColumnsReader)
    with pytest.raises(ReadError) as caught:
        read_spectra(path, column="all")
    assert "layout is ambiguous" in str(caught.value)
    assert caught.value.location == "line 1"


def test_long_layout_workbook_rejected(tmp_path):
    spectra = _spectra(10, 50)
    frame = pd.DataFrame(spectra.T, columns=[str(i + 1) for i in range(10)])
    frame.insert(0, "wavelength", np.arange(1100.0, 1200.0, 2.0))
    path = tmp_path / "long.xlsx"
    frame.to_excel(path, index=False)

    with pytest.raises(ReadError) as caught:
        read_spectra(path)
    message = str(caught.value)
    assert "the first column 'wavelength' is the axis" in message
    assert "Save the sheet as CSV" in message


RAMP = np.arange(1.0, 11.0)  # 1 to 10, the form of sample numbers
LAYOUT_CASES = [
    # (first cell, header values, first column, expected layout)
    ("wavenumber", RAMP, np.linspace(4000, 3000, 10), LONG),
    ("sample", np.linspace(400, 418, 10), np.linspace(4000, 3000, 10), WIDE),
    ("", RAMP, np.arange(600.0, 660.0, 2.0), LONG),
    ("", np.linspace(400, 2498, 1050), RAMP, WIDE),
    ("", RAMP, np.linspace(4000, 3991, 10), LONG),
    ("", np.linspace(400, 418, 10), RAMP, WIDE),
    ("", RAMP, RAMP, AMBIGUOUS),
    ("", np.linspace(400, 418, 10), np.linspace(4000, 3991, 10), AMBIGUOUS),
    ("wavenumber", RAMP, np.array([3.0, 1.0, 2.0] * 10), WIDE),
    ("", RAMP, np.array([1.0, np.nan, 3.0] * 10), WIDE),
    # A filter instrument: 100 numbered samples down the first column, 30 wavelengths.
    ("", np.linspace(900, 1700, 30), np.arange(1.0, 101.0), WIDE),
]


@pytest.mark.parametrize("first_cell, header, column, expected", LAYOUT_CASES)
def test_numeric_header_layout_cases(first_cell, header, column, expected):
    assert numeric_header_layout(first_cell, header, column) == expected


@pytest.mark.parametrize("first_cell", ["", "wavenumber"])
def test_numbered_samples_read_every_column_by_default(tmp_path, first_cell):
    """Numbered sample columns are all spectra, also under the empty corner cell Excel writes."""
    spectra = _spectra(6, AXIS.size)
    names = [str(i + 1) for i in range(6)]
    path = tmp_path / "numbered.csv"
    _write_long(path, first_cell, AXIS, spectra, names)

    result = read_spectra(path)

    data = result.dataset
    np.testing.assert_array_equal(data.axis, AXIS)
    assert data.spectra.shape == (6, AXIS.size)
    np.testing.assert_allclose(data.spectra, spectra, rtol=0, atol=1e-12)
    assert data.sample_ids == [f"numbered: {name}" for name in names]
    assert not any("as the spectrum" in warning for warning in result.warnings)



def test_prefixed_ids_suggest_table_id_source(tmp_path):
    spectra = _spectra(4, AXIS.size)
    path = tmp_path / "long.csv"
    _write_long(path, "wavenumber", AXIS, spectra, ["1", "2", "3", "4"])
    references = tmp_path / "lab.csv"
    references.write_text("sample,conc\n1,0.5\n2,0.7\n3,0.9\n")

    with pytest.raises(ReadError) as caught:
        import_files([path], ImportOptions(), reference_table=references, id_column="sample")

    assert "none of its 3 ids in column 'sample' match a sample id" in str(caught.value)
    assert "--id-source table" in str(caught.value)


def test_empty_reference_value_is_named(tmp_path):
    spectra = _spectra(4, AXIS.size)
    path = tmp_path / "long.csv"
    _write_long(path, "wavenumber", AXIS, spectra, ["1", "2", "3", "4"])
    references = tmp_path / "lab.csv"
    references.write_text("sample,conc\n1,0.5\n2,\n3,0.9\n")

    result = import_files([path], ImportOptions(id_source="table"),
                          reference_table=references, id_column="sample")

    assert "1 spectrum has no row in lab.csv, so their reference values are empty: 4." in (
        result.warnings)
    assert "1 spectrum has a row in lab.csv but no 'conc' value: 2." in result.warnings


def test_ambiguous_message_names_an_empty_first_cell(tmp_path):
    header = np.linspace(400.0, 418.0, 10)
    lines = ["," + ",".join(f"{v:g}" for v in header)]
    lines += [f"{x:g}," + ",".join("0.5" for _ in header) for x in np.linspace(4000, 3991, 10)]
    path = tmp_path / "square.csv"
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(ReadError) as caught:
        read_spectra(path)

    assert "after an empty first cell" in str(caught.value)
    assert "Unnamed" not in str(caught.value)
