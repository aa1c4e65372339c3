"""Save and load projects as one HDF5 file each.

The layout, the versioning rule and the reasons behind them are described
in ``docs/project-format.md``.  Everything is written as plain numeric
datasets, UTF-8 strings and JSON text, never pickle, so opening a project
cannot run code and other HDF5 tools can read it.

Saving is atomic: the file is written under a temporary name in the target
folder, flushed to disk, and only then renamed over the target, so a failed
save leaves the previous file as it was.
"""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from specgan_gui import __version__
from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import ProjectFileError, SpecganError
from specgan_gui.project.project import Project, Tree

logger = logging.getLogger(__name__)

#: Version of the layout this module writes.  Raise it when the layout
#: changes, and add a migration from the previous version to MIGRATIONS.
FORMAT_VERSION = 1
APPLICATION = "specgan_gui"

#: Migrations of older files: ``MIGRATIONS[v]`` turns an in-memory copy of a
#: version-``v`` file into version ``v + 1``, in place.  The loader applies
#: them in a chain and then reads the copy as a current file.  The file on
#: disk is only rewritten when the user saves.
MIGRATIONS: dict[int, Callable[[h5py.File], None]] = {}

#: Rows per chunk of the growable history datasets (8 KiB of float64).
HISTORY_CHUNK_ROWS = 1024

# Attribute that records how a Tree leaf was written, when the dataset's
# own type does not say it (Python scalars, numpy scalars, unicode arrays).
_KIND = "kind"


# --- low-level writers ------------------------------------------------------
def _new_group(parent: h5py.Group, name: str) -> h5py.Group:
    # Creation order is tracked so dicts come back in the order written.
    return parent.create_group(name, track_order=True)


def _new_dataset(parent: h5py.Group, name: str, data, **options) -> h5py.Dataset:
    # No modification times, so saving the same project twice gives the
    # same bytes.  No compression, because network weights barely compress
    # and compressing about 61 MB per checkpoint would slow every save.
    return parent.create_dataset(name, data=data, track_times=False, **options)


def _string_array(values) -> np.ndarray:
    """Convert strings to an array h5py writes as variable-length UTF-8."""
    return np.array([str(v) for v in np.ravel(values)], dtype=h5py.string_dtype()).reshape(
        np.shape(values)
    )


def _check_key(group: h5py.Group, key) -> None:
    where = f"{group.name.rstrip('/')}/{key}"
    if not isinstance(key, str):
        raise TypeError(f"Tree keys must be strings; got {key!r} at {group.name}.")
    if key in ("", ".") or "/" in key:
        raise ValueError(
            f"Tree key {key!r} at {where} cannot be an HDF5 name: keys must be "
            f"non-empty, must not be '.', and must not contain '/'."
        )


def _check_string(text: str, where: str) -> None:
    # HDF5 variable-length strings end at the first NUL, so the rest would
    # be lost without notice.
    if "\x00" in text:
        raise ValueError(f"The string at {where} contains a NUL character.")


def write_tree(group: h5py.Group, tree: Tree) -> None:
    """Write a nested dict of arrays and scalars into an HDF5 group.

    Sub-dicts become groups, leaves become datasets.  `read_tree` returns
    Python `int`, `float`, `bool` and `str` with their type, numpy scalars
    with their dtype, and unicode arrays with their ``U`` width.

    Raises
    ------
    ValueError
        A key is empty, is ``"."`` or contains ``"/"``.
    TypeError
        A key is not a string, or a value is not a supported leaf
        (lists, None and object arrays are not).
    """
    for key, value in tree.items():
        _check_key(group, key)
        if isinstance(value, dict):
            write_tree(_new_group(group, key), value)
        else:
            _write_leaf(group, key, value)


def _write_leaf(group: h5py.Group, key: str, value) -> None:
    where = f"{group.name.rstrip('/')}/{key}"
    # bool before int (bool is an int subclass), numpy scalars before the
    # Python types (np.float64 is a float subclass) to keep their dtype.
    if isinstance(value, bool):
        _new_dataset(group, key, np.bool_(value)).attrs[_KIND] = "bool"
    elif isinstance(value, np.generic) and not isinstance(value, np.str_):
        _check_array_dtype(value.dtype, where)
        _new_dataset(group, key, value).attrs[_KIND] = "numpy_scalar"
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise TypeError(f"The integer at {where} does not fit in 64 bits: {value}.")
        _new_dataset(group, key, np.int64(value)).attrs[_KIND] = "int"
    elif isinstance(value, float):
        _new_dataset(group, key, np.float64(value)).attrs[_KIND] = "float"
    elif isinstance(value, str):
        _check_string(value, where)
        dataset = _new_dataset(group, key, str(value), dtype=h5py.string_dtype())
        dataset.attrs[_KIND] = "str"
    elif isinstance(value, np.ndarray):
        _write_array_leaf(group, key, value, where)
    else:
        raise TypeError(
            f"Cannot store a value of type {type(value).__name__} at {where}; tree "
            f"leaves must be numpy arrays, int, float, bool or str (encode lists as "
            f"arrays or JSON text, and omit None)."
        )


def _check_array_dtype(dtype: np.dtype, where: str) -> None:
    if dtype.kind not in "biufc":
        raise TypeError(
            f"Cannot store an array of dtype {dtype} at {where}; arrays must be "
            f"numeric, bool or unicode strings."
        )


def _write_array_leaf(group: h5py.Group, key: str, value: np.ndarray, where: str) -> None:
    if value.dtype.kind == "U":
        for text in np.ravel(value):
            _check_string(str(text), where)
        dataset = _new_dataset(group, key, _string_array(value))
        dataset.attrs[_KIND] = "unicode"
        # The U width (characters per item) is kept so the dtype round trips.
        dataset.attrs["width"] = value.dtype.itemsize // np.dtype("U1").itemsize
        return
    _check_array_dtype(value.dtype, where)
    _new_dataset(group, key, value)


def read_tree(group: h5py.Group) -> Tree:
    """Read a group written by `write_tree` back into a nested dict."""
    tree: Tree = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            tree[key] = read_tree(item)
        else:
            tree[key] = _read_leaf(item)
    return tree


def _read_leaf(dataset: h5py.Dataset):
    kind = dataset.attrs.get(_KIND)
    if kind == "bool":
        return bool(dataset[()])
    if kind == "int":
        return int(dataset[()])
    if kind == "float":
        return float(dataset[()])
    if kind == "str":
        return dataset.asstr()[()]
    if kind == "numpy_scalar":
        return dataset[()]
    if kind == "unicode":
        width = int(dataset.attrs["width"])
        return np.asarray(dataset.asstr()[...], dtype=object).astype(f"U{width}")
    return dataset[...]


# --- saving -------------------------------------------------------------------
def save_project(project: Project, path: str | os.PathLike | None = None) -> Path:
    """Write `project` to `path` atomically and return the path written.

    Without `path`, the project's own `path` is used.  On success the
    project's `path` is set and `modified` cleared.  On failure the file
    that was at `path` before is left unchanged and the temporary file is
    removed.

    Raises
    ------
    ProjectFileError
        The file could not be written (missing folder, no permission,
        disk full).
    """
    if path is None:
        path = project.path
    if path is None:
        raise ValueError("save_project needs a path for a project that was never saved.")
    target = Path(os.path.realpath(path))
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    started = time.perf_counter()

    try:
        with h5py.File(temporary, "w", track_order=True) as file:
            _write_project(file, project)
        _fsync_file(temporary)
        if target.exists():
            os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
        os.replace(temporary, target)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise ProjectFileError(
                f"Failed to save the project to {target}: {error}. Check that the "
                f"folder exists, is writable and has free space; the previous file, "
                f"if any, is unchanged."
            ) from error
        raise

    _fsync_folder(target.parent)
    project.path = target
    project.modified = False
    logger.info(
        "Saved project %s (%.1f MB) in %.2f s",
        target,
        target.stat().st_size / 1e6,
        time.perf_counter() - started,
    )
    return target


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_folder(folder: Path) -> None:
    # Makes the rename itself durable.  The new file is already in place, so
    # a failure here is only logged; folders cannot be opened on Windows.
    if os.name != "posix":
        return
    try:
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    except OSError as error:
        logger.warning("Could not flush folder %s to disk: %s", folder, error)


def _write_project(file: h5py.File, project: Project) -> None:
    file.attrs["format_version"] = np.int64(FORMAT_VERSION)
    file.attrs["application"] = APPLICATION
    file.attrs["app_version"] = __version__

    if project.dataset is not None:
        _write_dataset(_new_group(file, "dataset"), project.dataset)
    _write_settings(_new_group(file, "settings"), project)
    write_tree(_new_group(file, "preprocessing_state"), project.preprocessing_state)
    _write_history(_new_group(file, "history"), project.history)
    _write_snapshots(_new_group(file, "snapshots"), project.snapshots)
    _write_checkpoints(_new_group(file, "checkpoints"), project.checkpoints)
    if project.resume_state is not None:
        write_tree(_new_group(file, "resume"), project.resume_state)
    _write_numbered_trees(_new_group(file, "transfer_runs"), "run", project.transfer_runs)
    write_tree(_new_group(file, "models"), project.models)
    _write_numbered_trees(_new_group(file, "predictions"), "prediction", project.predictions)
    _write_numbered_trees(_new_group(file, "sweeps"), "sweep", project.sweeps)
    _write_numbered_trees(_new_group(file, "alarms"), "alarm", project.alarms)
    write_tree(_new_group(file, "realism"), project.realism)


def _write_dataset(group: h5py.Group, dataset: SpectralDataset) -> None:
    group.attrs["name"] = dataset.name
    group.attrs["axis_unit"] = dataset.axis_unit
    group.attrs["y_unit"] = dataset.y_unit
    group.attrs["metadata"] = json.dumps(dataset.metadata, ensure_ascii=False)
    _new_dataset(group, "axis", dataset.axis)
    _new_dataset(group, "spectra", dataset.spectra)
    _new_dataset(group, "sample_ids", _string_array(np.array(dataset.sample_ids, dtype=object)))
    _write_references(_new_group(group, "references"), dataset.references)


def _write_references(group: h5py.Group, references: pd.DataFrame) -> None:
    # Column labels may contain "/" (such as "glucose (g/L)"), so datasets are
    # named by position and the labels, in order, live in an attribute.
    labels = [str(label) for label in references.columns]
    group.attrs["columns"] = _string_array(np.array(labels, dtype=object))
    for position, label in enumerate(labels):
        column = references.iloc[:, position]
        name = f"column_{position:03d}"
        if pd.api.types.is_numeric_dtype(column.dtype):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            dataset = _new_dataset(group, name, values)
            dataset.attrs["kind"] = "numeric"
        else:
            missing = column.isna().to_numpy()
            texts = ["" if gone else str(v) for v, gone in zip(column.to_numpy(), missing)]
            dataset = _new_dataset(group, name, _string_array(np.array(texts, dtype=object)))
            dataset.attrs["kind"] = "text"
            dataset.attrs["missing"] = np.flatnonzero(missing).astype(np.int64)
        dataset.attrs["label"] = label
        dataset.attrs["pandas_dtype"] = str(column.dtype)


def _write_settings(group: h5py.Group, project: Project) -> None:
    if project.target is not None:
        group.attrs["target"] = project.target
    group.attrs["task"] = project.task
    group.attrs["preprocessing"] = json.dumps(project.preprocessing, ensure_ascii=False)
    if project.pls_preprocessing is not None:
        group.attrs["pls_preprocessing"] = json.dumps(
            project.pls_preprocessing, ensure_ascii=False
        )
    group.attrs["transfer_settings"] = json.dumps(project.transfer_settings, ensure_ascii=False)
    group.attrs["extra_targets"] = json.dumps(list(project.extra_targets), ensure_ascii=False)
    if project.gan_architecture is not None:
        group.attrs["gan_architecture"] = json.dumps(project.gan_architecture, ensure_ascii=False)
    group.attrs["gan_settings"] = json.dumps(project.gan_settings, ensure_ascii=False)


def _write_history(group: h5py.Group, history: dict[str, np.ndarray]) -> None:
    for name, column in history.items():
        _check_key(group, name)
        # Chunked with no size limit so a column can grow in place.
        _new_dataset(
            group,
            name,
            np.asarray(column, dtype=np.float64),
            maxshape=(None,),
            chunks=(HISTORY_CHUNK_ROWS,),
        )


def _epoch_name(epoch: int) -> str:
    return f"epoch_{epoch:06d}"


def _write_snapshots(group: h5py.Group, snapshots: dict[int, np.ndarray]) -> None:
    for epoch in sorted(snapshots):
        dataset = _new_dataset(group, _epoch_name(epoch), np.asarray(snapshots[epoch]))
        dataset.attrs["epoch"] = np.int64(epoch)


def _write_checkpoints(group: h5py.Group, checkpoints: dict[int, dict]) -> None:
    for epoch in sorted(checkpoints):
        checkpoint = _new_group(group, _epoch_name(epoch))
        checkpoint.attrs["epoch"] = np.int64(epoch)
        write_tree(checkpoint, checkpoints[epoch])


def _write_numbered_trees(group: h5py.Group, prefix: str, trees: list[Tree]) -> None:
    for index, tree in enumerate(trees):
        write_tree(_new_group(group, f"{prefix}_{index:03d}"), tree)


# --- loading ------------------------------------------------------------------
def load_project(path: str | os.PathLike) -> Project:
    """Read a project file written by `save_project`.

    Files of an older format version are migrated in memory (see
    `MIGRATIONS`); the file itself is not changed.

    Raises
    ------
    ProjectFileError
        The file is missing, is not an HDF5 file, is not a specgan_gui
        project, has a newer format version, or is damaged.
    """
    path = Path(path)
    if not path.exists():
        raise ProjectFileError(f"Project file {path} was not found.")
    if path.is_dir():
        raise ProjectFileError(f"{path} is a folder, not a project file.")
    if not h5py.is_hdf5(path):
        raise ProjectFileError(
            f"{path} is not a specgan_gui project: it is not an HDF5 file "
            f"(found {_describe_start(path)})."
        )

    started = time.perf_counter()
    try:
        with h5py.File(path, "r") as file:
            version = _check_header(path, file)
            if version < FORMAT_VERSION:
                with _migrated_copy(path, file, version) as migrated:
                    project = _read_project(migrated)
            else:
                project = _read_project(file)
    except ProjectFileError:
        raise
    except (OSError, KeyError, ValueError, TypeError, SpecganError) as error:
        raise ProjectFileError(
            f"Failed to read project file {path}, which may be damaged: {error}."
        ) from error

    project.path = path
    project.modified = False
    logger.info("Loaded project %s in %.2f s", path, time.perf_counter() - started)
    return project


def _describe_start(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(64)
    if not head:
        return "an empty file"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"binary data starting with bytes {head[:8].hex(' ')}"
    return f"text starting with {text.splitlines()[0][:40]!r}"


def _check_header(path: Path, file: h5py.File) -> int:
    application = file.attrs.get("application")
    version = file.attrs.get("format_version")
    if application != APPLICATION or version is None:
        members = ", ".join(list(file.keys())[:8]) or "none"
        raise ProjectFileError(
            f"{path} is an HDF5 file but not a specgan_gui project: its root has no "
            f"application = {APPLICATION!r} and format_version attributes (root "
            f"members: {members})."
        )
    if not isinstance(version, (int, np.integer)):
        raise ProjectFileError(
            f"{path} has an invalid format_version {version!r}; expected an integer."
        )

    version = int(version)
    if version > FORMAT_VERSION:
        saved_by = file.attrs.get("app_version", "an unknown version")
        raise ProjectFileError(
            f"{path} uses project format version {version} (saved by specgan_gui "
            f"{saved_by}), but this specgan_gui {__version__} reads format versions "
            f"up to {FORMAT_VERSION}. Open it with a newer specgan_gui."
        )
    return version


def _migrated_copy(path: Path, file: h5py.File, version: int) -> h5py.File:
    """Copy `file` into memory and upgrade the copy to FORMAT_VERSION."""
    # The core driver without a backing store keeps the copy in memory only,
    # so the user's file stays as it was until they save.
    memory = h5py.File(
        f"{path.name}-migration-{id(file)}",
        "w",
        driver="core",
        backing_store=False,
        track_order=True,
    )
    try:
        for name, value in file.attrs.items():
            memory.attrs[name] = value
        for name in file:
            file.copy(file[name], memory, name=name)
        for step in range(version, FORMAT_VERSION):
            migrate = MIGRATIONS.get(step)
            if migrate is None:
                raise ProjectFileError(
                    f"{path} uses project format version {version}, and this "
                    f"specgan_gui {__version__} has no migration from version {step} "
                    f"to {step + 1}. Open it with the specgan_gui version that saved it."
                )
            migrate(memory)
            memory.attrs["format_version"] = np.int64(step + 1)
            logger.info("Migrated %s from format version %s to %s", path, step, step + 1)
    except BaseException:
        memory.close()
        raise
    return memory


def _read_project(file: h5py.File) -> Project:
    settings = file["settings"].attrs
    target = settings.get("target")
    architecture = settings.get("gan_architecture")
    pls_preprocessing = settings.get("pls_preprocessing")
    return Project(
        dataset=_read_dataset(file["dataset"]) if "dataset" in file else None,
        target=str(target) if target is not None else None,
        task=str(settings["task"]),
        preprocessing=json.loads(settings["preprocessing"]),
        preprocessing_state=read_tree(file["preprocessing_state"]),
        pls_preprocessing=(
            json.loads(pls_preprocessing) if pls_preprocessing is not None else None
        ),
        gan_architecture=json.loads(architecture) if architecture is not None else None,
        gan_settings=json.loads(settings["gan_settings"]),
        history={name: column[...] for name, column in file["history"].items()},
        snapshots={
            int(item.attrs["epoch"]): item[...] for item in file["snapshots"].values()
        },
        checkpoints={
            int(item.attrs["epoch"]): read_tree(item) for item in file["checkpoints"].values()
        },
        resume_state=read_tree(file["resume"]) if "resume" in file else None,
        transfer_runs=_read_numbered_trees(file["transfer_runs"]),
        models=read_tree(file["models"]),
        predictions=_read_numbered_trees(file["predictions"]),
        # Groups added after the first release are optional, so files saved
        # before them open with empty values.
        transfer_settings=json.loads(settings.get("transfer_settings", "{}")),
        extra_targets=[str(t) for t in json.loads(settings.get("extra_targets", "[]"))],
        sweeps=_read_numbered_trees(file["sweeps"]) if "sweeps" in file else [],
        alarms=_read_numbered_trees(file["alarms"]) if "alarms" in file else [],
        realism=read_tree(file["realism"]) if "realism" in file else {},
    )


def _read_dataset(group: h5py.Group) -> SpectralDataset:
    return SpectralDataset(
        axis=group["axis"][...],
        spectra=group["spectra"][...],
        axis_unit=str(group.attrs["axis_unit"]),
        sample_ids=list(group["sample_ids"].asstr()[...]),
        references=_read_references(group["references"], group["spectra"].shape[0]),
        metadata=json.loads(group.attrs["metadata"]),
        y_unit=str(group.attrs["y_unit"]),
        name=str(group.attrs["name"]),
    )


def _read_references(group: h5py.Group, n_samples: int) -> pd.DataFrame:
    labels = [str(label) for label in group.attrs["columns"]]
    if not labels:
        return pd.DataFrame(index=range(n_samples))
    columns = {}
    for position, label in enumerate(labels):
        dataset = group[f"column_{position:03d}"]
        dtype = str(dataset.attrs["pandas_dtype"])
        if dataset.attrs["kind"] == "numeric":
            values = dataset[...]
        else:
            values = np.asarray(dataset.asstr()[...], dtype=object)
            values[dataset.attrs["missing"]] = np.nan
        columns[label] = _restore_dtype(pd.Series(values), dtype, label)
    return pd.DataFrame(columns)


def _restore_dtype(column: pd.Series, dtype: str, label: str) -> pd.Series:
    try:
        return column.astype(dtype)
    except (TypeError, ValueError) as error:
        # Happens only for dtypes this pandas does not know; the values are
        # still right, in float64 or text form.
        logger.warning(
            "Reference column %r kept as %s, not %s: %s", label, column.dtype, dtype, error
        )
        return column


def _read_numbered_trees(group: h5py.Group) -> list[Tree]:
    # Sort by the number, not the name, so run_1000 follows run_999.
    items = sorted(group.items(), key=lambda item: int(item[0].rsplit("_", 1)[1]))
    return [read_tree(item) for _, item in items]
