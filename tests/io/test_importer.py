"""The import layer: many files into one data set, with every decision reported.

Real data only: the coffee and fermentation examples written out in the
layouts that instruments and spreadsheets produce, and the instrument
exports in the cases folder (`cases_dir`).
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from specgan_gui.cli import main
from specgan_gui.errors import ReadError, SettingsError
from specgan_gui.io import read_spectra
from specgan_gui.io.importer import (
    ImportOptions,
    ImportRejectedError,
    finish_import,
    guess_id_column,
    import_files,
    natural_key,
    preview_import,
    scan_files,
    y_kind,
)
from specgan_gui.io.table import attach_references, read_reference_table
from specgan_gui.project.store import load_project

# ---------------------------------------------------------------------------------------
# The coffee example in every text layout


def _ids(n: int) -> list[str]:
    return [f"s{i:03d}" for i in range(1, n + 1)]


@pytest.fixture(scope="module")
def coffee_exports(coffee, tmp_path_factory):
    """Write the coffee example in each layout; return {layout: (paths, options)}."""
    folder = tmp_path_factory.mktemp("coffee")
    ids = _ids(coffee.n_samples)
    axis_header = [f"{x:g}" for x in coffee.axis]
    wide = pd.DataFrame(coffee.spectra, columns=axis_header)
    wide.insert(0, "sample", ids)
    layouts = {}

    path = folder / "wide.csv"
    wide.to_csv(path, index=False, float_format="%.17g")
    layouts["wide csv"] = ([path], ImportOptions())

    path = folder / "wide_semicolon.csv"
    text = wide.to_csv(index=False, sep=";", float_format="%.17g")
    # Decimal commas: the axis header contains integers, so only the values change.
    path.write_text(text.replace(".", ","), encoding="cp1252")
    layouts["semicolon, decimal comma"] = ([path], ImportOptions())

    path = folder / "wide.tsv"
    wide.to_csv(path, index=False, sep="\t", float_format="%.17g")
    layouts["wide tsv"] = ([path], ImportOptions())

    path = folder / "wide.xlsx"
    wide.to_excel(path, index=False)
    layouts["xlsx"] = ([path], ImportOptions())

    per_sample = folder / "per_sample"
    per_sample.mkdir()
    for sample, row in zip(ids, coffee.spectra):
        lines = ["index,absorbance"] + [f"{a:g},{b:.17g}" for a, b in zip(coffee.axis, row)]
        (per_sample / f"coffee_{sample}.csv").write_text("\n".join(lines) + "\n")
    layouts["x,y file per sample"] = (
        [per_sample], ImportOptions(id_pattern=r"coffee_(s\d+)", axis_unit="index")
    )

    transposed = pd.DataFrame(coffee.spectra.T, columns=ids)
    transposed.insert(0, "index", coffee.axis.astype(int))
    path = folder / "transposed.tsv"
    transposed.to_csv(path, sep="\t", index=False, float_format="%.17g")
    layouts["transposed"] = (
        [path], ImportOptions(column="all", id_source="table", axis_unit="index")
    )

    labels = pd.DataFrame({"sample": ids, "origin": coffee.references["origin"]})
    labels_path = folder / "labels.csv"
    labels.to_csv(labels_path, index=False)
    return layouts, labels_path, per_sample


LAYOUTS = ["wide csv", "semicolon, decimal comma", "wide tsv", "xlsx", "x,y file per sample",
           "transposed"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_coffee_layouts_give_same_data(layout, coffee, coffee_exports):
    layouts, labels_path, _ = coffee_exports
    paths, options = layouts[layout]
    result = import_files(paths, options, reference_table=labels_path, id_column="sample")
    data = result.dataset
    np.testing.assert_array_equal(data.axis, coffee.axis)
    assert data.axis_unit == "index"
    np.testing.assert_allclose(data.spectra, coffee.spectra, rtol=1e-12, atol=0)
    assert data.sample_ids == _ids(coffee.n_samples)
    assert list(data.references["origin"]) == list(coffee.references["origin"])
    assert result.ids_without_spectra == []
    assert result.spectra_without_references == []
    assert data.metadata["axis_direction"] == "ascending"


def test_coffee_folder_through_cli(coffee, coffee_exports, tmp_path, capsys):
    _, labels_path, per_sample = coffee_exports
    out = tmp_path / "coffee.h5"
    code = main(["import", str(per_sample), "--id-pattern", r"coffee_(s\d+)",
                 "--axis-unit", "index", "--targets", str(labels_path), "--id-column",
                 "sample", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "imported 60 spectra of 1841 points" in captured.out
    assert "joined by sample id" in captured.out
    project = load_project(out)
    np.testing.assert_allclose(project.dataset.spectra, coffee.spectra, rtol=1e-12, atol=0)
    assert project.dataset.sample_ids == _ids(60)
    assert project.target == "origin"
    assert project.task == "classification"


# ---------------------------------------------------------------------------------------
# Instrument files


def test_multi_spectrum_spc(cases_dir):
    preview = preview_import([cases_dir / "spc" / "nir.spc"])
    assert preview.ok
    (item,) = preview.files
    assert item.n_spectra == 20
    assert item.n_points == [700]
    assert item.axis_range == (1100.0, 2498.0)
    assert item.axis_unit == "nm"
    assert item.y_unit == "Kubelka-Munk"
    assert preview.dataset.n_samples == 20
    assert preview.sample_ids[:2] == ["nir-001", "nir-002"]
    assert preview.axis.kind == "same"


def test_spg_group_sorted_ascending(cases_dir):
    path = cases_dir / "spa" / "wodger.spg"
    raw = read_spectra(path).dataset
    preview = preview_import([path])
    data = preview.dataset
    assert data.n_samples == 2
    assert preview.files[0].axis_direction == "descending"
    assert data.metadata["axis_direction"] == "descending"
    assert np.all(np.diff(data.axis) > 0)
    np.testing.assert_array_equal(data.axis, raw.axis[::-1])
    np.testing.assert_array_equal(data.spectra, raw.spectra[:, ::-1])
    # Spectrum 1 of the file starts with 1.98315 at 5999.6 cm-1.
    assert data.spectra[0, -1] == pytest.approx(1.98315, abs=1e-5)


def test_opus_descending_sorted(cases_dir):
    path = cases_dir / "opus" / "ftir_ps.0"
    raw = read_spectra(path).dataset
    result = import_files([path])
    data = result.dataset
    assert raw.axis[0] > raw.axis[-1]
    assert data.metadata["axis_direction"] == "descending"
    assert data.axis[0] == pytest.approx(399.224, abs=1e-3)
    assert data.axis[-1] == pytest.approx(4497.537, abs=1e-3)
    np.testing.assert_array_equal(data.spectra[0], raw.spectra[0][::-1])
    assert data.sample_ids == ["ftir_ps"]


def test_metadata_ids_from_opus_sample_name(cases_dir):
    options = ImportOptions(id_source="metadata")
    preview = preview_import([cases_dir / "opus" / "ftir_ps.0"], options)
    assert preview.sample_ids == ["sample1_PSnew"]


def test_different_axes_resampled_with_notice(cases_dir):
    paths = [cases_dir / "spc" / "Ft-ir.spc", cases_dir / "jdx" / "dupdec1.jdx"]
    rejected = preview_import(paths)
    assert rejected.dataset is None
    assert rejected.axis.kind == "rejected"
    assert "450 to 4000 cm-1 (1776 points)" in rejected.error
    assert "450 to 4400 cm-1 (3951 points)" in rejected.error

    preview = preview_import(paths, ImportOptions(resample="auto"))
    axis = preview.axis
    assert axis.kind == "resampled"
    assert (axis.start, axis.stop, axis.step, axis.n_points) == (450.0, 4000.0, 1.0, 3551)
    assert axis.method.startswith("linear interpolation")
    notice = next(n for n in preview.notices if "resampled" in n)
    assert "450 to 4000 cm-1 in steps of 1 (3551 points)" in notice
    assert "linear interpolation" in notice
    data = preview.dataset
    assert data.n_points == 3551
    assert "resampled" in data.metadata["axis_resampling"]
    # dupdec1 lies on the 1 cm-1 grid already, so its values stay exact;
    # Ft-ir (2 cm-1 steps) keeps its own values at its own points.
    dupdec = read_spectra(paths[1]).dataset
    np.testing.assert_allclose(data.spectra[1], dupdec.spectra[0][::-1][:3551], rtol=1e-12)
    ftir = read_spectra(paths[0]).dataset
    np.testing.assert_allclose(data.spectra[0][::2], ftir.spectra[0][::-1], rtol=1e-12)


def test_non_overlapping_axes_rejected(cases_dir):
    paths = [cases_dir / "spc" / "nir.spc", cases_dir / "spc" / "m_evenz.spc"]
    preview = preview_import(paths, ImportOptions(resample="auto"))
    assert preview.dataset is None
    assert "do not overlap" in preview.error
    assert "1100 to 2498 nm" in preview.error
    assert "200 to 800 nm" in preview.error
    with pytest.raises(ImportRejectedError, match="do not overlap"):
        finish_import(preview)


def test_small_overlap_rejected(cases_dir, tmp_path):
    spectrum = read_spectra(cases_dir / "spc" / "s_evenx.spc").dataset
    for name, low, high in (("low.csv", 450, 2500), ("high.csv", 2000, 4000)):
        keep = (spectrum.axis >= low) & (spectrum.axis <= high)
        lines = ["wavenumber (cm-1),absorbance"] + [
            f"{x:.17g},{y:.17g}" for x, y in zip(spectrum.axis[keep], spectrum.spectra[0][keep])
        ]
        (tmp_path / name).write_text("\n".join(lines) + "\n")
    preview = preview_import([tmp_path], ImportOptions(resample="auto"))
    assert preview.axis.kind == "rejected"
    assert "overlap only from" in preview.error
    assert "25%" in preview.error
    assert "at least 80%" in preview.error


def test_nm_to_wavenumber_conversion(cases_dir):
    path = cases_dir / "spc" / "nir.spc"
    raw = read_spectra(path).dataset
    data = import_files([path], ImportOptions(convert_axis_to="cm-1")).dataset
    assert data.axis_unit == "cm-1"
    assert np.all(np.diff(data.axis) > 0)
    np.testing.assert_allclose(data.axis, 1e7 / raw.axis[::-1], rtol=1e-12)
    np.testing.assert_array_equal(data.spectra, raw.spectra[:, ::-1])
    assert data.axis[0] == pytest.approx(1e7 / 2498)


def test_wavenumber_to_nm_conversion(cases_dir):
    path = cases_dir / "spc" / "s_evenx.spc"
    raw = read_spectra(path).dataset
    result = import_files([path], ImportOptions(convert_axis_to="nm"))
    data = result.dataset
    assert data.axis_unit == "nm"
    assert data.axis[0] == pytest.approx(1e7 / raw.axis[-1])
    assert data.axis[-1] == pytest.approx(1e7 / raw.axis[0])
    np.testing.assert_array_equal(data.spectra[0], raw.spectra[0][::-1])
    assert any("converted from cm-1 to nm" in n for n in result.notices)


def test_axis_conversion_of_index_fails(coffee_exports):
    layouts, _, _ = coffee_exports
    paths, _ = layouts["wide csv"]
    preview = preview_import(paths, ImportOptions(convert_axis_to="nm"))
    assert "'index'" in preview.files[0].error
    assert preview.dataset is None


def test_axis_through_zero_not_converted(cases_dir):
    # RAMAN.SPC runs from 3996.8 to -3006.0 cm-1 (anti-Stokes shifts below zero).
    preview = preview_import([cases_dir / "spc" / "RAMAN.SPC"],
                             ImportOptions(convert_axis_to="nm"))
    error = preview.files[0].error
    assert "1559 axis values are zero or negative" in error
    assert preview.dataset is None


def test_percent_transmittance_to_absorbance(cases_dir):
    path = cases_dir / "jdx" / "dupdec1.jdx"
    raw = read_spectra(path).dataset
    assert y_kind(raw.y_unit, raw.spectra) == "%T"
    preview = preview_import([path], ImportOptions(y_conversion="absorbance"))
    assert preview.files[0].y_kind == "%T"
    data = preview.dataset
    assert data.y_unit == "absorbance"
    expected = -np.log10(raw.spectra[0][::-1] / 100.0)
    np.testing.assert_allclose(data.spectra[0], expected, rtol=1e-12)
    assert any("A = -log10(T / 100)" in n for n in preview.notices)


def test_spc_transmittance_to_absorbance(cases_dir):
    path = cases_dir / "spc" / "Ft-ir.spc"
    data = import_files([path], ImportOptions(y_conversion="absorbance")).dataset
    # The file starts with 95.1375 %T at 4000 cm-1, the last point after sorting.
    assert data.spectra[0, -1] == pytest.approx(-np.log10(0.951375), rel=1e-5)


def test_non_positive_transmittance_rejected(cases_dir, tmp_path):
    raw = read_spectra(cases_dir / "jdx" / "dupdec1.jdx").dataset
    values = raw.spectra[0].copy()
    values[[10, 11, 500]] = [0.0, -0.5, 0.0]
    lines = ["wavenumber,%T"] + [f"{x:.17g},{y:.17g}" for x, y in zip(raw.axis, values)]
    path = tmp_path / "clipped_T.csv"
    path.write_text("\n".join(lines) + "\n")
    preview = preview_import([path], ImportOptions(y_conversion="absorbance"))
    error = preview.files[0].error
    assert "3 transmittance values are zero or negative" in error
    with pytest.raises(ImportRejectedError, match="clipped_T.csv"):
        finish_import(preview)


def test_unknown_y_unit_not_converted(cases_dir):
    preview = preview_import([cases_dir / "csv" / "IR.CSV"],
                             ImportOptions(y_conversion="absorbance"))
    assert "does not state its y unit" in preview.files[0].error


def test_masked_points_reported_not_dropped(cases_dir):
    result = import_files([cases_dir / "csv" / "jasco_angle_resolved_deg0.csv"])
    data = result.dataset
    assert data.n_points == 10373
    assert int(np.isnan(data.spectra).sum()) == 2114
    (masked,) = result.preview.masked
    assert masked.sample_id == "jasco_angle_resolved_deg0"
    assert masked.count == 2114
    assert masked.ranges[0][0] == pytest.approx(999.9101)
    warning = next(w for w in result.warnings if "masked points" in w)
    assert "jasco_angle_resolved_deg0 (2114 points at 999.91-1001.36" in warning
    assert "Crop the axis to" in warning


# ---------------------------------------------------------------------------------------
# Reference values


def _fermentation_table(fermentation, path):
    wide = pd.DataFrame(fermentation.spectra, columns=[f"{x:g}" for x in fermentation.axis])
    wide.insert(0, "sample", fermentation.sample_ids)
    wide.to_csv(path, index=False, float_format="%.17g")


def test_reference_join_lists_unmatched(fermentation, tmp_path):
    spectra_path = tmp_path / "ferm.csv"
    _fermentation_table(fermentation, spectra_path)
    ids = fermentation.sample_ids
    table = pd.DataFrame({
        "sample": ids[3:] + ["extra-1", "extra-2"],
        "glucose": list(fermentation.references["glucose"][3:]) + [1.0, 2.0],
    })
    table_path = tmp_path / "hplc.xlsx"
    table.to_excel(table_path, index=False)
    result = import_files([spectra_path], reference_table=table_path, id_column="sample")
    assert result.spectra_without_references == ids[:3]
    assert result.ids_without_spectra == ["extra-1", "extra-2"]
    glucose = result.dataset.references["glucose"]
    assert glucose[:3].isna().all()
    np.testing.assert_allclose(glucose[3:], fermentation.references["glucose"][3:])
    assert any("3 spectra have no row in hplc.xlsx" in w for w in result.warnings)
    assert any("2 ids of hplc.xlsx have no spectrum: extra-1, extra-2" in w
               for w in result.warnings)


def test_reference_ids_without_leading_zeros(coffee, coffee_exports, tmp_path):
    layouts, _, per_sample = coffee_exports
    folder = tmp_path / "numbered"
    folder.mkdir()
    for path in sorted(per_sample.iterdir())[:5]:
        shutil.copy(path, folder / path.name)
    table = pd.DataFrame({"sample": [1, 2, 3, 4, 5], "origin": coffee.references["origin"][:5]})
    options = ImportOptions(id_pattern=r"coffee_s(\d+)", axis_unit="index")
    result = import_files([folder], options, reference_table=table, id_column="sample")
    assert result.dataset.sample_ids == ["001", "002", "003", "004", "005"]
    assert list(result.dataset.references["origin"]) == list(coffee.references["origin"][:5])
    assert any("without leading zeros" in n for n in result.notices)


# ---------------------------------------------------------------------------------------
# Folders, ids and errors


def test_folder_lists_unsupported_files(cases_dir, tmp_path):
    for name in ("nir.spc", "s_evenx.spc"):
        shutil.copy(cases_dir / "spc" / name, tmp_path / name)
    (tmp_path / "notes.md").write_text("Measured on Tuesday.\n")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (tmp_path / ".hidden").write_text("x")
    scan = scan_files(tmp_path)
    assert [p.name for p in scan.files] == ["nir.spc", "s_evenx.spc"]
    assert sorted(p.name for p, _ in scan.unsupported) == ["notes.md", "photo.png"]
    assert all("no reader recognises" in reason for _, reason in scan.unsupported)
    preview = preview_import(tmp_path, ImportOptions(resample="auto"))
    assert [p.name for p, _ in preview.unsupported] == ["notes.md", "photo.png"]
    assert any(w.startswith("notes.md was left out") for w in preview.warnings)


def test_natural_sort_order(tmp_path, fermentation):
    for number in (10, 2, 1):
        row = fermentation.spectra[number]
        lines = [f"{x:.17g},{y:.17g}" for x, y in zip(fermentation.axis, row)]
        (tmp_path / f"sample{number}.csv").write_text("\n".join(lines) + "\n")
    scan = scan_files(tmp_path)
    assert [p.name for p in scan] == ["sample1.csv", "sample2.csv", "sample10.csv"]
    assert sorted(["b10", "b9", "a"], key=natural_key) == ["a", "b9", "b10"]
    data = import_files(tmp_path, ImportOptions(id_pattern=r"sample(\d+)")).dataset
    assert data.sample_ids == ["1", "2", "10"]
    np.testing.assert_array_equal(data.spectra[2], fermentation.spectra[10])


def test_per_file_errors_collected(cases_dir, tmp_path):
    for folder, name in (("txt", "bad-input-test.txt"), ("jdx", "xyinc2.jdx"),
                         ("spc", "s_evenx.spc")):
        shutil.copy(cases_dir / folder / name, tmp_path / name)
    preview = preview_import(tmp_path)
    errors = {item.name: item.error for item in preview.files}
    assert errors["s_evenx.spc"] is None
    assert "line 35" in errors["xyinc2.jdx"]
    assert errors["bad-input-test.txt"]
    assert preview.dataset.n_samples == 1
    with pytest.raises(ImportRejectedError) as raised:
        finish_import(preview)
    message = str(raised.value)
    assert "bad-input-test.txt" in message
    assert "xyinc2.jdx" in message
    assert raised.value.preview is preview
    result = finish_import(preview, skip_failed=True)
    assert result.dataset.sample_ids == ["s_evenx"]
    assert any(w.startswith("xyinc2.jdx was left out") for w in result.warnings)


def test_missing_file_reported(tmp_path):
    preview = preview_import([tmp_path / "absent.csv"])
    assert "not found" in preview.files[0].error
    assert preview.error == "None of the selected files could be read."


def test_repeated_ids_across_files_renamed(fermentation, tmp_path):
    _fermentation_table(fermentation.subset(range(4)), tmp_path / "day1.csv")
    _fermentation_table(fermentation.subset(range(4)), tmp_path / "day2.csv")
    preview = preview_import(tmp_path)
    first = fermentation.sample_ids[0]
    assert preview.sample_ids[0] == f"day1: {first}"
    assert preview.sample_ids[4] == f"day2: {first}"
    assert len(set(preview.sample_ids)) == 8
    assert any("repeat across files" in n for n in preview.notices)


def test_filename_ids_for_multi_spectrum_file(cases_dir):
    options = ImportOptions(id_source="filename", id_pattern=r"^(\w)")
    preview = preview_import([cases_dir / "spa" / "wodger.spg"], options)
    assert preview.sample_ids == ["w-01", "w-02"]


def test_id_pattern_without_match_warns(cases_dir):
    options = ImportOptions(id_pattern=r"batch_(\d+)")
    preview = preview_import([cases_dir / "spc" / "s_evenx.spc"], options)
    assert preview.sample_ids == ["s_evenx"]
    assert any("does not match the file name" in w for w in preview.warnings)


def test_invalid_options_rejected(cases_dir):
    with pytest.raises(SettingsError, match="not a valid regular expression"):
        preview_import([cases_dir / "spc" / "s_evenx.spc"], ImportOptions(id_pattern="(\\d+"))
    with pytest.raises(SettingsError, match="resample"):
        preview_import([cases_dir / "spc" / "s_evenx.spc"], ImportOptions(resample="always"))


def test_cli_import_resample_and_absorbance(cases_dir, tmp_path, capsys):
    out = tmp_path / "ir.h5"
    code = main(["import", str(cases_dir / "spc" / "Ft-ir.spc"),
                 str(cases_dir / "jdx" / "dupdec1.jdx"), "--resample", "--to-absorbance",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "note: The files have different axes, so 2 spectra were resampled" in captured.out
    assert "A = -log10(T / 100)" in captured.out
    data = load_project(out).dataset
    assert data.n_points == 3551
    assert data.y_unit == "absorbance"
    assert data.metadata["axis_direction"] == "descending"


def test_cli_import_failure_names_files(cases_dir, capsys, tmp_path):
    code = main(["import", str(cases_dir / "spc" / "nir.spc"),
                 str(cases_dir / "spc" / "Ft-ir.spc"), "--out", str(tmp_path / "x.h5")])
    error = capsys.readouterr().err
    assert code == 2
    assert "different axis units" in error
    assert "nir.spc" in error
    assert "Traceback" not in error
    assert not (tmp_path / "x.h5").exists()


# ---------------------------------------------------------------------------------------
# Reference tables as labs write them


def _glucose_table(fermentation, path, ids=None, values=None) -> None:
    ids = list(fermentation.sample_ids) if ids is None else ids
    values = fermentation.references["glucose"].tolist() if values is None else values
    lines = ["sample,glucose"] + [f"{i},{v}" for i, v in zip(ids, values)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("content, problem", [
    (b"sample,glucose\ns01,1\ns02,2,3,4\n", "(line 3): this row has 4 cells"),
    (b"", "contains no data lines"),
    (b"sample,glucose\n", "has a header row but no rows of values"),
])
def test_reference_table_errors_name_file(tmp_path, content, problem):
    path = tmp_path / "lab.csv"
    path.write_bytes(content)
    with pytest.raises(ReadError) as raised:
        read_reference_table(path)
    assert str(raised.value).startswith(f"{path}")
    assert problem in str(raised.value)
    assert "spectra" not in raised.value.hint


@pytest.mark.parametrize("content", [b"sample,glucose\ns01,1\n", b"PK\x03\x04 truncated"])
def test_reference_table_fake_xlsx(tmp_path, content):
    path = tmp_path / "lab.xlsx"
    path.write_bytes(content)
    with pytest.raises(ReadError, match="lab.xlsx"):
        read_reference_table(path)


def test_reference_table_utf16(tmp_path):
    path = tmp_path / "unicode.txt"
    path.write_bytes("sample\tglucose\ns01\t1.5\ns02\t2.5\n".encode("utf-16"))
    table = read_reference_table(path)
    assert list(table["sample"]) == ["s01", "s02"]
    assert list(table["glucose"]) == [1.5, 2.5]


def test_reference_ids_stay_text(tmp_path):
    path = tmp_path / "lab.csv"
    path.write_text("sample,glucose\n001,1.5\n010,2.5\n", encoding="utf-8")
    table = read_reference_table(path)
    assert list(table["sample"]) == ["001", "010"]
    assert table["glucose"].dtype == np.float64


def test_numeric_ids_join_by_id(fermentation, tmp_path):
    spectra_path = tmp_path / "ferm.csv"
    wide = pd.DataFrame(fermentation.spectra, columns=[f"{x:g}" for x in fermentation.axis])
    ids = [str(101 + i) for i in range(fermentation.n_samples)]
    wide.insert(0, "sample", ids)
    wide.to_csv(spectra_path, index=False, float_format="%.17g")
    table_path = tmp_path / "hplc.csv"
    # The lab table lists the samples in reverse order, so a join by row order would be wrong.
    glucose = fermentation.references["glucose"].tolist()
    _glucose_table(fermentation, table_path, ids[::-1], glucose[::-1])
    table = read_reference_table(table_path)
    assert guess_id_column(table, ids) == "sample"
    result = import_files([spectra_path], reference_table=table_path, id_column="sample")
    np.testing.assert_allclose(result.dataset.references["glucose"], glucose)


def test_text_cells_read_as_missing(fermentation, tmp_path):
    spectra_path = tmp_path / "ferm.csv"
    _fermentation_table(fermentation, spectra_path)
    values = fermentation.references["glucose"].tolist()
    values[3], values[7] = "n.d.", "<LOD"
    table_path = tmp_path / "hplc.csv"
    _glucose_table(fermentation, table_path, values=values)
    result = import_files([spectra_path], reference_table=table_path, id_column="sample")
    glucose = result.dataset.references["glucose"]
    assert glucose.dtype == np.float64
    assert glucose[[3, 7]].isna().all()
    assert glucose.notna().sum() == fermentation.n_samples - 2
    ids = fermentation.sample_ids
    expected = f"its 2 text cells were read as missing values: {ids[3]} ('n.d.'), {ids[7]} ('<LOD')"
    assert any(expected in w for w in result.warnings), result.warnings


def test_text_column_stays_classes(tmp_path):
    path = tmp_path / "lab.csv"
    path.write_text("sample,origin\na,Brasil\nb,Vietnam\nc,12\n", encoding="utf-8")
    table = read_reference_table(path)
    assert list(table["origin"]) == ["Brasil", "Vietnam", "12"]
    assert table.attrs["text_cells"] == {}


def test_repeated_reference_ids_reported(fermentation, tmp_path):
    spectra_path = tmp_path / "ferm.csv"
    _fermentation_table(fermentation, spectra_path)
    ids = list(fermentation.sample_ids)
    values = fermentation.references["glucose"].tolist()
    table_path = tmp_path / "hplc.csv"
    _glucose_table(fermentation, table_path, ids + [ids[0]], values + [999.0])
    result = import_files([spectra_path], reference_table=table_path, id_column="sample")
    assert result.dataset.references["glucose"][0] == pytest.approx(values[0])
    repeated = [w for w in result.warnings if "ids repeat" in w]
    assert len(repeated) == 1
    assert f"{ids[0]} (glucose {values[0]:g} vs 999)" in repeated[0]


def test_join_without_any_match_rejected(fermentation, tmp_path):
    spectra_path = tmp_path / "ferm.csv"
    _fermentation_table(fermentation, spectra_path)
    table_path = tmp_path / "hplc.csv"
    other_ids = [f"x{i}" for i in range(fermentation.n_samples)]
    _glucose_table(fermentation, table_path, ids=other_ids)
    with pytest.raises(ReadError, match="none of its 21 ids in column 'sample' match"):
        import_files([spectra_path], reference_table=table_path, id_column="sample")


def test_row_count_error_names_table(fermentation, tmp_path):
    spectra_path = tmp_path / "ferm.csv"
    _fermentation_table(fermentation, spectra_path)
    table_path = tmp_path / "hplc.csv"
    _glucose_table(fermentation, table_path, ids=fermentation.sample_ids[:5])
    with pytest.raises(ReadError, match=r"^hplc\.csv: has 5 rows for 21 spectra"):
        import_files([spectra_path], reference_table=table_path)
    table = read_reference_table(table_path)
    with pytest.raises(ReadError, match=r"^hplc\.csv: has 5 rows"):
        attach_references(fermentation, table, source="hplc.csv")


def test_excel_missing_cell_names_sheet_and_row(fermentation, tmp_path):
    frame = pd.DataFrame(fermentation.spectra[:, :300],
                         columns=[float(x) for x in fermentation.axis[:300]])
    frame.iat[3, 5] = None
    frame.insert(0, "sample", fermentation.sample_ids)
    path = tmp_path / "missing.xlsx"
    frame.to_excel(path, index=False)
    with pytest.raises(ReadError) as raised:
        read_spectra(path)
    assert raised.value.location == "sheet 'Sheet1', row 5"
    assert "1 such cell in all" in raised.value.problem
    assert raised.value.hint == "Fill or remove missing points before importing."
