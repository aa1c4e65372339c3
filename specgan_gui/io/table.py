"""Wide tables (CSV, TSV, TXT, XLSX): one row per sample, axis values in the header.

Layout read here::

    sample, glucose, 428.0, 429.0, 431.0, ...
    s01,    1.66,    0.012, 0.013, 0.013, ...

Header cells that parse as numbers are axis values; their columns are the
spectrum.  Of the other columns, one that is named like an id (``id``,
``sample``, ``name``) or, failing that, the first text column with unique
values becomes the sample id; the rest are reference values.  The
delimiter (comma, semicolon, tab) and a decimal comma are detected from
the text.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import ReadError, SpecganError
from specgan_gui.io.base import ReadResult, Reader, axis_unit_from_label, register
from specgan_gui.io.conversions import AXIS_UNIT_OPTION

log = logging.getLogger(__name__)

ID_COLUMN_NAMES = ("id", "sample", "sample_id", "sampleid", "sample id", "name", "sample name")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
#: Byte-order marks of UTF-16 text, which Excel writes as "Unicode text".
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
#: Hint for a reference table that cannot be read.
REFERENCE_HINT = "Save the reference table as CSV (comma- or tab-separated) or as .xlsx."


def _parse_number(text: str, decimal: str) -> float | None:
    text = str(text).strip().strip('"')
    if not _NUMBER.match(text):
        return None
    if decimal == ",":
        text = text.replace(",", ".")
    elif "," in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _decode(path: Path, raw: bytes, hint: str = "Export the spectra as CSV or TSV text."
            ) -> tuple[str, str]:
    if raw.startswith(_UTF16_BOMS):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError:
            pass  # reported as NUL bytes below
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        raise ReadError(
            path,
            "contains NUL bytes, so it is not a text table.",
            location=f"byte {offset}",
            hint=hint,
        )
    for encoding in _ENCODINGS:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ReadError(path, "is not readable as text.", hint="Export the spectra as UTF-8 CSV.")


def _detect_dialect(path: Path, text: str, single_column: bool = False) -> tuple[str, str]:
    """Return ``(delimiter, decimal)`` from the first lines of a table.

    With `single_column` (reference tables), a table without any separator
    is accepted as one column of values.
    """
    lines = [line for line in text.splitlines() if line.strip()][:20]
    if not lines:
        hint = REFERENCE_HINT if single_column else "Export the spectra again."
        raise ReadError(path, "contains no data lines.", hint=hint)
    counts = {sep: min(line.count(sep) for line in lines) for sep in ("\t", ";", ",")}
    if counts["\t"] > 0:
        delimiter = "\t"
    elif counts[";"] > 0:
        delimiter = ";"
    elif counts[","] > 0 or single_column:
        delimiter = ","
    else:
        raise ReadError(
            path,
            "found no comma, semicolon or tab between values in the first lines.",
            location="line 1",
            hint="A wide table needs one sample per row with values separated by "
            "commas, semicolons or tabs.",
        )
    decimal = "."
    if delimiter != ",":
        sample = "\n".join(lines[1:])
        if re.search(r"\d,\d", sample) and not re.search(r"\d\.\d", sample):
            decimal = ","
    return delimiter, decimal


def _guess_axis_unit(axis: np.ndarray) -> tuple[str, str | None]:
    """Return ``(unit, warning)`` guessed from the axis values alone."""
    if np.array_equal(axis, np.arange(axis.size)):
        return "index", None
    low, high = float(np.min(axis)), float(np.max(axis))
    if high > 2600:
        unit = "cm-1"
    elif high <= 1100 and low >= 150:
        unit = "nm"
    elif 1000 <= low and high <= 2600:
        unit = "nm"
    else:
        unit = "cm-1"
    warning = (
        f"The file does not state the axis unit; {unit} was assumed from the range "
        f"{low:g} to {high:g}. If this is wrong, set {AXIS_UNIT_OPTION}."
    )
    return unit, warning


def _split_columns(path: Path, frame: pd.DataFrame, decimal: str):
    """Return ``(axis, axis_columns, other_columns)`` from the header row.

    The axis columns must be contiguous: text columns (ids, reference values,
    instrument metadata) may come before the spectrum, after it, or both,
    but not between two axis values.
    """
    axis_columns, axis_values, other_columns = [], [], []
    after_axis = None  # the first text column after the axis block
    for column in frame.columns:
        value = _parse_number(column, decimal)
        if value is None:
            if axis_columns and after_axis is None:
                after_axis = column
            other_columns.append(column)
        elif after_axis is not None:
            raise ReadError(
                path,
                f"the header cell {str(after_axis)!r} is between axis values "
                f"(before {str(column)!r}); text columns (ids, reference values) must come "
                f"before or after the whole spectrum.",
                location="line 1",
                hint="Move id and reference columns to the left or right of the spectrum.",
            )
        else:
            axis_columns.append(column)
            axis_values.append(value)
    if len(axis_columns) < 8:
        raise ReadError(
            path,
            f"the header row has {len(axis_columns)} numeric cells; a wide table needs the "
            f"axis values (wavenumbers, wavelengths or point numbers) as column headers.",
            location="line 1",
            hint="Put one sample per row and the axis values in the first row.",
        )
    axis = np.asarray(axis_values, dtype=np.float64)
    if len(np.unique(axis)) != axis.size:
        raise ReadError(
            path,
            "the axis values in the header repeat.",
            location="line 1",
            hint="Each spectrum column needs its own axis value.",
        )
    return axis, axis_columns, other_columns


#: Results of `numeric_header_layout`.
WIDE, LONG, AMBIGUOUS = "wide", "long", "ambiguous"


class LongLayoutError(ReadError):
    """A table has the axis in its first column and one spectrum per column."""


def _counts_up(values: np.ndarray) -> bool:
    """Return whether values are 0, 1, 2, ... or 1, 2, 3, ... as sample numbers are."""
    return values.size > 0 and values[0] in (0, 1) and np.array_equal(
        values, np.arange(values[0], values[0] + values.size))


def numeric_header_layout(first_cell: str, header_values, first_column) -> str:
    """Decide whether a table whose header cells after the first are all numbers is wide or long.

    In the wide layout the header numbers are the axis and each row is a
    sample.  In the long layout the first column is the axis and the header
    numbers are sample ids.  `first_column` contains the values below
    `first_cell`, with NaN for cells that are not numbers.  Returns `WIDE`,
    `LONG` or `AMBIGUOUS`.  The evidence, strongest first:

    1. Only a first column of numbers that runs strictly one way can be an axis.
    2. The first header cell names an axis ("wavenumber", "nm") or sample ids ("sample").
    3. Sample ids are consecutive integers from 0 or 1 and the axis values are not.
       This comes before the lengths, because a filter instrument may measure
       100 samples (numbered 1 to 100 down the first column) at 30 wavelengths.
    4. The axis is at least twice as long as the other dimension.
    """
    # Imported here because text_columns imports this module.
    from specgan_gui.io.text_columns import _AXIS_NAMES

    column = np.asarray(first_column, dtype=np.float64)
    header = np.asarray(header_values, dtype=np.float64)
    steps = np.diff(column)
    one_way = steps.size > 0 and (bool(np.all(steps > 0)) or bool(np.all(steps < 0)))
    if column.size < 3 or not np.all(np.isfinite(column)) or not one_way:
        return WIDE
    name = str(first_cell).strip()
    if name.lower() in ID_COLUMN_NAMES:
        return WIDE
    if axis_unit_from_label(name) or _AXIS_NAMES.search(name):
        return LONG
    header_ids, column_ids = _counts_up(header), _counts_up(column)
    if header_ids and not column_ids:
        return LONG
    if column_ids and not header_ids:
        return WIDE
    if column.size >= 2 * header.size:
        return LONG
    if header.size >= 2 * column.size:
        return WIDE
    return AMBIGUOUS


def _ambiguous_layout_error(path: Path, first_cell: str, header: np.ndarray,
                            column: np.ndarray, location: str = "line 1") -> ReadError:
    first = f"{str(first_cell)!r}" if str(first_cell).strip() else "an empty first cell"
    return ReadError(
        path,
        f"the table layout is ambiguous: the header has {header.size} numbers "
        f"({header[0]:g} to {header[-1]:g}) after {first}, and the first column "
        f"has {column.size} numbers that run one way ({column[0]:g} to {column[-1]:g}), "
        f"so either could be the axis.",
        location=location,
        hint="If each column is a spectrum, name the first column after the axis (for "
        "example 'wavenumber' or 'wavelength (nm)') or give the samples names that are not "
        "numbers (for example s1, s2). If each row is a spectrum, name the first column "
        "'sample'.",
    )


def _check_layout(path: Path, frame: pd.DataFrame, axis: np.ndarray, axis_columns: list,
                  other_columns: list, decimal: str) -> None:
    """Raise `LongLayoutError` or an ambiguity `ReadError` unless the table is wide.

    Only a table with one column before the numeric header cells and none
    after them can be in the long layout.
    """
    if list(other_columns) != [frame.columns[0]]:
        return
    first_cell = frame.columns[0]
    # pandas names an empty header cell "Unnamed: 0"; the file has no such name.
    name = "" if str(first_cell).startswith("Unnamed: ") else str(first_cell)
    column = np.full(len(frame), np.nan)
    for row, cell in enumerate(frame[first_cell].fillna("")):
        value = _parse_number(cell, decimal)
        if value is not None:
            column[row] = value
    layout = numeric_header_layout(name, axis, column)
    if layout == LONG:
        named = f" {name!r}" if name else ""
        raise LongLayoutError(
            path,
            f"the first column{named} is the axis ({column.size} values from "
            f"{column[0]:g} to {column[-1]:g}) and each of the {axis.size} other columns is "
            f"a spectrum, but this reader reads one spectrum per row.",
            location="line 1",
            hint="Save the sheet as CSV and import it with the column option 'all' (one "
            "spectrum per column), or transpose it so that each row is a spectrum.",
        )
    if layout == AMBIGUOUS:
        raise _ambiguous_layout_error(path, name, axis, column)


def _unit_from_header(
    path: Path, axis: np.ndarray, raw_frame: pd.DataFrame, axis_columns: list
) -> str | None:
    """Return the axis unit that a label cell of the header states.

    A label cell is a header cell whose column holds no values
    ("Wavelengths(nm)" in an empty column just before the axis), or the
    first header cell when its column holds text such as sample names.
    Reference columns ("A280 nm" with values) do not count.  Rejects an axis
    that starts at or below zero without a stated unit: no wavelength scale
    does, and such headers are time or position series (a fluorometer's
    saturation-pulse trace in ms).
    """
    header_cells = list(raw_frame.columns)
    start = header_cells.index(axis_columns[0])
    candidates = [0] + ([start - 1] if start > 1 else [])
    for position in candidates:
        if position >= start:
            continue
        values = raw_frame.iloc[:, position].dropna().astype(str).str.strip()
        values = values[values != ""]
        numeric = pd.to_numeric(values, errors="coerce").notna().all() and not values.empty
        if (position == 0 and not numeric) or values.empty:
            unit = axis_unit_from_label(str(header_cells[position]))
            if unit is not None:
                return unit
    is_index = np.array_equal(axis, np.arange(axis.size))
    if not is_index and float(np.min(axis)) <= 0:
        raise ReadError(
            path,
            f"the numeric header cells run from {axis[0]:g} to {axis[-1]:g} "
            f"({axis.size} columns) and no cell states a unit; an axis that starts at or "
            f"below zero is not a wavelength or wavenumber scale, so these columns look "
            f"like a time or position series, not spectra.",
            location="line 1",
            hint=f"If the columns are spectra, set {AXIS_UNIT_OPTION}.",
        )
    return None


def _to_float_matrix(path: Path, frame: pd.DataFrame, decimal: str, first_line: int) -> np.ndarray:
    if decimal == ",":
        frame = frame.apply(lambda col: col.astype(str).str.replace(",", ".", regex=False))
    numeric = frame.apply(pd.to_numeric, errors="coerce")
    values = numeric.to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        original = frame.iat[row, column]
        count = int(bad.sum())
        raise ReadError(
            path,
            f"the value {str(original)!r} in column {str(frame.columns[column])!r} is not a "
            f"finite number ({count} such cell{'s' if count != 1 else ''} in all).",
            location=f"line {first_line + row}",
            hint="Fill or remove missing points before importing.",
        )
    return values


def _pick_id_column(frame: pd.DataFrame, other_columns: list) -> object | None:
    for column in other_columns:
        if str(column).strip().lower() in ID_COLUMN_NAMES:
            return column
    if len(frame) < 2:
        return None  # in a single row every column is unique, so no column stands out
    for column in other_columns:
        values = frame[column]
        if not pd.api.types.is_numeric_dtype(values) and values.is_unique and values.notna().all():
            return column
    return None


def _references(
    frame: pd.DataFrame, columns: list, decimal: str
) -> tuple[pd.DataFrame, dict[str, list[tuple[int, str]]]]:
    """Return the reference columns, numeric where the cells are numbers, and the text cells.

    A column whose filled cells are mostly numbers (more than half, and at
    least two) is numeric: its other cells ("n.d.", "<LOD", "-") become
    missing values and are returned as ``{column: [(row, text), ...]}`` so
    that the caller can name them.  Any other column stays text (classes).
    """
    references = pd.DataFrame(index=range(len(frame)))
    text_cells: dict[str, list[tuple[int, str]]] = {}
    for column in columns:
        values = frame[column].reset_index(drop=True)
        as_text = values.astype(str).str.strip()
        present = values.notna() & as_text.ne("")
        if decimal == ",":
            as_text = as_text.str.replace(",", ".", regex=False)
        numeric = pd.to_numeric(as_text.where(present), errors="coerce")
        n_numbers, n_present = int(numeric.notna().sum()), int(present.sum())
        if n_present and n_numbers == n_present:
            references[str(column)] = numeric.astype(np.float64)
        elif n_numbers >= 2 and n_numbers > n_present / 2:
            references[str(column)] = numeric.astype(np.float64)
            rows = np.nonzero((present & numeric.isna()).to_numpy())[0]
            text_cells[str(column)] = [(int(row), str(values[row]).strip()) for row in rows]
        else:
            references[str(column)] = values.astype(object).where(values.notna(), None)
    return references, text_cells


def text_cell_warnings(
    source: str, text_cells: dict[str, list[tuple[int, str]]], row_names: list[str]
) -> list[str]:
    """Return one warning per numeric column whose text cells were read as missing.

    `row_names` names each row of the table (sample ids or line numbers).
    """
    warnings = []
    for column, cells in text_cells.items():
        shown = ", ".join(f"{row_names[row]} ({text!r})" for row, text in cells[:10])
        if len(cells) > 10:
            shown += f" and {len(cells) - 10} more"
        cells_text = ("its one text cell was read as a missing value" if len(cells) == 1
                      else f"its {len(cells)} text cells were read as missing values")
        warnings.append(f"{source}: column {column!r} contains numbers, so {cells_text}: {shown}.")
    return warnings


def dataset_from_frame(
    path: Path,
    frame: pd.DataFrame,
    decimal: str = ".",
    axis_unit: str | None = None,
    first_line: int = 2,
) -> tuple[SpectralDataset, list[str]]:
    """Build a data set from a wide table already split into cells.

    Parameters
    ----------
    first_line
        File line number of the first data row, for error messages.
    """
    warnings: list[str] = []
    raw_frame = frame  # label cells such as "Wavelengths(nm)" may head empty columns
    frame = frame.dropna(axis=1, how="all")  # trailing separators give empty columns
    frame = frame.dropna(axis=0, how="all").reset_index(drop=True)
    if frame.empty:
        raise ReadError(path, "contains a header but no data rows.", hint="Export the spectra again.")
    axis, axis_columns, other_columns = _split_columns(path, frame, decimal)
    _check_layout(path, frame, axis, axis_columns, other_columns, decimal)
    spectra = _to_float_matrix(path, frame[axis_columns], decimal, first_line)
    id_column = _pick_id_column(frame, other_columns)
    if id_column is not None:
        sample_ids = [str(v).strip() for v in frame[id_column]]
        duplicates = sorted({s for s in sample_ids if sample_ids.count(s) > 1})
        if duplicates:
            raise ReadError(
                path,
                f"sample ids repeat in column {str(id_column)!r}: {', '.join(duplicates[:5])}.",
                hint="Give every row its own id.",
            )
    else:
        width = len(str(len(frame)))
        sample_ids = [f"{path.stem}-{i + 1:0{width}d}" for i in range(len(frame))]
        warnings.append("No sample id column was found; rows are numbered in file order.")
    reference_columns = [c for c in other_columns if c != id_column]
    references, text_cells = _references(frame, reference_columns, decimal)
    warnings += text_cell_warnings(path.name, text_cells, sample_ids)
    if axis_unit is None:
        axis_unit = _unit_from_header(path, axis, raw_frame, axis_columns)
    if axis_unit is None:
        axis_unit, unit_warning = _guess_axis_unit(axis)
        if unit_warning:
            warnings.append(unit_warning)
    try:
        dataset = SpectralDataset(
            axis=axis,
            spectra=spectra,
            axis_unit=axis_unit,
            sample_ids=sample_ids,
            references=references,
            metadata={"source": path.name},
            name=path.stem,
        )
    except SpecganError as error:
        raise ReadError(path, str(error)) from None
    return dataset, warnings


def _head_layout(text: str) -> str:
    """Return the `numeric_header_layout` of the whole lines at the start of a text table.

    Rows past the head only add length to the first column, so a `LONG`
    result is true of the whole file, but a `WIDE` result may turn out long.
    """
    lines = [line for line in text.splitlines()[:-1] if line.strip()]
    if len(lines) < 2:
        return WIDE
    counts = {sep: min(line.count(sep) for line in lines) for sep in ("\t", ";", ",")}
    delimiter = next((sep for sep, count in counts.items() if count > 0), None)
    if delimiter is None:
        return WIDE
    decimal = "."
    if delimiter != "," and re.search(r"\d,\d", "\n".join(lines[1:])):
        decimal = ","
    header = [cell.strip().strip('"') for cell in lines[0].split(delimiter)]
    while header and not header[-1]:
        header.pop()  # trailing separators
    header_values = [_parse_number(cell, decimal) for cell in header[1:]]
    if not header_values or _parse_number(header[0], decimal) is not None or None in header_values:
        return WIDE
    column = []
    for line in lines[1:]:
        value = _parse_number(line.split(delimiter)[0], decimal)
        column.append(np.nan if value is None else value)
    return numeric_header_layout(header[0], header_values, column)


class TextTableReader(Reader):
    name = "CSV/TSV wide table"
    extensions = (".csv", ".tsv", ".txt", ".tab")

    def sniff(self, path: Path, head: bytes) -> int:
        if b"\x00" in head:
            return 0
        try:
            text = head.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = head.decode("latin-1")
        first = text.splitlines()[0] if text.splitlines() else ""
        cells = re.split(r"[,;\t]", first)
        numeric = sum(_NUMBER.match(c.strip().strip('"')) is not None for c in cells)
        if numeric >= 8:
            if _head_layout(text) == LONG:
                return 10  # the text-columns reader reads one spectrum per column
            return 60
        return 10 if path.suffix.lower() in self.extensions else 0

    def read(self, path: Path, axis_unit: str | None = None, **options) -> ReadResult:
        raw = Path(path).read_bytes()
        text, encoding = _decode(path, raw)
        delimiter, decimal = _detect_dialect(path, text)
        try:
            frame = pd.read_csv(
                io.StringIO(text),
                sep=delimiter,
                dtype=str,
                keep_default_na=True,
                skip_blank_lines=True,
                quoting=csv.QUOTE_MINIMAL,
            )
        except (pd.errors.ParserError, ValueError) as error:
            raise ReadError(
                path,
                f"rows do not split into the same number of cells ({error}).",
                hint="Check that every row has one value per header cell.",
            ) from None
        try:
            dataset, warnings = dataset_from_frame(path, frame, decimal, axis_unit)
        except LongLayoutError:
            # The head that `sniff` saw was too short to show the layout.
            from specgan_gui.io.text_columns import TextColumnsReader

            return TextColumnsReader().read(path, axis_unit=axis_unit, **options)
        dataset.metadata["encoding"] = encoding
        label = {",": "comma", ";": "semicolon", "\t": "tab"}[delimiter]
        fmt = f"{self.name} ({label}-separated, decimal {'comma' if decimal == ',' else 'point'})"
        return ReadResult.single(dataset, fmt, warnings, path)


class ExcelTableReader(Reader):
    name = "Excel wide table"
    extensions = (".xlsx", ".xlsm")

    def sniff(self, path: Path, head: bytes) -> int:
        # XLSX is a ZIP archive; the extension separates it from other ZIP files.
        if head.startswith(b"PK\x03\x04") and path.suffix.lower() in self.extensions:
            return 80
        return 0

    def read(self, path: Path, axis_unit: str | None = None, sheet=None, **options) -> ReadResult:
        try:
            sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
        except Exception as error:  # openpyxl raises many types for damaged files
            raise ReadError(
                path, f"could not be opened as an Excel workbook ({error}).",
                hint="Open it in Excel and save it again as .xlsx.",
            ) from None
        names = [sheet] if sheet is not None else list(sheets)
        failures: list[tuple[str, ReadError]] = []
        for name in names:
            frame = sheets.get(name)
            if frame is None:
                raise ReadError(path, f"has no sheet named {name!r}.", hint=f"Sheets: {', '.join(sheets)}.")
            frame.columns = [str(c) for c in frame.columns]
            try:
                dataset, warnings = dataset_from_frame(path, frame, ".", axis_unit)
            except ReadError as error:
                # Spreadsheets number rows, not lines.
                row = error.location.replace("line", "row")
                where = f"sheet {name!r}" + (f", {row}" if row else "")
                failures.append((where, error))
                continue
            dataset.metadata["sheet"] = str(name)
            return ReadResult.single(dataset, f"{self.name} (sheet {name})", warnings, path)
        if len(failures) == 1:
            # With one sheet, its own problem, location and hint are the most useful.
            where, error = failures[0]
            raise ReadError(path, f"holds no sheet with spectra: {error.problem}",
                            location=where, hint=error.hint)
        raise ReadError(
            path,
            "holds no sheet with spectra: "
            + "; ".join(f"{where}: {error.problem}" for where, error in failures),
            hint="Put one sample per row with the axis values in the first row of a sheet.",
        )


register(TextTableReader())
register(ExcelTableReader())


def read_reference_table(path, id_column: str | None = None) -> pd.DataFrame:
    """Read a table of reference values (CSV, TSV or XLSX) with a header row.

    Numeric columns become float.  In a column of mostly numbers, text cells
    such as ``n.d.`` become missing values, and ``frame.attrs["text_cells"]``
    lists them as ``{column: [(row, text), ...]}`` (see `text_cell_warnings`).  Id columns stay text as written, so ids such as
    ``017`` keep their leading zeros: the `id_column` when given, and any
    column named like an id (``sample``, ``id``, ``name``, ...).

    Raises
    ------
    ReadError
        Naming the file (and the line, where there is one) when it is missing,
        empty, not a table, or has rows with more cells than the header.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(path, "file not found.", hint="Check the path and try again.")
    if path.is_dir():
        raise ReadError(path, "is a folder, not a table.", hint=REFERENCE_HINT)
    if path.suffix.lower() in ExcelTableReader.extensions:
        frame = _read_reference_workbook(path)
        decimal = "."
    else:
        text, _ = _decode(path, path.read_bytes(), hint=REFERENCE_HINT)
        delimiter, decimal = _detect_dialect(path, text, single_column=True)
        frame = _read_reference_text(path, text, delimiter)
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.dropna(axis=0, how="all").reset_index(drop=True)
    if frame.empty:
        raise ReadError(path, "has a header row but no rows of values.", hint=REFERENCE_HINT)
    id_columns = [c for c in frame.columns
                  if c == id_column or c.strip().lower() in ID_COLUMN_NAMES]
    references, text_cells = _references(
        frame, [c for c in frame.columns if c not in id_columns], decimal)
    for column in id_columns:
        references[column] = frame[column].map(_id_text)
    references = references[list(frame.columns)]
    references.attrs["text_cells"] = text_cells
    return references


def _read_reference_text(path: Path, text: str, delimiter: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str)
    except pd.errors.ParserError as error:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(error))
        if found is None:
            raise ReadError(path, f"could not be split into cells ({error}).",
                            hint=REFERENCE_HINT) from None
        header, line, cells = found.groups()
        raise ReadError(
            path,
            f"this row has {cells} cells but the header row has {header}.",
            location=f"line {line}",
            hint="Give every row one value per header cell, and put quotes around cells "
            "that contain the separator.",
        ) from None
    except pd.errors.EmptyDataError:
        raise ReadError(path, "contains no data lines.", hint=REFERENCE_HINT) from None


def _read_reference_workbook(path: Path) -> pd.DataFrame:
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head.startswith(b"PK\x03\x04"):
        raise ReadError(
            path,
            "is not an Excel workbook: an .xlsx file is a ZIP archive, and this file does "
            "not start like one.",
            hint="If it is a text table, rename it to .csv; else open it in Excel and save "
            "it again as .xlsx.",
        )
    try:
        return pd.read_excel(path, dtype=object, engine="openpyxl")
    except Exception as error:  # openpyxl raises many types for damaged files
        raise ReadError(
            path,
            f"could not be opened as an Excel workbook ({type(error).__name__}: {error}).",
            hint="Open it in Excel and save it again as .xlsx, or save the table as CSV.",
        ) from None


def _id_text(value) -> str | None:
    """Return an id cell as text; whole numbers from Excel cells lose the ".0"."""
    if pd.isna(value):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def attach_references(
    dataset: SpectralDataset,
    table: pd.DataFrame,
    id_column: str | None = None,
    source: str = "the reference table",
) -> tuple[SpectralDataset, list[str]]:
    """Join reference values to spectra by sample id, or by row order.

    Without `id_column` the table must have one row per spectrum, in the
    same order.  With it, the returned warnings list ids without spectra,
    spectra without values and repeated ids, and the first row of a repeated
    id is used.  `source` names the table (its file name) in messages.
    """
    warnings: list[str] = []
    if id_column is None:
        if len(table) != dataset.n_samples:
            raise ReadError(
                source,
                f"has {len(table)} rows for {dataset.n_samples} spectra.",
                hint="Name the column that holds the sample ids, so that rows are matched "
                "by id.",
            )
        joined = table.reset_index(drop=True)
    else:
        if id_column not in table.columns:
            raise ReadError(
                source,
                f"has no column {id_column!r}.",
                hint=f"Columns: {', '.join(map(str, table.columns))}.",
            )
        keyed = table.assign(**{id_column: table[id_column].astype(str).str.strip()})
        repeated = sorted(set(keyed.loc[keyed[id_column].duplicated(), id_column]))
        if repeated:
            warnings.append(
                f"{source}: ids repeat in column {id_column!r} ({', '.join(repeated[:10])}); "
                f"the first row of each was used."
            )
        keyed = keyed.drop_duplicates(subset=id_column).set_index(id_column)
        missing = [s for s in dataset.sample_ids if s not in keyed.index]
        unused = [s for s in keyed.index if s not in set(dataset.sample_ids)]
        if missing:
            warnings.append(
                f"{len(missing)} spectra have no reference values in {source}: "
                f"{', '.join(missing[:10])}."
            )
        if unused:
            warnings.append(
                f"{len(unused)} rows of {source} have no spectrum: "
                f"{', '.join(map(str, unused[:10]))}."
            )
        joined = keyed.reindex(dataset.sample_ids).reset_index(drop=True)
    references = dataset.references.copy()
    for column in joined.columns:
        references[str(column)] = joined[column].to_numpy()
    result = SpectralDataset(
        axis=dataset.axis,
        spectra=dataset.spectra,
        axis_unit=dataset.axis_unit,
        sample_ids=dataset.sample_ids,
        references=references,
        metadata=dict(dataset.metadata),
        y_unit=dataset.y_unit,
        name=dataset.name,
    )
    return result, warnings
