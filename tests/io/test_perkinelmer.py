"""PerkinElmer .sp reader against a real file, plus mutation fuzzing."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specgan_gui.errors import ReadError
from specgan_gui.io.base import read_spectra
from specgan_gui.io.perkinelmer import PerkinElmerReader

NAME = "single_PE_spectrum.sp"


def test_perkinelmer_reference_values(cases_dir):
    result = read_spectra(cases_dir / "other" / NAME)
    dataset = result.dataset
    assert result.format == "PerkinElmer SP"
    assert dataset.n_samples == 1
    assert dataset.n_points == 1626
    assert dataset.spectra[0, 4] == pytest.approx(100.65028381347656, rel=1e-12)
    assert dataset.axis.min() == 750.0
    assert dataset.axis.max() == 4000.0
    # The file stores first x 4000 and an interval of -2, so the axis descends.
    assert dataset.axis[0] == 4000.0
    assert dataset.axis_unit == "cm-1"
    assert dataset.y_unit == "%T"
    assert result.warnings == []


def test_perkinelmer_latin1_label(cases_dir, tmp_path):
    # Turn "cm-1" into "µm" in Latin-1 (0xB5 is not valid UTF-8 on its own).
    data = bytearray((cases_dir / "other" / NAME).read_bytes())
    start = data.index(b"cm-1")
    data[start:start + 4] = "µm  ".encode("latin-1")
    path = tmp_path / NAME
    path.write_bytes(bytes(data))
    assert PerkinElmerReader().read(path).dataset.axis_unit == "um"


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_perkinelmer_truncated_file_rejected(cases_dir, tmp_path, keep):
    data = (cases_dir / "other" / NAME).read_bytes()
    path = tmp_path / NAME
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ReadError) as raised:
        read_spectra(path)
    assert NAME in str(raised.value)
    assert "truncated" in str(raised.value)


@st.composite
def mutations(draw, size: int):
    """Draw a truncation length and a list of (position, byte) changes."""
    length = draw(st.one_of(st.just(size), st.integers(0, size)))
    position = st.one_of(st.integers(0, min(size, 1300) - 1), st.integers(0, size - 1))
    changes = draw(st.lists(st.tuples(position, st.integers(0, 255)), max_size=8))
    return length, changes


def fuzz_perkinelmer(cases_dir, examples: int) -> None:
    source = cases_dir / "other" / NAME
    folder = Path(tempfile.mkdtemp())
    target = folder / NAME

    @settings(
        max_examples=examples, deadline=None, database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(mutation=mutations(source.stat().st_size))
    def run(mutation):
        length, changes = mutation
        data = bytearray(source.read_bytes())
        for position, value in changes:
            data[position] = value
        target.write_bytes(bytes(data[:length]))
        try:
            result = PerkinElmerReader().read(target)
        except ReadError as error:
            assert NAME in str(error)
            return
        assert result.blocks[0].n_points >= 1
        assert np.all(np.isfinite(result.blocks[0].axis))

    try:
        run()
    finally:
        shutil.rmtree(folder)


def test_perkinelmer_fuzz_small(cases_dir):
    fuzz_perkinelmer(cases_dir, examples=30)


@pytest.mark.slow
def test_perkinelmer_fuzz_many(cases_dir):
    fuzz_perkinelmer(cases_dir, examples=1000)
