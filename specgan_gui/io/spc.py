"""Thermo-Galactic SPC files (GRAMS, OMNIC, Spectrum, many others export them).

Layout, from Galactic's public SPC file format description (``spc.h``)::

    main header       512 bytes (new format, version byte 0x4B)
                      224 bytes (old format, version byte 0x4D)
    x array           float32[fnpts] when TXVALS is set and TXYXYS is not
    subfile 1         32-byte subheader, [float32 x[subnpts] if TXYXYS], y
    subfile 2 ...
    subfile directory 12 bytes per subfile at byte fnpts (TXYXYS files only)
    log book          64-byte header, binary part, text (at byte flogoff)

Y values are float32 when the exponent is -128 (0x80); otherwise they are
integers scaled by ``2 ** (exponent - 32)`` (32-bit) or ``2 ** (exponent -
16)`` (16-bit, flag TSPREC).  The old format stores 32-bit integers with
their two 16-bit words swapped and has no subfile count: multifile old
files are read to the end, so a size that leaves bytes over is rejected.

The x arrays of TXYXYS files are read as float32.  Some readers scale them
like integer y (``int32 * 2 ** (exp - 32)``).  On a GC-MS file that turns
an m/z of 43.9 into 16943.6, while float32 gives plausible m/z values.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import ReadError
from specgan_gui.io.base import ReadResult, Reader, register

log = logging.getLogger(__name__)

NEW_FORMAT = 0x4B
NEW_FORMAT_BIG_ENDIAN = 0x4C
OLD_FORMAT = 0x4D

# Bits of the ftflgs byte.
TSPREC = 0x01  # 16-bit integer y
TCGRAM = 0x02  # chromatogram fexper
TMULTI = 0x04  # several subfiles
TRANDM = 0x08  # z values of the subfiles are random
TORDRD = 0x10  # z values are ordered but not evenly spaced
TALABS = 0x20  # axis labels in fcatxt
TXYXYS = 0x40  # each subfile has its own x array
TXVALS = 0x80  # x values are stored instead of first/last

FLOAT_EXPONENT = -128  # 0x80 as a signed byte: y values are float32

NEW_HEADER_SIZE = 512
OLD_HEADER_SIZE = 224
SUBHEADER_SIZE = 32
DIRECTORY_ENTRY_SIZE = 12
LOG_HEADER_SIZE = 64

# fxtype codes; Raman shift (13) is a wavenumber difference, so its unit is cm-1 too.
X_UNITS = {
    0: "arbitrary",
    1: "cm-1",
    2: "um",
    3: "nm",
    4: "s",
    5: "min",
    6: "Hz",
    7: "kHz",
    8: "MHz",
    9: "m/z",
    10: "ppm",
    11: "days",
    12: "years",
    13: "cm-1",
    14: "eV",
    15: "text labels",
    16: "diode number",
    17: "channel",
    18: "degrees",
    19: "°F",
    20: "°C",
    21: "K",
    22: "points",
    23: "ms",
    24: "us",
    25: "ns",
    26: "GHz",
    27: "cm",
    28: "m",
    29: "mm",
    30: "h",
    255: "double interferogram",
}

# fytype codes.
Y_UNITS = {
    0: "",
    1: "interferogram",
    2: "absorbance",
    3: "Kubelka-Munk",
    4: "counts",
    5: "V",
    6: "degrees",
    7: "mA",
    8: "mm",
    9: "mV",
    10: "log(1/R)",
    11: "%",
    12: "intensity",
    13: "relative intensity",
    14: "energy",
    16: "dB",
    19: "°F",
    20: "°C",
    21: "K",
    22: "refractive index",
    23: "extinction coefficient",
    24: "real",
    25: "imaginary",
    26: "complex",
    128: "transmittance",
    129: "reflectance",
    130: "single beam",
    131: "emission",
}

TRUNCATED_HINT = "The file is truncated or damaged; copy or export it again."

# Sample ids are numbered from 1 with this many digits at least.
MIN_ID_DIGITS = 3
# Log book text kept in the metadata, in characters.
MAX_LOG_TEXT = 20000


@dataclass
class _Subfile:
    """One subfile as read: its x and y arrays plus z and w levels."""

    x: np.ndarray
    y: np.ndarray
    z: float
    w: float


@dataclass
class _Header:
    """Fields of the main header that the reader uses, for both formats."""

    version: int
    flags: int
    exponent: int
    n_points: int
    first_x: float
    last_x: float
    n_subfiles: int
    x_type: int
    y_type: int
    z_type: int = 0
    log_offset: int = 0
    metadata: dict[str, str] = field(default_factory=dict)


def _unpack(path: Path, fmt: str, data: bytes, offset: int, what: str) -> tuple:
    size = struct.calcsize(fmt)
    if offset < 0 or offset + size > len(data):
        raise ReadError(
            path,
            f"the file ends before the {what} ({size} bytes at byte {offset}; "
            f"the file has {len(data)} bytes).",
            location=f"byte {offset}",
            hint=TRUNCATED_HINT,
        )
    return struct.unpack_from(fmt, data, offset)


def _array(path: Path, data: bytes, offset: int, dtype: str, count: int, what: str) -> np.ndarray:
    size = np.dtype(dtype).itemsize * count
    if count < 0 or offset < 0 or offset + size > len(data):
        raise ReadError(
            path,
            f"the file ends before the {what}: {size} bytes are needed from byte "
            f"{offset}, but the file has {len(data)} bytes.",
            location=f"byte {offset}",
            hint=TRUNCATED_HINT,
        )
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset)


def _widen(values: np.ndarray) -> np.ndarray:
    # Damaged float32 data may hold signalling NaNs; they stay NaN without a RuntimeWarning.
    with np.errstate(invalid="ignore"):
        return values.astype(np.float64)


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("latin-1").strip()


def _unit(table: dict[int, str], code: int, kind: str) -> str:
    # An unknown code is kept as a descriptive string so that the user sees it.
    return table.get(code, f"SPC {kind} type {code}")


def _new_date(packed: int) -> str:
    year, month, day = packed >> 20, (packed >> 16) & 0x0F, (packed >> 11) & 0x1F
    hour, minute = (packed >> 6) & 0x1F, packed & 0x3F
    if not (year and 1 <= month <= 12 and 1 <= day <= 31):
        return ""
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}"


def _read_new_header(path: Path, data: bytes) -> _Header:
    (flags, version, _experiment, exponent, n_points, first_x, last_x, n_subfiles,
     x_type, y_type, z_type, _post, date) = _unpack(
        path, "<BBBbiddiBBBBi", data, 0, "main header"
    )
    _unpack(path, f"{NEW_HEADER_SIZE}s", data, 0, "main header")
    resolution = _text(data[36:45])
    source = _text(data[45:54])
    comment = _text(data[88:218])
    (log_offset,) = struct.unpack_from("<i", data, 248)
    method = _text(data[264:312])
    metadata = {
        key: value
        for key, value in [
            ("date", _new_date(date & 0xFFFFFFFF)),
            ("resolution", resolution),
            ("instrument", source),
            ("comment", comment),
            ("method", method),
        ]
        if value
    }
    return _Header(
        version, flags, exponent, n_points, first_x, last_x, n_subfiles,
        x_type, y_type, z_type, log_offset, metadata,
    )


def _read_old_header(path: Path, data: bytes) -> _Header:
    (flags, version, exponent, n_points, first_x, last_x, x_type, y_type,
     year, month, day, hour, minute) = _unpack(
        path, "<BBhfffBBHBBBB", data, 0, "main header"
    )
    _unpack(path, f"{OLD_HEADER_SIZE}s", data, 0, "main header")
    if not (np.isfinite(n_points) and n_points >= 1 and n_points == int(n_points)):
        raise ReadError(
            path,
            f"the old-format header gives {n_points!r} points per spectrum; a whole "
            f"number of at least 1 is expected.",
            location="byte 4",
            hint=TRUNCATED_HINT,
        )
    metadata = {}
    if year and 1 <= month <= 12 and 1 <= day <= 31:
        metadata["date"] = f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}"
    comment = _text(data[64:194])
    if comment:
        metadata["comment"] = comment
    # Old files have no subfile count; _read_old_subfiles derives it from the size.
    return _Header(
        version, flags, exponent, int(n_points), first_x, last_x, 0, x_type, y_type,
        metadata=metadata,
    )


def _scaled_y(
    path: Path, data: bytes, offset: int, count: int, exponent: int, bits: int,
    swapped_words: bool, what: str = "y values",
) -> np.ndarray:
    """Decode y values at `offset` by the exponent rule and return them as float64."""
    if exponent == FLOAT_EXPONENT:
        return _widen(_array(path, data, offset, "<f4", count, what))
    if bits == 16:
        raw = _array(path, data, offset, "<i2", count, what).astype(np.float64)
        return raw * 2.0 ** (exponent - 16)
    if swapped_words:
        # Old format: the high 16-bit word comes first, each word little-endian.
        words = _array(path, data, offset, "<u2", 2 * count, what).astype(np.uint32)
        values = ((words[0::2] << 16) | words[1::2]).astype(np.int32)
    else:
        values = _array(path, data, offset, "<i4", count, what)
    return values.astype(np.float64) * 2.0 ** (exponent - 32)


def _check_count(path: Path, count: int, available: int, what: str, offset: int) -> None:
    # Checked before any allocation so that a damaged count cannot ask for gigabytes.
    if count < 1:
        problem = f"the header gives {count} {what}; at least 1 is expected."
    elif count > available:
        problem = (
            f"the header gives {count} {what}, but the rest of the file has room for at "
            f"most {max(available, 0)}."
        )
    else:
        return
    raise ReadError(path, problem, location=f"byte {offset}", hint=TRUNCATED_HINT)


def _read_new_subfiles(path: Path, data: bytes, header: _Header) -> tuple[list[_Subfile], int]:
    """Read every subfile of a new-format file; return them and the end offset."""
    flags = header.flags
    multi = bool(flags & TMULTI)
    own_x = bool(flags & TXYXYS)
    bits = 16 if flags & TSPREC else 32
    y_bytes = bits // 8
    n_subfiles = header.n_subfiles if multi else 1
    offset = NEW_HEADER_SIZE
    _check_count(
        path, n_subfiles, (len(data) - offset) // SUBHEADER_SIZE, "subfiles", 24
    )

    shared_x = None
    if not own_x:
        _check_count(path, header.n_points, (len(data) - offset) // y_bytes, "points", 4)
        if flags & TXVALS:
            shared_x = _array(path, data, offset, "<f4", header.n_points, "x array")
            shared_x = _widen(shared_x)
            offset += 4 * header.n_points
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                shared_x = np.linspace(header.first_x, header.last_x, header.n_points)

    subfiles = []
    for index in range(n_subfiles):
        (_sub_flags, sub_exponent, _sub_index, z, _z_next, _noise, sub_points, _scans,
         w) = _unpack(path, "<BbHfffIIf", data, offset, f"header of subfile {index + 1}")
        # In a multifile each subfile carries its own exponent; a single file uses fexp.
        exponent = sub_exponent if multi else header.exponent
        # Float y takes 4 bytes even where TSPREC is set.
        value_bytes = 4 if exponent == FLOAT_EXPONENT else y_bytes
        start = offset + SUBHEADER_SIZE
        if own_x:
            _check_count(
                path, sub_points, (len(data) - start) // (4 + value_bytes),
                f"points in subfile {index + 1}", offset + 16,
            )
            x = _array(path, data, start, "<f4", sub_points, f"x array of subfile {index + 1}")
            x = _widen(x)
            start += 4 * sub_points
            count = sub_points
        else:
            x = shared_x
            count = header.n_points
        y = _scaled_y(
            path, data, start, count, exponent, bits, swapped_words=False,
            what=f"y values of subfile {index + 1}",
        )
        subfiles.append(_Subfile(x, y, float(z), float(w)))
        offset = start + count * value_bytes
    return subfiles, offset


def _read_old_subfiles(path: Path, data: bytes, header: _Header) -> tuple[list[_Subfile], int]:
    flags = header.flags
    if flags & (TXVALS | TXYXYS):
        raise ReadError(
            path,
            "is an old-format SPC file (version byte 0x4D) that declares stored x values, "
            "which the old format does not define.",
            location="byte 0",
            hint="Save the file in the new SPC format or as JCAMP-DX and import that.",
        )

    bits = 16 if flags & TSPREC else 32
    subfile_size = SUBHEADER_SIZE + header.n_points * bits // 8
    body = len(data) - OLD_HEADER_SIZE
    if flags & TMULTI:
        n_subfiles, left_over = divmod(body, subfile_size)
    else:
        n_subfiles, left_over = (1, body - subfile_size) if body >= subfile_size else (0, body)
    if n_subfiles < 1 or left_over != 0:
        raise ReadError(
            path,
            f"the old-format body of {body} bytes does not hold whole subfiles of "
            f"{subfile_size} bytes ({header.n_points} points of {bits}-bit y each); "
            f"{left_over} bytes are left over.",
            location=f"byte {OLD_HEADER_SIZE}",
            hint=TRUNCATED_HINT,
        )

    with np.errstate(over="ignore", invalid="ignore"):
        x = np.linspace(header.first_x, header.last_x, header.n_points)
    subfiles = []
    offset = OLD_HEADER_SIZE
    for index in range(n_subfiles):
        (_sub_flags, sub_exponent, _sub_index, z, _z_next, _noise, _points, _scans,
         w) = _unpack(path, "<BbHfffIIf", data, offset, f"header of subfile {index + 1}")
        exponent = sub_exponent if flags & TMULTI else header.exponent
        # The old header stores the exponent as int16, so "float" is +128 there.
        if exponent == 128 or (not flags & TMULTI and header.exponent == 128):
            exponent = FLOAT_EXPONENT
        y = _scaled_y(
            path, data, offset + SUBHEADER_SIZE, header.n_points, exponent, bits,
            swapped_words=True, what=f"y values of subfile {index + 1}",
        )
        subfiles.append(_Subfile(x, y, float(z), float(w)))
        offset += subfile_size
    return subfiles, offset


def _check_directory(path: Path, data: bytes, header: _Header, subfiles, warnings) -> None:
    """Compare the TXYXYS subfile directory with the subfiles read in sequence.

    Subfiles follow one another without gaps, so they are read in order and
    the directory is only checked.  Real files contain stale entries: one
    GC-MS export points its first entry at a 96-byte copy of subfile 1
    placed after the last subfile.
    """
    offset = header.n_points
    n_entries = len(subfiles)
    if offset <= 0 or offset + n_entries * DIRECTORY_ENTRY_SIZE > len(data):
        warnings.append(
            f"The subfile directory (byte {offset}) lies outside the file; the "
            f"{n_entries} subfiles were read in sequence."
        )
        return
    entries = np.frombuffer(
        data, dtype=np.dtype([("offset", "<i4"), ("size", "<i4"), ("z", "<f4")]),
        count=n_entries, offset=offset,
    )
    position = NEW_HEADER_SIZE
    y_bytes = 2 if header.flags & TSPREC else 4
    mismatched = []
    for index, (entry, subfile) in enumerate(zip(entries, subfiles)):
        size = SUBHEADER_SIZE + subfile.y.size * (4 + y_bytes)
        if int(entry["offset"]) != position or int(entry["size"]) != size:
            mismatched.append(index + 1)
        position += size
    if mismatched:
        listed = ", ".join(str(i) for i in mismatched[:5])
        warnings.append(
            f"The subfile directory disagrees with the subfiles for {len(mismatched)} of "
            f"{n_entries} entries (subfile {listed}); the subfiles were read in sequence."
        )


def _read_log_book(path: Path, data: bytes, offset: int, warnings: list[str]) -> str:
    """Return the text part of the log book, or "" with a warning when unreadable."""
    if offset + LOG_HEADER_SIZE > len(data):
        warnings.append(
            f"The log book pointer (byte {offset}) lies past the end of the file "
            f"({len(data)} bytes); the log book was ignored."
        )
        return ""
    block_size, _memory_size, text_offset = struct.unpack_from("<iii", data, offset)
    start = offset + text_offset
    end = offset + block_size
    if text_offset < LOG_HEADER_SIZE or end < start or end > len(data):
        warnings.append(
            f"The log book at byte {offset} declares a text of bytes {start} to {end}, "
            f"outside the file ({len(data)} bytes); the log book was ignored."
        )
        return ""
    # Log text is free-form (often INI-style sections with CRLF); it is kept, not parsed.
    text = data[start:end].split(b"\x00", 1)[0].decode("latin-1")
    return text.replace("\r\n", "\n").strip()[:MAX_LOG_TEXT]


def _group_by_axis(subfiles: list[_Subfile]) -> list[list[int]]:
    """Group neighbouring subfiles that share an x array, keeping file order."""
    groups: list[list[int]] = []
    for index, subfile in enumerate(subfiles):
        if groups:
            previous = subfiles[groups[-1][-1]].x
            if previous.shape == subfile.x.shape and np.array_equal(previous, subfile.x):
                groups[-1].append(index)
                continue
        groups.append([index])
    return groups


def _sample_ids(path: Path, count: int) -> list[str]:
    if count == 1:
        return [path.stem]
    width = max(MIN_ID_DIGITS, len(str(count)))
    return [f"{path.stem}-{i + 1:0{width}d}" for i in range(count)]


def _format_name(header: _Header) -> str:
    parts = ["new format" if header.version == NEW_FORMAT else "old format"]
    if header.flags & TMULTI:
        parts.append("multifile")
    if header.flags & TXYXYS:
        parts.append("x per subfile")
    elif header.flags & TXVALS:
        parts.append("stored x")
    return f"Thermo-Galactic SPC ({', '.join(parts)})"


def _plausible_number(value: float) -> bool:
    # Denormal or huge values come from bytes that are not an SPC header (a ZIP file, text).
    return bool(np.isfinite(value)) and (value == 0.0 or 1e-30 < abs(value) < 1e30)


def _plausible_new_header(head: bytes, file_size: int) -> bool:
    """Return whether the first bytes make sense as a new-format SPC header."""
    flags = head[0]
    n_points, first_x, last_x, n_subfiles = struct.unpack_from("<iddi", head, 4)
    x_type, y_type = head[28], head[29]
    if x_type not in X_UNITS or y_type not in Y_UNITS:
        return False
    if not (_plausible_number(first_x) and _plausible_number(last_x)):
        return False
    # fnpts is a point count, or the directory offset in TXYXYS files; both lie inside the file.
    if not 0 <= n_points <= file_size:
        return False
    return 0 <= n_subfiles and n_subfiles * SUBHEADER_SIZE <= file_size and flags != 0xFF


class SPCReader(Reader):
    """Reader of Thermo-Galactic SPC files, new (0x4B) and old (0x4D) formats."""

    name = "Thermo-Galactic SPC"
    extensions = (".spc",)

    def sniff(self, path: Path, head: bytes) -> int:
        if len(head) < 32:
            return 0
        version = head[1]
        # A version byte alone is a weak sign because 0x4B is "K" in text, so the
        # header must also make sense.  Otherwise only the extension lets this reader try.
        fallback = 5 if path.suffix.lower() in self.extensions else 0
        if version == NEW_FORMAT:
            return 90 if _plausible_new_header(head, path.stat().st_size) else fallback
        if version == OLD_FORMAT:
            n_points, first_x, last_x = struct.unpack_from("<fff", head, 4)
            plausible = (
                bool(np.isfinite(n_points)) and 1 <= n_points < 1e8
                and n_points == int(n_points)
                and _plausible_number(first_x) and _plausible_number(last_x)
            )
            return 90 if plausible else fallback
        if version == NEW_FORMAT_BIG_ENDIAN:
            return fallback
        return 0

    def read(self, path: Path, **options) -> ReadResult:
        """Read every subfile of an SPC file.

        Neighbouring subfiles that share one x array form one block, so a
        file with an x array per subfile gives one block per run of subfiles
        with the same x.  Blocks keep the file order.
        """
        path = Path(path)
        data = path.read_bytes()
        if len(data) < 2:
            raise ReadError(path, "is too short to be an SPC file.", hint=TRUNCATED_HINT)
        version = data[1]
        warnings: list[str] = []
        if version == NEW_FORMAT:
            header = _read_new_header(path, data)
            subfiles, end = _read_new_subfiles(path, data, header)
            if header.flags & TXYXYS and header.flags & TMULTI and header.n_points > 0:
                _check_directory(path, data, header, subfiles, warnings)
            if header.log_offset > 0:
                log_text = _read_log_book(path, data, header.log_offset, warnings)
                if log_text:
                    header.metadata["log_book"] = log_text
        elif version == OLD_FORMAT:
            header = _read_old_header(path, data)
            subfiles, end = _read_old_subfiles(path, data, header)
        elif version == NEW_FORMAT_BIG_ENDIAN:
            raise ReadError(
                path,
                "is a big-endian SPC file (version byte 0x4C), which this reader does not "
                "support.",
                location="byte 1",
                hint="Save it from GRAMS or the instrument software as a PC (0x4B) SPC file.",
            )
        else:
            raise ReadError(
                path,
                f"has version byte 0x{version:02X}, not one of the SPC versions 0x4B "
                f"(new format) or 0x4D (old format).",
                location="byte 1",
                hint="Check that the file is an SPC file, or export the spectra as CSV.",
            )
        log.debug("%s: read %d SPC subfiles, data end at byte %d of %d",
                  path, len(subfiles), end, len(data))
        return self._result(path, header, subfiles, warnings)

    def _result(self, path: Path, header: _Header, subfiles, warnings) -> ReadResult:
        x_unit = _unit(X_UNITS, header.x_type, "x")
        y_unit = _unit(Y_UNITS, header.y_type, "y")
        if header.x_type not in X_UNITS:
            warnings.append(f"Unknown x unit code {header.x_type}; the axis is labelled {x_unit!r}.")
        ids = _sample_ids(path, len(subfiles))
        blocks = []
        for group in _group_by_axis(subfiles):
            axis = subfiles[group[0]].x
            if not np.all(np.isfinite(axis)):
                raise ReadError(
                    path,
                    f"the x values of subfile {group[0] + 1} include NaN or infinite values.",
                    hint=TRUNCATED_HINT,
                )
            spectra = np.vstack([subfiles[i].y for i in group])
            metadata = dict(header.metadata)
            if header.flags & TMULTI:
                metadata["z_unit"] = _unit(X_UNITS, header.z_type, "z")
                metadata["z_values"] = " ".join(f"{subfiles[i].z:g}" for i in group)
                if any(subfiles[i].w for i in group):
                    metadata["w_values"] = " ".join(f"{subfiles[i].w:g}" for i in group)
            blocks.append(
                SpectralDataset(
                    axis=axis,
                    spectra=spectra,
                    axis_unit=x_unit,
                    sample_ids=[ids[i] for i in group],
                    metadata=metadata,
                    y_unit=y_unit,
                    name=path.stem,
                )
            )
        bad = sum(int(np.count_nonzero(~np.isfinite(s.y))) for s in subfiles)
        if bad:
            warnings.append(f"{bad} intensity values are NaN or infinite.")
        return ReadResult(blocks, _format_name(header), warnings, str(path))


register(SPCReader())
