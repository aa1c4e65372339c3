"""Single spectra written as text columns: x in one column, intensities in others.

Instrument software writes these as CSV, TSV, TXT, DPT, PRN, ASP, CSV2,
SSIrrad and similar files.  The layout read here::

    free-text or "key: value" / "#key=value" metadata lines (optional)
    Wavelength, Processed, Raw          <- header with column names (optional)
    247.94, 0.18046, 856.0
    248.45, 0.37675, 844.0
    ...
    # comments after the data (optional)

The reader finds the block of numeric rows and the separator and decimal
mark that split it into the same number of numbers per row: tab, semicolon,
comma, or spaces (fixed-width columns, also where a minus sign joins two
numbers), with a decimal point or a decimal comma.  The x column is the
first column, unless the header names another one as the axis (for
example ``Pixel, Wavelength, ...``).  The spectrum is the first column
after it unless the ``column`` option names another one; the choice is
stated in the format string and the warnings.

Lines are decoded as UTF-8, or where that fails as Shift-JIS (cp932),
cp1252 or Latin-1, line by line, because some exports append a footer in
another encoding.  NUL bytes are removed with a warning.  Values that
instruments write for clipped or invalid points (±FLT_MIN, ±FLT_MAX, about
1e38 and larger, infinities, NaN) are masked as NaN and reported.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import ReadError, SpecganError
from specgan_gui.io.base import (
    SNIFF_BYTES,
    ReadResult,
    Reader,
    axis_unit_from_label,
    register,
)
from specgan_gui.io.table import (
    AMBIGUOUS,
    LONG,
    _ambiguous_layout_error,
    _guess_axis_unit,
    numeric_header_layout,
)

log = logging.getLogger(__name__)

_POINT_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?")
_COMMA_NUMBER = re.compile(r"[+-]?(?:\d+,?\d*|,\d+)(?:[eEdD][+-]?\d+)?")
_SPECIAL_NUMBER = re.compile(r"[+-]?(?:nan|inf|infinity|1\.#inf|1\.#qnan|1\.#ind)", re.IGNORECASE)
# Fixed-width columns can join two numbers when the second one is negative: "350.0-0.12".
_JOINED_NUMBERS = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?(?:[+-](?:\d+\.?\d*|\.\d+)"
                             r"(?:[eE][+-]?\d+)?)+")

#: (separator, decimal mark) candidates in order of preference when several fit equally.
_DIALECTS = (
    ("\t", "."), ("\t", ","), (";", "."), (";", ","), (",", "."),
    (" ", "."), (" ", ","), ("|", "."),
)
_SEPARATOR_NAMES = {"\t": "tab", ";": "semicolon", ",": "comma", " ": "space", "|": "bar"}

#: Smallest number of rows a spectrum may have.
MIN_ROWS = 3
#: Rows of the file sampled to choose the separator and decimal mark.
_DIALECT_SAMPLE = 400

_FLT_MIN = float(np.finfo(np.float32).tiny)  # 1.17549e-38
# SCPI instruments write 9.91e37 for "not a number"; FLT_MAX is 3.40282e38.
_HUGE = 9.9e37

_AXIS_NAMES = re.compile(
    r"wave|raman|shift|lambda|energy|frequency|^x$|^x\b|\bnm\b|cm-1|cm\^-1|1/cm|m/z|2theta|"
    r"two theta",
    re.IGNORECASE,
)
_INDEX_NAMES = re.compile(r"^(pixel|pixels|index|point|points|no\.?|#|n|channel|row)$",
                          re.IGNORECASE)
# Quantities that are not wavelengths or wavenumbers; the name becomes the axis unit.
_OTHER_QUANTITIES = re.compile(r"energy|time|angle|position|temperature|voltage|frequency|"
                               r"mass|m/z|distance|2theta|two theta", re.IGNORECASE)
_BRACKET_UNIT = re.compile(r"[\(\[]\s*([^\)\]]{1,20}?)\s*[\)\]]\s*$")
_Y_UNIT_WORDS = ("absorbance", "transmittance", "reflectance", "kubelka-munk", "irradiance",
                 "radiance", "counts", "intensity")
_COUNT_KEYS = {"npoints", "numberofpoints", "nbpoints", "numpoints", "pixelcount",
               "numberofpixelsinprocessedspectrum", "numberofpixels", "datapoints"}
_BEGIN_MARKER = re.compile(r"^\s*>+\s*begin\b.*<+\s*$", re.IGNORECASE)
_END_MARKER = re.compile(r"^\s*>+\s*end\b.*<+\s*$", re.IGNORECASE)
_COMMENT_PREFIXES = ("#", ";", "//", "%", "!")


# ---------------------------------------------------------------------------------------
# Bytes to lines


def _utf16_to_utf8(raw: bytes, strict: bool = True) -> bytes:
    """Re-encode text that starts with a UTF-16 byte order mark as UTF-8."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16", errors="strict" if strict else "ignore").encode("utf-8")
    return raw


def _looks_binary(raw: bytes) -> bool:
    sample = raw[:65536].replace(b"\x00", b"")
    if not sample:
        return bool(raw)
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 26) or b == 127)
    nul_share = 1 - len(sample) / min(len(raw), 65536)
    return controls > 0.01 * len(sample) or nul_share > 0.25


def _is_japanese(text: str) -> bool:
    """Return whether decoded text is Japanese rather than Latin-1 read as Shift-JIS.

    Latin-1 bytes such as 0xB0 (degree sign) decode in cp932 as half-width
    katakana, so only kana, kanji and full-width forms count as evidence.
    """
    wide = sum(1 for ch in text if "\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff"
               or "\uff01" <= ch <= "\uff5e")
    other = sum(1 for ch in text if ord(ch) > 127)
    return wide > 0 and wide >= 0.5 * other


def _decode_lines(raw: bytes) -> tuple[list[str], str]:
    """Split bytes into text lines; return the lines and the encodings used."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    newline = b"\n" if b"\n" in raw or b"\r" not in raw else b"\r"
    raw_lines = raw.split(newline)
    try:
        text = raw.decode("utf-8")
        return [line.rstrip("\r") for line in text.split(newline.decode())], "utf-8"
    except UnicodeDecodeError:
        pass

    def decodes(line: bytes, encoding: str) -> bool:
        try:
            line.decode(encoding)
        except UnicodeDecodeError:
            return False
        return True

    failing = [line for line in raw_lines if not decodes(line, "utf-8")]
    fallback = "latin-1"
    if all(decodes(line, "cp932") for line in failing) and _is_japanese(
        "".join(line.decode("cp932") for line in failing)
    ):
        fallback = "cp932"
    elif all(decodes(line, "cp1252") for line in failing):
        fallback = "cp1252"
    lines = [
        (line.decode("utf-8") if decodes(line, "utf-8") else line.decode(fallback)).rstrip("\r")
        for line in raw_lines
    ]
    return lines, f"utf-8 with {len(failing)} line(s) in {fallback}"


# ---------------------------------------------------------------------------------------
# Lines to cells


def _split(line: str, separator: str) -> list[str]:
    if separator == " ":
        cells = line.split()
    elif '"' in line:
        try:
            cells = next(csv.reader([line], delimiter=separator))
        except csv.Error:  # a stray carriage return or an overlong quoted field
            cells = line.split(separator)
    else:
        cells = line.split(separator)
    cells = [cell.strip().strip('"').strip() for cell in cells]
    while cells and not cells[-1]:
        cells.pop()  # trailing separators
    return cells


def _parse_number(cell: str, decimal: str) -> float | None:
    pattern = _POINT_NUMBER if decimal == "." else _COMMA_NUMBER
    if pattern.fullmatch(cell):
        text = cell.replace(",", ".") if decimal == "," else cell
        return float(text.replace("d", "e").replace("D", "e"))
    if _SPECIAL_NUMBER.fullmatch(cell):
        lowered = cell.lower()
        if "inf" in lowered and "ind" not in lowered:
            return -math.inf if lowered.startswith("-") else math.inf
        return math.nan
    return None


def _parse_row(line: str, separator: str, decimal: str) -> list[float] | None:
    """Return the numbers of a row, or None when the row is not all numbers."""
    cells = _split(line, separator)
    if not cells:
        return None
    values: list[float] = []
    for cell in cells:
        if not cell:
            values.append(math.nan)  # empty cell between separators: a missing value
            continue
        value = _parse_number(cell, decimal)
        if value is None:
            if separator == " " and decimal == "." and _JOINED_NUMBERS.fullmatch(cell):
                values.extend(float(m) for m in _POINT_NUMBER.findall(cell))
                continue
            return None
        values.append(value)
    if all(math.isnan(v) for v in values):
        return None
    return values


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith(_COMMENT_PREFIXES)


def _choose_dialect(lines: list[str]) -> tuple[str, str]:
    """Return the (separator, decimal) that splits the most sampled rows into ≥ 2 numbers."""
    sample = [line for line in lines if line.strip() and not _is_comment(line)
              and line.lstrip()[:1] in "0123456789+-.\""][:_DIALECT_SAMPLE]
    best, best_score = _DIALECTS[0], -1
    for separator, decimal in _DIALECTS:
        if separator != " " and not any(separator in line for line in sample):
            continue
        counts: dict[int, int] = {}
        for line in sample:
            row = _parse_row(line, separator, decimal)
            if row is not None and len(row) >= 2:
                counts[len(row)] = counts.get(len(row), 0) + 1
        score = max(counts.values(), default=0)
        if score > best_score:
            best, best_score = (separator, decimal), score
    return best


# ---------------------------------------------------------------------------------------
# The data block


@dataclass
class _Region:
    """Consecutive numeric rows; `lines` are 1-based file line numbers."""

    rows: list[list[float]] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)

    @property
    def width(self) -> int:
        return len(self.rows[0])

    @property
    def span(self) -> str:
        return f"lines {self.lines[0]}-{self.lines[-1]}"


def _find_regions(lines: list[str], separator: str, decimal: str) -> list[_Region]:
    """Split the file into runs of numeric rows with the same number of values."""
    regions: list[_Region] = []
    current: _Region | None = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            current = None
            continue
        row = None if _is_comment(line) else _parse_row(line, separator, decimal)
        if row is None:
            current = None
            continue
        if current is None or len(row) != current.width:
            current = _Region()
            regions.append(current)
        current.rows.append(row)
        current.lines.append(number)
    return regions


class _Context:
    def __init__(self, path: Path):
        self.path = path
        self.warnings: list[str] = []

    def error(self, problem: str, line: int | None = None, hint: str = "") -> ReadError:
        return ReadError(
            self.path, problem, location=f"line {line}" if line is not None else "",
            hint=hint or "Export the spectrum again as text with one x column and one or "
            "more intensity columns.",
        )


def _adjacent(first: _Region, second: _Region, lines: list[str]) -> bool:
    """Return whether only blank lines lie between two regions."""
    between = lines[first.lines[-1]:second.lines[0] - 1]
    return all(not line.strip() for line in between)


def _select_regions(context: _Context, regions: list[_Region], lines: list[str]) -> list[_Region]:
    """Return the data blocks to read, rejecting ragged or too short data."""
    if not regions:
        raise context.error("contains no rows of numbers.",
                            hint="Check that this is a spectrum exported as text.")
    main = max(regions, key=lambda r: len(r.rows))
    if len(main.rows) < MIN_ROWS:
        widths = ", ".join(map(str, sorted({r.width for r in regions})))
        span = f"lines {regions[0].lines[0]}-{regions[-1].lines[-1]}"
        raise context.error(
            f"contains no block of at least {MIN_ROWS} rows with the same number of values; "
            f"the numeric rows have {widths} values ({span}).",
            regions[0].lines[0],
        )
    _check_neighbours(context, regions, main)
    if main.width < 2:
        raise context.error(
            f"has one value per line ({main.span}); a spectrum file needs an x column and "
            f"at least one intensity column.",
            main.lines[0],
        )

    merged = _merge_regions(regions, main.width, lines)
    largest = max(len(r.rows) for r in merged)
    chosen = [r for r in merged if len(r.rows) >= max(MIN_ROWS, largest // 2)]
    ignored = [r for r in regions if not any(r.lines[0] in c.lines for c in chosen)]
    if ignored:
        context.warnings.append(
            f"Ignored {len(ignored)} short group(s) of numbers outside the data "
            f"({', '.join(r.span for r in ignored[:5])})."
        )
    if len(chosen) > 1:
        context.warnings.append(
            f"The file contains {len(chosen)} blocks of data "
            f"({', '.join(r.span for r in chosen[:6])}); each is read as a spectrum."
        )
    return chosen


def _check_neighbours(context: _Context, regions: list[_Region], main: _Region) -> None:
    """Reject a row of another width directly before or after the main data block.

    Such a row inside or after the data is damaged or cut short.  One or two
    shorter rows directly before the data may be a count such as "1024" and
    are allowed.
    """
    index = regions.index(main)
    for neighbour_index in (index - 1, index + 1):
        if not 0 <= neighbour_index < len(regions):
            continue
        neighbour = regions[neighbour_index]
        touching = (neighbour.lines[-1] + 1 == main.lines[0]
                    or main.lines[-1] + 1 == neighbour.lines[0])
        if not touching:
            continue
        before = neighbour_index < index
        if before and neighbour.width < main.width and len(neighbour.rows) <= 2:
            # A count line may precede the data, but not rows of the data's width
            # right above it: then the short row sits inside the data.
            earlier = regions[neighbour_index - 1] if neighbour_index >= 1 else None
            inside = (earlier is not None and earlier.width == main.width
                      and earlier.lines[-1] + 1 == neighbour.lines[0])
            if not inside:
                continue
        line = neighbour.lines[-1] if before else neighbour.lines[0]
        raise context.error(
            f"has {neighbour.width} value(s) on this line where the {len(main.rows)} rows "
            f"{'after' if before else 'before'} it have {main.width}; the row is damaged or "
            f"the file is cut short.",
            line,
        )


def _merge_regions(regions: list[_Region], width: int, lines: list[str]) -> list[_Region]:
    """Join runs of `width` values that only blank lines separate and whose x continues."""
    merged: list[_Region] = []
    for region in regions:
        if region.width != width:
            continue
        if merged and _adjacent(merged[-1], region, lines) and _continues(merged[-1], region):
            merged[-1].rows.extend(region.rows)
            merged[-1].lines.extend(region.lines)
        else:
            merged.append(_Region(list(region.rows), list(region.lines)))
    return merged


def _continues(first: _Region, second: _Region) -> bool:
    if len(first.rows) < 2:
        return False
    direction = first.rows[-1][0] - first.rows[-2][0]
    step = second.rows[0][0] - first.rows[-1][0]
    return direction * step > 0


# ---------------------------------------------------------------------------------------
# Header and metadata


def _header_cells(line: str, separator: str) -> list[str] | None:
    """Return column names when a line reads as a header row, else None."""
    text = line.strip()
    if text.startswith("#"):
        text = text.lstrip("#").strip()
    if _BEGIN_MARKER.match(text) or _END_MARKER.match(text):
        return None
    cells = _split(text, separator)
    if len(cells) < 2:
        return None
    if any(cell.endswith(("=", ":")) for cell in cells):
        return None  # "key= value" or "key: value" metadata
    numeric = sum(_parse_number(cell, ".") is not None for cell in cells if cell)
    if numeric * 2 >= len(cells):
        return None
    return cells


def _numeric_sample_header(context: _Context, line: str, line_number: int, region: _Region,
                           separator: str) -> list[str] | None:
    """Return the cells of a header such as ``wavenumber,1,2,3`` that names samples by number.

    The line must have one cell per column, text in the first cell and numbers
    in the others (at least two), and `numeric_header_layout` must find the
    first column to be the axis.  Raises a `ReadError` when the layout is
    ambiguous (the header numbers could be the axis of one spectrum per row).
    """
    cells = _split(line.strip(), separator)
    if len(cells) != region.width or len(cells) < 3 or _parse_number(cells[0], ".") is not None:
        return None
    header_values = [_parse_number(cell, ".") for cell in cells[1:]]
    if None in header_values:
        return None
    column = [row[0] for row in region.rows]
    layout = numeric_header_layout(cells[0], header_values, column)
    if layout == AMBIGUOUS:
        raise _ambiguous_layout_error(context.path, cells[0], np.asarray(header_values),
                                      np.asarray(column), f"line {line_number}")
    # NOTE: a header that `numeric_header_layout` finds wide is ignored here, as before, so
    # a wide table with fewer than 8 axis values is still read one spectrum per column.
    return cells if layout == LONG else None


def _numbers_after_first(names: list[str]) -> bool:
    """Return whether every column name after the first is a number."""
    return len(names) > 1 and all(_parse_number(name, ".") is not None for name in names[1:])


def _find_header(
    context: _Context, lines: list[str], region: _Region, separator: str
) -> tuple[list[str] | None, list[str] | None, int | None]:
    """Return (names, units, line number) of the header above a data block."""
    index = region.lines[0] - 2  # 0-based index of the line above the data
    while index >= 0 and not lines[index].strip():
        index -= 1
    if index < 0:
        return None, None, None
    cells = _header_cells(lines[index], separator)
    if cells is None:
        cells = _numeric_sample_header(context, lines[index], index + 1, region, separator)
        return cells, None, (index + 1 if cells is not None else None)
    above = _header_cells(lines[index - 1], separator) if index >= 1 else None
    if above is not None and len(above) == len(cells) and all(
        len(cell) <= 12 for cell in cells
    ):
        return above, cells, index  # a row of names over a row of units
    return cells, None, index + 1


def _metadata(lines: list[str], stop: int) -> dict[str, str]:
    """Read "key: value", "#key=value" and "key,value" lines before the data."""
    metadata: dict[str, str] = {}
    for line in lines[:stop]:
        text = line.strip().strip('"').lstrip("#").strip()
        if not text:
            continue
        match = re.match(r"([^=:\t;,]{1,80}?)\s*(?:=|:|\t|;|,)\s*(.*)$", text)
        if match is None:
            continue
        key, value = match.group(1).strip(), match.group(2).strip().strip('"').strip()
        if key and key not in metadata and len(metadata) < 200:
            metadata[key] = value[:300]
    return metadata


def _normal_key(key: str) -> str:
    return re.sub(r"[^a-z0-9]", "", key.lower())


def _declared_count(metadata: dict[str, str]) -> tuple[str, int] | None:
    for key, value in metadata.items():
        if _normal_key(key) in _COUNT_KEYS:
            match = re.match(r"\s*(\d+)\b", value)
            if match:
                return key, int(match.group(1))
    return None


# ---------------------------------------------------------------------------------------
# Columns, units and values


def _column_names(names: list[str] | None, width: int, context: _Context,
                  header_line: int | None) -> list[str]:
    if names is None:
        return [f"column {i + 1}" for i in range(width)]
    if len(names) != width:
        context.warnings.append(
            f"The header (line {header_line}) names {len(names)} columns but the rows have "
            f"{width} values; names are matched to columns from the left"
            + (f" and {', '.join(repr(n) for n in names[width:])} left over."
               if len(names) > width else ".")
        )
    names = list(names[:width]) + [f"column {i + 1}" for i in range(len(names), width)]
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        name = name or "unnamed"
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _pick_column(context: _Context, choice, names: list[str], option: str) -> int:
    """Return the 0-based index of a column chosen by name or 1-based number."""
    if isinstance(choice, bool):
        choice = str(choice)
    if isinstance(choice, (int, np.integer)) or (isinstance(choice, str)
                                                 and choice.strip().isdigit()
                                                 and choice.strip() not in names):
        number = int(choice)
        if not 1 <= number <= len(names):
            raise context.error(
                f"the {option} option requests column {number}, but the file has "
                f"{len(names)} columns (numbered from 1).",
                hint=f"Columns: {', '.join(names)}.",
            )
        return number - 1
    wanted = str(choice).strip().lower()
    for index, name in enumerate(names):
        if name.strip().lower() == wanted:
            return index
    raise context.error(
        f"has no column named {str(choice)!r} (option {option}).",
        hint=f"Columns: {', '.join(names)}; give a name or a number counted from 1.",
    )


def _default_x_column(names: list[str], named: bool) -> int:
    if named:
        for index, name in enumerate(names):
            if _AXIS_NAMES.search(name) and not _INDEX_NAMES.match(name.strip()):
                return index
    return 0


def _axis_unit(
    context: _Context, axis_unit: str | None, metadata: dict[str, str], x_name: str | None,
    x: np.ndarray,
) -> str:
    """Return the axis unit: the option, a metadata key, the x header, or a guess."""
    if axis_unit:
        return axis_unit
    for key, value in metadata.items():
        if _normal_key(key) in ("xunits", "xunit", "xaxisunit", "xaxisunits", "wavelengthunit"):
            return axis_unit_from_label(value) or value.strip() or "unknown"
    if x_name:
        unit = axis_unit_from_label(x_name)
        if unit:
            return unit
        bracket = _BRACKET_UNIT.search(x_name)
        if bracket:
            return bracket.group(1)
        # The x values are finite here (_check_axis ran before).
        in_nm_range = 100 <= float(np.min(x)) and float(np.max(x)) <= 3000
        if re.search(r"wavelength", x_name, re.IGNORECASE) and in_nm_range:
            return "nm"
        if _OTHER_QUANTITIES.search(x_name):
            context.warnings.append(
                f"The x column {x_name!r} states no unit; the axis is labelled {x_name!r}. "
                f"Choose the unit in the import options if needed."
            )
            return x_name
    unit, warning = _guess_axis_unit(x)
    if warning:
        context.warnings.append(warning)
    return unit


def _y_unit(metadata: dict[str, str], y_name: str | None) -> str:
    for key, value in metadata.items():
        if _normal_key(key) in ("yunits", "yunit", "yaxisunit", "technique", "datatype"):
            lowered = value.strip().lower()
            for word in _Y_UNIT_WORDS:
                if word in lowered:
                    return word
    if y_name:
        lowered = y_name.lower()
        for word in _Y_UNIT_WORDS:
            if word in lowered:
                return word
        if re.search(r"%\s*t\b", lowered):
            return "%T"
    return ""


def _runs(indices: np.ndarray) -> list[tuple[int, int]]:
    """Group sorted indices into (first, last) runs of consecutive values."""
    runs = []
    start = previous = int(indices[0])
    for index in indices[1:]:
        index = int(index)
        if index != previous + 1:
            runs.append((start, previous))
            start = index
        previous = index
    runs.append((start, previous))
    return runs


def _mask_invalid(context: _Context, y: np.ndarray, x: np.ndarray, line_numbers: list[int],
                  name: str, sentinels: str) -> np.ndarray:
    """Mask sentinel values and report how many there are and where."""
    magnitude = np.abs(y)
    tiny = np.isclose(magnitude, _FLT_MIN, rtol=1e-4, atol=0)
    huge = magnitude >= _HUGE
    missing = np.isnan(y)
    invalid = tiny | huge | missing
    if not invalid.any():
        return y
    kinds = []
    if tiny.any():
        kinds.append(f"{int(tiny.sum())} × ±1.17549e-38 (±FLT_MIN)")
    if huge.any():
        kinds.append(f"{int(huge.sum())} × magnitude ≥ 9.9e37 (±FLT_MAX, 1e38, infinity)")
    if missing.any():
        kinds.append(f"{int(missing.sum())} missing (empty or NaN)")
    runs = _runs(np.flatnonzero(invalid))
    places = ", ".join(
        f"lines {line_numbers[a]}-{line_numbers[b]} (x {x[a]:g} to {x[b]:g})" if a != b
        else f"line {line_numbers[a]} (x {x[a]:g})"
        for a, b in runs[:5]
    )
    if len(runs) > 5:
        places += f" and {len(runs) - 5} more runs"
    count = int(invalid.sum())
    if sentinels == "keep":
        context.warnings.append(
            f"Column {name!r}: {count} of {y.size} points are values that instruments write "
            f"for clipped or invalid points ({'; '.join(kinds)}) at {places}. They are kept "
            f"as written (sentinels='keep'); crop or mask them before training."
        )
        return y
    context.warnings.append(
        f"Column {name!r}: {count} of {y.size} points are values that instruments write for "
        f"clipped or invalid points ({'; '.join(kinds)}) at {places}. They are masked as NaN "
        f"and are not data; crop them away or fill them before training, because later "
        f"steps need finite values."
    )
    masked = y.copy()
    masked[invalid] = np.nan
    return masked


def _check_axis(context: _Context, x: np.ndarray, line_numbers: list[int]) -> None:
    bad = ~np.isfinite(x) | (np.abs(x) >= _HUGE) | np.isclose(np.abs(x), _FLT_MIN, rtol=1e-4,
                                                              atol=0)
    if bad.any():
        index = int(np.flatnonzero(bad)[0])
        raise context.error(f"the x value {x[index]:g} is missing or invalid.",
                            line_numbers[index])
    if x.size < 2:
        return
    steps = np.diff(x)
    direction = np.sign(x[-1] - x[0])
    if direction == 0:
        raise context.error(
            f"the x column starts and ends at {x[0]:g}; it is not an axis.",
            line_numbers[0],
            hint="Choose the x column with the x_column option.",
        )
    backwards = np.flatnonzero(np.sign(steps) == -direction)
    if backwards.size:
        index = int(backwards[0])
        raise context.error(
            f"the x values turn back from {x[index]:g} to {x[index + 1]:g}; the axis must "
            f"run one way. The file may hold several spectra one after another, or its "
            f"rows are out of order.",
            line_numbers[index + 1],
            hint="Export one spectrum per file, or choose the x column with x_column.",
        )
    repeats = int(np.count_nonzero(steps == 0))
    if repeats:
        context.warnings.append(
            f"{repeats} x value(s) repeat the value before them (first at line "
            f"{line_numbers[int(np.flatnonzero(steps == 0)[0]) + 1]}); the file may round x "
            f"to too few digits."
        )


def _read_lines(context: _Context, path: Path) -> tuple[list[str], str]:
    """Read a file as text lines; return them and the encodings used."""
    raw = path.read_bytes()
    try:
        raw = _utf16_to_utf8(raw)
    except UnicodeDecodeError as error:
        raise context.error(f"starts as UTF-16 text but is not valid UTF-16 ({error}).",
                            hint="Save the export again as UTF-8 text.") from None
    if not raw.strip():
        raise context.error("the file is empty.", hint="Export the spectrum again.")
    if _looks_binary(raw):
        raise context.error("is a binary file, not text.",
                            hint="Open it with the instrument software and export text.")
    nul_count = raw.count(b"\x00")
    if nul_count:
        first = raw.index(b"\x00")
        line = raw.count(b"\n", 0, first) + 1
        context.warnings.append(
            f"Removed {nul_count} NUL bytes (the first at byte {first}, line {line})."
        )
        raw = raw.replace(b"\x00", b"")
    lines, encoding = _decode_lines(raw)
    if encoding != "utf-8":
        context.warnings.append(f"The file is not plain UTF-8; decoded as {encoding}.")
    return lines, encoding


def _check_markers(context: _Context, lines: list[str]) -> None:
    """Reject a file with a ">>>>>Begin ... <<<<<" data marker but no end marker."""
    begins = [i for i, line in enumerate(lines, 1) if _BEGIN_MARKER.match(line)]
    ends = [i for i, line in enumerate(lines, 1) if _END_MARKER.match(line)]
    if begins and not ends:
        raise context.error(
            f"has the data start marker {lines[begins[0] - 1].strip()!r} but no end "
            f"marker; the file is cut short.",
            len(lines),
        )


def _check_count(context: _Context, lines: list[str], region: _Region) -> None:
    """Compare the data rows with a point count that the metadata declares."""
    declared = _declared_count(_metadata(lines, region.lines[0] - 1))
    if declared is None:
        return
    key, count = declared
    rows = len(region.rows)
    if rows < count:
        raise context.error(
            f"contains {rows} data rows but its header declares {count} ({key}); the file "
            f"is cut short.",
            region.lines[-1],
        )
    if rows > count:
        context.warnings.append(
            f"The file contains {rows} data rows but its header declares {count} ({key})."
        )


def _with_unit(name: str, unit: str) -> str:
    """Join a column name and its unit: "Wave" and "[nm]" give "Wave [nm]"."""
    if not unit:
        return name
    return f"{name} {unit}" if unit.startswith(("(", "[")) else f"{name} ({unit})"


def _choose_columns(context: _Context, names: list[str], named: bool, column,
                    x_column) -> tuple[int, list[int]]:
    """Return the 0-based x column and intensity columns from the options or defaults."""
    x_index = (_pick_column(context, x_column, names, "x_column") if x_column is not None
               else _default_x_column(names, named))
    candidates = [i for i in range(len(names)) if i != x_index
                  and not (named and _INDEX_NAMES.match(names[i].strip()))]
    if not candidates:
        candidates = [i for i in range(len(names)) if i != x_index]
    if isinstance(column, str) and column.strip().lower() == "all":
        return x_index, candidates
    if column is not None:
        y_index = _pick_column(context, column, names, "column")
        if y_index == x_index:
            raise context.error(f"column {names[x_index]!r} is the x column.",
                                hint="Choose an intensity column with the column option.")
        return x_index, [y_index]
    after = [i for i in candidates if i > x_index]
    y_index = after[0] if after else candidates[0]
    if len(candidates) > 1:
        context.warnings.append(
            f"Read column {y_index + 1} {names[y_index]!r} as the spectrum (x from column "
            f"{x_index + 1} {names[x_index]!r}); the file has {len(names)} columns: "
            f"{', '.join(names)}. Choose another with the column option (a name, a number "
            f"counted from 1, or 'all')."
        )
    return x_index, [y_index]


def _without_blank_corner_row(lines: list[str], region: _Region, separator: str) -> _Region:
    """Drop a first row such as ``,1,2,3`` from a block: a header with an empty first cell.

    Excel and pandas write that header for a sheet with the axis in the
    first column and numbered samples, and it parses as a row of numbers
    with a missing first value.  `_find_header` then reads it as a header.
    """
    if len(region.rows) < 3:
        return region
    first = region.rows[0]
    cells = _split(lines[region.lines[0] - 1].strip(), separator)
    rest_x = [row[0] for row in region.rows[1:]]
    if (cells and not cells[0] and math.isnan(first[0])
            and all(math.isfinite(value) for value in first[1:])
            and all(math.isfinite(value) for value in rest_x)):
        return _Region(rows=region.rows[1:], lines=region.lines[1:])
    return region


def _read_region(context: _Context, lines: list[str], region: _Region, separator: str,
                 column, x_column, axis_unit: str | None, sentinels: str) -> list[dict]:
    """Return one spectrum (a dict of arrays and names) per chosen column of a block."""
    region = _without_blank_corner_row(lines, region, separator)
    names, units, header_line = _find_header(context, lines, region, separator)
    named = names is not None
    if column is None and named and _numbers_after_first(names):
        # Columns named 1, 2, 3 are numbered samples (`_numeric_sample_header`
        # found the first column to be the axis), so every column is a spectrum.
        column = "all"
    names = _column_names(names, region.width, context, header_line)
    if units is not None:
        units = units + [""] * len(names)
        names = [_with_unit(name, unit) for name, unit in zip(names, units)]
    table = np.asarray(region.rows, dtype=np.float64)  # (rows, columns)
    x_index, y_indices = _choose_columns(context, names, named, column, x_column)
    x = table[:, x_index]
    _check_axis(context, x, region.lines)
    metadata = _metadata(lines, region.lines[0] - 1)
    x_unit = _axis_unit(context, axis_unit, metadata, names[x_index] if named else None, x)
    spectra = []
    for y_index in y_indices:
        y = _mask_invalid(context, table[:, y_index], x, region.lines, names[y_index],
                          sentinels)
        spectra.append({
            "x": x, "y": y, "x_unit": x_unit,
            "y_unit": _y_unit(metadata, names[y_index] if named else None),
            "x_name": names[x_index], "y_name": names[y_index],
            "lines": region.span, "metadata": metadata,
        })
    return spectra


# ---------------------------------------------------------------------------------------
# The reader


def _sniff_region(text: str) -> tuple[_Region | None, int]:
    """Return the largest block of numeric rows in the text and the number of lines."""
    lines = text.splitlines()
    separator, decimal = _choose_dialect(lines)
    regions = _find_regions(lines, separator, decimal)
    if not regions:
        return None, len(lines)
    return max(regions, key=lambda r: len(r.rows)), len(lines)


def _runs_one_way(values) -> bool:
    steps = np.diff(np.asarray(values, dtype=np.float64))
    return steps.size > 0 and (bool(np.all(steps > 0)) or bool(np.all(steps < 0)))


class TextColumnsReader(Reader):
    """One spectrum per file in text columns (x, y, optionally more intensity columns)."""

    name = "Text columns (x, y)"
    extensions = (".csv", ".tsv", ".txt", ".dpt", ".prn", ".asp", ".csv2", ".dat", ".xy",
                  ".ssirrad", ".irrad", ".trm", ".abs", ".rfl", ".spe")

    def sniff(self, path: Path, head: bytes) -> int:
        head = _utf16_to_utf8(head, strict=False)
        if _looks_binary(head):
            return 0
        text = head.replace(b"\x00", b"").decode("utf-8", errors="replace")
        cut = len(head) >= SNIFF_BYTES and "\n" in text
        if cut:
            text = text[: text.rindex("\n")]  # drop the cut last line
        region, line_count = _sniff_region(text)
        if region is None or region.width < 2:
            return 12 if path.suffix.lower() in self.extensions else 0
        # Rows that run to the end of a full head continue beyond it.
        continues = cut and region.lines[-1] >= line_count - 1
        if len(region.rows) < MIN_ROWS and not continues:
            # One or two rows: more likely a small wide table than a spectrum.
            return 9
        if region.width > 64:
            return 20
        first_line = next((line for line in text.splitlines() if line.strip()), "")
        first_row = _parse_row(first_line, *_choose_dialect([first_line]))
        headerless = first_row is not None and len(first_row) == region.width
        if (headerless and region.width >= 8 and len(region.rows) >= MIN_ROWS
                and _runs_one_way([row[0] for row in region.rows])
                and not _runs_one_way(first_row)):
            # The wide-table reader would take the numeric first line as an axis, but
            # x runs down the first column here, so the first line is a data row.
            return 65
        return 50

    def read(
        self,
        path: Path,
        column=None,
        x_column=None,
        axis_unit: str | None = None,
        sentinels: str = "mask",
        **options,
    ) -> ReadResult:
        """Read the spectrum (or spectra) of a text column file.

        Parameters
        ----------
        column
            The intensity column: its header name, or its number counted from 1
            (the x column included); ``"all"`` reads every column other than x
            as a spectrum.  Default: the first column after the x column.
        x_column
            The x column by name or number; default: the first column, or the
            column the header names as the axis.
        axis_unit
            Overrides the unit found in the file ("cm-1", "nm", ...).
        sentinels
            ``"mask"`` (default) sets clipped-point values to NaN; ``"keep"``
            keeps them as written.  Both report them in the warnings.

        Raises
        ------
        ReadError
            When no block of numeric rows is found, rows are ragged, the
            x column turns back, the file has fewer rows than it declares,
            or an option names a missing column.
        """
        path = Path(path)
        context = _Context(path)
        if sentinels not in ("mask", "keep"):
            raise context.error(f"sentinels={sentinels!r} is not valid.",
                                hint="Use 'mask' or 'keep'.")
        lines, encoding = _read_lines(context, path)
        separator, decimal = _choose_dialect(lines)
        regions = _select_regions(context, _find_regions(lines, separator, decimal), lines)
        log.debug("%s: %s-separated, decimal %r, data in %s", path,
                  _SEPARATOR_NAMES[separator], decimal, ", ".join(r.span for r in regions))
        _check_markers(context, lines)

        spectra = []
        for region in regions:
            spectra.extend(_read_region(
                context, lines, region, separator, column, x_column, axis_unit, sentinels
            ))
        if len(regions) == 1:
            _check_count(context, lines, regions[0])
        datasets = _group(path, spectra)
        for dataset in datasets:
            dataset.metadata["encoding"] = encoding
        chosen = spectra[0]
        fmt = (f"{self.name} ({_SEPARATOR_NAMES[separator]}-separated, decimal "
               f"{'comma' if decimal == ',' else 'point'}; x = {chosen['x_name']!r}, "
               f"y = {', '.join(repr(s['y_name']) for s in spectra[:4])}"
               f"{' ...' if len(spectra) > 4 else ''})")
        return ReadResult(datasets, fmt, context.warnings, str(path))

def _group(path: Path, spectra: list[dict]) -> list[SpectralDataset]:
    """Put consecutive spectra on one axis into one data set each, in file order."""
    groups: list[list[dict]] = []
    for spectrum in spectra:
        last = groups[-1][-1] if groups else None
        if (last is not None and last["x"].shape == spectrum["x"].shape
                and np.array_equal(last["x"], spectrum["x"])
                and last["x_unit"] == spectrum["x_unit"]):
            groups[-1].append(spectrum)
        else:
            groups.append([spectrum])
    if len(spectra) == 1:
        ids = [path.stem]
    else:
        labels = [f"{s['y_name']}" for s in spectra]
        if len(set(labels)) != len(labels):
            labels = [f"{s['y_name']} ({s['lines']})" for s in spectra]
        ids = [f"{path.stem}: {label}" for label in labels]
    datasets = []
    position = 0
    for group in groups:
        first = group[0]
        metadata = {str(k): str(v) for k, v in list(first["metadata"].items())[:200]}
        metadata.update({"source": path.name, "x column": first["x_name"],
                         "column": ", ".join(s["y_name"] for s in group)[:500]})
        try:
            datasets.append(SpectralDataset(
                axis=first["x"],
                spectra=np.vstack([s["y"] for s in group]),
                axis_unit=first["x_unit"],
                sample_ids=ids[position:position + len(group)],
                metadata=metadata,
                y_unit=first["y_unit"],
                name=path.stem,
            ))
        except SpecganError as error:
            raise ReadError(path, str(error)) from None
        position += len(group)
    return datasets


register(TextColumnsReader())
