"""The reader interface and the registry that picks a reader for a file.

Each reader states how sure it is that it can read a file from the first
bytes (`Reader.sniff`), so the registry decides by content first and by
extension only to break ties.  A file that no reader claims is rejected
with the list of supported formats instead of being guessed at.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import ReadError

log = logging.getLogger(__name__)

#: Bytes read from the start of a file for `Reader.sniff`.
SNIFF_BYTES = 4096


_WAVENUMBER_UNIT = re.compile(
    r"(?<![a-z])(1\s*/\s*cm|cm\s*\^?\s*\(?\s*[-\u2212]\s*1\s*\)?|cm\s*\*\*\s*-\s*1|cm\u207b\u00b9"
    r"|cm-\u00b9|wave\s*numbers?|raman\s*shift)(?![a-z0-9])",
    re.IGNORECASE,
)
_NANOMETRE_UNIT = re.compile(r"(?<![a-z])(nm|nanomet(er|re)s?)(?![a-z])", re.IGNORECASE)


def axis_unit_from_label(label: str) -> str | None:
    """Return "cm-1" or "nm" when a unit label or column name states that unit.

    Recognises JCAMP-DX ``1/CM`` and ``NANOMETERS`` and headers such as
    ``Wavelength (nm)``, ``Wavenumber [cm^-1]`` or ``Raman shift``.  Any other
    text gives None, so callers handle other units themselves.
    """
    text = str(label).strip()
    if _WAVENUMBER_UNIT.search(text):
        return "cm-1"
    if _NANOMETRE_UNIT.search(text):
        return "nm"
    return None


@dataclass
class ReadResult:
    """What a reader returns: the spectra plus how they were read.

    A file may hold spectra on different axes (JCAMP-DX LINK blocks, SPC
    files with one x array per subfile), so `blocks` holds one data set per
    axis, in file order.  `dataset` merges them when they share one axis.
    """

    blocks: list[SpectralDataset]
    format: str
    warnings: list[str] = field(default_factory=list)
    path: str = ""

    @classmethod
    def single(cls, dataset: SpectralDataset, format: str, warnings=None, path="") -> ReadResult:
        return cls([dataset], format, list(warnings or []), str(path))

    @property
    def dataset(self) -> SpectralDataset:
        """Return all spectra as one data set; reject blocks on different axes."""
        if len(self.blocks) == 1:
            return self.blocks[0]
        first = self.blocks[0]
        for block in self.blocks[1:]:
            same = block.axis.shape == first.axis.shape and np.array_equal(block.axis, first.axis)
            if not same or block.axis_unit != first.axis_unit:
                raise ReadError(
                    self.path or first.name,
                    f"holds {len(self.blocks)} blocks of spectra on different axes "
                    f"({', '.join(str(b.n_points) for b in self.blocks[:6])} points).",
                    hint="Import one block at a time, or resample them onto one grid.",
                )
        ids = [s for b in self.blocks for s in b.sample_ids]
        return SpectralDataset(
            axis=first.axis,
            spectra=np.vstack([b.spectra for b in self.blocks]),
            axis_unit=first.axis_unit,
            sample_ids=ids,
            references=pd.concat([b.references for b in self.blocks], ignore_index=True),
            metadata=dict(first.metadata),
            y_unit=first.y_unit,
            name=first.name,
        )

    @property
    def n_spectra(self) -> int:
        return sum(b.n_samples for b in self.blocks)


class Reader:
    """Base class of readers; subclasses set the class attributes and methods."""

    #: Short format name shown to users, such as "CSV/TSV wide table".
    name = ""
    #: Lower-case extensions, with the dot, that this format usually has.
    extensions: tuple[str, ...] = ()

    def sniff(self, path: Path, head: bytes) -> int:
        """Return 0 to 100: how sure the reader is that it reads this file."""
        raise NotImplementedError

    def read(self, path: Path, **options) -> ReadResult:
        raise NotImplementedError


_REGISTRY: list[Reader] = []


def register(reader: Reader) -> Reader:
    """Add a reader to the registry (readers register themselves on import)."""
    _REGISTRY.append(reader)
    return reader


#: Reader modules under specgan_gui.io; each registers its readers on import.
READER_MODULES = ("table", "spc", "opus", "omnic", "perkinelmer", "jcamp", "text_columns")


def _ensure_readers_loaded() -> None:
    # Imported lazily so that each reader module can import this one.
    import importlib

    for name in READER_MODULES:
        importlib.import_module(f"specgan_gui.io.{name}")


def supported_formats() -> list[str]:
    """Return one line per supported format: name and usual extensions."""
    _ensure_readers_loaded()
    return [f"{r.name} ({', '.join(r.extensions)})" for r in _REGISTRY]


def file_dialog_filter() -> str:
    """Return a file-dialog filter with every supported extension, then all files."""
    _ensure_readers_loaded()
    patterns = sorted({f"*{ext}" for reader in _REGISTRY for ext in reader.extensions})
    return f"Spectra ({' '.join(patterns)});;All files (*)"


def pick_reader(path: Path) -> Reader:
    """Return the reader for a file, by content first and extension second."""
    _ensure_readers_loaded()
    path = Path(path)
    if not path.exists():
        raise ReadError(path, "file not found.", hint="Check the path and try again.")
    if path.is_dir():
        raise ReadError(path, "is a folder, not a file.", hint="Select the files inside it.")
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    if not head:
        raise ReadError(path, "the file is empty.", hint="Export the spectra again.")
    scored = []
    for order, reader in enumerate(_REGISTRY):
        score = reader.sniff(path, head)
        if score > 0:
            extension_bonus = 1 if path.suffix.lower() in reader.extensions else 0
            scored.append((score, extension_bonus, -order, reader))
    if not scored:
        formats = "; ".join(supported_formats())
        raise ReadError(
            path,
            "no reader recognises this file's content.",
            hint=f"Supported formats: {formats}.",
        )
    scored.sort(key=lambda item: item[:3], reverse=True)
    return scored[0][3]


def read_spectra(path, **options) -> ReadResult:
    """Read one file into a `ReadResult`.

    Raises
    ------
    ReadError
        When the file is missing, empty, of an unknown format or malformed;
        the message names the file, the place and what to do.
    """
    path = Path(path)
    reader = pick_reader(path)
    log.info("reading %s as %s", path, reader.name)
    result = reader.read(path, **options)
    result.path = str(path)
    for warning in result.warnings:
        log.warning("%s: %s", path, warning)
    return result


def read_many(paths, **options) -> ReadResult:
    """Read several files whose spectra share one axis into one data set.

    Spectra from files with different axes are not resampled silently: the
    files are rejected with the ranges found, so the user decides.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ReadError("(no file)", "no files were selected.", hint="Select one or more files.")
    results = [read_spectra(p, **options) for p in paths]
    if len(results) == 1:
        return results[0]
    first = results[0].dataset
    warnings: list[str] = []
    for path, result in zip(paths, results):
        warnings.extend(f"{path.name}: {w}" for w in result.warnings)
        other = result.dataset
        if other.axis.shape != first.axis.shape or not np.allclose(other.axis, first.axis):
            raise ReadError(
                path,
                f"its axis ({other.n_points} points, {other.axis[0]:g} to {other.axis[-1]:g}) "
                f"differs from {paths[0].name} ({first.n_points} points, "
                f"{first.axis[0]:g} to {first.axis[-1]:g}).",
                hint="Import files with the same axis together, or export them on one grid.",
            )
        if other.axis_unit != first.axis_unit:
            raise ReadError(
                path,
                f"its axis unit {other.axis_unit!r} differs from {first.axis_unit!r} "
                f"in {paths[0].name}.",
                hint="Import files with the same axis unit together.",
            )
    ids: list[str] = []
    for path, result in zip(paths, results):
        ids.extend(result.dataset.sample_ids)
    if len(set(ids)) != len(ids):
        # Prefix ids with the file name so that equal ids from different files stay apart.
        ids = [
            f"{path.stem}:{sample}"
            for path, result in zip(paths, results)
            for sample in result.dataset.sample_ids
        ]
        warnings.append("Sample ids repeat across files; each id now starts with its file name.")
    references = pd.concat([r.dataset.references for r in results], ignore_index=True)
    dataset = SpectralDataset(
        axis=first.axis,
        spectra=np.vstack([r.dataset.spectra for r in results]),
        axis_unit=first.axis_unit,
        sample_ids=ids,
        references=references,
        metadata={"sources": ", ".join(p.name for p in paths)},
        y_unit=first.y_unit,
        name=paths[0].stem if len(paths) == 1 else f"{paths[0].stem} and {len(paths) - 1} more",
    )
    formats = sorted({r.format for r in results})
    return ReadResult.single(dataset, ", ".join(formats), warnings)
