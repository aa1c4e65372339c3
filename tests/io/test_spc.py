"""Thermo-Galactic SPC reader against real files, plus mutation fuzzing."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgan_gui.errors import ReadError
from specgan_gui.io.base import ReadResult, pick_reader, read_spectra
from specgan_gui.io.spc import SPCReader

# file, spectra, points of spectrum 1, x first, x last, y first, y last, x unit
# (None: the reference values give no number for that cell).
EXPECTED = [
    ("4d_map.spc", 121, 313, 798.395, 2001.774, 0.223193, 0.275199, "cm-1"),
    ("DRUG_SAMPLE_PEAKS.SPC", 6, 80, 38.05, 196.95, 9301.0, None, "m/z"),
    ("Ft-ir.spc", 1, 1776, 4000.0, 450.0, 95.1375, 94.8835, "cm-1"),
    ("LC_DIODE_ARRAY.SPC", 350, 181, 190.0, 370.0, 0.00407791, None, "nm"),
    ("RAMAN.SPC", 1, 3632, 3996.82, -3005.96, 0.0171021, 0.0320770, "cm-1"),
    ("XYTRACE.SPC", 1, 3469, 317.235, 870.334, 0.0, None, "nm"),
    ("m_evenz.spc", 32, 171, 200.0, 800.0, 0.0, None, "nm"),
    ("m_ordz.spc", 10, 857, 698.2297, 4000.3547, 0.0221937, 0.150001, "cm-1"),
    ("m_xyxy.spc", 512, 8, 43.9, 25.85, 6823.0, 3144.0, "m/z"),
    ("nir.spc", 20, 700, 1100.0, 2498.0, 0.000200484, 0.00144118, "nm"),
    ("s_evenx.spc", 1, 1844, 447.484, 4002.282, 0.00805062, 0.00585466, "cm-1"),
]
FILES = [row[0] for row in EXPECTED]


def close(value, expected, rel=1e-5, abs_=1e-9):
    return value == pytest.approx(expected, rel=rel, abs=abs_)


def read(cases_dir, name, **options) -> ReadResult:
    return read_spectra(cases_dir / "spc" / name, **options)


@pytest.mark.parametrize("row", EXPECTED, ids=FILES)
def test_spc_reference_values(cases_dir, row):
    name, n_spectra, n_points, x_first, x_last, y_first, y_last, unit = row
    result = read(cases_dir, name)
    first = result.blocks[0]
    assert result.n_spectra == n_spectra
    assert first.n_points == n_points
    assert close(first.axis[0], x_first)
    assert close(first.axis[-1], x_last)
    assert close(first.spectra[0, 0], y_first)
    if y_last is not None:
        assert close(first.spectra[0, -1], y_last)
    assert first.axis_unit == unit
    assert all(block.axis_unit == unit for block in result.blocks)
    assert result.format.startswith("Thermo-Galactic SPC")


def test_spc_last_subfile_of_map(cases_dir):
    result = read(cases_dir, "4d_map.spc")
    assert close(result.blocks[-1].spectra[-1, -1], 0.189363)
    assert result.blocks[0].y_unit == "log(1/R)"
    assert len(result.blocks) == 1


def test_spc_old_format_swapped_words(cases_dir):
    spectra = read(cases_dir, "m_ordz.spc").dataset.spectra
    # The first x of subfiles 1-3, as in the source library's text dump.
    assert close(spectra[0, 0], 0.0221937)
    assert close(spectra[1, 0], 0.0108920)
    assert close(spectra[2, 0], 0.0079076)


def test_spc_old_format_uneven_z(cases_dir):
    metadata = read(cases_dir, "m_ordz.spc").blocks[0].metadata
    z = [float(v) for v in metadata["z_values"].split()]
    assert z[:3] == pytest.approx([18.977, 21.411, 24.237], abs=1e-3)
    assert len(z) == 10


def test_spc_old_format_16_bit(cases_dir):
    result = read(cases_dir, "LC_DIODE_ARRAY.SPC")
    spectra = result.dataset.spectra
    assert spectra.shape == (350, 181)
    assert close(spectra.max(), 0.354446)
    assert result.blocks[0].y_unit == "absorbance"
    z = result.blocks[0].metadata["z_values"].split()
    assert float(z[0]) == 0.0
    assert float(z[-1]) == pytest.approx(3.49)


def test_spc_evenz_second_value(cases_dir):
    spectra = read(cases_dir, "m_evenz.spc").dataset.spectra
    assert close(spectra[0, 1], -0.000299949)


def test_spc_uneven_x_values(cases_dir):
    block = read(cases_dir, "XYTRACE.SPC").blocks[0]
    steps = np.diff(block.axis)
    assert close(block.spectra[0, 1], 3.0e-5, rel=1e-4)
    assert steps.max() - steps.min() > 1e-3


def test_spc_xyxy_reads_x_as_float32(cases_dir):
    result = read(cases_dir, "m_xyxy.spc")
    first = result.blocks[0]
    expected_x = [43.9, 42.9, 40.8, 39.1, 31.95, 27.95, 26.85, 25.85]
    expected_y = [6823, 3188, 2498, 3654, 5490, 17704, 2826, 3144]
    all_x = np.concatenate([b.axis for b in result.blocks])
    assert first.axis == pytest.approx(expected_x, rel=1e-6)
    assert first.spectra[0] == pytest.approx(expected_y)
    assert sum(b.n_points * b.n_samples for b in result.blocks) == 4344
    assert all_x.min() == pytest.approx(20.45, rel=1e-6)
    assert all_x.max() == pytest.approx(198.2, rel=1e-6)
    assert np.unique(all_x).size == 261


def test_spc_xyxy_directory_mismatch_reported(cases_dir):
    warnings = read(cases_dir, "m_xyxy.spc").warnings
    assert any("directory" in w and "1 of 512" in w for w in warnings)


def test_spc_xyxy_blocks_keep_file_order(cases_dir):
    result = read(cases_dir, "DRUG_SAMPLE_PEAKS.SPC")
    assert [b.n_points for b in result.blocks] == [80, 141, 124, 237, 237, 253]
    ids = [i for b in result.blocks for i in b.sample_ids]
    assert ids == sorted(ids)
    assert result.blocks[0].spectra[0, :3] == pytest.approx([9301, 13596, 57416])


def test_spc_ini_log_book_kept(cases_dir):
    log_book = read(cases_dir, "DRUG_SAMPLE_PEAKS.SPC").blocks[0].metadata["log_book"]
    assert log_book.startswith("[FILEINFO]")
    assert "Original File = drug sample.spc" in log_book
    assert "\r" not in log_book


def test_spc_y_units(cases_dir):
    assert read(cases_dir, "Ft-ir.spc").blocks[0].y_unit == "transmittance"
    assert read(cases_dir, "nir.spc").blocks[0].y_unit == "Kubelka-Munk"
    assert read(cases_dir, "s_evenx.spc").blocks[0].y_unit == "absorbance"


def test_spc_multifile_sample_ids(cases_dir):
    result = read(cases_dir, "nir.spc")
    assert result.dataset.sample_ids[0] == "nir-001"
    assert result.dataset.sample_ids[-1] == "nir-020"
    assert read(cases_dir, "Ft-ir.spc").dataset.sample_ids == ["Ft-ir"]


def test_spc_unknown_x_code_kept(cases_dir, tmp_path):
    data = bytearray((cases_dir / "spc" / "s_evenx.spc").read_bytes())
    data[28] = 200  # fxtype
    path = tmp_path / "odd.spc"
    path.write_bytes(bytes(data))
    result = SPCReader().read(path)
    assert result.blocks[0].axis_unit == "SPC x type 200"
    assert any("200" in w for w in result.warnings)


@pytest.mark.parametrize("name", FILES)
def test_spc_truncated_file_rejected(cases_dir, tmp_path, name):
    data = (cases_dir / "spc" / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError) as raised:
        read_spectra(path)
    message = str(raised.value)
    assert name in message
    assert "byte" in message
    assert "truncated" in message


def test_spc_old_format_left_over_bytes(cases_dir, tmp_path):
    data = (cases_dir / "spc" / "m_ordz.spc").read_bytes()
    path = tmp_path / "m_ordz.spc"
    path.write_bytes(data + b"\x00" * 10)
    with pytest.raises(ReadError, match="10 bytes are left over"):
        read_spectra(path)


def test_spc_sniff_rejects_text_and_zip(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_bytes(b"OK, this is text with K at byte 1\n" * 20)
    archive = tmp_path / "book.xlsx"
    archive.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    assert SPCReader().sniff(text, text.read_bytes()) == 0
    assert SPCReader().sniff(archive, archive.read_bytes()) == 0


def test_spc_sniff_picks_spc_reader(cases_dir):
    for name in FILES:
        assert pick_reader(cases_dir / "spc" / name).name == "Thermo-Galactic SPC"


def test_spc_big_endian_rejected(cases_dir, tmp_path):
    data = bytearray((cases_dir / "spc" / "s_evenx.spc").read_bytes())
    data[1] = 0x4C
    path = tmp_path / "big.spc"
    path.write_bytes(bytes(data))
    with pytest.raises(ReadError, match="big-endian"):
        read_spectra(path)


# --- fuzzing ---------------------------------------------------------------------------
@st.composite
def mutations(draw, size: int):
    """Draw a truncation length and a list of (position, byte) changes."""
    length = draw(st.one_of(st.just(size), st.integers(0, size)))
    position = st.one_of(st.integers(0, min(size, 1024) - 1), st.integers(0, size - 1))
    changes = draw(st.lists(st.tuples(position, st.integers(0, 255)), max_size=8))
    return length, changes


def check_mutated(source: Path, target: Path, mutation) -> None:
    """Read a mutated copy: it must give a ReadError or a complete, valid result."""
    length, changes = mutation
    data = bytearray(source.read_bytes())
    for position, value in changes:
        data[position] = value
    target.write_bytes(bytes(data[:length]))
    try:
        result = SPCReader().read(target)
    except ReadError as error:
        assert target.name in str(error)
        return
    assert result.blocks
    for block in result.blocks:
        assert block.n_samples >= 1
        assert block.n_points >= 1
        assert np.all(np.isfinite(block.axis))


def fuzz_spc(cases_dir, examples: int) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        for name in FILES:
            source = cases_dir / "spc" / name
            size = source.stat().st_size

            @settings(
                max_examples=examples, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow],
            )
            @given(mutation=mutations(size))
            def run(mutation):
                check_mutated(source, folder / name, mutation)

            run()
    finally:
        shutil.rmtree(folder)


def test_spc_fuzz_small(cases_dir):
    fuzz_spc(cases_dir, examples=3)  # 3 per file, 33 in all


@pytest.mark.slow
def test_spc_fuzz_many(cases_dir):
    fuzz_spc(cases_dir, examples=100)  # 1100 in all
