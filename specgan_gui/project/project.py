"""The project object: data, settings and every result of one piece of work.

A `Project` is plain data (numpy arrays, pandas, dicts and `Tree` values) so
the store can write it without pickle and the engine can use it without Qt
or torch.  `specgan_gui.project.store` saves it to and loads it from HDF5.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Union

import numpy as np

from specgan_gui.data.dataset import SpectralDataset

logger = logging.getLogger(__name__)

#: Nested state as the store writes it: keys are non-empty strings without
#: "/", leaves are numpy arrays (numeric, bool or unicode) or Python scalars.
Tree = dict[str, Union["Tree", np.ndarray, int, float, bool, str]]


def default_preprocessing() -> list[dict]:
    """Return the default pipeline spec: scaling to [-1, 1] only."""
    return [{"kind": "scale", "params": {}}]


def checkpoints_to_drop(epochs, max_kept: int) -> list[int]:
    """Choose which checkpoint epochs to drop so at most `max_kept` remain.

    The first and the newest epoch are always kept.  While too many remain,
    the rule drops the interior epoch whose removal leaves the smallest gap
    between its two neighbours (on ties, the earlier one), so the kept
    epochs stay spread over the whole run.

    Parameters
    ----------
    epochs
        Epochs currently held, in any order, without repeats.
    max_kept
        Maximum number of checkpoints to keep, at least 1.  With 1 only
        the newest epoch is kept.

    Returns
    -------
    list[int]
        Epochs to drop, in ascending order.
    """
    if max_kept < 1:
        raise ValueError(f"max_kept must be at least 1, got {max_kept}.")
    remaining = sorted(int(e) for e in epochs)
    if len(remaining) <= max_kept:
        return []
    if max_kept == 1:
        return remaining[:-1]

    dropped = []
    while len(remaining) > max_kept:
        # Gap left between the neighbours of each interior epoch if it were dropped.
        gaps = [remaining[i + 1] - remaining[i - 1] for i in range(1, len(remaining) - 1)]
        position = 1 + int(np.argmin(gaps))  # argmin returns the first of ties
        dropped.append(remaining.pop(position))
    return sorted(dropped)


def transfer_rows(record: Tree) -> list[dict]:
    """Return the result table rows of one transfer run record.

    Each row is a dict with ``"model"``, the metric names of the run and
    ``"checkpoint_epoch"`` (None when the run used no GAN checkpoint).  The
    rows are read from ``"rows_json"`` (a JSON list of dicts, as written by
    `ComparisonResult.to_record`) or from ``"rows"``, which may hold one
    subtree per row or one array per column.
    """
    if "rows_json" in record:
        raw_rows = json.loads(str(record["rows_json"]))
    else:
        raw_rows = _rows_from_tree(record.get("rows", {}))

    epoch = record.get("checkpoint_epoch")
    rows = []
    for raw in raw_rows:
        row = {name: _plain_value(value) for name, value in raw.items()}
        if epoch is not None:
            row["checkpoint_epoch"] = int(epoch)
        else:
            row.setdefault("checkpoint_epoch", None)
        rows.append(row)
    return rows


def sweep_points(record: Tree) -> list[dict]:
    """Return ``[{"epoch", <metric>: value}, ...]`` of one sweep record.

    The record contains ``epochs`` (int64 array), ``metric`` (its name, such as
    ``"rmsecv"`` or ``"accuracy"``) and ``values`` (float64 array).
    """
    metric = str(record["metric"])
    return [
        {"epoch": int(epoch), metric: float(value)}
        for epoch, value in zip(np.asarray(record["epochs"]), np.asarray(record["values"]))
    ]


def _rows_from_tree(rows_tree: Tree) -> list[dict]:
    if all(isinstance(value, dict) for value in rows_tree.values()):
        return [dict(row) for row in rows_tree.values()]
    columns = {name: np.atleast_1d(np.asarray(value)) for name, value in rows_tree.items()}
    n_rows = min((column.shape[0] for column in columns.values()), default=0)
    return [{name: column[i] for name, column in columns.items()} for i in range(n_rows)]


def _plain_value(value):
    """Turn numpy scalars and 0-d arrays into Python values for tables."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class Project:
    """Everything one project file holds, in memory.

    Attributes
    ----------
    dataset
        The spectra with sample ids and reference values, or None before
        any data is loaded.
    target
        Reference column the models predict, or None.
    extra_targets
        Further numeric reference columns predicted together with `target`
        (regression only).
    task
        ``"regression"`` or ``"classification"``.
    preprocessing
        Pipeline spec as returned by `Pipeline.to_spec`.
    preprocessing_state
        Fitted numbers as returned by `Pipeline.fitted_state`.
    pls_preprocessing
        PLS's own pipeline spec, or None when PLS uses `preprocessing` like
        the networks.
    gan_architecture
        `GANArchitecture.to_dict()`, or None before the first GAN run.
    gan_settings
        `GANTrainingSettings.to_dict()`.
    history
        One float64 array of shape ``(n_epochs,)`` per statistic
        (`EpochStats.FIELDS`), all of the same length.
    snapshots
        Epoch -> generated spectra, float32 ``(k, n_points)`` in scaled
        units.
    checkpoints
        Epoch -> discriminator parameters (name -> array).
    resume_state
        `GANTrainer.resume_state()` of the latest run, or None.
    transfer_settings
        `TransferSettings.to_dict()` of the latest transfer or sweep, so the
        window and the command line start from the settings used last.
    transfer_runs
        `ComparisonResult.to_record()` of each transfer run, oldest first.
    sweeps
        `SweepResult.to_record()` of each checkpoint sweep, oldest first.
    alarms
        GAN health alarms of the current run, oldest first; each a tree with
        ``epoch`` (int), ``kind`` (str) and ``message`` (str).
    realism
        Realism measures per snapshot epoch: one float64 column ``(k,)``
        per measure, with an ``epoch`` column, all of the same length.
    models
        Model name -> `FittedModel.to_tree()`.
    predictions
        One tree per prediction: model, source, sample_ids (unicode array),
        values (float or unicode array), created.
    path
        File the project was last loaded from or saved to; not stored.
    modified
        True after any change since the last save or load; not stored.
    """

    dataset: SpectralDataset | None = None
    target: str | None = None
    extra_targets: list[str] = field(default_factory=list)
    task: str = "regression"
    preprocessing: list[dict] = field(default_factory=default_preprocessing)
    preprocessing_state: dict[str, np.ndarray] = field(default_factory=dict)
    pls_preprocessing: list[dict] | None = None
    gan_architecture: dict | None = None
    gan_settings: dict = field(default_factory=dict)
    history: dict[str, np.ndarray] = field(default_factory=dict)
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    checkpoints: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    resume_state: Tree | None = None
    transfer_settings: dict = field(default_factory=dict)
    transfer_runs: list[Tree] = field(default_factory=list)
    sweeps: list[Tree] = field(default_factory=list)
    alarms: list[Tree] = field(default_factory=list)
    realism: dict[str, np.ndarray] = field(default_factory=dict)
    models: dict[str, Tree] = field(default_factory=dict)
    predictions: list[Tree] = field(default_factory=list)
    path: Path | None = None
    # `modified` must stay the last field: __init__ assigns it last, so a
    # freshly built project starts unmodified despite the __setattr__ below.
    modified: bool = False

    def __setattr__(self, name: str, value) -> None:
        # Replacing any stored part marks the project modified.  Changes made
        # inside a dict or list must go through the methods below instead.
        object.__setattr__(self, name, value)
        if name not in ("modified", "path"):
            object.__setattr__(self, "modified", True)

    # --- training results -------------------------------------------------
    def append_history(self, stats: dict) -> None:
        """Append one row (one epoch) to every history column.

        A key not seen before starts a new column, filled with NaN for the
        earlier epochs.  A column missing from `stats` gets NaN in this row.
        """
        n_rows = self._history_length()
        for name in stats:
            if name not in self.history:
                self.history[name] = np.full(n_rows, np.nan)
        for name, column in self.history.items():
            value = float(stats[name]) if name in stats else np.nan
            self.history[name] = np.append(column, value)
        self.modified = True

    def _history_length(self) -> int:
        return max((column.shape[0] for column in self.history.values()), default=0)

    def add_snapshot(self, epoch: int, spectra: np.ndarray) -> None:
        """Store generated spectra ``(k, n_points)`` for `epoch`."""
        self.snapshots[int(epoch)] = np.asarray(spectra)
        self.modified = True

    def add_checkpoint(
        self, epoch: int, state: dict[str, np.ndarray], max_kept: int
    ) -> list[int]:
        """Store discriminator parameters for `epoch` and thin out old ones.

        Returns
        -------
        list[int]
            Epochs dropped to stay within `max_kept` (see `checkpoints_to_drop`).
        """
        self.checkpoints[int(epoch)] = {name: np.asarray(value) for name, value in state.items()}
        dropped = checkpoints_to_drop(self.checkpoints, max_kept)
        for old_epoch in dropped:
            del self.checkpoints[old_epoch]
        if dropped:
            logger.info(
                "Dropped checkpoints %s to keep at most %s spread over the run",
                dropped,
                max_kept,
            )
        self.modified = True
        return dropped

    @property
    def epochs_trained(self) -> int:
        """Completed GAN epochs: the last history epoch, 0 without history."""
        epochs = self.history.get("epoch")
        if epochs is None or epochs.size == 0 or np.isnan(epochs[-1]):
            return 0
        return int(epochs[-1])

    @property
    def checkpoint_epochs(self) -> list[int]:
        """Epochs that have a stored checkpoint, ascending."""
        return sorted(self.checkpoints)

    def reset_training(self) -> None:
        """Forget the GAN run: history, snapshots, checkpoints, resume state,
        health alarms, realism measures and the sweeps over its checkpoints.

        Callers use it when the data or GAN settings change, because the
        old run no longer belongs to them.
        """
        self.history = {}
        self.snapshots = {}
        self.checkpoints = {}
        self.resume_state = None
        self.alarms = []
        self.realism = {}
        self.sweeps = []

    # --- transfer, models and predictions ---------------------------------
    def add_transfer_run(self, record: Tree) -> None:
        """Append a `ComparisonResult.to_record()` tree."""
        self.transfer_runs.append(record)
        self.modified = True

    def set_model(self, name: str, tree: Tree) -> None:
        """Store a `FittedModel.to_tree()` under `name`, replacing any before."""
        self.models[name] = tree
        self.modified = True

    def add_prediction(self, tree: Tree) -> None:
        """Append one prediction tree."""
        self.predictions.append(tree)
        self.modified = True

    # --- summary ------------------------------------------------------------
    def info(self) -> dict:
        """Return a summary for the window's overview and ``specgan info``."""
        # Imported here because the store imports this module.
        from specgan_gui.project.store import FORMAT_VERSION

        dataset = self.dataset
        results = [row for record in self.transfer_runs for row in transfer_rows(record)]
        return {
            "dataset_name": dataset.name if dataset is not None else None,
            "n_spectra": dataset.n_samples if dataset is not None else 0,
            "n_points": dataset.n_points if dataset is not None else 0,
            "axis_unit": dataset.axis_unit if dataset is not None else None,
            "target": self.target,
            "targets": ([self.target] if self.target else []) + list(self.extra_targets),
            "task": self.task,
            "preprocessing": [dict(step) for step in self.preprocessing],
            "pls_preprocessing": (
                None if self.pls_preprocessing is None
                else [dict(step) for step in self.pls_preprocessing]
            ),
            "epochs_trained": self.epochs_trained,
            "checkpoint_epochs": self.checkpoint_epochs,
            "transfer_results": results,
            "sweep": sweep_points(self.sweeps[-1]) if self.sweeps else [],
            "alarms": [
                {"epoch": int(a["epoch"]), "kind": str(a["kind"]), "message": str(a["message"])}
                for a in self.alarms
            ],
            "models": list(self.models),
            # Predicted samples over all prediction runs, so that one run on
            # 60 spectra reads as 60 predictions.
            "n_predictions": int(sum(np.asarray(p["values"]).size for p in self.predictions)),
            "prediction_runs": len(self.predictions),
            "format_version": FORMAT_VERSION,
        }


#: Names of the stored fields, in the order the dataclass declares them.
STORED_FIELDS = tuple(f.name for f in fields(Project) if f.name not in ("path", "modified"))
