"""Wide-table import (CSV, TSV, XLSX) and the bundled examples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from specgan_gui.errors import ReadError
from specgan_gui.io import read_many, read_spectra
from specgan_gui.io.table import attach_references, read_reference_table


def _write_wide(path, dataset, sep=",", decimal=".", with_refs=True):
    frame = pd.DataFrame(dataset.spectra, columns=[f"{x:g}" for x in dataset.axis])
    if with_refs:
        frame.insert(0, "sample", dataset.sample_ids)
        for column in reversed(list(dataset.references.columns)):
            frame.insert(1, column, dataset.references[column].to_numpy())
    frame.to_csv(path, sep=sep, decimal=decimal, index=False, float_format="%.10g")
    return path


def test_examples_shapes(coffee, fermentation):
    assert coffee.spectra.shape == (60, 1841)
    assert coffee.axis_unit == "index"
    assert np.array_equal(coffee.axis, np.arange(1841))
    assert sorted(coffee.references["origin"].unique()) == ["Brasil", "Ethiopia", "Vietnam"]
    assert fermentation.spectra.shape == (21, 1047)
    assert fermentation.axis_unit == "cm-1"
    assert fermentation.axis[0] == 428.0
    assert fermentation.axis[-1] == 1833.0
    assert fermentation.numeric_columns() == ["glucose"]
    assert fermentation.references["glucose"].max() == pytest.approx(38.05300368)


@pytest.mark.parametrize(
    "sep, decimal, suffix",
    [(",", ".", ".csv"), (";", ",", ".csv"), ("\t", ".", ".tsv"), ("\t", ",", ".txt")],
)
def test_wide_table_dialects(tmp_path, fermentation, sep, decimal, suffix):
    path = _write_wide(tmp_path / f"ferm{suffix}", fermentation, sep, decimal)
    result = read_spectra(path)
    data = result.dataset
    assert data.sample_ids == fermentation.sample_ids
    np.testing.assert_allclose(data.axis, fermentation.axis)
    np.testing.assert_allclose(data.spectra, fermentation.spectra, rtol=1e-9)
    np.testing.assert_allclose(data.references["glucose"], fermentation.references["glucose"])
    assert ("decimal comma" in result.format) == (decimal == ",")


def test_xlsx_table(tmp_path, coffee):
    small = coffee.subset(range(0, 60, 6))
    frame = pd.DataFrame(small.spectra[:, :50], columns=[float(x) for x in small.axis[:50]])
    frame.insert(0, "origin", small.references["origin"].to_numpy())
    frame.insert(0, "id", small.sample_ids)
    path = tmp_path / "coffee.xlsx"
    frame.to_excel(path, index=False)
    data = read_spectra(path, axis_unit="index").dataset
    assert data.sample_ids == small.sample_ids
    np.testing.assert_allclose(data.spectra, small.spectra[:, :50])
    assert list(data.references["origin"]) == list(small.references["origin"])


def test_xlsx_without_spectra_rejected(tmp_path):
    path = tmp_path / "notes.xlsx"
    pd.DataFrame({"name": ["a", "b"], "value": [1, 2]}).to_excel(path, index=False)
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "notes.xlsx" in str(info.value)
    assert "no sheet with spectra" in str(info.value)


def test_non_number_cell_names_line(tmp_path):
    lines = ["id," + ",".join(str(400 + i) for i in range(10))]
    lines.append("a," + ",".join("0.1" for _ in range(10)))
    lines.append("b," + ",".join(["0.2"] * 4 + ["oops"] + ["0.2"] * 5))
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    message = str(info.value)
    assert "bad.csv" in message
    assert "line 3" in message
    assert "'oops'" in message


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "empty"),
        (b"\x00\x01\x02binary" * 50, "no reader recognises"),
        (b"just,a,few\n1,2,3\n", "numeric cells"),
    ],
)
def test_bad_files_rejected(tmp_path, content, expected):
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "input.csv" in str(info.value)
    assert expected in str(info.value)


def test_missing_file_rejected(tmp_path):
    with pytest.raises(ReadError, match="not found"):
        read_spectra(tmp_path / "nope.csv")


def test_read_many_joins_and_checks_axis(tmp_path, fermentation):
    first = _write_wide(tmp_path / "a.csv", fermentation.subset(range(10)))
    second = _write_wide(tmp_path / "b.csv", fermentation.subset(range(10, 21)))
    joined = read_many([first, second]).dataset
    assert joined.n_samples == 21
    np.testing.assert_allclose(joined.spectra, fermentation.spectra, rtol=1e-9)
    shifted = fermentation.subset(range(3))
    shifted.axis = shifted.axis + 0.5
    third = _write_wide(tmp_path / "c.csv", shifted)
    with pytest.raises(ReadError, match="differs from"):
        read_many([first, third])


def test_reference_join_by_id(tmp_path, fermentation):
    spectra_only = _write_wide(tmp_path / "s.csv", fermentation, with_refs=False)
    data = read_spectra(spectra_only, axis_unit="cm-1").dataset
    data.sample_ids = list(fermentation.sample_ids)
    table = pd.DataFrame(
        {"sample": fermentation.sample_ids[::-1] + ["extra"],
         "glucose": list(fermentation.references["glucose"][::-1]) + [1.0]}
    )
    table_path = tmp_path / "refs.csv"
    table.to_csv(table_path, index=False)
    joined, warnings = attach_references(data, read_reference_table(table_path), "sample")
    np.testing.assert_allclose(joined.references["glucose"], fermentation.references["glucose"])
    assert any("extra" in w for w in warnings)
