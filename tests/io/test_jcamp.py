"""JCAMP-DX reader: real files from public test suites, label variants, damage checks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgan_gui.errors import ReadError
from specgan_gui.io import read_spectra
from specgan_gui.io.base import pick_reader
from specgan_gui.io.jcamp import JcampReader

# name: (points, first x, last x, first y, last y, x unit, y min, y max); None skips a value.
EXPECTED = {
    "sqzdec1.jdx": (16384, 24038.5, 0.0, 2259260, 1505988, "HZ", -2.75935e7, 9.72202e8),
    "dupdec1.jdx": (3951, 4400, 450, 82.25, 78.58, "cm-1", 0.02, 87.1),
    "pacdec1.jdx": (3301, 4000, 700, 101.60, 101.24, "cm-1", 86.31, 101.89),
    "PE1800.DX": (3301, 4000, 700, 1.0160, 1.0124, "cm-1", 0.8631, 1.0189),
    "BRUKDIF.DX": (16384, 24038.5, 0.0, 2254931, 1513177, "HZ", -2.75932e7, 9.72202e8),
    "BRUKNTUP.DX": (16384, 24038.5, 0.0, 2254931, 1513177, "HZ", -2.75932e7, 9.72202e8),
    "LABCALC.DX": (3435, 249.741, 3699.742, 0.971056, 0.93349243, "cm-1", 0.0, 1.0),
    "example_multiline_datasets.jdx": (1919, 401.127686, 7798.848633, 1.014020, 1.019141,
                                       "cm-1", 0.948091, 1.019141),
    "scientific_notation_example.jdx": (1867, 399.3614, 3999.4017, 0.069749, 0.010971, "cm-1",
                                        0.0, 1.0),
    "pktab1.jdx": (46, 0, 386, 0, 324, "m/z", 0, 1000),
    "fixinc4.jdx": (81, -2, 2, 0.0183156, 0.0183156, "ARBITRARY", None, 0.999997),
    "difdup_example.jdx": (53, 4, 56, 0.0, 12.8, "MILLISECONDS", None, None),
}


def _close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, rel_tol=2e-5, abs_tol=1e-6)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_file_values(cases_dir, name):
    n, x_first, x_last, y_first, y_last, unit, y_min, y_max = EXPECTED[name]
    result = read_spectra(cases_dir / "jdx" / name)
    assert result.format.startswith("JCAMP-DX")
    assert len(result.blocks) == 1
    block = result.blocks[0]
    y = block.spectra[0]
    assert block.n_points == n
    assert _close(block.axis[0], x_first)
    assert _close(block.axis[-1], x_last)
    assert _close(y[0], y_first)
    assert _close(y[-1], y_last)
    assert block.axis_unit == unit
    if y_min is not None:
        assert _close(float(np.min(y)), y_min)
    if y_max is not None:
        assert _close(float(np.max(y)), y_max)


def test_link_file_blocks_in_order(cases_dir):
    result = read_spectra(cases_dir / "jdx" / "compound.jdx")
    rows = [(b.n_points, row[0]) for b in result.blocks for row in b.spectra]
    assert [n for n, _ in rows] == [1976, 1976, 3951, 1976, 3951]
    for (_, first), expected in zip(rows, [0.0467, 0.0554, 0.5607, 0.378, 0.5385]):
        assert _close(first, expected)
    # Blocks 1 and 2 share their axis, so they form one data set; order stays as in the file.
    assert [b.n_samples for b in result.blocks] == [2, 1, 1, 1]
    assert all(b.axis[0] == 4400 and b.axis[-1] == 450 for b in result.blocks)
    assert result.n_spectra == 5


def test_ntuples_returns_real_page(cases_dir):
    ntuples = read_spectra(cases_dir / "jdx" / "BRUKNTUP.DX")
    plain = read_spectra(cases_dir / "jdx" / "BRUKDIF.DX")
    np.testing.assert_array_equal(ntuples.dataset.spectra, plain.dataset.spectra)
    np.testing.assert_allclose(ntuples.dataset.axis, plain.dataset.axis)
    assert "NTUPLES" in ntuples.format
    assert any("real page" in w and "imaginary" in w for w in ntuples.warnings)


def test_peak_table_labelled(cases_dir):
    result = read_spectra(cases_dir / "jdx" / "pktab1.jdx")
    assert "PEAK TABLE" in result.format
    assert any("peak table of 46 peaks" in w for w in result.warnings)
    block = result.blocks[0]
    assert block.axis[1] == 41
    assert block.spectra[0][1] == 520


def test_scientific_notation_not_compressed(cases_dir):
    y = read_spectra(cases_dir / "jdx" / "scientific_notation_example.jdx").dataset.spectra[0]
    assert np.isclose(y, 4.6e-5, rtol=1e-9).any()
    assert np.all((y >= 0) & (y <= 1))


def test_difdup_values_and_check_line(cases_dir):
    y = read_spectra(cases_dir / "jdx" / "difdup_example.jdx").dataset.spectra[0]
    expected = [0, 0, 0, 0, 0.2, 0.4, 0.4, 0.4, 0.7, 0.5]
    np.testing.assert_allclose(y[:10], expected, atol=1e-12)
    assert y[-2] == pytest.approx(12.1)
    assert y[-1] == pytest.approx(12.8)


def test_spliced_file_rejected(cases_dir):
    with pytest.raises(ReadError) as info:
        read_spectra(cases_dir / "jdx" / "xyinc2.jdx")
    message = str(info.value)
    assert "xyinc2.jdx" in message
    assert "line 35" in message
    assert "x = 28" in message


def test_registry_picks_jcamp_by_content(cases_dir, tmp_path):
    copy = tmp_path / "spectrum.txt"
    copy.write_bytes((cases_dir / "jdx" / "dupdec1.jdx").read_bytes())
    assert isinstance(pick_reader(copy), JcampReader)
    assert read_spectra(copy).dataset.n_points == 3951


# ---------------------------------------------------------------------------------------
# Small files written here for one feature each

HEADER = """##TITLE= {title}
##JCAMP-DX= 4.24
##{datatype}= INFRARED SPECTRUM
##OWNER=
  ##XUNITS= {xunits}
##YUNITS= ABSORBANCE
##XFACTOR= 1
##YFACTOR= {yfactor}
##FIRSTX= 1000
##LASTX= 1009
##NPOINTS= {npoints}
##FIRSTY= {firsty}
"""


def _write(tmp_path: Path, body: str, name="test.jdx", **fields) -> Path:
    values = dict(title="test", datatype="DATA TYPE", xunits="1/CM", yfactor="1",
                  npoints="10", firsty="1")
    values.update(fields)
    path = tmp_path / name
    path.write_text(HEADER.format(**values) + body)
    return path


AFFN_BODY = """##XYDATA= (X++(Y..Y))
1000 1 2 3 4 5 $$ a comment after values
1005 6 7 8 9 10
##END=
"""


def test_affn_with_label_variants(tmp_path):
    path = _write(tmp_path, AFFN_BODY, datatype="DATATYPE")
    result = read_spectra(path)
    block = result.blocks[0]
    np.testing.assert_array_equal(block.spectra[0], np.arange(1, 11))
    np.testing.assert_array_equal(block.axis, np.arange(1000, 1010))
    assert block.axis_unit == "cm-1"
    assert block.y_unit == "absorbance"
    # "##OWNER=" with no value must not swallow the "  ##XUNITS=" record after it.
    assert block.metadata.get("owner") is None


@pytest.mark.parametrize(
    "xunits, expected",
    [("NANOMETERS", "nm"), ("1/CM", "cm-1"), ("MICROMETERS", "MICROMETERS"), ("HZ", "HZ")],
)
def test_axis_units(tmp_path, xunits, expected):
    assert read_spectra(_write(tmp_path, AFFN_BODY, xunits=xunits)).dataset.axis_unit == expected


def test_compressed_forms_agree(tmp_path):
    # The same ten values, 1..10, written as SQZ, DIF with a Y-check line, DUP and PAC.
    bodies = {
        "sqz": "1000A B C D E\n1005F G H I A0\n",
        "dif": "1000AJJJJ\n1004EJJJJJ\n1009A0\n",
        "dup": "1000AJV\n1004EJW\n1009A0\n",
        "pac": "1000+1+2+3+4+5\n1005+6+7+8+9+10\n",
    }
    for form, body in bodies.items():
        path = _write(tmp_path, f"##XYDATA=(X++(Y..Y))\n{body}##END=\n", name=f"{form}.jdx")
        y = read_spectra(path).dataset.spectra[0]
        np.testing.assert_array_equal(y, np.arange(1, 11), err_msg=form)


def test_yfactor_applied(tmp_path):
    path = _write(tmp_path, "##XYDATA=(X++(Y..Y))\n1000A B C D E\n1005F G H I A0\n##END=\n",
                  yfactor="0.5", firsty="0.5")
    np.testing.assert_array_equal(read_spectra(path).dataset.spectra[0], np.arange(1, 11) / 2)


def test_xypoints_read_in_file_order(tmp_path):
    body = "##XYPOINTS=(XY..XY)\n1009, 10; 1008, 9\n" + "".join(
        f"{1007 - i}, {8 - i}\n" for i in range(8)) + "##END=\n"
    path = _write(tmp_path, body, firsty="10")
    block = read_spectra(path).dataset
    np.testing.assert_array_equal(block.axis, np.arange(1009, 999, -1))
    np.testing.assert_array_equal(block.spectra[0], np.arange(10, 0, -1))


def test_point_count_mismatch_rejected(tmp_path):
    path = _write(tmp_path, AFFN_BODY, npoints="12")
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "10 points" in str(info.value)
    assert "declares 12" in str(info.value)


def test_bad_y_check_rejected(tmp_path):
    path = _write(tmp_path, "##XYDATA=(X++(Y..Y))\n1000AJJJJ\n1004FJJJJJ\n1009A0\n##END=\n")
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "line 15" in str(info.value)
    assert "Y-check" in str(info.value)


def test_missing_line_rejected(tmp_path):
    path = _write(tmp_path, "##XYDATA=(X++(Y..Y))\n1000 1 2 3 4 5\n##END=\n", npoints="5")
    # Five points from 1000 to 1009 mean a step of 2.25; the line at 1000 still fits,
    # so only the point count can fail here.
    assert read_spectra(path).dataset.n_points == 5
    path = _write(tmp_path, "##XYDATA=(X++(Y..Y))\n1000 1 2\n1006 7 8 9 10\n##END=\n",
                  npoints="6", name="gap.jdx")
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "line 15" in str(info.value)


def test_huge_dup_count_rejected(tmp_path):
    path = _write(tmp_path, "##XYDATA=(X++(Y..Y))\n1000AS99999999\n##END=\n")
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "more points" in str(info.value)


def test_cut_file_rejected(cases_dir, tmp_path):
    raw = (cases_dir / "jdx" / "fixinc4.jdx").read_bytes()
    cut = raw[: raw.index(b"19666262\r\n##END") + 4]  # inside the last value
    path = tmp_path / "cut.jdx"
    path.write_bytes(cut)
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "cut short" in str(info.value)


def test_not_jcamp_rejected(tmp_path):
    path = tmp_path / "empty.jdx"
    path.write_text("just some words\nand more\n")
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "empty.jdx" in str(info.value)


def test_ntuples_mass_spectra_pages(tmp_path):
    text = """##TITLE= ms test
##JCAMP-DX= 5.00
##DATA TYPE= MASS SPECTRUM
##DATA CLASS= NTUPLES
##NTUPLES= MASS SPECTRUM
##VAR_NAME= MASS, INTENSITY, RETENTION TIME
##SYMBOL= X, Y, T
##VAR_TYPE= INDEPENDENT, DEPENDENT, INDEPENDENT
##VAR_FORM= AFFN, AFFN, AFFN
##VAR_DIM= , , 2
##UNITS= M/Z, RELATIVE ABUNDANCE, SECONDS
##PAGE= T=1.5
##NPOINTS= 3
##DATA TABLE= (XY..XY), PEAKS
50,10 51,20 52,30
##PAGE= T=3.0
##NPOINTS= 2
##DATA TABLE= (XY..XY), PEAKS
60,5 61,6
##END NTUPLES= MASS SPECTRUM
##END=
"""
    path = tmp_path / "ms.jdx"
    path.write_text(text)
    result = read_spectra(path)
    assert [b.n_points for b in result.blocks] == [3, 2]
    np.testing.assert_array_equal(result.blocks[0].axis, [50, 51, 52])
    np.testing.assert_array_equal(result.blocks[1].spectra[0], [5, 6])
    assert result.blocks[0].sample_ids == ["ms: ms test T=1.5"]
    assert result.blocks[0].axis_unit == "M/Z"
    assert sum("peak table" in w for w in result.warnings) == 2


def test_header_range_disagreement_warned(cases_dir):
    result = read_spectra(cases_dir / "jdx" / "compound.jdx")
    warnings = [w for w in result.warnings if "##MINY=" in w]
    assert len(warnings) == 1
    assert "10.41 to ##MAXY= 63.94" in warnings[0]


def test_records_after_end_rejected(tmp_path):
    path = _write(tmp_path, AFFN_BODY + "##YFACTOR= 2\n")
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "line 17" in str(info.value)
    assert "without a new ##TITLE=" in str(info.value)


def test_spectrum_block_without_data_rejected(tmp_path):
    good = HEADER.format(title="one", datatype="DATA TYPE", xunits="1/CM", yfactor="1",
                         npoints="10", firsty="1") + AFFN_BODY
    damaged = good.replace("##TITLE= one", "##TITLE= two").replace("##XYDATA=", "##XYDAT")
    path = tmp_path / "link.jdx"
    path.write_text("##TITLE= link\n##DATA TYPE= LINK\n##BLOCKS= 2\n" + good + damaged
                    + "##END=\n")
    with pytest.raises(ReadError) as info:
        read_spectra(path)
    assert "block 'two'" in str(info.value)
    assert "contains no ##XYDATA=" in str(info.value)


# ---------------------------------------------------------------------------------------
# Fuzzing: damaged copies of real files end in ReadError or in a whole spectrum

SEEDS = ("dupdec1.jdx", "pacdec1.jdx", "compound.jdx", "difdup_example.jdx", "fixinc4.jdx",
         "pktab1.jdx", "LABCALC.DX", "scientific_notation_example.jdx")


@st.composite
def _damaged(draw, seeds: dict[str, bytes]):
    name = draw(st.sampled_from(sorted(seeds)))
    data = bytearray(seeds[name])
    kind = draw(st.sampled_from(["truncate", "flip", "delete", "insert", "duplicate_line"]))
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
        index = draw(st.integers(0, len(lines) - 1))
        lines.insert(index, lines[index])
        data = bytearray(b"\n".join(lines))
    return name, kind, bytes(data)


def _check_damaged(tmp_path: Path, name: str, kind: str, data: bytes, originals: dict) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    try:
        result = JcampReader().read(path)
    except ReadError as error:
        assert name in str(error)
        return
    assert result.blocks
    if kind == "truncate":
        # A file cut short is rejected, or it lost nothing but the trailing ##END=.
        original = originals[name]
        assert [b.n_points for b in result.blocks] == [b.n_points for b in original.blocks]
        for block, expected in zip(result.blocks, original.blocks):
            np.testing.assert_array_equal(block.spectra, expected.spectra)


def _fuzz(cases_dir, tmp_path_factory, examples: int) -> None:
    seeds = {name: (cases_dir / "jdx" / name).read_bytes() for name in SEEDS}
    originals = {name: JcampReader().read(cases_dir / "jdx" / name) for name in SEEDS}
    folder = tmp_path_factory.mktemp("fuzz")

    @settings(max_examples=examples, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(_damaged(seeds))
    def run(case):
        _check_damaged(folder, *case, originals)

    run()


def test_fuzz_damaged_files(cases_dir, tmp_path_factory):
    _fuzz(cases_dir, tmp_path_factory, 30)


@pytest.mark.slow
def test_fuzz_damaged_files_long(cases_dir, tmp_path_factory):
    _fuzz(cases_dir, tmp_path_factory, 1500)
