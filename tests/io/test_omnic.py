"""Thermo OMNIC SPA/SPG reader against real files, plus mutation fuzzing."""

from __future__ import annotations

import shutil
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgan_gui.errors import ReadError
from specgan_gui.io.base import pick_reader, read_spectra
from specgan_gui.io.omnic import OmnicReader

# file, spectrum index, points, x first, x last, y first, y last, x unit
EXPECTED = [
    ("sample1.spa", 0, 1738, 3999.703, 649.904, 0.0439984, 6.0, "cm-1"),
    ("interfero.SPA", 0, 4160, 0.0, 4159.0, 0.0341420, 0.000835786, "points"),
    ("wodger.spg", 0, 5549, 5999.556, 649.904, 1.98315, 1.70433, "cm-1"),
    ("wodger.spg", 1, 5549, 5999.556, 649.904, 2.00490, 1.83135, "cm-1"),
]
COUNTS = {"sample1.spa": 1, "interfero.SPA": 1, "wodger.spg": 2}
FILES = list(COUNTS)


def read(cases_dir, name):
    return read_spectra(cases_dir / "spa" / name)


def spectrum(result, index):
    rows = [(block, row) for block in result.blocks for row in range(block.n_samples)]
    block, row = rows[index]
    return block, block.spectra[row]


@pytest.mark.parametrize("row", EXPECTED, ids=[f"{r[0]}-{r[1]}" for r in EXPECTED])
def test_omnic_reference_values(cases_dir, row):
    name, index, n_points, x_first, x_last, y_first, y_last, unit = row
    result = read(cases_dir, name)
    block, values = spectrum(result, index)
    assert result.n_spectra == COUNTS[name]
    assert block.n_points == n_points
    assert block.axis[0] == pytest.approx(x_first, rel=1e-6)
    assert block.axis[-1] == pytest.approx(x_last, rel=1e-6)
    assert values[0] == pytest.approx(y_first, rel=1e-5)
    assert values[-1] == pytest.approx(y_last, rel=1e-5)
    assert block.axis_unit == unit


def test_omnic_interferogram_labelled(cases_dir):
    result = read(cases_dir, "interfero.SPA")
    block = result.blocks[0]
    assert "interferogram" in result.format
    assert block.y_unit == "interferogram"
    assert any("interferogram" in w for w in result.warnings)
    assert block.spectra.min() == pytest.approx(-2.7856, abs=1e-4)
    assert block.spectra.max() == pytest.approx(3.4785, abs=1e-4)


def test_omnic_saturated_values_kept(cases_dir):
    result = read(cases_dir, "sample1.spa")
    values = result.dataset.spectra[0]
    assert np.count_nonzero(values == 6.0) == 6
    assert values.min() == pytest.approx(-0.4097, abs=1e-4)
    assert any("6 points equal the maximum 6" in w for w in result.warnings)
    assert result.dataset.y_unit == "absorbance"


def test_omnic_group_titles_as_ids(cases_dir):
    result = read(cases_dir, "wodger.spg")
    ids = result.dataset.sample_ids
    assert len(result.blocks) == 1
    assert ids[0].startswith("vz0470.spa")
    assert ids[1].startswith("vz0468.spa")
    assert result.format == "Thermo OMNIC SPG"


def test_omnic_title_in_metadata(cases_dir):
    metadata = read(cases_dir, "sample1.spa").dataset.metadata
    assert metadata["title"].startswith("Z:\\COM-SMIS")


def test_omnic_directory_not_fixed_offsets(cases_dir, tmp_path):
    # Move the data block to the end of the file and point the directory at it:
    # a reader that walks the directory still finds it.
    data = bytearray((cases_dir / "spa" / "sample1.spa").read_bytes())
    position = 304
    while data[position] != 3:
        position += 16
    offset, size = struct.unpack_from("<II", data, position + 2)
    moved = bytes(data[offset:offset + size])
    data[offset:offset + size] = b"\x00" * size
    struct.pack_into("<I", data, position + 2, len(data))
    path = tmp_path / "moved.spa"
    path.write_bytes(bytes(data) + moved)
    original = read(cases_dir, "sample1.spa").dataset.spectra
    assert np.array_equal(OmnicReader().read(path).dataset.spectra, original)


def test_omnic_sniff_by_content(cases_dir, tmp_path):
    copy = tmp_path / "group.bin"
    copy.write_bytes((cases_dir / "spa" / "wodger.spg").read_bytes())
    assert pick_reader(copy).name == "Thermo OMNIC SPA/SPG"


@pytest.mark.parametrize("keep", [0.5, 0.999])
@pytest.mark.parametrize("name", FILES)
def test_omnic_truncated_file_rejected(cases_dir, tmp_path, name, keep):
    data = (cases_dir / "spa" / name).read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ReadError) as raised:
        read_spectra(path)
    message = str(raised.value)
    assert name in message
    assert "byte" in message
    assert "truncated" in message


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
        result = OmnicReader().read(target)
    except ReadError as error:
        assert target.name in str(error)
        return
    assert result.blocks
    for block in result.blocks:
        assert block.n_points >= 1
        assert np.all(np.isfinite(block.axis))


def fuzz_omnic(cases_dir, examples: int) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        for name in FILES:
            source = cases_dir / "spa" / name
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


def test_omnic_fuzz_small(cases_dir):
    fuzz_omnic(cases_dir, examples=10)  # 30 in all


@pytest.mark.slow
def test_omnic_fuzz_many(cases_dir):
    fuzz_omnic(cases_dir, examples=340)  # 1020 in all
