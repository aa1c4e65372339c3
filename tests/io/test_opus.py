"""Bruker OPUS reader against real files, plus mutation fuzzing."""

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
from specgan_gui.io.opus import OpusReader

# file, points, x first, x last, y first, y last, x unit, format
EXPECTED = [
    ("ftir_ps.0", 2126, 4497.537, 399.224, 0.0236172, 0.0166020, "cm-1", "AB"),
    ("peach_juice.0", 1816, 4000.116, 499.532, 0.9060335, 0.7576263, "cm-1", "AB"),
    ("test.0000", 2567, 3998.345, 699.389, 0.000459045, 0.632425, "cm-1", "AB"),
    ("background.0", 4096, 5264.702, 0.0, 0.0124167, 0.0126084, "cm-1", "ScRf"),
    ("MMP_2107_Test1.001", 1899, 11540.0, 3948.0, 0.0713999, 0.797975, "cm-1", "AB"),
    ("issue82_Opus_test.0", 1112, 12488.0, 3600.0, 0.998422, 1.991414, "cm-1", "AB"),
]
FILES = [row[0] for row in EXPECTED]


def read(cases_dir, name, **options):
    return read_spectra(cases_dir / "opus" / name, **options)


@pytest.mark.parametrize("row", EXPECTED, ids=FILES)
def test_opus_reference_values(cases_dir, row):
    name, n_points, x_first, x_last, y_first, y_last, unit, block = row
    result = read(cases_dir, name)
    dataset = result.dataset
    assert result.n_spectra == 1
    assert dataset.n_points == n_points
    assert dataset.axis[0] == pytest.approx(x_first, rel=1e-6)
    assert dataset.axis[-1] == pytest.approx(x_last, rel=1e-6, abs=1e-9)
    assert dataset.spectra[0, 0] == pytest.approx(y_first, rel=1e-5)
    assert dataset.spectra[0, -1] == pytest.approx(y_last, rel=1e-5)
    assert dataset.axis_unit == unit
    assert result.format.startswith(f"Bruker OPUS ({block}")


def test_opus_ftir_range(cases_dir):
    spectra = read(cases_dir, "ftir_ps.0").dataset.spectra
    assert spectra.min() == pytest.approx(0.0130, abs=5e-5)
    assert spectra.max() == pytest.approx(0.6112, abs=5e-5)


def test_opus_two_ab_blocks_rule(cases_dir):
    result = read(cases_dir, "peach_juice.0")
    dataset = result.dataset
    note = [w for w in result.warnings if "2 AB blocks" in w]
    assert dataset.axis[3] == pytest.approx(3994.330014648437, rel=1e-12)
    assert dataset.spectra[0, 3] == pytest.approx(0.90655535, rel=1e-7)
    assert len(note) == 1
    assert "(15,48,0,0)" in note[0]
    assert "0.0173" in note[0]


def test_opus_peach_matches_dpt_export(cases_dir):
    values = []
    for line in (cases_dir / "dpt" / "peach_juice.dpt").read_text().splitlines():
        parts = line.replace(",", " ").split()
        if len(parts) == 2 and not line.startswith(("#", ";")):
            values.append(float(parts[1]))
    spectrum = read(cases_dir, "peach_juice.0").dataset.spectra[0]
    assert len(values) == spectrum.size
    assert np.max(np.abs(spectrum - np.array(values))) < 5e-6


def test_opus_clipped_absorbance_value(cases_dir):
    result = read(cases_dir, "test.0000")
    dataset = result.dataset
    index = int(np.argmin(np.abs(dataset.axis - 2303.8694)))
    assert dataset.spectra[0, index] == pytest.approx(2.7274075, rel=1e-6)
    assert dataset.spectra.max() == 6.0
    assert any("saturated" in w for w in result.warnings)


def test_opus_background_only(cases_dir):
    result = read(cases_dir, "background.0")
    assert "background" in result.format
    assert any("no absorbance (AB) block" in w for w in result.warnings)
    assert result.dataset.y_unit == "single channel"


def test_opus_text_blocks_not_read_as_floats(cases_dir):
    reader = OpusReader()
    for name in ("MMP_2107_Test1.001", "ftir_ps.0"):
        for block in ("AB", "ScSm", "ScRf"):
            spectrum = reader.read(cases_dir / "opus" / name, block=block).dataset.spectra
            tiny = (np.abs(spectrum) > 0) & (np.abs(spectrum) < 1e-30)
            assert not tiny.any(), f"{name} {block}"


def test_opus_unknown_blocks_noted(cases_dir):
    warnings = read(cases_dir, "issue82_Opus_test.0").warnings
    notice = [w for w in warnings if "does not know" in w]
    assert len(notice) == 1
    assert "(0,0,144,1)" in notice[0]
    assert "(15,88,0,0)" in notice[0]


def test_opus_longer_blocks_truncated_to_npt(cases_dir):
    # Every data block of this file is 42 floats longer than NPT.
    assert read(cases_dir, "issue82_Opus_test.0").dataset.n_points == 1112
    assert read(cases_dir, "MMP_2107_Test1.001").dataset.spectra.max() == pytest.approx(
        0.807213, rel=1e-5
    )


@pytest.mark.parametrize(
    "block, n_points, x_first, unit, y_unit",
    [
        ("ScSm", 2126, 4497.537, "cm-1", "single channel"),
        ("ScRf", 2132, 4505.251, "cm-1", "single channel"),
        ("IgSm", 29460, 0.0, "points", "interferogram"),
        ("igrf", 29460, 0.0, "points", "interferogram"),
        ("AB", 2126, 4497.537, "cm-1", "absorbance"),
    ],
)
def test_opus_block_option(cases_dir, block, n_points, x_first, unit, y_unit):
    dataset = read(cases_dir, "ftir_ps.0", block=block).dataset
    assert dataset.n_points == n_points
    assert dataset.axis[0] == pytest.approx(x_first, rel=1e-6)
    assert dataset.axis_unit == unit
    assert dataset.y_unit == y_unit


def test_opus_interferogram_scaled_by_csf(cases_dir):
    data = (cases_dir / "opus" / "ftir_ps.0").read_bytes()
    raw_first = struct.unpack_from("<f", data, 1584)[0]  # IgSm block offset
    dataset = read(cases_dir, "ftir_ps.0", block="IgSm").dataset
    assert dataset.spectra[0, 0] == pytest.approx(raw_first / 120, rel=1e-6)


def test_opus_missing_block_lists_available(cases_dir):
    with pytest.raises(ReadError) as raised:
        read(cases_dir, "ftir_ps.0", block="PhSm")
    assert "ScRf" in str(raised.value)
    assert "ftir_ps.0" in str(raised.value)


def test_opus_sniff_by_content(cases_dir, tmp_path):
    copy = tmp_path / "spectrum.dat"
    copy.write_bytes((cases_dir / "opus" / "test.0000").read_bytes())
    assert pick_reader(copy).name == "Bruker OPUS"


@pytest.mark.parametrize("keep", [0.5, 0.999])
@pytest.mark.parametrize("name", FILES)
def test_opus_truncated_file_rejected(cases_dir, tmp_path, name, keep):
    data = (cases_dir / "opus" / name).read_bytes()
    path = tmp_path / name
    # 0.999 cuts into the last block; one file ends with 4 bytes of padding after it.
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


def check_mutated(source: Path, target: Path, mutation, block) -> None:
    """Read a mutated copy: it must give a ReadError or a complete, valid result."""
    length, changes = mutation
    data = bytearray(source.read_bytes())
    for position, value in changes:
        data[position] = value
    target.write_bytes(bytes(data[:length]))
    try:
        result = OpusReader().read(target, block=block)
    except ReadError as error:
        assert target.name in str(error)
        return
    assert len(result.blocks) == 1
    assert result.blocks[0].n_points >= 1
    assert np.all(np.isfinite(result.blocks[0].axis))


def fuzz_opus(cases_dir, examples: int) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        for name in FILES:
            source = cases_dir / "opus" / name
            size = source.stat().st_size

            @settings(
                max_examples=examples, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow],
            )
            @given(mutation=mutations(size), block=st.sampled_from([None, "ScSm", "IgRf"]))
            def run(mutation, block):
                check_mutated(source, folder / name, mutation, block)

            run()
    finally:
        shutil.rmtree(folder)


def test_opus_fuzz_small(cases_dir):
    fuzz_opus(cases_dir, examples=5)  # 30 in all


@pytest.mark.slow
def test_opus_fuzz_many(cases_dir):
    fuzz_opus(cases_dir, examples=170)  # 1020 in all
