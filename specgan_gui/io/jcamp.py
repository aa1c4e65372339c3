"""JCAMP-DX 4.24 and 5.01 spectra (.jdx, .dx, .jcm).

A JCAMP-DX file is a list of labelled data records (``##LABEL= value``).
This reader handles:

- ``##XYDATA=(X++(Y..Y))`` in plain numbers (AFFN, also with exponents such
  as ``9e-04``) and in every ASDF compression form (SQZ, DIF, DUP, PAC);
- ``##XYPOINTS=(XY..XY)`` and ``##PEAK TABLE=(XY..XY)``, which are read as
  point lists; a peak table is returned with a warning that labels it as such;
- ``##XFACTOR``/``##YFACTOR``, ``##FIRSTX``/``##LASTX``/``##DELTAX``,
  ``##NPOINTS``;
- LINK files (``##DATA TYPE= LINK`` with nested blocks): one spectrum per
  block, grouped into one `SpectralDataset` per axis, in file order;
- ``##NTUPLES`` with ``##PAGE`` and ``##DATA TABLE``: one spectrum per page,
  except for complex NMR data, where only the real page is returned.

Labels are matched after removing spaces, dashes, slashes and underscores,
as the standard prescribes, so ``##DATATYPE=`` equals ``##DATA TYPE=``.
``$$`` starts a comment anywhere on a line.

Damaged files are rejected, never returned short.  The checks are: the
Y-check value that starts each line after a line in DIF form must repeat
the last value decoded; the x value that starts each line must match the
axis built from ##FIRSTX, ##LASTX and the point count; the point count
must equal ##NPOINTS (or the count implied by ##FIRSTX, ##LASTX and
##DELTAX); and the first value must agree with ##FIRSTY.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import ReadError, SpecganError
from specgan_gui.io.base import ReadResult, Reader, axis_unit_from_label, register

log = logging.getLogger(__name__)

# ASDF characters (JCAMP-DX 4.24, section 5.9) encode a leading digit and its sign.
#  SQZ starts an absolute value, DIF a difference to the previous value,
# DUP a repeat count of the previous token.
_SQZ = {"@": 0, **{c: i + 1 for i, c in enumerate("ABCDEFGHI")},
        **{c: -(i + 1) for i, c in enumerate("abcdefghi")}}
_DIF = {"%": 0, **{c: i + 1 for i, c in enumerate("JKLMNOPQR")},
        **{c: -(i + 1) for i, c in enumerate("jklmnopqr")}}
_DUP = {**{c: i + 1 for i, c in enumerate("STUVWXYZ")}, "s": 9}

# A block of data lines is compressed when a line contains one of these characters.
# E and e are left out because plain numbers use them as exponent markers ("9e-04").
_COMPRESSION_MARKERS = frozenset(set(_SQZ) | set(_DIF) | set(_DUP)) - {"E", "e"}
_ASDF_TOKEN = re.compile(r"[@A-Ia-i%J-Rj-rS-Zs+\-][0-9.]*|[0-9.]+|\?|[ \t,;]+|.")
_AFFN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|\?")
_AFFN_SEPARATORS = re.compile(r"[\s,;]*")
_LEADING_X_PLAIN = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
# In compressed lines "4274E37" is x = 4274 followed by the SQZ value E37.
_LEADING_X_COMPRESSED = re.compile(r"\s*([+-]?(?:\d+\.?\d*|\.\d+))")
_XYDATA_FORM = re.compile(r"\(\s*([A-Z])\s*\+\+\s*\(\s*([A-Z])\s*\.\.\s*\2\s*\)")
_POINTS_FORM = re.compile(r"\(\s*([A-Z]{2,4})\s*\.\.\s*\1\s*\)")

_DATA_KEYS = ("XYDATA", "XYPOINTS", "PEAKTABLE", "DATATABLE")
_Y_UNITS = ("absorbance", "transmittance", "reflectance", "kubelka-munk", "counts",
            "arbitrary units", "log(1/r)", "emission")

#: Upper limit of points per spectrum, so that a damaged DUP count cannot exhaust memory
#: (1D NMR spectra, the longest in practice, have up to about 2**20 points).
MAX_POINTS = 5_000_000


def _label_key(label: str) -> str:
    """Return the standard comparison form of a label: upper case, no separators."""
    return re.sub(r"[\s\-/_]", "", label).upper()


def _strip_comment(text: str) -> str:
    index = text.find("$$")
    return text if index < 0 else text[:index]


@dataclass
class _Record:
    key: str
    label: str
    value: str
    line: int
    #: Continuation lines (line number, text without comment) up to the next label.
    lines: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _Page:
    title: str
    line: int
    params: dict[str, _Record] = field(default_factory=dict)


@dataclass
class _Block:
    title: str
    line: int
    params: dict[str, _Record] = field(default_factory=dict)
    data: list[tuple[_Record, _Page | None]] = field(default_factory=list)
    pages: list[_Page] = field(default_factory=list)
    closed: bool = False
    parent: _Block | None = None

    @property
    def is_link(self) -> bool:
        kind = self.text("DATATYPE").upper().replace(" ", "")
        return kind == "LINK" or "BLOCKS" in self.params

    def text(self, key: str, page: _Page | None = None) -> str:
        if page is not None and key in page.params:
            return page.params[key].value
        record = self.params.get(key)
        return record.value if record is not None else ""


@dataclass
class _Spectrum:
    x: np.ndarray
    y: np.ndarray
    title: str
    x_unit: str
    y_unit: str
    kind: str  # "XYDATA", "XYPOINTS" or "PEAK TABLE"
    line: int
    metadata: dict[str, str]


class _Context:
    """The file being read, so that helpers can raise errors that name it."""

    def __init__(self, path: Path):
        self.path = path
        self.warnings: list[str] = []
        #: Whether the file ends with a line break; a file cut short usually does not.
        self.ends_with_newline = True

    def error(self, problem: str, line: int | None = None, hint: str = "") -> ReadError:
        location = f"line {line}" if line is not None else ""
        return ReadError(
            self.path, problem, location=location,
            hint=hint or "The file is damaged or incomplete; export it again from the "
            "instrument software.",
        )


# ---------------------------------------------------------------------------------------
# Records and blocks


def _decode_lines(context: _Context, raw: bytes) -> list[str]:
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        line = raw.count(b"\n", 0, offset) + 1
        raise context.error("contains NUL bytes, which JCAMP-DX text never has.", line)
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark would hide the first ##TITLE=
    lines = []
    for raw_line in raw.split(b"\n"):
        try:
            lines.append(raw_line.decode("utf-8"))
        except UnicodeDecodeError:
            # JCAMP-DX is ASCII; vendor comments are often Latin-1.
            lines.append(raw_line.decode("latin-1"))
    return [line.rstrip("\r") for line in lines]


def _parse_records(lines: list[str]) -> list[_Record]:
    records: list[_Record] = []
    current: _Record | None = None
    for number, line in enumerate(lines, start=1):
        stripped = line.lstrip()
        if stripped.startswith("##"):
            body = stripped[2:]
            label, _, value = body.partition("=")
            current = _Record(
                key=_label_key(label) if not label.startswith(("$", ".")) else label.upper(),
                label=label.strip(),
                value=_strip_comment(value).strip(),
                line=number,
            )
            records.append(current)
        elif stripped.startswith("$$") or not stripped.strip():
            continue
        elif current is not None:
            text = _strip_comment(line).strip()
            if text:
                current.lines.append((number, text))
    return records


def _build_blocks(context: _Context, records: list[_Record]) -> list[_Block]:
    """Group records into blocks (##TITLE to ##END) and pages; return blocks in file order."""
    blocks: list[_Block] = []
    stack: list[_Block] = []
    for record in records:
        key = record.key
        if key == "TITLE":
            parent = stack[-1] if stack else None
            if parent is not None and not parent.is_link:
                # A new block starts inside a block that never ended (spliced or cut file).
                context.warnings.append(
                    f"Block {parent.title!r} (line {parent.line}) has no ##END= record "
                    f"before the next ##TITLE= at line {record.line}."
                )
                stack.pop()
                parent = stack[-1] if stack else None
            block = _Block(title=record.value, line=record.line, parent=parent)
            blocks.append(block)
            stack.append(block)
            continue
        if key == "END":
            if stack:
                stack.pop().closed = True
            continue
        if not stack:
            if blocks:
                raise context.error(
                    f"the record ##{record.label}= follows the ##END= of the last block "
                    f"without a new ##TITLE=; records are out of place.",
                    record.line,
                )
            # Some writers start with ##JCAMP-DX= or ##XYDATA= and have no ##TITLE=.
            block = _Block(title="", line=record.line)
            blocks.append(block)
            stack.append(block)
        block = stack[-1]
        if key in _DATA_KEYS:
            page = block.pages[-1] if block.pages else None
            block.data.append((record, page))
        elif key == "PAGE":
            block.pages.append(_Page(title=record.value, line=record.line))
        elif block.pages and key != "ENDNTUPLES":
            block.pages[-1].params.setdefault(key, record)
        else:
            block.params.setdefault(key, record)
    return blocks


# ---------------------------------------------------------------------------------------
# Numbers


def _number(context: _Context, text: str, what: str, line: int | None) -> float:
    try:
        value = float(text.strip().replace("D", "E"))
    except ValueError:
        raise context.error(f"{what} {text.strip()!r} is not a number.", line) from None
    if not math.isfinite(value):
        raise context.error(f"{what} {text.strip()!r} is not a finite number.", line)
    return value


def _optional_number(context: _Context, block: _Block, key: str, page: _Page | None = None):
    record = page.params.get(key) if page is not None else None
    record = record or block.params.get(key)
    if record is None or not record.value:
        return None
    return _number(context, record.value, f"##{record.label}=", record.line)


def _last_digit_unit(token: str) -> float:
    """Return the value of one unit in the last written digit of a number token."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    power = int(exponent) if exponent.lstrip("+-").isdigit() else 0
    return 10.0 ** min(power - decimals, 300)


# ---------------------------------------------------------------------------------------
# XYDATA decoding


@dataclass
class _Axis:
    """Axis facts from the header, in real units (already multiplied by XFACTOR)."""

    first: float | None
    last: float | None
    delta: float | None
    npoints: int | None
    xfactor: float
    yfactor: float
    first_y: float | None

    def expected_count(self) -> int | None:
        if self.npoints is not None:
            return self.npoints
        if None not in (self.first, self.last, self.delta) and self.delta != 0:
            return int(round((self.last - self.first) / self.delta)) + 1
        return None

    def step_for(self, count: int) -> float | None:
        """Return the x step between points when the axis has `count` points."""
        if self.first is not None and self.last is not None and count > 1:
            return (self.last - self.first) / (count - 1)
        return self.delta


def _asdf_tokens(context: _Context, text: str, line: int) -> list[tuple[str, str]]:
    tokens = []
    for match in _ASDF_TOKEN.finditer(text):
        token = match.group()
        first = token[0]
        if first in " \t,;":
            continue
        if first == "?":
            tokens.append(("missing", ""))
        elif first.isdigit() or first == ".":
            tokens.append(("abs", token))
        elif first in "+-":
            tokens.append(("abs", token))
        elif first in _SQZ:
            tokens.append(("abs", f"{_SQZ[first]}{token[1:]}"))
        elif first in _DIF:
            tokens.append(("dif", f"{_DIF[first]}{token[1:]}"))
        elif first in _DUP:
            tokens.append(("dup", f"{_DUP[first]}{token[1:]}"))
        else:
            raise context.error(
                f"the character {first!r} is not valid in compressed (ASDF) data.", line
            )
    return tokens


def _asdf_value(context: _Context, text: str, line: int) -> float:
    # _asdf_tokens writes an SQZ or DIF character as its signed digit followed by the
    # remaining digits, so "j23" arrives here as "-123", which float() reads directly.
    return _number(context, text, "the value", line)


def _decode_xydata(
    context: _Context, lines: list[tuple[int, str]], axis: _Axis, label_line: int
) -> np.ndarray:
    """Decode (X++(Y..Y)) lines into raw y values (not yet multiplied by YFACTOR)."""
    compressed = any(_COMPRESSION_MARKERS.intersection(text) for _, text in lines)
    leading_x = _LEADING_X_COMPRESSED if compressed else _LEADING_X_PLAIN
    expected = axis.expected_count()
    limit = min(expected, MAX_POINTS) if expected is not None else MAX_POINTS
    values: list[float] = []
    # (line, x token, x value, index of the point the x value belongs to) per line
    line_starts: list[tuple[int, str, float, int]] = []
    check_pending = False  # the previous line ended in DIF form, so a Y-check follows

    for number, text in lines:
        match = leading_x.match(text)
        if match is None:
            raise context.error(
                f"the data line {text[:40]!r} does not start with an x value.", number
            )
        x_token = match.group(1)
        x_value = _number(context, x_token, "the x value", number)
        rest = text[match.end():]
        if compressed:
            tokens = _asdf_tokens(context, rest, number)
        else:
            tokens = _affn_tokens(context, rest, number)
        if not tokens:
            continue
        first_index = len(values)
        if check_pending and tokens[0][0] == "abs":
            check = _asdf_value(context, tokens[0][1], number)
            previous = values[-1]
            if abs(check - previous) > 1e-6 * max(1.0, abs(previous)):
                raise context.error(
                    f"the Y-check value {check:g} at the start of the line differs from "
                    f"the last value decoded from the line before ({previous:g}); the data "
                    f"are damaged or a line is missing.",
                    number,
                )
            tokens = tokens[1:]
            first_index -= 1
        if expected is not None:
            _check_abscissa(context, x_token, x_value, first_index, axis,
                            axis.step_for(expected), number)
        else:
            line_starts.append((number, x_token, x_value, first_index))
        check_pending = _expand_tokens(context, tokens, values, number, limit)
    if not values:
        raise context.error("the data table contains no values.", label_line)
    if line_starts:
        # Without a declared count the step is known only now.  Without ##FIRSTX= the
        # first line's x value starts the axis, as in _axis_values.
        first = axis.first if axis.first is not None else line_starts[0][2] * axis.xfactor
        implied = _Axis(first, axis.last, axis.delta, None, axis.xfactor, axis.yfactor, None)
        step = implied.step_for(len(values))
        for number, x_token, x_value, index in line_starts:
            _check_abscissa(context, x_token, x_value, index, implied, step, number)
    return np.asarray(values, dtype=np.float64)


def _affn_tokens(context: _Context, text: str, line: int) -> list[tuple[str, str]]:
    tokens = []
    position = 0
    for match in _AFFN_NUMBER.finditer(text):
        gap = text[position:match.start()]
        if _AFFN_SEPARATORS.fullmatch(gap) is None:
            raise context.error(f"unexpected text {gap.strip()[:20]!r} between values.", line)
        position = match.end()
        token = match.group()
        tokens.append(("missing", "") if token == "?" else ("abs", token))
    if _AFFN_SEPARATORS.fullmatch(text[position:]) is None:
        raise context.error(
            f"unexpected text {text[position:].strip()[:20]!r} after the values.", line
        )
    return tokens


def _expand_tokens(
    context: _Context,
    tokens: list[tuple[str, str]],
    values: list[float],
    line: int,
    limit: int,
) -> bool:
    """Append the values of one line; return whether the line ended in DIF form."""
    last_kind = "abs"
    last_difference = 0.0
    for kind, text in tokens:
        if kind == "abs":
            values.append(_asdf_value(context, text, line))
            last_kind = "abs"
        elif kind == "missing":
            values.append(math.nan)
            last_kind = "abs"
        elif kind == "dif":
            if not values or math.isnan(values[-1]):
                raise context.error("a DIF value has no value before it to add to.", line)
            last_difference = _asdf_value(context, text, line)
            values.append(values[-1] + last_difference)
            last_kind = "dif"
        else:  # dup: the previous token occurs `count` times in all
            if not values:
                raise context.error("a DUP count has no value before it to repeat.", line)
            if not text.isdigit() or int(text) < 1:
                raise context.error(f"the DUP count {text!r} is not a positive integer.", line)
            repeats = int(text) - 1
            if len(values) + repeats > limit:
                raise _too_many(context, len(values) + repeats, limit, line)
            if last_kind == "dif":
                start = values[-1]
                values.extend(start + last_difference * k for k in range(1, repeats + 1))
            else:
                values.extend([values[-1]] * repeats)
            continue
        if len(values) > limit:
            raise _too_many(context, len(values), limit, line)
    return last_kind == "dif"


def _too_many(context: _Context, count: int, limit: int, line: int) -> ReadError:
    if limit == MAX_POINTS:
        return context.error(f"the data expand to more than {MAX_POINTS} points.", line)
    return context.error(
        f"the data hold more points than the {limit} the header declares (at least "
        f"{count} by this line).",
        line,
    )


def _check_abscissa(
    context: _Context,
    x_token: str,
    x_value: float,
    index: int,
    axis: _Axis,
    step: float | None,
    line: int,
) -> None:
    """Compare the x value that starts a line with the axis the header defines."""
    if axis.first is None or step is None:
        return
    expected = axis.first + index * step
    actual = x_value * axis.xfactor
    # Writers round or truncate the line's x value to the digits they print.
    tolerance = 0.5 * abs(step) + abs(axis.xfactor) * _last_digit_unit(x_token)
    tolerance += 1e-9 * max(abs(expected), abs(actual))
    # Some writers print real x values on the lines although ##XFACTOR= is not 1.
    unscaled_fits = abs(x_value - expected) <= 0.5 * abs(step) + _last_digit_unit(x_token)
    if abs(actual - expected) > tolerance and not unscaled_fits:
        raise context.error(
            f"the line starts at x = {actual:g} but point {index + 1} lies at x = "
            f"{expected:g} by ##FIRSTX=, ##LASTX= and the point count; lines are missing, "
            f"out of order or from another file.",
            line,
        )


def _check_count(context: _Context, count: int, axis: _Axis, record: _Record, source: str):
    expected = axis.expected_count()
    if expected is not None and count != expected:
        raise context.error(
            f"the data hold {count} points but {source} declares {expected}; the file is "
            f"truncated or damaged.",
            record.line,
        )


def _check_first_y(context: _Context, y: np.ndarray, axis: _Axis, record: _Record) -> None:
    if axis.first_y is None or y.size == 0 or math.isnan(y[0]):
        return
    tolerance = max(1e-3 * abs(axis.first_y), abs(axis.yfactor), 1e-12)
    if abs(y[0] - axis.first_y) > tolerance:
        raise context.error(
            f"the first decoded value {y[0]:g} disagrees with ##FIRSTY= {axis.first_y:g}; "
            f"the data are damaged.",
            record.line + 1,
        )


def _check_y_range(context: _Context, y: np.ndarray, block: _Block, record: _Record) -> None:
    """Warn about values far outside the ##MINY=/##MAXY= range that the header states.

    This is a warning, not an error, because real files disagree with their own
    limits: a block of a public LINK test file states 10.41 to 63.94 while its
    data and ##FIRSTY= give 0.378, a YFACTOR 100 times too small.  Writers also
    round the limits, so only values beyond 10 % of the range count.
    """
    low = _optional_number(context, block, "MINY")
    high = _optional_number(context, block, "MAXY")
    if low is None or high is None or high < low or not np.isfinite(y).any():
        return
    slack = 0.1 * (high - low) + 1e-12 * max(abs(low), abs(high))
    outside = np.flatnonzero((y < low - slack) | (y > high + slack))
    if outside.size:
        index = int(outside[0])
        context.warnings.append(
            f"Block {block.title!r}: {outside.size} values lie far outside the range "
            f"##MINY= {low:g} to ##MAXY= {high:g} that the header states (the first is "
            f"point {index + 1}, {y[index]:g}); ##YFACTOR= or the data may be wrong."
        )


def _axis_values(context: _Context, axis: _Axis, count: int, lines, record: _Record):
    first, last = axis.first, axis.last
    if first is None and lines:
        # Without ##FIRSTX= the first line's x value (times XFACTOR) starts the axis.
        match = _LEADING_X_PLAIN.match(lines[0][1])
        if match is not None:
            first = _number(context, match.group(1), "the x value", lines[0][0]) * axis.xfactor
    if first is None:
        raise context.error("the block has no ##FIRSTX= record.", record.line,
                            hint="Add ##FIRSTX= or export the file again.")
    if last is None and axis.delta is not None:
        last = first + (count - 1) * axis.delta
    if last is None:
        if count == 1:
            return np.array([first])
        raise context.error(
            "the block has neither ##LASTX= nor ##DELTAX=, so the x axis is unknown.",
            record.line, hint="Add ##LASTX= or export the file again.",
        )
    return np.linspace(first, last, count)


# ---------------------------------------------------------------------------------------
# Spectra from blocks


def _axis_from_block(context: _Context, block: _Block) -> _Axis:
    npoints = _optional_number(context, block, "NPOINTS")
    if npoints is not None and (npoints < 1 or npoints != int(npoints) or npoints > MAX_POINTS):
        raise context.error(f"##NPOINTS= {npoints:g} is not a valid point count.",
                            block.params["NPOINTS"].line)
    return _Axis(
        first=_optional_number(context, block, "FIRSTX"),
        last=_optional_number(context, block, "LASTX"),
        delta=_optional_number(context, block, "DELTAX"),
        npoints=int(npoints) if npoints is not None else None,
        xfactor=_optional_number(context, block, "XFACTOR") or 1.0,
        yfactor=_optional_number(context, block, "YFACTOR") or 1.0,
        first_y=_optional_number(context, block, "FIRSTY"),
    )


def _x_unit(text: str) -> str:
    text = text.strip()
    return axis_unit_from_label(text) or text or "unknown"


def _y_unit(text: str) -> str:
    text = text.strip()
    if text.lower() in _Y_UNITS:
        return text.lower()
    return text


def _block_metadata(block: _Block) -> dict[str, str]:
    metadata = {}
    for key, record in block.params.items():
        if key.startswith("$") or key in ("XFACTOR", "YFACTOR", "FIRSTX", "LASTX", "DELTAX"):
            continue
        value = " ".join([record.value] + [text for _, text in record.lines]).strip()
        if value:
            metadata[record.label.lower()] = value[:500]
    return metadata


def _spectrum_from_xydata(context: _Context, block: _Block, record: _Record) -> _Spectrum:
    axis = _axis_from_block(context, block)
    raw = _decode_xydata(context, record.lines, axis, record.line)
    _check_count(context, raw.size, axis, record,
                 "##NPOINTS=" if axis.npoints is not None else "##FIRSTX=/##LASTX=/##DELTAX=")
    y = raw * axis.yfactor
    _check_first_y(context, y, axis, record)
    _check_y_range(context, y, block, record)
    x = _axis_values(context, axis, raw.size, record.lines, record)
    return _Spectrum(
        x=x, y=y, title=block.title, x_unit=_x_unit(block.text("XUNITS")),
        y_unit=_y_unit(block.text("YUNITS")), kind="XYDATA", line=record.line,
        metadata=_block_metadata(block),
    )


def _decode_points(context: _Context, record: _Record, stride: int) -> np.ndarray:
    """Decode (XY..XY) lines into an array of shape (points, stride)."""
    numbers: list[float] = []
    last_line = record.line
    for number, text in record.lines:
        if _COMPRESSION_MARKERS.intersection(text.replace("e", "").replace("E", "")):
            raise context.error(
                "the point list uses compressed (ASDF) characters, which (XY..XY) tables "
                "do not allow.", number,
            )
        for kind, token in _affn_tokens(context, text, number):
            numbers.append(math.nan if kind == "missing" else
                           _number(context, token, "the value", number))
        last_line = number
        if len(numbers) > MAX_POINTS * stride:
            raise context.error(f"the table contains more than {MAX_POINTS} points.", number)
    if not numbers:
        raise context.error("the point table contains no values.", record.line)
    if len(numbers) % stride:
        raise context.error(
            f"the point table contains {len(numbers)} numbers, not a whole number of "
            f"{stride}-value groups; the last group is incomplete.",
            last_line,
        )
    return np.asarray(numbers, dtype=np.float64).reshape(-1, stride)


def _spectrum_from_points(context: _Context, block: _Block, record: _Record) -> _Spectrum:
    form = record.value.upper().replace(" ", "")
    match = _POINTS_FORM.match(form)
    if match is None:
        raise context.error(f"the table form {record.value!r} is not supported.", record.line,
                            hint="Supported forms are (XY..XY), (XYW..XYW) and (XYM..XYM).")
    axis = _axis_from_block(context, block)
    table = _decode_points(context, record, len(match.group(1)))
    _check_count(context, table.shape[0], axis, record, "##NPOINTS=")
    x = table[:, 0] * axis.xfactor
    y = table[:, 1] * axis.yfactor
    if np.isnan(x).any():
        raise context.error("an x value in the point table is missing ('?').", record.line)
    kind = "PEAK TABLE" if record.key == "PEAKTABLE" else "XYPOINTS"
    return _Spectrum(
        x=x, y=y, title=block.title, x_unit=_x_unit(block.text("XUNITS")),
        y_unit=_y_unit(block.text("YUNITS")), kind=kind, line=record.line,
        metadata=_block_metadata(block),
    )


class _NtupleTable:
    """The comma-separated ##NTUPLES lists (##SYMBOL=, ##FACTOR=, ...) of one block."""

    KEYS = ("VARNAME", "SYMBOL", "VARTYPE", "VARFORM", "VARDIM", "UNITS", "FIRST", "LAST",
            "FACTOR")

    def __init__(self, context: _Context, block: _Block):
        self.context = context
        self.lists: dict[str, list[str]] = {}
        for key in self.KEYS:
            record = block.params.get(key)
            if record is not None:
                text = " ".join([record.value] + [t for _, t in record.lines])
                self.lists[key] = [entry.strip() for entry in text.split(",")]
        self.symbols = [symbol.upper() for symbol in self.lists.get("SYMBOL", [])]
        if not self.symbols:
            raise context.error("the ##NTUPLES= block has no ##SYMBOL= record.",
                                block.params["NTUPLES"].line)

    def item(self, key: str, symbol: str) -> str:
        """Return the entry of list `key` for a variable symbol, or "" when missing."""
        values = self.lists.get(key, [])
        index = self.symbols.index(symbol)
        return values[index] if index < len(values) else ""

    def number(self, key: str, symbol: str, line: int) -> float | None:
        text = self.item(key, symbol)
        if not text:
            return None
        return _number(self.context, text, f"##{key}= entry for {symbol}", line)


def _ntuple_page(
    context: _Context, block: _Block, table: _NtupleTable, record: _Record, page: _Page | None
) -> _Spectrum:
    """Decode one ##DATA TABLE= of an NTUPLES block into a spectrum."""
    form = record.value.upper().replace(" ", "")
    xy_match = _XYDATA_FORM.match(form)
    points_match = _POINTS_FORM.match(form)
    if xy_match:
        x_symbol, y_symbol = xy_match.groups()
    elif points_match:
        x_symbol, y_symbol = points_match.group(1)[0], points_match.group(1)[1]
    else:
        raise context.error(f"the data table form {record.value!r} is not supported.",
                            record.line)
    for symbol in (x_symbol, y_symbol):
        if symbol not in table.symbols:
            raise context.error(f"the data table uses the symbol {symbol!r}, which "
                                f"##SYMBOL= does not list.", record.line)

    # A page's own ##NPOINTS=, ##FIRSTX= and ##LASTX= take precedence over the lists.
    npoints = _optional_number(context, block, "NPOINTS", page)
    if npoints is None and xy_match:
        npoints = table.number("VARDIM", x_symbol, record.line)
    if npoints is not None and (npoints < 1 or npoints != int(npoints) or npoints > MAX_POINTS):
        raise context.error(f"the point count {npoints:g} is not valid.", record.line)
    page_params = page.params if page is not None else {}
    first = (_optional_number(context, block, "FIRSTX", page) if "FIRSTX" in page_params
             else table.number("FIRST", x_symbol, record.line))
    last = (_optional_number(context, block, "LASTX", page) if "LASTX" in page_params
            else table.number("LAST", x_symbol, record.line))
    axis = _Axis(
        first=first,
        last=last,
        delta=None,
        npoints=int(npoints) if npoints is not None else None,
        xfactor=table.number("FACTOR", x_symbol, record.line) or 1.0,
        yfactor=table.number("FACTOR", y_symbol, record.line) or 1.0,
        first_y=table.number("FIRST", y_symbol, record.line),
    )

    if xy_match:
        raw = _decode_xydata(context, record.lines, axis, record.line)
        _check_count(context, raw.size, axis, record, "##VAR_DIM=/##NPOINTS=")
        y = raw * axis.yfactor
        _check_first_y(context, y, axis, record)
        x = _axis_values(context, axis, raw.size, record.lines, record)
        kind = "XYDATA"
    else:
        points = _decode_points(context, record, len(points_match.group(1)))
        _check_count(context, points.shape[0], axis, record, "##NPOINTS=")
        x = points[:, 0] * axis.xfactor
        y = points[:, 1] * axis.yfactor
        kind = "PEAK TABLE" if "PEAK" in form else "XYPOINTS"
    page_title = page.title if page is not None else ""
    metadata = _block_metadata(block)
    metadata["page"] = page_title
    metadata["variable"] = table.item("VARNAME", y_symbol)
    return _Spectrum(
        x=x, y=y, title=f"{block.title} {page_title}".strip(),
        x_unit=_x_unit(table.item("UNITS", x_symbol)),
        y_unit=_y_unit(table.item("UNITS", y_symbol)),
        kind=kind, line=record.line, metadata=metadata,
    )


def _spectra_from_ntuples(context: _Context, block: _Block) -> list[_Spectrum]:
    """Return one spectrum per page, leaving out the imaginary pages of complex data."""
    table = _NtupleTable(context, block)
    spectra = [
        _ntuple_page(context, block, table, record, page)
        for record, page in block.data
        if record.key == "DATATABLE"
    ]
    imaginary = [s for s in spectra if "IMAG" in s.metadata["variable"].upper()]
    if imaginary and len(imaginary) < len(spectra):
        context.warnings.append(
            f"Complex data: the real page is returned and the {len(imaginary)} imaginary "
            f"page(s) ({', '.join(s.metadata['page'] for s in imaginary)}) are left out; "
            f"they were decoded and checked."
        )
        spectra = [s for s in spectra if not any(s is i for i in imaginary)]
    return spectra


def _spectra_from_block(context: _Context, block: _Block) -> list[_Spectrum]:
    if "NTUPLES" in block.params:
        return _spectra_from_ntuples(context, block)
    spectra = []
    for record, _ in block.data:
        form = record.value.upper().replace(" ", "")
        if record.key == "XYDATA" and _XYDATA_FORM.match(form):
            spectra.append(_spectrum_from_xydata(context, block, record))
        elif record.key == "XYDATA" and _POINTS_FORM.match(form):
            spectra.append(_spectrum_from_points(context, block, record))
        elif record.key in ("XYPOINTS", "PEAKTABLE"):
            spectra.append(_spectrum_from_points(context, block, record))
        else:
            raise context.error(
                f"the data form ##{record.label}= {record.value!r} is not supported.",
                record.line, hint="Supported: ##XYDATA=(X++(Y..Y)), ##XYPOINTS=(XY..XY), "
                "##PEAK TABLE=(XY..XY) and ##NTUPLES pages.",
            )
    return spectra


def _check_structure(context: _Context, blocks: list[_Block]) -> None:
    for block in blocks:
        if not block.data and "SPECTRUM" in block.text("DATATYPE").upper():
            raise context.error(
                f"block {block.title!r} declares a {block.text('DATATYPE')} but contains no "
                f"##XYDATA=, ##XYPOINTS= or ##PEAK TABLE= data; its data label is missing "
                f"or damaged.",
                block.line,
            )
        if block.is_link and "BLOCKS" in block.params:
            declared = _optional_number(context, block, "BLOCKS")
            children = [b for b in blocks if b.parent is block]
            if declared is not None and len(children) != declared:
                raise context.error(
                    f"the LINK block declares {declared:g} blocks (##BLOCKS=) but "
                    f"{len(children)} follow.",
                    block.params["BLOCKS"].line,
                )
        if not block.closed and not block.data and not block.is_link:
            raise context.error(
                f"the file ends inside block {block.title!r} before its data; it is cut "
                f"short.",
                block.line,
            )
        if not block.closed and block.data:
            if not context.ends_with_newline:
                # AFFN data carry no check values, so a cut inside the last number of
                # the last line would keep the point count; a missing final line break
                # together with a missing ##END= shows that cut.
                raise context.error(
                    f"the file ends in the middle of a line, without the ##END= record of "
                    f"block {block.title!r}; it is cut short.",
                    block.data[-1][0].line,
                    hint="Export or copy the file again; if it is complete, add a line "
                    "'##END=' at its end.",
                )
            context.warnings.append(
                f"The file ends without the ##END= record of block {block.title!r}; the "
                f"point count matched, so the data are complete."
            )


def _group_by_axis(path: Path, spectra: list[_Spectrum]) -> list[SpectralDataset]:
    """Put consecutive spectra on the same axis into one data set each, in file order."""
    groups: list[list[_Spectrum]] = []
    for spectrum in spectra:
        last = groups[-1][-1] if groups else None
        same = (
            last is not None
            and last.x.shape == spectrum.x.shape
            and np.array_equal(last.x, spectrum.x)
            and last.x_unit == spectrum.x_unit
            and last.y_unit == spectrum.y_unit
        )
        if same:
            groups[-1].append(spectrum)
        else:
            groups.append([spectrum])
    ids = _sample_ids(path, spectra)
    datasets = []
    position = 0
    for group in groups:
        group_ids = ids[position:position + len(group)]
        position += len(group)
        first = group[0]
        metadata = dict(first.metadata)
        metadata["source"] = path.name
        metadata["titles"] = " | ".join(s.title for s in group)[:1000]
        try:
            datasets.append(SpectralDataset(
                axis=first.x,
                spectra=np.vstack([s.y for s in group]),
                axis_unit=first.x_unit,
                sample_ids=group_ids,
                metadata=metadata,
                y_unit=first.y_unit,
                name=path.stem,
            ))
        except SpecganError as error:
            raise ReadError(path, str(error)) from None
    return datasets


def _sample_ids(path: Path, spectra: list[_Spectrum]) -> list[str]:
    if len(spectra) == 1:
        return [path.stem]
    titles = [s.title.strip() for s in spectra]
    if all(titles) and len(set(titles)) == len(titles):
        return [f"{path.stem}: {t}" for t in titles]
    width = len(str(len(spectra)))
    return [f"{path.stem}-{i + 1:0{width}d}" for i in range(len(spectra))]


class JcampReader(Reader):
    """JCAMP-DX 4.24 and 5.01, including compressed data, LINK blocks and NTUPLES."""

    name = "JCAMP-DX"
    extensions = (".jdx", ".dx", ".jcm", ".jcamp")

    def sniff(self, path: Path, head: bytes) -> int:
        text = head.decode("latin-1").lstrip("\ufeff\xef\xbb\xbf \t\r\n")
        if text.startswith("##") and re.search(
            r"^\s*##\s*(TITLE|JCAMP|DATA\s*TYPE|XYDATA|XYPOINTS|PEAK\s*TABLE|NPOINTS)\s*=",
            text, re.IGNORECASE | re.MULTILINE,
        ):
            return 95
        # A damaged file with the usual extension is still read here, so that the
        # error names what is wrong instead of "unknown format".
        return 5 if path.suffix.lower() in self.extensions else 0

    def read(self, path: Path, **options) -> ReadResult:
        """Read all spectra of a JCAMP-DX file.

        Raises
        ------
        ReadError
            When the file is not JCAMP-DX, contains no spectrum, or fails a check
            (Y-check, x value per line, point count, ##FIRSTY=); the message
            names the line.
        """
        path = Path(path)
        context = _Context(path)
        raw = path.read_bytes()
        context.ends_with_newline = raw.rstrip(b" \t").endswith((b"\n", b"\r"))
        lines = _decode_lines(context, raw)
        records = _parse_records(lines)
        if not records:
            raise context.error("contains no JCAMP-DX records (lines starting with ##).",
                                hint="Check that this is a JCAMP-DX file.")
        blocks = _build_blocks(context, records)
        spectra: list[_Spectrum] = []
        for block in blocks:
            spectra.extend(_spectra_from_block(context, block))
        if not spectra:
            raise context.error(
                "contains no spectrum: no ##XYDATA=, ##XYPOINTS=, ##PEAK TABLE= or ##NTUPLES= "
                "data were found.",
                hint="Export the spectrum as JCAMP-DX with XYDATA.",
            )
        _check_structure(context, blocks)
        peaks = [s for s in spectra if s.kind == "PEAK TABLE"]
        for spectrum in peaks:
            context.warnings.append(
                f"{spectrum.title or path.stem!r} is a peak table of {spectrum.x.size} "
                f"peaks (x = peak position, y = height), not a continuous spectrum; its x "
                f"values are not an evenly spaced axis."
            )
        version = records[0].value if records[0].key == "JCAMPDX" else ""
        for record in records:
            if record.key == "JCAMPDX":
                version = record.value
                break
        kinds = sorted({s.kind for s in spectra})
        fmt = f"JCAMP-DX {version}".strip() + f" ({', '.join(kinds)}"
        if any(b.is_link for b in blocks):
            fmt += f", LINK with {len(spectra)} blocks"
        if any("NTUPLES" in b.params for b in blocks):
            fmt += ", NTUPLES"
        fmt += ")"
        datasets = _group_by_axis(path, spectra)
        log.debug("%s: %d JCAMP-DX blocks, %d spectra on %d axes", path, len(blocks),
                  len(spectra), len(datasets))
        return ReadResult(datasets, fmt, context.warnings, str(path))


register(JcampReader())
