"""Text column exports (x, y and more columns) and wide tables with metadata columns."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgan_gui.errors import ReadError
from specgan_gui.io import read_many, read_spectra
from specgan_gui.io.base import pick_reader
from specgan_gui.io.table import TextTableReader
from specgan_gui.io.text_columns import TextColumnsReader

NAN = math.nan

# path: (points, first x, last x, first y, last y, x unit); NaN means a masked point.
EXPECTED = {
    "csv/IR.CSV": (3736, 399.1926, 4000.605, -0.09079, -0.09079, "cm-1"),
    "csv/asd-e-irrad-sky.csv2": (2151, 350, 2500, 0.21970446, -0.19054126, "nm"),
    "csv/jasco_angle_resolved_deg0.csv": (10373, 999.9101, 6000.4248, NAN, 0.535474, "cm-1"),
    "csv/raman_hdpe.csv": (964, 301.04, 3198.12, 26, 67, "cm-1"),
    "csv/raman_hdpe_os.csv": (964, 301, 3198, 26, 67, "cm-1"),
    "csv/wasatch-enlighten-absorbance.csv": (1024, 247.94, 709.67, 0.18046, 0.01325, "nm"),
    "txt/oo-spectrum-comma.SSIrrad": (1044, 199.08, 998.61, 0.0, 0.0, "nm"),
    "txt/532nm-191216-Si_200mu.txt": (1024, 46.6417, 1754.52, 37, 19, "cm-1"),
    "txt/rock.txt": (4, 6870, 6900, 16.72502694, 16.65018578, "Energy"),
    "txt/licor-li1800-Rfr.PRN": (226, 350, 800, 0.05135, 0.4684, "nm"),
    "dpt/peach_juice.dpt": (1816, 4000.1161, 499.53234, 0.90603, 0.75763, "cm-1"),
}


def _close(actual: float, expected: float) -> bool:
    if math.isnan(expected):
        return math.isnan(actual)
    return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_values(cases_dir, name):
    n, x_first, x_last, y_first, y_last, unit = EXPECTED[name]
    result = read_spectra(cases_dir / name)
    assert len(result.blocks) == 1
    block = result.blocks[0]
    assert block.n_samples == 1
    assert block.n_points == n
    assert _close(block.axis[0], x_first)
    assert _close(block.axis[-1], x_last)
    assert _close(block.spectra[0][0], y_first)
    assert _close(block.spectra[0][-1], y_last)
    assert block.axis_unit == unit


def test_cid_wide_table_with_metadata_columns(cases_dir):
    result = read_spectra(cases_dir / "csv" / "cid-spectravue-multi-Measurements.csv")
    data = result.dataset
    assert data.spectra.shape == (2, 2048)
    assert data.axis_unit == "nm"  # stated by the header cell "Wavelengths(nm)"
    assert _close(data.axis[0], 144.621353149414)
    assert _close(data.axis[-1], 1332.65063476563)
    assert data.spectra[0][0] == 0
    assert _close(data.spectra[1][0], 253.449846729326)
    inside = (data.axis >= 380.3094) & (data.axis <= 1099.885)
    assert int(inside.sum()) == 1235
    assert list(data.references["Mode"]) == ["Transmittance", "Reflectance"]


def test_metadata_columns_after_spectrum(cases_dir):
    os_format = read_spectra(cases_dir / "csv" / "raman_hdpe_os.csv").dataset
    plain = read_spectra(cases_dir / "csv" / "raman_hdpe.csv").dataset
    np.testing.assert_array_equal(os_format.spectra, plain.spectra)
    np.testing.assert_allclose(os_format.axis, plain.axis, atol=0.5)
    assert os_format.references["spectrum_identity"].iloc[0] == "HDPE"


def test_jasco_sentinels_masked_and_footer_decoded(cases_dir):
    result = read_spectra(cases_dir / "csv" / "jasco_angle_resolved_deg0.csv")
    y = result.dataset.spectra[0]
    assert int(np.isnan(y).sum()) == 2114
    sentinel_warning = [w for w in result.warnings if "FLT_MIN" in w]
    assert len(sentinel_warning) == 1
    assert "2114 of 10373" in sentinel_warning[0]
    assert "lines 20-23" in sentinel_warning[0]
    assert "masked as NaN" in sentinel_warning[0]
    assert any("cp932" in w for w in result.warnings)
    assert result.dataset.y_unit == "transmittance"


def test_jasco_sentinels_kept_on_request(cases_dir):
    result = read_spectra(cases_dir / "csv" / "jasco_angle_resolved_deg0.csv", sentinels="keep")
    y = result.dataset.spectra[0]
    assert y[0] == pytest.approx(-1.17549e-38, rel=1e-5)
    assert not np.isnan(y).any()
    assert any("kept as written" in w for w in result.warnings)


def test_asd_nul_bytes_and_semicolons(cases_dir):
    result = read_spectra(cases_dir / "csv" / "asd-e-irrad-sky.csv2")
    assert any("156 NUL bytes" in w for w in result.warnings)
    assert "semicolon" in result.format
    assert result.dataset.metadata["column"] == "irrad_sky-00079_semicol.asd"


def test_labspec_latin1_header(cases_dir):
    result = read_spectra(cases_dir / "txt" / "532nm-191216-Si_200mu.txt")
    data = result.dataset
    peak = int(np.argmax(data.spectra[0]))
    assert data.spectra[0][peak] == 14997
    assert data.axis[peak] == pytest.approx(522.6, abs=0.5)
    assert data.metadata["Detector temperature (°C)"] == "-60.1"


def test_spectrasuite_decimal_comma(cases_dir):
    result = read_spectra(cases_dir / "txt" / "oo-spectrum-comma.SSIrrad")
    assert "decimal comma" in result.format
    assert float(np.max(result.dataset.spectra[0])) == pytest.approx(301.02)


def test_wasatch_column_choice_reported(cases_dir):
    result = read_spectra(cases_dir / "csv" / "wasatch-enlighten-absorbance.csv")
    assert "y = 'Processed'" in result.format
    assert any("Read column 3 'Processed'" in w for w in result.warnings)
    raw = read_spectra(cases_dir / "csv" / "wasatch-enlighten-absorbance.csv", column="Raw")
    assert raw.dataset.spectra[0][0] == 856.0
    assert raw.dataset.spectra[0][-1] == 10314.0


def test_rock_column_by_number(cases_dir):
    result = read_spectra(cases_dir / "txt" / "rock.txt", column="3")
    np.testing.assert_allclose(result.dataset.spectra[0],
                               [0.91213142, 0.89539732, 0.87925428, 0.86225812])
    np.testing.assert_array_equal(result.dataset.axis, [6870, 6880, 6890, 6900])
    assert any("names 10 columns but the rows have 9" in w for w in result.warnings)
    same = read_spectra(cases_dir / "txt" / "rock.txt", column=3)
    np.testing.assert_array_equal(same.dataset.spectra, result.dataset.spectra)


def test_rock_all_columns(cases_dir):
    result = read_spectra(cases_dir / "txt" / "rock.txt", column="all")
    assert result.dataset.spectra.shape == (8, 4)
    assert result.dataset.sample_ids[0] == "rock: Angle"


def test_peach_dpt_matches_opus_value(cases_dir):
    data = read_spectra(cases_dir / "dpt" / "peach_juice.dpt").dataset
    assert data.spectra[0][3] == pytest.approx(0.90656)


def test_bad_input_rejected(cases_dir):
    with pytest.raises(ReadError) as info:
        read_spectra(cases_dir / "txt" / "bad-input-test.txt")
    message = str(info.value)
    assert "bad-input-test.txt" in message
    assert "line 4" in message
    assert "at least 3 rows" in message


def test_walz_workbook_rejected(cases_dir):
    with pytest.raises(ReadError) as info:
        read_spectra(cases_dir / "xlsx" / "walz-lsa-2050-prunus.xlsx")
    message = str(info.value)
    assert "no sheet with spectra" in message
    assert "'Measure'" in message
    assert "'SAT Chart'" in message
    assert "time or position series" in message


def test_inspect_json_keeps_file_order(cases_dir, capsys):
    from specgan_gui.cli import main

    assert main(["inspect", str(cases_dir / "dpt" / "peach_juice.dpt"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    spectrum = report["spectra"][0]
    assert spectrum["x_first"] == pytest.approx(4000.1161)
    assert spectrum["x_last"] == pytest.approx(499.53234)
    assert spectrum["x_unit"] == "cm-1"


# ---------------------------------------------------------------------------------------
# Small files written here for one feature each


def _write(tmp_path: Path, text: str, name: str = "spectrum.txt", encoding="utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _xy(n: int = 20, start: float = 400.0, step: float = 2.0):
    x = start + step * np.arange(n)
    y = np.sin(x / 50.0) + 2.0
    return x, y


@pytest.mark.parametrize(
    "separator, decimal",
    [(",", "."), (";", ","), ("\t", ","), ("\t", "."), ("  ", "."), (";", ".")],
)
def test_dialects(tmp_path, separator, decimal):
    x, y = _xy()
    rows = [f"{a:.6f}{separator}{b:.6f}" for a, b in zip(x, y)]
    if decimal == ",":
        rows = [row.replace(".", ",") for row in rows]
    text = "Instrument: test\nOperator: someone\n\n" + "\n".join(rows) + "\n"
    result = read_spectra(_write(tmp_path, text))
    np.testing.assert_allclose(result.dataset.axis, x)
    np.testing.assert_allclose(result.dataset.spectra[0], y, atol=1e-6)
    assert result.dataset.metadata["Instrument"] == "test"
    assert (f"decimal {'comma' if decimal == ',' else 'point'}") in result.format


def test_fixed_width_joined_negative_numbers(tmp_path):
    # Fixed-width writers leave no space before a minus sign: "  401.00-0.49000".
    lines = [f"{400 + i:8.2f}{'' if i % 2 else ' '}{-0.5 + 0.01 * i:.5f}" for i in range(10)]
    assert lines[1] == "  401.00-0.49000"
    data = read_spectra(_write(tmp_path, "\n".join(lines) + "\n", "fixed.prn")).dataset
    np.testing.assert_allclose(data.axis, 400 + np.arange(10))
    np.testing.assert_allclose(data.spectra[0], -0.5 + 0.01 * np.arange(10))


def test_trailing_separators_and_end_comments(tmp_path):
    x, y = _xy(12)
    body = "".join(f"{a},{b},\n" for a, b in zip(x, y))
    text = f"x,y,\n{body}# end of data\n; another comment"
    data = read_spectra(_write(tmp_path, text, "trailing.csv")).dataset
    assert data.n_points == 12
    np.testing.assert_allclose(data.spectra[0], y)


def test_header_units_row(tmp_path):
    x, y = _xy(10)
    body = "".join(f"{a}\t{b}\n" for a, b in zip(x, y))
    data = read_spectra(_write(tmp_path, f"Wavelength\tSignal\nnm\tcounts\n{body}")).dataset
    assert data.axis_unit == "nm"
    assert data.metadata["column"] == "Signal (counts)"


@pytest.mark.parametrize(
    "header, unit",
    [("Wavenumber (cm-1)", "cm-1"), ("Raman shift", "cm-1"), ("Wavelength [nm]", "nm"),
     ("Energy (eV)", "eV"), ("Wavelength (um)", "um")],
)
def test_axis_unit_from_header(tmp_path, header, unit):
    x, y = _xy(10)
    body = "".join(f"{a},{b}\n" for a, b in zip(x, y))
    data = read_spectra(_write(tmp_path, f"{header},Intensity\n{body}", "units.csv")).dataset
    assert data.axis_unit == unit


def test_sentinel_kinds_masked(tmp_path):
    x, y = _xy(10)
    values = [f"{v}" for v in y]
    values[2] = "3.40282347E+38"
    values[3] = "-1e38"
    values[4] = "9.91E37"
    values[5] = "1.17549435E-38"
    values[6] = "NaN"
    body = "".join(f"{a},{b}\n" for a, b in zip(x, values))
    result = read_spectra(_write(tmp_path, body, "clipped.csv"))
    masked = np.isnan(result.dataset.spectra[0])
    np.testing.assert_array_equal(np.flatnonzero(masked), [2, 3, 4, 5, 6])
    warning = next(w for w in result.warnings if "masked as NaN" in w)
    assert "5 of 10" in warning
    assert "lines 3-7" in warning


def test_column_options_rejected_clearly(tmp_path):
    x, y = _xy(10)
    body = "".join(f"{a},{b},{2 * b}\n" for a, b in zip(x, y))
    path = _write(tmp_path, f"x,a,b\n{body}", "three.csv")
    assert read_spectra(path, column="b").dataset.spectra[0][0] == pytest.approx(2 * y[0])
    with pytest.raises(ReadError, match="no column named 'c'"):
        read_spectra(path, column="c")
    with pytest.raises(ReadError, match="column 7"):
        read_spectra(path, column=7)
    with pytest.raises(ReadError, match="is the x column"):
        read_spectra(path, column=1)


def test_x_turning_back_rejected(tmp_path):
    x, y = _xy(10)
    x[6] = x[2]
    body = "".join(f"{a},{b}\n" for a, b in zip(x, y))
    with pytest.raises(ReadError) as info:
        read_spectra(_write(tmp_path, body, "back.csv"))
    assert "line 7" in str(info.value)
    assert "turn back" in str(info.value)


def test_cut_last_row_rejected(tmp_path):
    x, y = _xy(10)
    body = "".join(f"{a},{b}\n" for a, b in zip(x, y)) + "420.0"
    with pytest.raises(ReadError) as info:
        read_spectra(_write(tmp_path, body, "cut.csv"))
    assert "line 11" in str(info.value)
    assert "cut short" in str(info.value)


def test_short_row_inside_data_rejected(tmp_path):
    """An empty cell on line 12 of 50 must not drop the 11 rows above it."""
    x, y = _xy(50)
    rows = [f"{a},{b}" for a, b in zip(x, y)]
    rows[11] = f"{x[11]},"
    with pytest.raises(ReadError) as info:
        read_spectra(_write(tmp_path, "\n".join(rows) + "\n", "ragged.csv"))
    assert "line 12" in str(info.value)
    assert "damaged" in str(info.value)


def test_count_line_before_data_allowed(tmp_path):
    x, y = _xy(20)
    body = "".join(f"{a},{b}\n" for a, b in zip(x, y))
    result = read_spectra(_write(tmp_path, f"20\n{body}", "counted.csv"))
    assert result.dataset.spectra.shape == (1, 20)

def test_declared_count_checked(tmp_path):
    x, y = _xy(10)
    body = "".join(f"{a}\t{b}\n" for a, b in zip(x, y))
    with pytest.raises(ReadError) as info:
        read_spectra(_write(tmp_path, f"NPOINTS\t12\nXYDATA\n{body}"))
    assert "contains 10 data rows" in str(info.value)
    assert "declares 12" in str(info.value)


def test_missing_end_marker_rejected(tmp_path):
    x, y = _xy(10)
    body = "".join(f"{a}\t{b}\n" for a, b in zip(x, y))
    text = f"Spectrometer: X\n>>>>>Begin Processed Spectral Data<<<<<\n{body}"
    with pytest.raises(ReadError, match="cut short"):
        read_spectra(_write(tmp_path, text))
    text += ">>>>>End Processed Spectral Data<<<<<\n"
    assert read_spectra(_write(tmp_path, text)).dataset.n_points == 10


def test_stacked_blocks(tmp_path):
    x, y = _xy(10)
    block = "".join(f"{a},{b}\n" for a, b in zip(x, y))
    block2 = "".join(f"{a},{2 * b}\n" for a, b in zip(x, y))
    text = f"Spectrum 1\nx,first\n{block}\nSpectrum 2\nx,second\n{block2}"
    result = read_spectra(_write(tmp_path, text, "stacked.csv"))
    assert result.dataset.spectra.shape == (2, 10)
    np.testing.assert_allclose(result.dataset.spectra[1], 2 * y)
    assert result.dataset.sample_ids == ["stacked: first", "stacked: second"]
    assert any("2 blocks of data" in w for w in result.warnings)


def test_shift_jis_and_latin1_lines(tmp_path):
    x, y = _xy(10)
    body = "".join(f"{a},{b}\n" for a, b in zip(x, y))
    text = body.encode() + "測定者,山田\n".encode("cp932")
    path = tmp_path / "jis.csv"
    path.write_bytes(text)
    result = read_spectra(path)
    assert result.dataset.n_points == 10
    assert any("cp932" in w for w in result.warnings)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("Temperature (°C): 20\n".encode("latin-1") + body.encode())
    assert read_spectra(latin).dataset.metadata["Temperature (°C)"] == "20"


def test_utf16_export(tmp_path):
    x, y = _xy(10)
    body = "Wavelength (nm)\tIntensity\r\n" + "".join(f"{a}\t{b}\r\n" for a, b in zip(x, y))
    path = tmp_path / "utf16.txt"
    path.write_bytes(body.encode("utf-16"))
    data = read_spectra(path).dataset
    np.testing.assert_allclose(data.spectra[0], y)
    assert data.axis_unit == "nm"


def test_headerless_many_columns_picked_over_wide_table(tmp_path):
    x, y = _xy(30)
    body = "".join(f"{a}," + ",".join(f"{b + k}" for k in range(9)) + "\n"
                   for a, b in zip(x, y))
    path = _write(tmp_path, body, "many.csv")
    assert isinstance(pick_reader(path), TextColumnsReader)
    assert read_spectra(path, column="all").dataset.spectra.shape == (9, 30)


def test_wide_table_still_wins_for_wide_files(tmp_path, fermentation):
    frame = pd.DataFrame(fermentation.spectra[:3], columns=[f"{v:g}" for v in fermentation.axis])
    path = tmp_path / "wide.csv"
    frame.to_csv(path, index=False)
    assert isinstance(pick_reader(path), TextTableReader)


def test_wide_table_text_between_axis_values_rejected(tmp_path):
    header = ",".join(str(400 + i) for i in range(10)) + ",note," + ",".join(
        str(500 + i) for i in range(10))
    row = ",".join(["0.1"] * 10) + ",x," + ",".join(["0.2"] * 10)
    path = _write(tmp_path, f"{header}\n{row}\n", "mixed.csv")
    with pytest.raises(ReadError, match="is between axis values"):
        read_spectra(path)


def test_wide_table_unit_only_from_axis_label(tmp_path):
    axis = [str(4000 - 2 * i) for i in range(10)]
    rows = [f"s{i},0.{i}," + ",".join(["0.5"] * 10) for i in range(3)]
    path = _write(tmp_path, "sample,A280 nm," + ",".join(axis) + "\n" + "\n".join(rows) + "\n",
                  "refs.csv")
    assert read_spectra(path).dataset.axis_unit == "cm-1"
    labelled = _write(tmp_path, "sample,A280 nm,Wavenumber (cm-1)," + ",".join(axis) + "\n"
                      + "\n".join(row.replace(",0.5", ",,0.5", 1) for row in rows) + "\n",
                      "labelled.csv")
    result = read_spectra(labelled)
    assert result.dataset.axis_unit == "cm-1"
    assert not any("assumed" in w for w in result.warnings)


def test_coffee_xy_files_round_trip(tmp_path, coffee):
    paths = []
    for index in range(3):
        path = tmp_path / f"{coffee.sample_ids[index]}.csv"
        lines = [f"{a:g},{b:.17g}" for a, b in zip(coffee.axis, coffee.spectra[index])]
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    data = read_many(paths).dataset
    np.testing.assert_array_equal(data.spectra, coffee.spectra[:3])
    np.testing.assert_array_equal(data.axis, coffee.axis)
    assert data.axis_unit == "index"
    assert data.sample_ids == coffee.sample_ids[:3]


def test_coffee_axis_column_layout(tmp_path, coffee):
    frame = pd.DataFrame(coffee.spectra.T, columns=coffee.sample_ids)
    frame.insert(0, "index", coffee.axis.astype(int))
    path = tmp_path / "coffee_columns.tsv"
    frame.to_csv(path, sep="\t", index=False, float_format="%.17g")
    data = read_spectra(path, column="all", axis_unit="index").dataset
    np.testing.assert_array_equal(data.spectra, coffee.spectra)
    assert data.sample_ids == [f"coffee_columns: {s}" for s in coffee.sample_ids]


# ---------------------------------------------------------------------------------------
# Fuzzing: damaged copies of real files end in ReadError or in a valid spectrum

SEEDS = ("csv/raman_hdpe.csv", "csv/wasatch-enlighten-absorbance.csv",
         "txt/oo-spectrum-comma.SSIrrad", "txt/licor-li1800-Rfr.PRN", "txt/rock.txt",
         "txt/532nm-191216-Si_200mu.txt", "csv/asd-e-irrad-sky.csv2", "txt/bad-input-test.txt")


@st.composite
def _damaged(draw, seeds: dict[str, bytes]):
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    kind = draw(st.sampled_from(["truncate", "flip", "delete", "insert", "swap_lines"]))
    position = draw(st.integers(0, len(data) - 1))
    if kind == "truncate":
        data = data[:position]
    elif kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif kind == "delete":
        del data[position:position + draw(st.integers(1, 200))]
    elif kind == "insert":
        data[position:position] = draw(st.binary(min_size=1, max_size=20))
    else:
        lines = bytes(data).split(b"\n")
        first = draw(st.integers(0, len(lines) - 1))
        second = draw(st.integers(0, len(lines) - 1))
        lines[first], lines[second] = lines[second], lines[first]
        data = bytearray(b"\n".join(lines))
    return name, bytes(data)


def _fuzz(cases_dir, tmp_path_factory, examples: int) -> None:
    seeds = {name: (cases_dir / name).read_bytes() for name in SEEDS}
    folder = tmp_path_factory.mktemp("fuzz")

    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(_damaged(seeds))
    def run(case):
        name, data = case
        path = folder / Path(name).name
        path.write_bytes(data)
        try:
            result = TextColumnsReader().read(path)
        except ReadError as error:
            assert path.name in str(error)
            return
        assert result.blocks
        for block in result.blocks:
            assert block.n_points >= 3
            assert np.isfinite(block.axis).all()

    run()


def test_fuzz_damaged_files(cases_dir, tmp_path_factory):
    _fuzz(cases_dir, tmp_path_factory, 30)


@pytest.mark.slow
def test_fuzz_damaged_files_long(cases_dir, tmp_path_factory):
    _fuzz(cases_dir, tmp_path_factory, 1500)
