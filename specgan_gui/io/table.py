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

log = logging.getLogger(__name__)

ID_COLUMN_NAMES = ("id", "sample", "sample_id", "sampleid", "sample id", "name", "sample name")
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")


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


def _decode(path: Path, raw: bytes) -> tuple[str, str]:
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        raise ReadError(
            path,
            "contains NUL bytes, so it is not a text table.",
            location=f"byte {offset}",
            hint="Export the spectra as CSV or TSV text.",
        )
    for encoding in _ENCODINGS:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ReadError(path, "is not readable as text.", hint="Export the spectra as UTF-8 CSV.")


def _detect_dialect(path: Path, text: str, single_column: bool = False) -> tuple[str, str]:
    """Return ``(delimiter, decimal)`` from the first lines of a table.

    With `single_column`, a table without any separator is accepted as one
    column (reference tables may hold a single column of values).
    """
    lines = [line for line in text.splitlines() if line.strip()][:20]
    if not lines:
        raise ReadError(path, "contains no data lines.", hint="Export the spectra again.")
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
        f"{low:g} to {high:g}. Choose the unit in the import options if this is wrong."
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
            hint="If the columns are spectra, choose the axis unit in the import options "
            "(axis_unit).",
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
        raise ReadError(
            path,
            f"the value {str(original)!r} in column {str(frame.columns[column])!r} is not a "
            f"finite number ({int(bad.sum())} such cells in all).",
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


def _references(frame: pd.DataFrame, columns: list, decimal: str) -> pd.DataFrame:
    references = pd.DataFrame(index=range(len(frame)))
    for column in columns:
        values = frame[column].reset_index(drop=True)
        as_text = values.astype(str).str.strip()
        if decimal == ",":
            as_text = as_text.str.replace(",", ".", regex=False)
        numeric = pd.to_numeric(as_text.where(values.notna()), errors="coerce")
        if numeric.notna().sum() == values.notna().sum() and values.notna().any():
            references[str(column)] = numeric.astype(np.float64)
        else:
            references[str(column)] = values.astype(object).where(values.notna(), None)
    return references


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
    references = _references(frame, reference_columns, decimal)
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
        dataset, warnings = dataset_from_frame(path, frame, decimal, axis_unit)
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
        found = []
        for name in names:
            frame = sheets.get(name)
            if frame is None:
                raise ReadError(path, f"has no sheet named {name!r}.", hint=f"Sheets: {', '.join(sheets)}.")
            frame.columns = [str(c) for c in frame.columns]
            try:
                dataset, warnings = dataset_from_frame(path, frame, ".", axis_unit)
            except ReadError as error:
                found.append(f"sheet {name!r}: {error.problem}")
                continue
            dataset.metadata["sheet"] = str(name)
            return ReadResult.single(dataset, f"{self.name} (sheet {name})", warnings, path)
        raise ReadError(
            path,
            "holds no sheet with spectra: " + "; ".join(found),
            hint="Put one sample per row with the axis values in the first row of a sheet.",
        )


register(TextTableReader())
register(ExcelTableReader())


def read_reference_table(path, id_column: str | None = None) -> pd.DataFrame:
    """Read a table of reference values (CSV, TSV or XLSX) with a header row.

    Numeric columns become float.  The `id_column`, when given and present,
    stays text as written, so ids such as ``017`` keep their leading zeros.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(path, "file not found.", hint="Check the path and try again.")
    if path.suffix.lower() in ExcelTableReader.extensions:
        frame = pd.read_excel(path, dtype=object, engine="openpyxl")
        decimal = "."
    else:
        text, _ = _decode(path, path.read_bytes())
        delimiter, decimal = _detect_dialect(path, text, single_column=True)
        frame = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str)
    frame.columns = [str(c).strip() for c in frame.columns]
    references = _references(frame, list(frame.columns), decimal)
    if id_column is not None and id_column in frame.columns:
        ids = frame[id_column].reset_index(drop=True)
        references[id_column] = ids.map(_id_text)
    return references


def _id_text(value) -> str | None:
    """Return an id cell as text; whole numbers from Excel cells lose the ".0"."""
    if pd.isna(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def attach_references(
    dataset: SpectralDataset, table: pd.DataFrame, id_column: str | None = None
) -> tuple[SpectralDataset, list[str]]:
    """Join reference values to spectra by sample id, or by row order.

    Without `id_column` the table must have one row per spectrum, in the
    same order.  With it, ids without spectra and spectra without values
    are listed in the returned warnings, never dropped silently.
    """
    warnings: list[str] = []
    if id_column is None:
        if len(table) != dataset.n_samples:
            raise ReadError(
                "(reference table)",
                f"has {len(table)} rows for {dataset.n_samples} spectra.",
                hint="Name the id column so rows can be matched by sample id.",
            )
        joined = table.reset_index(drop=True)
    else:
        if id_column not in table.columns:
            raise ReadError(
                "(reference table)",
                f"has no column {id_column!r}.",
                hint=f"Columns: {', '.join(map(str, table.columns))}.",
            )
        keyed = table.assign(**{id_column: table[id_column].astype(str).str.strip()})
        keyed = keyed.drop_duplicates(subset=id_column).set_index(id_column)
        missing = [s for s in dataset.sample_ids if s not in keyed.index]
        unused = [s for s in keyed.index if s not in set(dataset.sample_ids)]
        if missing:
            warnings.append(f"{len(missing)} spectra have no reference values: {', '.join(missing[:10])}.")
        if unused:
            warnings.append(f"{len(unused)} reference rows have no spectrum: {', '.join(map(str, unused[:10]))}.")
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
