"""Thermo OMNIC files: SPA (one spectrum) and SPG (a group of spectra).

Both start with the text ``Spectral Data File``, a title at byte 30 and,
from byte 304, a key directory of 16-byte entries: a key byte, then the
offset (uint32 at +2) and size (uint32 at +6) of its block.  The
directory ends at a zero key.  Key 2 marks a spectrum header: number of
points at +4, x unit code at +8, y unit code at +12, first and last x as
float32 at +16 and +20.  Key 3 marks the float32 intensities, and key 107
the spectrum title in SPG files.  An SPG contains one key-2/key-3 pair per
spectrum.  Blocks sit at different offsets in files from different OMNIC
versions, so they are found through the directory, never at fixed
offsets.

The axis runs from the first to the last x as stored, descending for
most infrared files.  An x unit code of 2 (data points) marks an
interferogram; it is read with axis unit "points" and a warning.
"""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import ReadError
from specgan_gui.io.base import ReadResult, Reader, register

log = logging.getLogger(__name__)

MAGIC = b"Spectral Data File"
TITLE_OFFSET = 30
TITLE_SIZE = 256
DIRECTORY_OFFSET = 304
ENTRY_SIZE = 16
HEADER_KEY = 2
DATA_KEY = 3
TITLE_KEY = 107
END_KEY = 0
HEADER_MIN_SIZE = 24

X_UNITS = {1: "cm-1", 2: "points", 3: "nm", 4: "um", 32: "cm-1"}
INTERFEROGRAM_X_CODE = 2
Y_UNITS = {
    11: "reflectance",
    12: "log(1/R)",
    16: "transmittance",
    17: "absorbance",
    20: "Kubelka-Munk",
    22: "V",
    26: "photoacoustic",
    31: "Raman intensity",
}
# This many points or more exactly at the maximum are reported as clipped.
MIN_CLIPPED_POINTS = 3
MIN_ID_DIGITS = 3

TRUNCATED_HINT = "The file is truncated or damaged; save it from OMNIC again."


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


def _read_directory(path: Path, data: bytes) -> list[tuple[int, int, int, int]]:
    """Return the directory as (key, offset, size, entry position) tuples."""
    entries = []
    position = DIRECTORY_OFFSET
    # The directory cannot run into the first block it points to.
    limit = len(data)
    while True:
        if position + ENTRY_SIZE > limit:
            raise ReadError(
                path,
                f"the key directory has no end marker before byte {limit}.",
                location=f"byte {position}",
                hint=TRUNCATED_HINT,
            )
        key = data[position]
        if key == END_KEY:
            return entries
        offset, size = struct.unpack_from("<II", data, position + 2)
        if size == 0:
            position += ENTRY_SIZE
            continue
        if offset + size > len(data) or offset < DIRECTORY_OFFSET:
            raise ReadError(
                path,
                f"directory entry with key {key} points to {size} bytes at byte {offset}, "
                f"outside the file ({len(data)} bytes).",
                location=f"byte {position}",
                hint=TRUNCATED_HINT,
            )
        limit = min(limit, offset)
        entries.append((key, offset, size, position))
        position += ENTRY_SIZE


def _read_spectrum(path: Path, data: bytes, header: tuple, values: tuple):
    """Return (axis, y, x code, y code) from one key-2 header and its key-3 block."""
    _key, offset, size, _position = header
    if size < HEADER_MIN_SIZE:
        raise ReadError(
            path,
            f"the spectrum header at byte {offset} has {size} bytes; at least "
            f"{HEADER_MIN_SIZE} are needed.",
            location=f"byte {offset}",
            hint=TRUNCATED_HINT,
        )

    n_points, x_code, y_code, first, last = struct.unpack_from("<IB3xB3xff", data, offset + 4)
    _key, data_offset, data_size, _position = values
    if n_points < 1 or 4 * n_points > data_size:
        raise ReadError(
            path,
            f"the header at byte {offset} declares {n_points} points, but the data block at "
            f"byte {data_offset} holds {data_size // 4} values.",
            location=f"byte {data_offset}",
            hint=TRUNCATED_HINT,
        )
    if not (np.isfinite(first) and np.isfinite(last)):
        raise ReadError(
            path,
            f"the header at byte {offset} gives non-finite first or last x ({first}, {last}).",
            location=f"byte {offset + 16}",
            hint=TRUNCATED_HINT,
        )

    y = np.frombuffer(data, dtype="<f4", count=n_points, offset=data_offset)
    # Damaged float32 data may hold signalling NaNs; they stay NaN without a RuntimeWarning.
    with np.errstate(invalid="ignore"):
        y = y.astype(np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        axis = np.linspace(first, last, n_points)
    if not np.all(np.isfinite(axis)):
        raise ReadError(
            path,
            f"the axis from {first:g} to {last:g} in the header at byte {offset} overflows.",
            location=f"byte {offset + 16}",
            hint=TRUNCATED_HINT,
        )
    return axis, y, x_code, y_code


def _clipped_note(label: str, y: np.ndarray) -> str | None:
    if y.size == 0 or not np.all(np.isfinite(y)):
        return None
    top = float(y.max())
    count = int(np.count_nonzero(y == top))
    if count < MIN_CLIPPED_POINTS:
        return None
    return f"{label}{count} points equal the maximum {top:g} exactly: OMNIC clipped them, " \
           f"so they are saturated values, not measurements."


class OmnicReader(Reader):
    """Reader of Thermo OMNIC SPA and SPG files."""

    name = "Thermo OMNIC SPA/SPG"
    extensions = (".spa", ".spg")

    def sniff(self, path: Path, head: bytes) -> int:
        return 95 if head.startswith(MAGIC) else 0

    def read(self, path: Path, **options) -> ReadResult:
        """Read every spectrum of an SPA or SPG file, in directory order."""
        path = Path(path)
        data = path.read_bytes()
        if not data.startswith(MAGIC):
            raise ReadError(
                path, "does not start with 'Spectral Data File', so it is not an OMNIC file.",
                location="byte 0", hint="Check that the file is an OMNIC .spa or .spg file.",
            )
        entries = _read_directory(path, data)
        headers = [e for e in entries if e[0] == HEADER_KEY]
        blocks = [e for e in entries if e[0] == DATA_KEY]
        if not headers or len(headers) != len(blocks):
            raise ReadError(
                path,
                f"the key directory lists {len(headers)} spectrum headers (key 2) and "
                f"{len(blocks)} data blocks (key 3); one of each per spectrum is expected.",
                location=f"byte {DIRECTORY_OFFSET}",
                hint=TRUNCATED_HINT,
            )
        spectra = [_read_spectrum(path, data, h, b) for h, b in zip(headers, blocks)]
        titles = [_text(data[o:o + s]) for key, o, s, _p in entries if key == TITLE_KEY]
        return self._result(path, data, spectra, titles)

    def _result(self, path: Path, data: bytes, spectra, titles: list[str]) -> ReadResult:
        warnings: list[str] = []
        group = len(spectra) > 1 or path.suffix.lower() == ".spg"
        ids = self._sample_ids(path, len(spectra), titles)
        x_codes = {s[2] for s in spectra}
        y_codes = {s[3] for s in spectra}
        if len(x_codes) > 1 or len(y_codes) > 1:
            warnings.append(
                f"The spectra use different unit codes (x {sorted(x_codes)}, "
                f"y {sorted(y_codes)}); each block carries the units of its first spectrum."
            )
        interferogram = INTERFEROGRAM_X_CODE in x_codes
        if interferogram:
            warnings.append(
                "The file holds an interferogram, not a spectrum: the axis is the sample "
                "point number."
            )
        for code in sorted(x_codes - set(X_UNITS)):
            warnings.append(f"Unknown x unit code {code}; the axis is labelled 'OMNIC x unit {code}'.")
        if not interferogram:
            for index, (_axis, y, _x, _y) in enumerate(spectra):
                label = f"Spectrum {index + 1}: " if len(spectra) > 1 else ""
                note = _clipped_note(label, y)
                if note:
                    warnings.append(note)

        metadata = {}
        title = _text(data[TITLE_OFFSET:TITLE_OFFSET + TITLE_SIZE])
        if title:
            metadata["title"] = title
        result_blocks = []
        start = 0
        while start < len(spectra):
            # Neighbouring spectra on the same axis share one block; file order is kept.
            stop = start + 1
            axis = spectra[start][0]
            while stop < len(spectra) and np.array_equal(spectra[stop][0], axis):
                stop += 1
            x_code, y_code = spectra[start][2], spectra[start][3]
            if x_code == INTERFEROGRAM_X_CODE:
                y_unit = "interferogram"
            else:
                y_unit = Y_UNITS.get(y_code, f"OMNIC y unit {y_code}")
            result_blocks.append(
                SpectralDataset(
                    axis=axis,
                    spectra=np.vstack([s[1] for s in spectra[start:stop]]),
                    axis_unit=X_UNITS.get(x_code, f"OMNIC x unit {x_code}"),
                    sample_ids=ids[start:stop],
                    metadata=dict(metadata),
                    y_unit=y_unit,
                    name=path.stem,
                )
            )
            start = stop
        kind = "SPG" if group else "SPA"
        detail = " (interferogram)" if interferogram else ""
        return ReadResult(result_blocks, f"Thermo OMNIC {kind}{detail}", warnings, str(path))

    @staticmethod
    def _sample_ids(path: Path, count: int, titles: list[str]) -> list[str]:
        """Use the spectrum titles of a group file when they are unique, else numbered ids."""
        if count == 1:
            return [path.stem]
        if len(titles) == count and all(titles) and len(set(titles)) == count:
            return titles
        width = max(MIN_ID_DIGITS, len(str(count)))
        return [f"{path.stem}-{i + 1:0{width}d}" for i in range(count)]


register(OmnicReader())
