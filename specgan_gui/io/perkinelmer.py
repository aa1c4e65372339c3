"""PerkinElmer .sp files ("PEPE" block format, Spectrum and Spotlight software).

Layout: the magic ``PEPE``, a 40-byte description such as ``2D constant
interval DataSet file``, then blocks of (int16 id, int32 size, content).
The main block (id 120) holds member blocks of the same shape; the
content of each member starts with a uint16 type code.  Members read here,
by the uint16 form of their id:

- 35698 abscissa range: two float64, first and last x in file order
- 35700 abscissa interval: float64 (negative for a descending axis)
- 35701 number of points: int32
- 35703, 35704 x and y axis labels: uint16 length, then text
- 35708 data: int32 byte count, then float64 values

Strings are Latin-1, not UTF-8: labels such as "µm" or "°C" break readers
that decode them as UTF-8.
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

MAGIC = b"PEPE"
DESCRIPTION_SIZE = 40
BLOCK_HEADER_SIZE = 6
MAIN_BLOCK = 120
ABSCISSA_RANGE = 35698
ABSCISSA_INTERVAL = 35700
NUMBER_OF_POINTS = 35701
X_LABEL = 35703
Y_LABEL = 35704
DATA = 35708
SAMPLE_NAME = 35709
TYPE_CODE_SIZE = 2
Y_UNITS = {"%T": "%T", "T": "transmittance", "A": "absorbance", "%R": "%R",
           "R": "reflectance", "KM": "Kubelka-Munk"}
X_UNITS = {"cm-1": "cm-1", "nm": "nm", "um": "um", "µm": "um"}
# The last x may differ from first + (n - 1) * interval by rounding only.
AXIS_TOLERANCE = 1e-6

TRUNCATED_HINT = "The file is truncated or damaged; save it from the PerkinElmer software again."


def _blocks(path: Path, data: bytes, start: int, end: int) -> dict[int, tuple[int, int]]:
    """Return block id (as uint16) -> (content offset, content size) between two offsets."""
    found: dict[int, tuple[int, int]] = {}
    position = start
    while position + BLOCK_HEADER_SIZE <= end:
        block_id, size = struct.unpack_from("<Hi", data, position)
        content = position + BLOCK_HEADER_SIZE
        if size < 0 or content + size > end:
            raise ReadError(
                path,
                f"block {block_id} declares {size} bytes, past the end of its container "
                f"(byte {end}).",
                location=f"byte {position}",
                hint=TRUNCATED_HINT,
            )
        found.setdefault(block_id, (content, size))
        position = content + size
    return found


def _member(path: Path, data: bytes, members, member_id: int, fmt: str, what: str) -> tuple:
    if member_id not in members:
        raise ReadError(
            path, f"has no {what} record (block {member_id}).",
            hint="Only 2-D constant-interval spectra are read; export the spectrum as JCAMP-DX.",
        )
    offset, size = members[member_id]
    if struct.calcsize(fmt) + TYPE_CODE_SIZE > size:
        raise ReadError(
            path, f"the {what} record at byte {offset} is too short ({size} bytes).",
            location=f"byte {offset}", hint=TRUNCATED_HINT,
        )
    return struct.unpack_from(fmt, data, offset + TYPE_CODE_SIZE)


def _label(data: bytes, members, member_id: int) -> str:
    if member_id not in members:
        return ""
    offset, size = members[member_id]
    if size < TYPE_CODE_SIZE + 2:
        return ""
    (length,) = struct.unpack_from("<H", data, offset + TYPE_CODE_SIZE)
    start = offset + TYPE_CODE_SIZE + 2
    return data[start:start + min(length, size - 4)].decode("latin-1").strip()


class PerkinElmerReader(Reader):
    """Reader of PerkinElmer .sp spectra (2-D constant-interval data sets)."""

    name = "PerkinElmer SP"
    extensions = (".sp",)

    def sniff(self, path: Path, head: bytes) -> int:
        return 95 if head.startswith(MAGIC) else 0

    def read(self, path: Path, **options) -> ReadResult:
        """Read the one spectrum of a .sp file."""
        path = Path(path)
        data = path.read_bytes()
        header_size = len(MAGIC) + DESCRIPTION_SIZE
        if not data.startswith(MAGIC) or len(data) < header_size:
            raise ReadError(
                path, "does not start with the PerkinElmer 'PEPE' header.",
                location="byte 0", hint="Check that the file is a PerkinElmer .sp file.",
            )
        description = data[len(MAGIC):header_size].split(b"\x00", 1)[0].decode("latin-1")
        top = _blocks(path, data, header_size, len(data))
        if MAIN_BLOCK not in top:
            raise ReadError(
                path, f"has no data set block (id {MAIN_BLOCK}); the header says "
                f"{description!r}.",
                hint="Only 2-D constant-interval spectra are read; export it as JCAMP-DX.",
            )
        start, size = top[MAIN_BLOCK]
        members = _blocks(path, data, start, start + size)

        first, last = _member(path, data, members, ABSCISSA_RANGE, "<dd", "x range")
        (interval,) = _member(path, data, members, ABSCISSA_INTERVAL, "<d", "x interval")
        (n_points,) = _member(path, data, members, NUMBER_OF_POINTS, "<i", "point count")
        (n_bytes,) = _member(path, data, members, DATA, "<i", "data")
        offset, block_size = members[DATA]
        if n_points < 1 or n_bytes != 8 * n_points or n_bytes + 6 > block_size:
            raise ReadError(
                path,
                f"the data record at byte {offset} holds {n_bytes} bytes in a block of "
                f"{block_size}, but the header declares {n_points} float64 points.",
                location=f"byte {offset}",
                hint=TRUNCATED_HINT,
            )
        if not all(np.isfinite(v) for v in (first, last, interval)):
            raise ReadError(
                path, f"the x range ({first}, {last}) or interval ({interval}) is not finite.",
                hint=TRUNCATED_HINT,
            )
        y = np.frombuffer(data, dtype="<f8", count=n_points, offset=offset + 6).astype(np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            axis = first + interval * np.arange(n_points)
        if not np.all(np.isfinite(axis)):
            raise ReadError(
                path,
                f"{n_points} points of {interval:g} from {first:g} overflow the axis.",
                hint=TRUNCATED_HINT,
            )
        warnings = []
        if abs(axis[-1] - last) > AXIS_TOLERANCE * max(1.0, abs(last)):
            warnings.append(
                f"The x range ends at {last:g}, but {n_points} points of {interval:g} from "
                f"{first:g} end at {axis[-1]:g}; the interval was used."
            )
        x_label = _label(data, members, X_LABEL)
        y_label = _label(data, members, Y_LABEL)
        metadata = {"description": description}
        name = _label(data, members, SAMPLE_NAME)
        if name:
            metadata["data_set_name"] = name
        dataset = SpectralDataset(
            axis=axis,
            spectra=y[np.newaxis, :],
            axis_unit=X_UNITS.get(x_label, x_label or "arbitrary"),
            sample_ids=[path.stem],
            metadata=metadata,
            y_unit=Y_UNITS.get(y_label, y_label),
            name=path.stem,
        )
        return ReadResult.single(dataset, "PerkinElmer SP", warnings, path)


register(PerkinElmerReader())
