"""Import many spectra files into one data set, with every decision made visible.

The readers (`specgan_gui.io.base.read_spectra`) return what one file holds.
This module combines the files a user selects (or a folder) into one
`SpectralDataset` for a project:

1. `scan_files` expands folders into the files inside them, sorted
   naturally (``sample2`` before ``sample10``), and lists the files that no
   reader recognises instead of dropping them.
2. `preview_import` reads every file, collects each file's error instead of
   stopping at the first, and decides how the files combine: sample ids,
   the common axis (same axis, resampled, or rejected with the ranges) and
   the optional axis and y conversions.  The window shows this preview
   before anything enters the project.
3. `finish_import` (or `import_files`, which previews and finishes in one
   call) joins a reference table by sample id and returns the data set with
   the notices and warnings the user must see.

Rules that every import follows:

- The axis is sorted ascending internally, so every later step gets
  increasing axis values, and ``dataset.metadata["axis_direction"]`` keeps the
  files' original direction ("ascending", "descending" or "mixed") for
  display.
- nm and cm-1 are converted only when requested (``x' = 1e7 / x``, then
  sorted).  Different axes are resampled only with ``resample="auto"``, by
  linear interpolation (`numpy.interp`) onto the overlap of all axes at the
  finest spacing among them, and a notice reports it.  Axes that overlap less
  than `MIN_OVERLAP` of the narrowest range are rejected.
- Transmittance is converted to absorbance only when requested:
  ``A = -log10(T)`` with T as a fraction (%T is divided by 100 first).
  Points with T <= 0 make the file fail with their count.
- Masked points (NaN, from sentinel values for clipped points) are kept as
  NaN and listed with their sample ids and axis ranges, because a spectrum
  with NaN cannot train a model; nothing is dropped or interpolated
  silently.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from specgan_gui.data.dataset import SpectralDataset, missing_values
from specgan_gui.errors import DataError, ReadError, SettingsError, SpecganError
from specgan_gui.io.base import pick_reader, read_spectra
from specgan_gui.io.conversions import (
    AXIS_CONVERSION_OPTION,
    AXIS_UNIT_OPTION,
    AXIS_UNITS_CONVERTIBLE,
    Y_CONVERSION_OPTION,
    Y_UNIT_OPTION,
    MaskedPoints,
    axis_direction,
    convert_axis_unit,
    convert_y_unit,
    masked_points,
    sort_axis_ascending,
    widest_clean_range,
    y_kind,
)
from specgan_gui.io.table import attach_references, read_reference_table, text_cell_warnings

log = logging.getLogger(__name__)

ID_SOURCES = ("auto", "filename", "metadata", "table")
RESAMPLE_MODES = ("never", "auto")
Y_CONVERSIONS = (None, "absorbance", "transmittance")
SENTINEL_MODES = ("mask", "keep")

#: Axes overlapping less than this fraction of the narrowest axis range are not resampled.
MIN_OVERLAP = 0.8
#: Two axes count as the same when every value agrees within this fraction of the point
#: spacing. Float32 exports of one grid differ from float64 ones by about 1e-6 of a step.
SAME_AXIS_TOLERANCE = 1e-4
#: Metadata keys that name a sample, in order of preference, for ``id_source="metadata"``.
METADATA_ID_KEYS = ("sample_name", "sample id", "sample_id", "title", "titles",
                    "data_set_name", "comment")
RESAMPLING_METHOD = "linear interpolation (numpy.interp)"
#: Maximum characters kept in one metadata value of the combined data set.
MAX_METADATA_TEXT = 2000
#: Items listed by name in one message before "and N more".
MAX_LISTED = 10


class ImportRejectedError(DataError):
    """An import that cannot produce a data set; `preview` shows what was found."""

    def __init__(self, message: str, preview: ImportPreview | None = None):
        super().__init__(message)
        self.preview = preview


# ---------------------------------------------------------------------------------------
# Options and results


@dataclass
class ImportOptions:
    """Choices for one import; the defaults suit most instrument exports.

    Attributes
    ----------
    id_source
        Where sample ids come from.  ``"auto"`` (default): a file with one
        spectrum is named by its file name (through `id_pattern`), and a file
        with several spectra keeps the ids its reader found (id column,
        block titles, numbered rows).  ``"filename"``: always the file name,
        with several spectra of one file numbered ``<id>-01``, ``<id>-02``.
        ``"metadata"``: the sample name stored in the file (OPUS sample
        name, JCAMP-DX title, OMNIC title, PerkinElmer data set name, SPC
        comment), falling back to the file name with a warning.
        ``"table"``: the ids as the file itself writes them (id column of a
        wide table, column names of a table with one spectrum per column)
        without the file-name prefix the readers add.
    id_pattern
        Regular expression searched in the file stem (name without
        extension); its first group, or the whole match when it has no
        group, is the id.  None or ``""`` uses the whole stem.  Example:
        ``coffee_(\\d+)`` names ``coffee_017.csv`` as ``017``.
    column, x_column
        Text-column files: the intensity column (name, number counted from
        1, or ``"all"``) and the x column; passed to the reader.
    block
        Bruker OPUS: the data block to read (``"AB"`` by default, or
        ``"ScSm"``, ``"ScRf"``, ``"IgSm"``, ...); passed to the reader.
    sheet
        Excel: the sheet to read; default the first sheet holding spectra.
    axis_unit
        Overrides the axis unit that files state or that was guessed
        (``"nm"``, ``"cm-1"``, ``"index"``, ...).
    convert_axis_to
        None (default), ``"nm"`` or ``"cm-1"``: converts axes in the other
        unit by ``1e7 / x``.  Files whose axis is neither unit fail.
    resample
        ``"never"`` (default) rejects files with different axes;
        ``"auto"`` resamples them onto a common grid with a notice.
    y_unit
        Overrides the y unit the files state (``"absorbance"``,
        ``"transmittance"`` for fractions, ``"%T"``), for exports that do
        not state it.
    y_conversion
        None (default), ``"absorbance"`` (``A = -log10(T)``) or
        ``"transmittance"`` (``T = 10**-A`` as a fraction).
    sentinels
        ``"mask"`` (default) sets values that instruments write for clipped
        points to NaN; ``"keep"`` keeps them as written.  Both are reported.
    recursive
        Whether folders are searched in their subfolders too.
    """

    id_source: str = "auto"
    id_pattern: str | None = None
    column: str | int | None = None
    x_column: str | int | None = None
    block: str | None = None
    sheet: str | None = None
    axis_unit: str | None = None
    convert_axis_to: str | None = None
    resample: str = "never"
    y_unit: str | None = None
    y_conversion: str | None = None
    sentinels: str = "mask"
    recursive: bool = False

    def validate(self) -> None:
        """Raise `SettingsError` for an option value that the import cannot use."""
        choices = {
            "id_source": ID_SOURCES,
            "convert_axis_to": (None, *AXIS_UNITS_CONVERTIBLE),
            "resample": RESAMPLE_MODES,
            "y_conversion": Y_CONVERSIONS,
            "sentinels": SENTINEL_MODES,
        }
        for name, allowed in choices.items():
            value = getattr(self, name)
            if value not in allowed:
                shown = ", ".join(repr(a) for a in allowed)
                raise SettingsError(f"Import option {name}={value!r} is not valid; use {shown}.")
        if self.y_unit is not None and not y_kind(self.y_unit):
            raise SettingsError(
                f"Import option y_unit={self.y_unit!r} is not a y unit the import converts; "
                f"use 'absorbance', 'transmittance' (a fraction) or '%T'."
            )
        compile_id_pattern(self.id_pattern)

    def reader_options(self) -> dict:
        """Return the options passed to the readers (only those that are set)."""
        options = {"sentinels": self.sentinels}
        for name in ("column", "x_column", "block", "sheet", "axis_unit"):
            value = getattr(self, name)
            if value is not None and value != "":
                options[name] = value
        return options


@dataclass
class FileScan:
    """Files found by `scan_files`: readable candidates and files no reader recognises.

    Iterating over a `FileScan` yields `files`, so it can be passed where a
    list of paths is expected.
    """

    files: list[Path] = field(default_factory=list)
    unsupported: list[tuple[Path, str]] = field(default_factory=list)

    def __iter__(self):
        return iter(self.files)

    def __len__(self) -> int:
        return len(self.files)

    def unsupported_text(self) -> list[str]:
        """Return one line per unsupported file: its name and why it was left out."""
        return [f"{path.name}: {reason}" for path, reason in self.unsupported]


@dataclass
class FilePreview:
    """Contents of one file, after the axis and y options were applied.

    Attributes
    ----------
    path
        The file.
    format
        The reader's description of the format, or "" when reading failed.
    n_spectra
        Number of spectra in the file.
    n_points
        Points per spectrum, one value per block of spectra on one axis.
    axis_range
        ``(low, high)`` of the axis after conversion, or None.
    axis_unit
        Axis unit after any override or conversion.
    axis_direction
        Direction in the file: "ascending", "descending" or "unordered".
    y_unit
        The y unit that the file states (or the `ImportOptions.y_unit` override).
    y_kind
        "absorbance", "transmittance" (a fraction), "%T", or "" when unknown.
    sample_ids
        Ids given to the file's spectra (before duplicates across files are renamed).
    blocks
        The spectra, one data set per axis, with the axis sorted ascending.
    warnings
        The reader's warnings and those of the import steps for this file.
    notices
        Conversions applied to this file.
    error
        Why the file could not be imported, or None.
    """

    path: Path
    format: str = ""
    n_spectra: int = 0
    n_points: list[int] = field(default_factory=list)
    axis_range: tuple[float, float] | None = None
    axis_unit: str = ""
    axis_direction: str = ""
    y_unit: str = ""
    y_kind: str = ""
    sample_ids: list[str] = field(default_factory=list)
    blocks: list[SpectralDataset] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class AxisDecision:
    """The common axis of all files, or the reason why there is none.

    Attributes
    ----------
    kind
        "same" (all files share one axis), "resampled" (interpolated onto a
        common grid), "rejected" (the files cannot share an axis) or "none"
        (no file was read).
    unit
        The common axis unit.
    start, stop, step, n_points
        The common grid (ascending); step is None for an uneven axis.
    method
        How spectra were resampled, or "".
    ranges
        ``(label, low, high, n_points)`` of every block of spectra, in file order.
    message
        The sentence shown to the user: what was done, or why it was rejected.
    """

    kind: str = "none"
    unit: str = ""
    start: float | None = None
    stop: float | None = None
    step: float | None = None
    n_points: int | None = None
    method: str = ""
    ranges: list[tuple[str, float, float, int]] = field(default_factory=list)
    message: str = ""

    def grid(self) -> np.ndarray:
        """Return the axis values of an evenly spaced grid (ascending)."""
        if self.step is None or self.start is None or self.n_points is None:
            raise DataError(f"The common axis is {self.kind}, not an evenly spaced grid.")
        return self.start + self.step * np.arange(self.n_points)


@dataclass
class ImportPreview:
    """Everything the import found and decided, before the data enter a project.

    Attributes
    ----------
    options
        The options used.
    files
        One entry per file, in import order.
    unsupported
        Files of a scanned folder that no reader recognises, with the reason.
    axis
        The common-axis decision.
    sample_ids
        Final ids of all spectra (duplicates resolved), in data set order.
    dataset
        The combined data set, or None when `error` gives the reason.
    masked
        Spectra of `dataset` with NaN points.
    notices
        Decisions the user must see (resampling, conversions, renamed ids).
    warnings
        Problems: file warnings (prefixed with the file name), masked points, ...
    error
        Why no combined data set could be built, or None.
    """

    options: ImportOptions
    files: list[FilePreview] = field(default_factory=list)
    unsupported: list[tuple[Path, str]] = field(default_factory=list)
    axis: AxisDecision = field(default_factory=AxisDecision)
    sample_ids: list[str] = field(default_factory=list)
    dataset: SpectralDataset | None = None
    masked: list[MaskedPoints] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def failed_files(self) -> list[FilePreview]:
        return [f for f in self.files if not f.ok]

    @property
    def ok(self) -> bool:
        """Whether every file was read and the files combine into one data set."""
        return self.dataset is not None and not self.failed_files

    @property
    def n_spectra(self) -> int:
        return sum(f.n_spectra for f in self.files if f.ok)

    def errors_text(self) -> list[str]:
        """Return one line per problem that blocks the import."""
        lines = [f"{f.name}: {f.error}" for f in self.failed_files]
        if self.error:
            lines.append(self.error)
        return lines


@dataclass
class ImportResult:
    """The imported data set and what the user must read about it.

    Attributes
    ----------
    dataset
        The spectra, axis ascending, with reference values joined.
    notices
        Decisions taken (resampling, conversions, renamed ids, joins).
    warnings
        Problems to look at (masked points, unmatched ids, reader warnings,
        files left out).
    preview
        The preview the import was built from.
    ids_without_spectra
        Ids of the reference table with no spectrum.
    spectra_without_references
        Sample ids whose spectrum has no row in the reference table.
    """

    dataset: SpectralDataset
    notices: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    preview: ImportPreview | None = None
    ids_without_spectra: list[str] = field(default_factory=list)
    spectra_without_references: list[str] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        """Return notices, then warnings, as the lines to show."""
        return [*self.notices, *self.warnings]


# ---------------------------------------------------------------------------------------
# Public functions


def natural_key(path: Path | str) -> list:
    """Return a sort key that orders numbers in names by value (sample2 before sample10)."""
    name = Path(path).name
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def scan_files(paths_or_folder, recursive: bool = False) -> FileScan:
    """Expand folders into the spectra files inside them.

    Parameters
    ----------
    paths_or_folder
        A folder, a file, or a list of both.  Files named explicitly are
        kept in the given order, even when no reader recognises them, because
        the preview then shows why.  The files of a folder are sorted naturally.
    recursive
        Whether subfolders are searched too.

    Returns
    -------
    FileScan
        `files` to read, and `unsupported`: files of a folder whose content
        no reader recognises, with the reason.  Hidden files (names starting
        with ".") are not listed.
    """
    if isinstance(paths_or_folder, FileScan):
        return paths_or_folder
    if isinstance(paths_or_folder, (str, Path)):
        paths_or_folder = [paths_or_folder]
    scan = FileScan()
    for entry in paths_or_folder:
        entry = Path(entry)
        if not entry.is_dir():
            scan.files.append(entry)
            continue
        candidates = entry.rglob("*") if recursive else entry.iterdir()
        for path in sorted(candidates, key=lambda p: [natural_key(part) for part in
                                                      p.relative_to(entry).parts]):
            if path.name.startswith(".") or path.is_dir():
                continue
            try:
                pick_reader(path)
            except ReadError as error:
                scan.unsupported.append((path, error.problem))
                continue
            scan.files.append(path)
    return scan


def preview_import(
    paths,
    options: ImportOptions | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> ImportPreview:
    """Read every file and decide how they combine, without raising for bad files.

    Parameters
    ----------
    paths
        Files, folders or a `FileScan`.
    options
        Import choices; defaults to `ImportOptions()`.
    progress
        Called after each file with ``(files done, files in all, file name)``.

    Returns
    -------
    ImportPreview
        Per file: format, spectra, axis range and unit, y unit, warnings
        and error.  Combined: the axis decision, sample ids and the data set
        when all readable files combine (files that failed are left out of
        it and listed in `files`).

    Raises
    ------
    SettingsError
        When an option is invalid (an unknown choice or a broken id pattern).
    """
    options = options or ImportOptions()
    options.validate()
    scan = scan_files(paths, options.recursive)
    preview = ImportPreview(options=options, unsupported=list(scan.unsupported))
    for path, reason in scan.unsupported:
        preview.warnings.append(f"{path.name} was left out: {reason}")
    if not scan.files:
        preview.error = "No spectra files were selected." + (
            f" The folder contains {len(scan.unsupported)} files that no reader recognises."
            if scan.unsupported else ""
        )
        return preview
    pattern = compile_id_pattern(options.id_pattern)
    for number, path in enumerate(scan.files, 1):
        preview.files.append(_preview_file(path, options, pattern))
        if progress is not None:
            progress(number, len(scan.files), path.name)
    for item in preview.files:
        preview.notices.extend(f"{item.name}: {text}" for text in item.notices)
        preview.warnings.extend(f"{item.name}: {text}" for text in item.warnings)
    _combine(preview)
    return preview


def finish_import(
    preview: ImportPreview,
    reference_table=None,
    id_column: str | None = None,
    skip_failed: bool = False,
) -> ImportResult:
    """Turn a preview into the imported data set, joining reference values.

    Parameters
    ----------
    preview
        The result of `preview_import`.
    reference_table
        A CSV/TSV/XLSX path or a DataFrame of reference values, or None.
    id_column
        The column of `reference_table` with the sample ids.  Without it the
        table must have one row per spectrum in data set order.
    skip_failed
        Import the readable files when others failed, listing the failed
        ones in the warnings.  By default any failed file rejects the import.

    Raises
    ------
    ImportRejectedError
        When files failed (unless `skip_failed`) or the files do not combine;
        the message lists every file and what is wrong.
    ReadError
        When the reference table cannot be read or lacks `id_column`.
    """
    problems = preview.errors_text()
    if preview.dataset is None or (preview.failed_files and not skip_failed):
        count = len(problems)
        raise ImportRejectedError(
            f"The import was stopped by {count} problem{'s' if count != 1 else ''}: "
            + " ".join(_sentence(p) for p in problems)
            + ("" if preview.dataset is None else
               " Fix or remove the files that failed, or import the others only."),
            preview,
        )
    result = ImportResult(
        dataset=preview.dataset,
        notices=list(preview.notices),
        warnings=list(preview.warnings),
        preview=preview,
    )
    for item in preview.failed_files:
        result.warnings.append(f"{item.name} was left out: {item.error}")
    if reference_table is not None:
        _join_references(result, reference_table, id_column)
    return result


def import_files(
    paths,
    options: ImportOptions | None = None,
    reference_table=None,
    id_column: str | None = None,
    skip_failed: bool = False,
) -> ImportResult:
    """Read files or folders into one data set: `preview_import`, then `finish_import`.

    See `finish_import` for the parameters and errors.
    """
    preview = preview_import(paths, options)
    return finish_import(preview, reference_table, id_column, skip_failed)


# ---------------------------------------------------------------------------------------
# Small public helpers (also used by the window)


def compile_id_pattern(pattern: str | None) -> re.Pattern | None:
    """Compile an id pattern, raising `SettingsError` that names a broken expression."""
    if not pattern:
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        raise SettingsError(
            f"The id pattern {pattern!r} is not a valid regular expression ({error}). "
            f"Example: coffee_(\\d+) takes the digits after 'coffee_'."
        ) from None


def id_from_stem(stem: str, pattern: re.Pattern | None) -> str | None:
    """Return the id that `pattern` finds in a file stem, or None when it finds none."""
    if pattern is None:
        return stem
    match = pattern.search(stem)
    if match is None:
        return None
    groups = [g for g in match.groups() if g is not None]
    value = groups[0] if groups else match.group(0)
    return value.strip() or None


# ---------------------------------------------------------------------------------------
# One file


def _preview_file(path: Path, options: ImportOptions, pattern: re.Pattern | None) -> FilePreview:
    item = FilePreview(path=Path(path))
    try:
        result = read_spectra(path, **options.reader_options())
        item.format = result.format
        item.warnings.extend(result.warnings)
        blocks = [_copy(block) for block in result.blocks]
        _apply_options(item, blocks, options)
        _assign_ids(item, blocks, options, pattern)
    except SpecganError as error:
        item.error = _problem(error)
        return item
    except Exception as error:  # noqa: BLE001 - one broken file must not stop the preview
        log.exception("unexpected failure while importing %s", path)
        item.error = (f"reading failed unexpectedly ({type(error).__name__}: {error}). "
                      f"This is a bug in the reader; please report it with the file.")
        return item
    item.blocks = blocks
    item.n_spectra = sum(b.n_samples for b in blocks)
    item.n_points = [b.n_points for b in blocks]
    item.axis_unit = _common_text([b.axis_unit for b in blocks])
    item.axis_range = (min(float(b.axis[0]) for b in blocks),
                       max(float(b.axis[-1]) for b in blocks))
    return item


def _apply_options(item: FilePreview, blocks: list[SpectralDataset],
                   options: ImportOptions) -> None:
    """Sort each block's axis ascending and apply the unit overrides and conversions."""
    directions = {axis_direction(block.axis) for block in blocks}
    item.axis_direction = directions.pop() if len(directions) == 1 else "unordered"
    if options.axis_unit:
        stated = _common_text([b.axis_unit for b in blocks])
        if stated and stated != options.axis_unit:
            item.notices.append(f"Axis unit set to {options.axis_unit} (the file gave {stated}).")
        for block in blocks:
            block.axis_unit = options.axis_unit
    if options.y_unit:
        for block in blocks:
            block.y_unit = options.y_unit
    item.y_unit = _common_text([b.y_unit for b in blocks])
    item.y_kind = y_kind(item.y_unit, np.concatenate([b.spectra.ravel() for b in blocks]))
    notices = []
    for block in blocks:
        sort_axis_ascending(block)
        if options.convert_axis_to:
            notices.append(convert_axis_unit(item.path, block, options.convert_axis_to))
        if options.y_conversion:
            notices.append(convert_y_unit(item.path, block, options.y_conversion))
    # Blocks of one file convert alike, so each distinct sentence is shown once.
    item.notices.extend(dict.fromkeys(n for n in notices if n))


def _problem(error: SpecganError) -> str:
    """Return an error's text without the file path (the preview names the file)."""
    if isinstance(error, ReadError):
        where = f"({error.location}) " if error.location else ""
        return f"{where}{error.problem} {error.hint}".strip()
    return str(error)


def _copy(block: SpectralDataset) -> SpectralDataset:
    return SpectralDataset(
        axis=block.axis.copy(),
        spectra=block.spectra.copy(),
        axis_unit=block.axis_unit,
        sample_ids=list(block.sample_ids),
        references=block.references.copy(),
        metadata=dict(block.metadata),
        y_unit=block.y_unit,
        name=block.name,
    )


def _common_text(values: Iterable[str]) -> str:
    values = list(dict.fromkeys(v for v in values))
    return values[0] if len(values) == 1 else ", ".join(v for v in values if v)


# ---------------------------------------------------------------------------------------
# Sample ids


def _assign_ids(item: FilePreview, blocks: list[SpectralDataset], options: ImportOptions,
                pattern: re.Pattern | None) -> None:
    stem = item.path.stem
    file_id = id_from_stem(stem, pattern)
    if file_id is None:
        item.warnings.append(
            f"The id pattern {options.id_pattern!r} does not match the file name, so the "
            f"whole name {stem!r} is the id."
        )
        file_id = stem
    reader_ids = [s for b in blocks for s in b.sample_ids]
    count = len(reader_ids)
    source = options.id_source
    if source == "auto":
        source = "filename" if count == 1 else "reader"
    if source == "filename":
        width = max(2, len(str(count)))
        ids = [file_id] if count == 1 else [f"{file_id}-{i:0{width}d}" for i in
                                            range(1, count + 1)]
    elif source == "metadata":
        ids = _metadata_ids(item, blocks, file_id)
    elif source == "table":
        # Readers prefix in-file names with the stem ("stem: name"). An id equal to the
        # stem means the file names no sample, so the file id (through the pattern) is used.
        prefix = f"{stem}: "
        ids = [s[len(prefix):] if s.startswith(prefix) else s for s in reader_ids]
        ids = [file_id if s == stem else s for s in ids]
    else:
        # Where the reader named spectra after the file ("stem-001", "stem: title"), the
        # pattern's file id replaces the stem. Ids from the file's content stay as they are.
        ids = [_replace_stem(s, stem, file_id) for s in reader_ids]
    position = 0
    for block in blocks:
        block.sample_ids = ids[position:position + block.n_samples]
        position += block.n_samples
    item.sample_ids = ids


def _replace_stem(sample: str, stem: str, file_id: str) -> str:
    if sample == stem:
        return file_id
    for separator in ("-", ": "):
        if sample.startswith(stem + separator):
            return file_id + sample[len(stem):]
    return sample


def _metadata_ids(item: FilePreview, blocks: list[SpectralDataset], file_id: str) -> list[str]:
    count = sum(b.n_samples for b in blocks)
    if count == 1:
        for key in METADATA_ID_KEYS:
            value = str(blocks[0].metadata.get(key, "")).strip()
            if value:
                return [value]
        item.warnings.append("The file stores no sample name, so the file name is the id.")
        return [file_id]
    # Readers already name each spectrum of a multi-spectrum file after its title or row.
    return [s for b in blocks for s in b.sample_ids]


def _unique_ids(preview: ImportPreview, items: list[FilePreview]) -> None:
    """Make ids unique across files: prefix repeats with the file id, then number them."""
    all_ids = [s for item in items for s in item.sample_ids]
    counts = pd.Series(all_ids).value_counts()
    repeated = set(counts[counts > 1].index)
    if not repeated:
        return
    renamed = []
    seen: set[str] = set()
    pattern = compile_id_pattern(preview.options.id_pattern)
    for item in items:
        file_id = id_from_stem(item.path.stem, pattern) or item.path.stem
        new_ids = []
        for sample in item.sample_ids:
            candidate = sample
            if sample in repeated and not sample.startswith(file_id):
                candidate = f"{file_id}: {sample}"
            number = 2
            base = candidate
            while candidate in seen:
                candidate = f"{base} ({number})"
                number += 1
            seen.add(candidate)
            if candidate != sample:
                renamed.append(f"{sample} -> {candidate}")
            new_ids.append(candidate)
        item.sample_ids = new_ids
        position = 0
        for block in item.blocks:
            block.sample_ids = new_ids[position:position + block.n_samples]
            position += block.n_samples
    preview.notices.append(
        f"{len(repeated)} sample ids repeat across files, so {len(renamed)} spectra were "
        f"renamed: {_listed(renamed)}."
    )


# ---------------------------------------------------------------------------------------
# Combining files


def _combine(preview: ImportPreview) -> None:
    items = [item for item in preview.files if item.ok]
    if not items:
        preview.error = "None of the selected files could be read."
        return
    _unique_ids(preview, items)
    preview.sample_ids = [s for item in items for s in item.sample_ids]
    blocks = [(item, block) for item in items for block in item.blocks]
    decision = _decide_axis(preview.options, blocks)
    preview.axis = decision
    if decision.kind == "rejected":
        preview.error = decision.message
        return
    if decision.kind == "resampled":
        preview.notices.append(decision.message)

    axis = decision.grid() if decision.kind == "resampled" else blocks[0][1].axis
    spectra = []
    for _item, block in blocks:
        if _same_axis(axis, block.axis):
            spectra.append(block.spectra)
        else:
            spectra.append(_resample(block, axis))

    y_units = list(dict.fromkeys(block.y_unit for _, block in blocks))
    if len(y_units) > 1:
        by_unit = {unit: list(dict.fromkeys(item.name for item, block in blocks
                                            if block.y_unit == unit)) for unit in y_units}
        listed = "; ".join(f"{unit or 'not stated'}: {_listed(names)}"
                           for unit, names in by_unit.items())
        preview.warnings.append(
            f"The files have different y units ({listed}). Set {Y_UNIT_OPTION} for files "
            f"that do not state it, convert transmittance to absorbance "
            f"({Y_CONVERSION_OPTION}), or import the files separately."
        )

    try:
        dataset = SpectralDataset(
            axis=axis,
            spectra=np.vstack(spectra),
            axis_unit=decision.unit,
            sample_ids=preview.sample_ids,
            references=pd.concat([b.references for _, b in blocks], ignore_index=True),
            metadata=_metadata(preview, items, decision),
            y_unit=y_units[0] if len(y_units) == 1 else "",
            name=_name(items),
        )
    except SpecganError as error:
        preview.error = str(error)
        return
    preview.dataset = dataset
    preview.masked = masked_points(dataset)
    if preview.masked:
        preview.warnings.append(_masked_warning(dataset, preview.masked))


def _decide_axis(options: ImportOptions, blocks) -> AxisDecision:
    decision = AxisDecision()
    for item, block in blocks:
        label = item.name if len(item.blocks) == 1 else f"{item.name} ({block.sample_ids[0]})"
        decision.ranges.append((label, float(block.axis[0]), float(block.axis[-1]),
                                block.n_points))
    units = list(dict.fromkeys(block.axis_unit for _, block in blocks))
    if len(units) > 1:
        by_unit = {u: list(dict.fromkeys(item.name for item, block in blocks
                                         if block.axis_unit == u)) for u in units}
        decision.kind = "rejected"
        decision.message = (
            "The files have different axis units (" + "; ".join(
                f"{u}: {_listed(names)}" for u, names in by_unit.items())
            + f"). Convert the axes to one unit, nm or cm-1 ({AXIS_CONVERSION_OPTION}), or "
            f"set {AXIS_UNIT_OPTION} if a file states it wrongly."
        )
        return decision
    decision.unit = units[0]

    first = blocks[0][1].axis
    if all(_same_axis(first, block.axis) for _, block in blocks):
        decision.kind = "same"
        _describe_grid(decision, first)
        decision.message = f"All spectra share one axis: {_grid_text(decision)}."
        return decision
    return _resampling_decision(options, blocks, decision)


def _resampling_decision(options: ImportOptions, blocks, decision: AxisDecision) -> AxisDecision:
    """Decide on a common grid for blocks on different axes, or reject them with the ranges."""
    ranges_text = "; ".join(f"{label} {low:g} to {high:g} {decision.unit} ({n} points)"
                            for label, low, high, n in decision.ranges[:MAX_LISTED])
    if len(decision.ranges) > MAX_LISTED:
        ranges_text += f"; and {len(decision.ranges) - MAX_LISTED} more"

    low = max(float(block.axis[0]) for _, block in blocks)
    high = min(float(block.axis[-1]) for _, block in blocks)
    widths = [float(block.axis[-1] - block.axis[0]) for _, block in blocks]
    narrowest = min(widths)
    overlap = max(high - low, 0.0)
    fraction = overlap / narrowest if narrowest > 0 else 0.0

    if options.resample != "auto":
        decision.kind = "rejected"
        decision.message = (
            f"The files have different axes ({ranges_text}). Turn on "
            f"resampling to interpolate them onto a common grid, or import them separately."
        )
        return decision
    if high <= low or fraction < MIN_OVERLAP:
        decision.kind = "rejected"
        common = (f"overlap only from {low:g} to {high:g} {decision.unit}, {fraction:.0%} of "
                  f"the narrowest range" if high > low else "do not overlap at all")
        decision.message = (
            f"The axes {common}; resampling needs an overlap of at least {MIN_OVERLAP:.0%}. "
            f"Ranges: {ranges_text}. Import these files separately."
        )
        return decision
    steps = [float(np.median(np.diff(block.axis))) for _, block in blocks if block.n_points > 1]
    steps = [step for step in steps if step > 0]
    if not steps:
        decision.kind = "rejected"
        decision.message = (f"The axes have no point spacing to resample with ({ranges_text}). "
                            f"Import these files separately.")
        return decision
    step = min(steps)

    n_points = int(np.floor((high - low) / step + 1e-9)) + 1
    decision.kind = "resampled"
    decision.start = low
    decision.step = step
    decision.n_points = n_points
    decision.stop = low + (n_points - 1) * step
    decision.method = RESAMPLING_METHOD
    moved = sum(block.n_samples for _, block in blocks
                if not _same_axis(decision.grid(), block.axis))
    decision.message = (
        f"The files have different axes, so {moved} spectra were resampled by "
        f"{RESAMPLING_METHOD} onto a common grid: {_grid_text(decision)}, the overlap of all "
        f"axes at the finest spacing among them. Axes found: {ranges_text}."
    )
    return decision


def _same_axis(a: np.ndarray, b: np.ndarray) -> bool:
    if a.shape != b.shape:
        return False
    if a.size < 2:
        return bool(np.array_equal(a, b))
    spacing = float(np.min(np.abs(np.diff(a)))) or 1.0
    return bool(np.allclose(a, b, rtol=0, atol=SAME_AXIS_TOLERANCE * spacing))


def _describe_grid(decision: AxisDecision, axis: np.ndarray) -> None:
    decision.start = float(axis[0])
    decision.stop = float(axis[-1])
    decision.n_points = int(axis.size)
    steps = np.diff(axis)
    if steps.size and np.allclose(steps, steps[0], rtol=1e-3, atol=0):
        decision.step = float(np.mean(steps))


def _grid_text(decision: AxisDecision) -> str:
    step = f" in steps of {decision.step:.6g}" if decision.step is not None else ""
    return (f"{decision.start:g} to {decision.stop:g} {decision.unit}{step} "
            f"({decision.n_points} points)")


def _resample(block: SpectralDataset, axis: np.ndarray) -> np.ndarray:
    # np.interp needs an increasing xp; blocks were sorted ascending when read.
    return np.vstack([np.interp(axis, block.axis, row) for row in block.spectra])


def _metadata(preview: ImportPreview, items: list[FilePreview],
              decision: AxisDecision) -> dict[str, str]:
    metadata: dict[str, str] = {}
    if len(items) == 1 and len(items[0].blocks) == 1:
        metadata.update({str(k): str(v) for k, v in items[0].blocks[0].metadata.items()})
    directions = {item.axis_direction for item in items}
    metadata["axis_direction"] = directions.pop() if len(directions) == 1 else "mixed"
    metadata["sources"] = ", ".join(item.name for item in items)[:MAX_METADATA_TEXT]
    metadata["formats"] = "; ".join(dict.fromkeys(item.format for item in items))[
        :MAX_METADATA_TEXT]
    if decision.kind == "resampled":
        metadata["axis_resampling"] = decision.message[:MAX_METADATA_TEXT]
    options = preview.options
    if options.convert_axis_to:
        metadata["axis_conversion"] = f"converted to {options.convert_axis_to} by 1e7 / x"
    if options.y_conversion:
        metadata["y_conversion"] = f"converted to {options.y_conversion}"
    return metadata


def _name(items: list[FilePreview]) -> str:
    first = items[0].path.stem
    return first if len(items) == 1 else f"{first} and {len(items) - 1} more"


def _masked_warning(dataset: SpectralDataset, masked: list[MaskedPoints]) -> str:
    spectra = _listed([m.describe() for m in masked])
    text = (
        f"{len(masked)} of {dataset.n_samples} spectra contain masked points (NaN: values "
        f"the file marks as clipped, invalid or missing): {spectra}. A spectrum with NaN "
        f"cannot train a model."
    )
    clean = widest_clean_range(dataset)
    if clean is None:
        return (text + " No axis range is free of masked points, so fill them or remove "
                "those spectra.")
    return (text + f" Crop the axis to {clean[0]:g}-{clean[1]:g} {dataset.axis_unit}, the "
            f"widest range without masked points, or remove those spectra.")


# ---------------------------------------------------------------------------------------
# Reference values


def _join_references(result: ImportResult, reference_table, id_column: str | None) -> None:
    dataset = result.dataset
    if isinstance(reference_table, pd.DataFrame):
        table = reference_table.copy()
        name = "the reference table"
    else:
        table = read_reference_table(reference_table, id_column=id_column)
        name = Path(reference_table).name
    text_cells = dict(table.attrs.get("text_cells", {}))

    if id_column is None:
        if len(table) != dataset.n_samples:
            raise ReadError(
                name, f"has {len(table)} rows for {dataset.n_samples} spectra.",
                hint="Choose the column that holds the sample ids, so that rows are matched "
                "by id.",
            )
        result.dataset, _ = attach_references(dataset, table, source=name)
        result.warnings.extend(text_cell_warnings(name, text_cells, dataset.sample_ids))
        result.notices.append(f"Reference values from {name} were joined by row order.")
        return
    if id_column not in table.columns:
        raise ReadError(
            name, f"has no column {id_column!r}.",
            hint=f"Columns: {', '.join(map(str, table.columns))}.",
        )

    table[id_column] = [_id_text(v) for v in table[id_column]]
    # Rows without an id are named by their row number, the header being row 1.
    row_names = [v or f"row {i + 2}" for i, v in enumerate(table[id_column])]
    result.warnings.extend(text_cell_warnings(name, text_cells, row_names))
    table = table[table[id_column] != ""]
    repeated = sorted(set(table.loc[table[id_column].duplicated(), id_column]))
    if repeated:
        rows = _repeated_rows(table, id_column, repeated)
        result.warnings.append(
            f"{name}: ids repeat in column {id_column!r}: {rows}. "
            f"The first row of each was used; remove the wrong rows from {name} to use "
            f"another."
        )
    table = table.drop_duplicates(subset=id_column)
    keys = _match_ids(dataset.sample_ids, list(table[id_column]), result, name)
    table[id_column] = [keys.get(v, v) for v in table[id_column]]
    matched = set(table[id_column]) & set(dataset.sample_ids)
    if not matched:
        # Readers prefix the ids of a file with several spectra with the file's
        # name ("long: 1"); without it they may match.
        unprefixed = {sid.split(": ", 1)[1] for sid in dataset.sample_ids if ": " in sid}
        if unprefixed & {str(v) for v in table[id_column]}:
            hint = ("The spectra's ids start with their file's name. Import with the id "
                    "source 'table' (--id-source table; in the import dialog, Id source: "
                    "Ids written in the file) to use the ids as the file writes them.")
        else:
            hint = (f"Check that {id_column!r} is the id column and that the table belongs "
                    "to these spectra; the id source or id pattern of the import sets the "
                    "spectra's ids.")
        raise ReadError(
            name,
            f"none of its {len(table)} ids in column {id_column!r} match a sample id "
            f"(table: {_listed(list(table[id_column])[:3])}; spectra: "
            f"{_listed(dataset.sample_ids[:3])}).",
            hint=hint,
        )
    joined, _ = attach_references(dataset, table, id_column, source=name)
    result.dataset = joined

    result.spectra_without_references = [s for s in dataset.sample_ids if s not in matched]
    ids = set(dataset.sample_ids)
    result.ids_without_spectra = [v for v in table[id_column] if v not in ids]
    result.notices.append(
        f"Reference values from {name} were joined by sample id (column {id_column!r}): "
        f"{dataset.n_samples - len(result.spectra_without_references)} of "
        f"{dataset.n_samples} spectra matched."
    )
    if result.spectra_without_references:
        missing = result.spectra_without_references
        subject = "1 spectrum has" if len(missing) == 1 else f"{len(missing)} spectra have"
        result.warnings.append(
            f"{subject} no row in {name}, so their reference values are empty: "
            f"{_listed(missing)}."
        )
    _warn_empty_values(result, joined, table, id_column, matched, name)
    if result.ids_without_spectra:
        unused = result.ids_without_spectra
        result.warnings.append(
            f"{len(unused)} ids of {name} have no spectrum: {_listed(unused)}."
        )


def _warn_empty_values(result: ImportResult, joined, table: pd.DataFrame, id_column: str,
                       matched: set, name: str) -> None:
    """Warn about spectra whose row in the reference table leaves a column empty.

    The caller lists the spectra without any row.  These have a row but no
    value in the column, so the comparison would leave them out later.
    """
    has_row = np.array([sample in matched for sample in joined.sample_ids])
    for column in table.columns:
        if column == id_column or column not in joined.references.columns:
            continue
        empty = missing_values(joined.references[column])
        samples = [joined.sample_ids[i] for i in np.nonzero(empty & has_row)[0]]
        if samples:
            subject = "1 spectrum has" if len(samples) == 1 else f"{len(samples)} spectra have"
            result.warnings.append(
                f"{subject} a row in {name} but no {str(column)!r} value: {_listed(samples)}."
            )


def _repeated_rows(table: pd.DataFrame, id_column: str, repeated: list[str]) -> str:
    """Describe repeated ids with the values that differ between their rows."""
    details = []
    for sample in repeated[:MAX_LISTED]:
        rows = table[table[id_column] == sample]
        differing = [c for c in rows.columns
                     if c != id_column and rows[c].astype(str).nunique() > 1]
        if differing:
            values = "; ".join(
                f"{c} " + " vs ".join(_cell_text(v) for v in rows[c]) for c in differing[:3])
            details.append(f"{sample} ({values})")
        else:
            details.append(f"{sample} ({len(rows)} identical rows)")
    if len(repeated) > MAX_LISTED:
        details.append(f"and {len(repeated) - MAX_LISTED} more")
    return ", ".join(details)


def _cell_text(value) -> str:
    if isinstance(value, (float, np.floating)):
        return "empty" if np.isnan(value) else f"{value:g}"
    return "empty" if value is None else str(value)


def guess_id_column(table: pd.DataFrame, sample_ids: list[str]) -> str | None:
    """Return the column of `table` that holds the sample ids, or None.

    A column qualifies when its values, read as text, match at least half
    of the smaller of its rows and the sample ids (numbers also without
    leading zeros, as the join matches them); of several, the one with the
    most matches wins.
    """
    def key(value) -> str:
        text = _id_text(value)
        return (text.lstrip("0") or "0") if text.isdigit() else text

    ids = {key(s) for s in sample_ids}
    needed = max(1.0, 0.5 * min(len(table), len(sample_ids)))
    best, best_count = None, 0
    for column in table.columns:
        count = sum(key(value) in ids for value in table[column].dropna())
        if count >= needed and count > best_count:
            best, best_count = str(column), count
    return best


def _id_text(value) -> str:
    """Return an id cell as text; whole floats lose the ".0" that Excel and pandas add."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _match_ids(sample_ids: list[str], table_ids: list[str], result: ImportResult,
               name: str) -> dict[str, str]:
    """Map table ids to sample ids where they differ only by leading zeros ("17", "017")."""
    exact = set(sample_ids) & set(table_ids)
    loose: dict[str, list[str]] = {}
    for sample in sample_ids:
        if sample not in exact and sample.isdigit():
            loose.setdefault(sample.lstrip("0") or "0", []).append(sample)
    mapping = {}
    for table_id in table_ids:
        if table_id in exact or not table_id.isdigit():
            continue
        candidates = loose.get(table_id.lstrip("0") or "0", [])
        if len(candidates) == 1:
            mapping[table_id] = candidates[0]
    if mapping:
        pairs = [f"{a} = {b}" for a, b in mapping.items()]
        result.notices.append(
            f"{len(mapping)} ids of {name} match sample ids only without leading zeros and "
            f"were joined that way: {_listed(pairs)}."
        )
    return mapping


# ---------------------------------------------------------------------------------------
# Text helpers


def _listed(items: list[str]) -> str:
    shown = ", ".join(str(i) for i in items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        shown += f" and {len(items) - MAX_LISTED} more"
    return shown


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."
