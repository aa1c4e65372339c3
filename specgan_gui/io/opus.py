"""Bruker OPUS binary files (extensions .0, .1, ..., .001).

An OPUS file is a 24-byte header (magic ``0A 0A FE FE``, version, the
offset and size of a directory) and a directory of 12-byte entries: four
type bytes, the block length in 4-byte words and the block offset.  The
type bytes are read here as (data type, channel type, text type, extra):

- data type: bits 0-1 complex part (3 = amplitude), bits 2-3 sample (1),
  reference (2) or ratio (3); 16 and more mark parameter blocks, and
  ``data type + 16`` is the data status block (NPT, FXV, LXV, CSF, DPF,
  DXU) of the data block with the same channel and extra byte.
- channel type: 4 single channel, 8 interferogram, 12 phase; ratio
  blocks give the result kind (16 absorbance, 20 transmittance, 48
  reflectance, ...).
- text type: 0 for data and parameters.  Other values mark text and
  report blocks, and some of them reuse the channel codes of the
  spectrum.  Read as float32 they give values such as 1.7e-44, so the
  reader never reads them as data.

Which block is read: ``block="AB"`` (the default) takes the ratio result,
absorbance first.  ``"ScSm"``, ``"ScRf"``, ``"IgSm"``, ``"IgRf"``,
``"PhSm"`` and ``"PhRf"`` take the sample or reference single channel,
interferogram or phase.  When several blocks have the requested name, the
one with extra byte 0 wins, and among those the last in the directory: a
reprocessed file keeps the earlier blocks with extra byte 64, and the
extra-byte-0 block is the one that OPUS exports.  A file without any AB
block (a background measurement) falls back to ScSm, then ScRf, then the
interferograms, and says so in the warnings and the format name.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import ReadError
from specgan_gui.io.base import ReadResult, Reader, register

log = logging.getLogger(__name__)

MAGIC = b"\x0a\x0a\xfe\xfe"
HEADER_SIZE = 24
ENTRY_SIZE = 12
DIRECTORY_CHANNEL = 52

# Data block kinds from bits 2-3 of the data type byte.
SAMPLE, REFERENCE, RATIO = 1, 2, 3
AMPLITUDE = 3
COMPLEX_PARTS = {0: " (complex type 0)", 1: " (real part)", 2: " (imaginary part)", AMPLITUDE: ""}

# Channel types of sample and reference blocks: name prefix and y unit.
RAW_CHANNELS = {4: ("Sc", "single channel"), 8: ("Ig", "interferogram"), 12: ("Ph", "phase")}
# Channel types of ratio blocks (all named "AB"): the kind of result.
RATIO_CHANNELS = {
    16: "absorbance",
    20: "transmittance",
    24: "Kubelka-Munk",
    28: "trace",
    40: "Raman intensity",
    44: "emission",
    48: "reflectance",
    56: "power",
    60: "log(1/R)",
    64: "ATR",
    68: "photoacoustic",
    72: "transmittance (arithmetic result)",
    76: "absorbance (arithmetic result)",
}
ABSORBANCE_CHANNEL = 16
# Text types of known text blocks; report blocks with other text types are listed as unknown.
TEXT_TYPES = {8: "info", 104: "history", 152: "curve fit", 168: "signature", 240: "integration"}
# Parameter kinds from (data type >> 4) | (channel type & 3) << 4.
PARAMETER_KINDS = {
    1: "data status",
    2: "instrument",
    3: "acquisition",
    4: "Fourier transform",
    5: "plot and display",
    6: "optics",
    7: "GC",
    8: "library search",
    9: "communication",
    10: "sample origin",
    11: "lab and process",
}
SAMPLE_ORIGIN = 10
X_UNITS = {"WN": "cm-1", "MI": "um", "NM": "nm", "LGW": "log(cm-1)", "MIN": "min",
           "SEC": "s", "PNT": "points"}
DATA_FORMATS = {1: "<f4", 2: "<i4"}
# Fallback order when a file has no AB block.
FALLBACK_BLOCKS = ("ScSm", "ScRf", "IgSm", "IgRf")
# Data blocks run a few values past NPT (1 to 42 seen); far longer ones hold a series.
SERIES_FACTOR = 2
SERIES_MARGIN = 64
# This many points or more exactly at the maximum are reported as clipped.
MIN_CLIPPED_POINTS = 3

TRUNCATED_HINT = "The file is truncated or damaged; copy it from the instrument PC again."


@dataclass
class _Entry:
    """One directory entry."""

    index: int
    data_type: int
    channel: int
    text_type: int
    extra: int
    length: int  # in 4-byte words
    offset: int

    @property
    def code(self) -> str:
        return f"({self.data_type},{self.channel},{self.text_type},{self.extra})"

    @property
    def is_data(self) -> bool:
        return self.text_type == 0 and self.data_type < 16 and self.channel != DIRECTORY_CHANNEL

    @property
    def is_parameters(self) -> bool:
        return self.text_type == 0 and self.data_type >= 16

    @property
    def parameter_kind(self) -> int:
        return (self.data_type >> 4) | ((self.channel & 3) << 4)

    def data_name(self) -> str | None:
        """Return the block name ("AB", "ScSm", ...) of a data block, None if unknown."""
        kind = (self.data_type >> 2) & 3
        part = COMPLEX_PARTS[self.data_type & 3]
        if kind == RATIO and self.channel in RATIO_CHANNELS:
            return "AB" + part
        if kind in (SAMPLE, REFERENCE) and self.channel in RAW_CHANNELS:
            prefix = RAW_CHANNELS[self.channel][0]
            return prefix + ("Sm" if kind == SAMPLE else "Rf") + part
        return None

    def y_unit(self) -> str:
        if self.channel in RAW_CHANNELS:
            return RAW_CHANNELS[self.channel][1]
        return RATIO_CHANNELS.get(self.channel, "")


def _read_directory(path: Path, data: bytes) -> list[_Entry]:
    if len(data) < HEADER_SIZE:
        raise ReadError(
            path, f"is only {len(data)} bytes long, shorter than the OPUS header.",
            hint=TRUNCATED_HINT,
        )
    _version, directory, _max_entries, count = struct.unpack_from("<diii", data, 4)
    if directory < HEADER_SIZE or count < 1 or directory + count * ENTRY_SIZE > len(data):
        raise ReadError(
            path,
            f"the header declares a directory of {count} entries at byte {directory}, "
            f"which does not fit in the file ({len(data)} bytes).",
            location="byte 12",
            hint=TRUNCATED_HINT,
        )
    entries = []
    for index in range(count):
        position = directory + index * ENTRY_SIZE
        data_type, channel, text_type, extra, length, offset = struct.unpack_from(
            "<BBBBii", data, position
        )
        entry = _Entry(index, data_type, channel, text_type, extra, length, offset)
        if length < 0 or offset < 0 or offset + 4 * length > len(data):
            raise ReadError(
                path,
                f"directory entry {index} {entry.code} declares {4 * max(length, 0)} bytes at "
                f"byte {offset}, past the end of the file ({len(data)} bytes).",
                location=f"byte {position}",
                hint=TRUNCATED_HINT,
            )
        entries.append(entry)
    return entries


def _read_parameters(path: Path, data: bytes, entry: _Entry) -> dict[str, object]:
    """Return the parameters of a parameter block as name -> int, float or str."""
    values: dict[str, object] = {}
    position = entry.offset
    end = entry.offset + 4 * entry.length
    while position + 8 <= end:
        name = data[position:position + 3].decode("latin-1")
        if name == "END":
            return values
        kind, words = struct.unpack_from("<HH", data, position + 4)
        start = position + 8
        stop = start + 2 * words
        if stop > end:
            raise ReadError(
                path,
                f"parameter {name!r} of block {entry.code} runs past the end of its block "
                f"(byte {stop}, block end {end}).",
                location=f"byte {position}",
                hint=TRUNCATED_HINT,
            )
        raw = data[start:stop]
        if kind == 0 and len(raw) >= 4:
            values[name] = struct.unpack_from("<i", raw)[0]
        elif kind == 1 and len(raw) >= 8:
            values[name] = struct.unpack_from("<d", raw)[0]
        elif kind in (2, 3, 4):
            values[name] = raw.split(b"\x00", 1)[0].decode("latin-1")
        position = stop
    return values


def _status_entry(entries: list[_Entry], block: _Entry) -> _Entry | None:
    """Return the data status block of a data block: same channel, data type + 16."""
    candidates = [
        e for e in entries
        if e.is_parameters and e.data_type == block.data_type + 16 and e.channel == block.channel
    ]
    same_extra = [e for e in candidates if e.extra == block.extra]
    if same_extra:
        return same_extra[0]
    return candidates[0] if candidates else None


def _pick(blocks: list[_Entry]) -> _Entry:
    """Pick one of several blocks with one name: extra byte 0 first, then the last one."""
    blocks = sorted(blocks, key=lambda e: (e.extra == 0, e.index))
    return blocks[-1]


def _choose_block(
    path: Path, named: dict[str, list[_Entry]], requested: str | None, warnings: list[str],
) -> tuple[_Entry, str]:
    """Return the data block to read and a note for the format name ("" if none)."""
    if requested is not None:
        matches = {name.lower(): name for name in named}
        name = matches.get(str(requested).lower())
        if name is None:
            raise ReadError(
                path,
                f"has no {requested!r} block; it holds: {', '.join(named) or 'no data blocks'}.",
                hint="Choose one of the blocks listed.",
            )
        return _pick_ab(named[name]) if name == "AB" else _pick(named[name]), ""
    if "AB" in named:
        return _pick_ab(named["AB"]), ""
    for name in FALLBACK_BLOCKS:
        if name in named:
            if name == "ScRf":
                note = "background single channel"
                warnings.append(
                    "The file holds no absorbance (AB) block, only the background: the "
                    "reference single channel (ScRf) was read."
                )
            else:
                note = f"no AB block, {name} read"
                warnings.append(f"The file holds no absorbance (AB) block; {name} was read.")
            return _pick(named[name]), note
    raise ReadError(
        path,
        f"holds no spectrum block that this reader knows; its data blocks are: "
        f"{', '.join(named) or 'none'}.",
        hint="Export the spectrum from OPUS as JCAMP-DX or DPT and import that.",
    )


def _pick_ab(blocks: list[_Entry]) -> _Entry:
    absorbance = [e for e in blocks if e.channel == ABSORBANCE_CHANNEL]
    return _pick(absorbance or blocks)


def _describe_others(chosen: _Entry, same_name: list[_Entry], y: np.ndarray, others) -> str:
    rest = ", ".join(f"{e.code} at byte {e.offset}" for e in same_name if e is not chosen)
    differences = [
        float(np.max(np.abs(y - other))) for other in others if other.shape == y.shape
    ]
    text = (
        f"The file holds {len(same_name)} {chosen.data_name()} blocks; read {chosen.code} "
        f"at byte {chosen.offset} (extra byte 0 first, then the last one) and skipped {rest}."
    )
    if differences:
        text += f" They differ by up to {max(differences):.3g}."
    return text


def _status_values(path: Path, data: bytes, entries, block: _Entry):
    """Return the data status block of `block` and its parameters."""
    status = _status_entry(entries, block)
    if status is None:
        raise ReadError(
            path,
            f"has no data status block (NPT, FXV, LXV) for the {block.data_name()} block "
            f"{block.code} at byte {block.offset}.",
            hint=TRUNCATED_HINT,
        )
    return status, _read_parameters(path, data, status)


def _number(path: Path, status: _Entry, values: dict, key: str, default=None) -> float:
    """Return a finite numeric parameter, or raise ReadError naming it."""
    value = values.get(key, default)
    if value is None:
        raise ReadError(
            path,
            f"the data status block at byte {status.offset} has no {key} parameter.",
            location=f"byte {status.offset}",
            hint=TRUNCATED_HINT,
        )
    if isinstance(value, str) or not np.isfinite(value):
        raise ReadError(
            path,
            f"the {key} parameter in the data status block at byte {status.offset} is "
            f"{value!r}, not a finite number.",
            location=f"byte {status.offset}",
            hint=TRUNCATED_HINT,
        )
    return float(value)


def _check_length(path: Path, block: _Entry, n_points: int) -> None:
    """Reject a data block shorter than NPT or far longer than one spectrum."""
    if n_points < 1 or n_points > block.length:
        raise ReadError(
            path,
            f"the {block.data_name()} block at byte {block.offset} holds {block.length} "
            f"values, but its status block declares NPT={n_points}.",
            location=f"byte {block.offset}",
            hint=TRUNCATED_HINT,
        )
    # NOTE: no 3-D (series) OPUS file was available to test this length rule, so it is an
    # assumption about such files.  Rejecting them beats returning their first spectrum only.
    if block.length > SERIES_FACTOR * n_points + SERIES_MARGIN:
        raise ReadError(
            path,
            f"the {block.data_name()} block at byte {block.offset} holds {block.length} "
            f"values for NPT={n_points}, far more than one spectrum: it is probably a "
            f"series of spectra (a 3-D file), which this reader does not read.",
            location=f"byte {block.offset}",
            hint="Export the spectra from OPUS as JCAMP-DX or DPT and import those.",
        )


def _classify(entries: list[_Entry]) -> tuple[dict[str, list[_Entry]], list[_Entry]]:
    """Sort directory entries into named data blocks and blocks of unknown type."""
    named: dict[str, list[_Entry]] = {}
    unknown = []
    for entry in entries:
        if entry.length == 0:
            continue
        if entry.is_data:
            name = entry.data_name()
            if name is None:
                unknown.append(entry)
            else:
                named.setdefault(name, []).append(entry)
        elif entry.is_parameters:
            if entry.parameter_kind not in PARAMETER_KINDS:
                unknown.append(entry)
        elif entry.channel == DIRECTORY_CHANNEL and entry.text_type == 0:
            continue
        elif entry.text_type not in TEXT_TYPES:
            unknown.append(entry)
    return named, unknown


class OpusReader(Reader):
    """Reader of Bruker OPUS files; option ``block`` picks the data block."""

    name = "Bruker OPUS"
    extensions = (".0", ".1", ".2", ".001", ".0000")

    def sniff(self, path: Path, head: bytes) -> int:
        return 95 if head.startswith(MAGIC) else 0

    def read(self, path: Path, block: str | None = None, **options) -> ReadResult:
        """Read one data block of an OPUS file: the AB spectrum, or the `block` requested."""
        path = Path(path)
        data = path.read_bytes()
        if not data.startswith(MAGIC):
            raise ReadError(
                path, "does not start with the OPUS magic bytes 0A 0A FE FE.",
                location="byte 0", hint="Check that the file is a Bruker OPUS file.",
            )
        entries = _read_directory(path, data)
        warnings: list[str] = []
        named, unknown = _classify(entries)
        if unknown:
            listed = ", ".join(f"{e.code} at byte {e.offset}" for e in unknown[:8])
            more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
            noun = "block" if len(unknown) == 1 else "blocks"
            warnings.append(
                f"Skipped {len(unknown)} {noun} of types this reader does not know: "
                f"{listed}{more}."
            )

        chosen, note = _choose_block(path, named, block, warnings)
        name = chosen.data_name()
        axis, y, unit = self._read_block(path, data, entries, chosen)
        same_name = named[name]
        if len(same_name) > 1:
            others = []
            for other in same_name:
                if other is chosen:
                    continue
                try:
                    others.append(self._read_block(path, data, entries, other)[1])
                except ReadError as error:
                    log.debug("%s: other %s block unreadable: %s", path, name, error)
            warnings.append(_describe_others(chosen, same_name, y, others))

        y_unit = chosen.y_unit()
        self._note_clipping(y, y_unit, warnings)
        metadata = {"block": f"{name} {chosen.code}"}
        origin = [e for e in entries if e.is_parameters and e.parameter_kind == SAMPLE_ORIGIN]
        if origin:
            values = _read_parameters(path, data, origin[-1])
            for key, label in (("SNM", "sample_name"), ("SFM", "sample_form")):
                if values.get(key):
                    metadata[label] = str(values[key])
        dataset = SpectralDataset(
            axis=axis,
            spectra=y[np.newaxis, :],
            axis_unit=unit,
            sample_ids=[path.stem],
            metadata=metadata,
            y_unit=y_unit,
            name=path.stem,
        )
        description = ", ".join(part for part in (name, note or y_unit) if part)
        return ReadResult.single(dataset, f"Bruker OPUS ({description})", warnings, path)

    def _read_block(self, path: Path, data: bytes, entries, block: _Entry):
        """Return (axis, y, axis unit) of one data block, sized by its NPT."""
        status, values = _status_values(path, data, entries, block)
        n_points = int(_number(path, status, values, "NPT"))
        first = _number(path, status, values, "FXV")
        last = _number(path, status, values, "LXV")
        scale = _number(path, status, values, "CSF", 1.0)
        dpf = values.get("DPF", 1)
        point_format = DATA_FORMATS.get(dpf) if isinstance(dpf, int) else None
        if point_format is None:
            raise ReadError(
                path,
                f"the data point format DPF={dpf!r} at byte {status.offset} is not "
                f"one of 1 (float32) or 2 (int32).",
                location=f"byte {status.offset}",
                hint="Export the spectrum from OPUS as JCAMP-DX or DPT and import that.",
            )
        _check_length(path, block, n_points)

        # Blocks often run past NPT (1 to 42 values in real files); only NPT values count.
        y = np.frombuffer(data, dtype=point_format, count=n_points, offset=block.offset)
        # Damaged float32 data may hold signalling NaNs; they stay NaN without a RuntimeWarning.
        with np.errstate(invalid="ignore", over="ignore"):
            y = y.astype(np.float64)
            if scale != 0.0:
                y = y * scale
            axis = np.linspace(first, last, n_points)
        if not np.all(np.isfinite(axis)):
            raise ReadError(
                path,
                f"the axis from FXV={first:g} to LXV={last:g} overflows.",
                location=f"byte {status.offset}",
                hint=TRUNCATED_HINT,
            )

        code = str(values.get("DXU", ""))
        if code:
            unit = X_UNITS.get(code, f"OPUS x unit {code}")
        else:
            unit = "points" if block.channel == 8 else "cm-1"
        return axis, y, unit

    @staticmethod
    def _note_clipping(y: np.ndarray, y_unit: str, warnings: list[str]) -> None:
        if y.size == 0 or not np.all(np.isfinite(y)) or y_unit == "interferogram":
            return
        top = float(y.max())
        count = int(np.count_nonzero(y == top))
        if count >= MIN_CLIPPED_POINTS:
            warnings.append(
                f"{count} points equal the maximum {top:g} exactly: the software clipped "
                f"them, so they are saturated values, not measurements."
            )


register(OpusReader())
