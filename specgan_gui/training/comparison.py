"""Cross-validated comparison of GAN transfer, a network from scratch and PLS.

All models see identical folds, and in each fold a fresh copy of the
preprocessing pipeline is fitted on the training spectra only, so no
held-out spectrum informs scaling or any other fitted number.  PLS (or
PLS-DA for classes) chooses its number of components by an inner
cross-validation on the training fold alone.  PLS may use a pipeline of its
own (`compare_models`'s ``pls_pipeline``), refitted in each fold the same
way, and each result row names the pipeline its model used.  After
cross-validation each model is fitted once more on all samples, and
`predict` uses those final models.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cross_decomposition import PLSRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from specgan_gui.data.dataset import SpectralDataset, column_unit, missing_values
from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import DataError, SettingsError
from specgan_gui.models.gan1d import GANArchitecture, state_to_numpy
from specgan_gui.training.device import resolve_device
from specgan_gui.training.prediction import FittedModel, pls_arrays
from specgan_gui.training.task import TaskState
from specgan_gui.training.transfer import (
    TASKS,
    TargetCoding,
    TransferSettings,
    build_network,
    network_outputs,
    train_network,
)
from specgan_gui.training.statistics import paired_difference
from specgan_gui.training.statistics import verdict as verdict_text

if TYPE_CHECKING:
    from specgan_gui.training.gan_trainer import Checkpoint

logger = logging.getLogger(__name__)

MODEL_NAMES = ("GAN transfer", "From scratch", "PLS")

#: Keys of the models in stored records (HDF5 group member names).
MODEL_KEYS = {"GAN transfer": "gan_transfer", "From scratch": "from_scratch", "PLS": "pls"}

#: "auto" cross-validation uses leave-one-out up to this many samples.
LEAVE_ONE_OUT_LIMIT = 30

#: Minimum number of samples a comparison accepts (leave-one-out then trains on 2).
MIN_SAMPLES = 3


# --- targets and folds -------------------------------------------------------------
def class_label(value) -> str:
    """Return a class label as text, dropping the ``.0`` of integer-valued numbers."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def missing_target(dataset: SpectralDataset, target: str) -> np.ndarray:
    """Return a mask ``(n_samples,)`` of samples without a value in the column `target`.

    Empty cells count as missing in text columns, as a table marks them.
    """
    return missing_values(dataset.references[target])


def left_out_message(
    target: str | Sequence[str], sample_ids: list[str], purpose: str = ""
) -> str:
    """Return a sentence naming the samples without a `target` value.

    `target` is one column name, or several when a sample needs a value in
    each.  `purpose`, such as ``"the comparison"``, ends the sentence as
    "left out of the comparison".
    """
    names = [target] if isinstance(target, str) else [str(name) for name in target]
    if len(names) == 1:
        missing = f"no {names[0]!r} value"
    else:
        quoted = [repr(name) for name in names]
        missing = f"no value in {', '.join(quoted[:-1])} or {quoted[-1]}"
    count = len(sample_ids)
    subject = (f"1 sample has {missing} and is" if count == 1
               else f"{count} samples have {missing} and are")
    listed = ", ".join(sample_ids[:10]) + (f" and {count - 10} more" if count > 10 else "")
    where = f" of {purpose}" if purpose else ""
    return f"{subject} left out{where}: {listed}"


def target_values(dataset: SpectralDataset, target: str, task: str) -> np.ndarray:
    """Return the target column as floats (regression) or unicode labels.

    Raises
    ------
    DataError
        When the column is missing, has missing values (the message lists
        the sample ids), is not numeric for regression, or has one class.
    """
    if task not in TASKS:
        raise SettingsError(f"Unknown task {task!r}. Choose one of {', '.join(TASKS)}.")
    columns = [str(c) for c in dataset.references.columns]
    if target not in columns:
        known = ", ".join(columns) if columns else "none"
        raise DataError(
            f"The data set has no reference column {target!r} (columns: {known}). "
            f"Load reference values or choose another target."
        )
    column = dataset.references[dataset.references.columns[columns.index(target)]]
    missing = missing_target(dataset, dataset.references.columns[columns.index(target)])
    if missing.any():
        ids = [dataset.sample_ids[i] for i in np.nonzero(missing)[0]]
        listed = ", ".join(ids[:10])
        if len(ids) > 10:
            listed += f" and {len(ids) - 10} more"
        raise DataError(
            f"Reference column {target!r} has no value for {len(ids)} samples: {listed}. "
            f"Fill in those values in the reference table and join it again."
        )

    if task == "regression":
        numbers = pd.to_numeric(column, errors="coerce")
        text = np.nonzero(numbers.isna().to_numpy())[0]
        if text.size:
            first = int(text[0])
            raise DataError(
                f"Reference column {target!r} contains text, not numbers "
                f"({str(column.iloc[first])!r} for sample {dataset.sample_ids[first]}, "
                f"{text.size} such value{'s' if text.size != 1 else ''}), so it cannot be a "
                f"regression target. Choose classification or a numeric column."
            )
        values = numbers.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(f"Reference column {target!r} contains infinite values.")
        return values

    labels = np.array([class_label(v) for v in column], dtype=str)
    if len(np.unique(labels)) < 2:
        raise DataError(
            f"Reference column {target!r} has a single class ({labels[0]!r}), but "
            f"classification needs at least two."
        )
    n_classes = len(np.unique(labels))
    if n_classes > len(labels) // 2:
        # Most classes would then hold one sample, which no training fold can
        # teach: a continuous column chosen as a class label by mistake.
        raise DataError(
            f"Reference column {target!r} has {n_classes} distinct values among "
            f"{len(labels)} samples, too many to be classes. Choose regression for a "
            f"numeric column, or a column that names a few classes."
        )
    return labels


def group_labels(dataset: SpectralDataset, column: str) -> np.ndarray | None:
    """Return the group of each sample from reference column `column` as text.

    Returns None for an empty `column` (no grouping).

    Raises
    ------
    DataError
        When the column does not exist or has no value for some samples
        (the message names them).
    """
    if not column:
        return None
    columns = [str(c) for c in dataset.references.columns]
    if column not in columns:
        known = ", ".join(columns) if columns else "none"
        raise DataError(
            f"The group column {column!r} is not a reference column (columns: {known}). "
            f"Choose a column that names each sample's group, or no grouping."
        )
    label = dataset.references.columns[columns.index(column)]
    missing = missing_target(dataset, label)
    if missing.any():
        ids = [dataset.sample_ids[i] for i in np.nonzero(missing)[0]]
        listed = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
        raise DataError(
            f"Group column {column!r} has no value for {len(ids)} samples: {listed}. Fill "
            f"in their groups (each sample's own id, if it has no replicates) or choose "
            f"another group column."
        )
    return np.array([class_label(v) for v in dataset.references[label]], dtype=str)


def make_folds(
    n_samples: int,
    settings: TransferSettings,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    seed: int | None = None,
) -> np.ndarray:
    """Return the test fold of each sample, ``(n_samples,)`` integers from 0.

    ``"auto"`` is leave-one-out up to `LEAVE_ONE_OUT_LIMIT` samples (or
    groups) and k-fold above.  K-fold is stratified for classification
    (`labels` given) when every class has at least `n_folds` members, else
    plain shuffled k-fold.  With `groups`, samples of one group always share
    a fold: leave-one-out becomes leave-one-group-out and k-fold becomes
    (stratified) group k-fold.  Shuffling uses `seed`, by default
    ``settings.seed``.

    Raises
    ------
    DataError
        When there are fewer than `MIN_SAMPLES` samples or a fold would be
        empty (more folds than samples or groups).
    """
    if n_samples < MIN_SAMPLES:
        raise DataError(
            f"Cross-validation needs at least {MIN_SAMPLES} samples with a reference "
            f"value; there are {n_samples}. Add samples before comparing models."
        )
    seed = settings.seed if seed is None else int(seed)
    n_units = n_samples if groups is None else len(np.unique(groups))
    scheme = settings.cv
    if scheme == "auto":
        scheme = "loo" if n_units <= LEAVE_ONE_OUT_LIMIT else "kfold"
    if groups is not None and n_units < 2:
        raise DataError(
            f"All {n_samples} samples are in one group, so grouped cross-validation has "
            f"no group to test on. Choose a group column with at least 2 groups, or no "
            f"grouping."
        )
    if scheme == "loo":
        if groups is None:
            return np.arange(n_samples)
        return np.unique(groups, return_inverse=True)[1].astype(np.int64)

    n_folds = settings.n_folds
    if groups is not None and n_folds > n_units:
        raise DataError(
            f"{n_folds}-fold cross-validation of {n_units} groups would leave a fold "
            f"empty. Choose at most {n_units} folds, leave-one-out (one group per fold), "
            f"or a group column with more groups."
        )
    if n_folds > n_samples:
        raise DataError(
            f"{n_folds}-fold cross-validation of {n_samples} samples would leave a fold "
            f"empty. Choose at most {n_samples} folds or leave-one-out."
        )
    placeholder = np.zeros((n_samples, 1))
    stratify = labels is not None and np.unique(labels, return_counts=True)[1].min() >= n_folds
    if groups is not None:
        if stratify:
            splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed)
        else:
            splitter = GroupKFold(n_folds, shuffle=True, random_state=seed)
    elif stratify:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_folds, shuffle=True, random_state=seed)
    fold_of_sample = np.full(n_samples, -1, dtype=np.int64)
    for fold, (_, test) in enumerate(splitter.split(placeholder, labels, groups)):
        fold_of_sample[test] = fold
    if len(np.unique(fold_of_sample)) < n_folds:
        raise DataError(
            f"The {n_folds}-fold split left a fold empty (groups too uneven in size). "
            f"Choose fewer folds or leave-one-out."
        )
    return fold_of_sample


def fold_splits(fold_of_sample: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return ``(train_rows, test_rows)`` per fold, in fold order."""
    return [
        (np.nonzero(fold_of_sample != fold)[0], np.nonzero(fold_of_sample == fold)[0])
        for fold in np.unique(fold_of_sample)
    ]


# --- PLS and PLS-DA ----------------------------------------------------------------
class PLSDAClassifier(ClassifierMixin, BaseEstimator):
    """PLS-DA: PLS regression on one-hot classes, predicting the class of largest score.

    Labels are class indices ``0 .. n_classes - 1``.  Giving `n_classes`
    keeps every class as an output even when a training fold lacks one.
    """

    def __init__(self, n_components: int = 2, n_classes: int = 0):
        self.n_components = n_components
        self.n_classes = n_classes

    def fit(self, X, y):
        y = np.asarray(y, dtype=np.int64)
        n_classes = self.n_classes or int(y.max()) + 1
        self.classes_ = np.arange(n_classes)
        one_hot = np.eye(n_classes)[y]  # (n, n_classes)
        self.pls_ = PLSRegression(n_components=self.n_components, scale=False).fit(X, one_hot)
        return self

    def decision_function(self, X) -> np.ndarray:
        return np.asarray(self.pls_.predict(X)).reshape(len(X), -1)  # (n, n_classes)

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]


@dataclass
class PLSFit:
    """A fitted PLS regression (inside PLS-DA for classes) and its components."""

    regression: PLSRegression
    n_components: int

    def outputs(self, spectra: np.ndarray) -> np.ndarray:
        """Return PLS outputs ``(n, n_targets)`` as scikit-learn predicts them."""
        return np.asarray(self.regression.predict(spectra)).reshape(len(spectra), -1)


def fit_pls(
    spectra: np.ndarray, targets: np.ndarray, coding: TargetCoding, settings: TransferSettings
) -> PLSFit:
    """Fit PLS (regression) or PLS-DA (classes) on preprocessed training spectra.

    The number of components is ``settings.pls_components`` when set, else
    chosen by shuffled inner k-fold cross-validation (at most 5 folds) on
    these spectra alone: lowest RMSE for regression, highest accuracy for
    classes.  Candidates run from 1 to the smallest of
    ``max_pls_components``, the number of points and the smallest inner
    training set less one.
    """
    n_train, n_points = spectra.shape
    classification = coding.task == "classification"
    if classification:
        estimator = PLSDAClassifier(n_classes=len(coding.classes))
        y = coding.encode(targets)
    else:
        estimator = PLSRegression(scale=False)
        y = np.asarray(targets, dtype=np.float64)

    inner_folds = min(5, n_train)
    smallest_inner_train = n_train - math.ceil(n_train / inner_folds)
    limit = max(1, min(settings.max_pls_components, n_points, smallest_inner_train - 1))
    if settings.pls_components:
        # A fixed count is still capped by what the training fold can support.
        components = min(settings.pls_components, n_points, max(1, n_train - 1))
        if components < settings.pls_components:
            logger.warning(
                "PLS components reduced from %d to %d for a training fold of %d samples",
                settings.pls_components, components, n_train,
            )
    elif limit == 1 or n_train < 3:
        components = 1
    else:
        search = GridSearchCV(
            estimator,
            {"n_components": list(range(1, limit + 1))},
            scoring="accuracy" if classification else "neg_root_mean_squared_error",
            cv=KFold(inner_folds, shuffle=True, random_state=settings.seed),
            refit=False,
            error_score="raise",
        )
        search.fit(spectra, y)
        components = int(search.best_params_["n_components"])

    estimator.set_params(n_components=components)
    estimator.fit(spectra, y)
    regression = estimator.pls_ if classification else estimator
    return PLSFit(regression, components)


# --- the result ----------------------------------------------------------------------
@dataclass
class ComparisonResult:
    """Cross-validated predictions, metrics and final models of one comparison.

    Attributes
    ----------
    checkpoint_epoch
        GAN epoch of the transferred trunk, or None when no GAN was used.
    task, target
        ``"regression"`` or ``"classification"``, and the reference column.
    settings
        `TransferSettings.to_dict()`.
    rows
        One dict per model: ``{"model", "rmsecv", "r2"}`` (regression) or
        ``{"model", "accuracy", "per_class_recall"}`` (classification),
        plus ``preprocessing``, the model's pipeline in step text syntax
        (`Pipeline.describe`).  The PLS row adds ``components`` (median
        over folds), the GAN transfer row ``checkpoint_epoch``.
    fold_of_sample
        Test fold of each sample, shared by all models.
    measured
        Reference values (floats) or class labels (unicode), per sample.
    predictions
        Model name to cross-validated predictions, per sample.
    classes
        Sorted class labels, or None for regression.
    models
        Model name to the final model fitted on all samples.
    sample_ids
        Sample ids in the order of `measured`.
    preprocessing
        The networks' pipeline as a JSON spec.
    pls_preprocessing
        The PLS pipeline as a JSON spec (the same as `preprocessing` unless
        PLS had its own).
    pls_components
        PLS components chosen in each fold, in fold order.
    created
        ISO time of the comparison.
    targets
        All reference columns predicted (regression may have several;
        `target` is the first).
    repeats
        Repetitions of the cross-validation.
    fold_errors
        Model name to fold errors ``(repeats, n_folds, n_targets)``: RMSE
        of each fold in target units (regression) or the fold's error rate
        (classification, ``n_targets`` is 1).  Leave-one-out folds hold
        one sample, so their RMSE is the absolute error.
    paired
        Per target, the paired comparison of fold errors of GAN transfer
        (From scratch without a checkpoint) against PLS: ``{"target",
        "model_a", "model_b", "mean_difference", "low", "high", "level",
        "n_folds", "verdict"}`` (see `statistics.paired_difference`).
    verdict
        One line per target, in plain words.
    warnings
        Small-sample guardrails: samples per variable, small classes or
        groups.
    repeat_predictions
        Model name to predictions of every repeat: ``(repeats, n_samples,
        n_targets)`` floats (regression) or ``(repeats, n_samples)`` labels.
        `predictions` holds, per sample, the mean over repeats of the first
        target (regression) or the first repeat's labels (classification).
    repeat_folds
        Test fold of each sample in each repeat, ``(repeats, n_samples)``;
        `fold_of_sample` is its first row.
    measured_targets
        Reference values of every target, ``(n_samples, n_targets)``
        (regression); `measured` is the first column.
    """

    checkpoint_epoch: int | None
    task: str
    target: str
    settings: dict
    rows: list[dict]
    fold_of_sample: np.ndarray
    measured: np.ndarray
    predictions: dict[str, np.ndarray]
    classes: list[str] | None
    models: dict[str, FittedModel] = field(default_factory=dict)
    sample_ids: list[str] = field(default_factory=list)
    preprocessing: str = "[]"
    pls_preprocessing: str = ""
    pls_components: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    created: str = field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))
    targets: list[str] = field(default_factory=list)
    repeats: int = 1
    fold_errors: dict[str, np.ndarray] = field(default_factory=dict)
    paired: list[dict] = field(default_factory=list)
    verdict: str = ""
    warnings: list[str] = field(default_factory=list)
    repeat_predictions: dict[str, np.ndarray] = field(default_factory=dict)
    repeat_folds: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    measured_targets: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def __post_init__(self) -> None:
        if not self.targets:
            self.targets = [self.target]

    def row(self, model: str, target: str | None = None) -> dict:
        """Return the metrics row of a model (for the first target unless `target`)."""
        target = self.target if target is None else target
        for row in self.rows:
            if row["model"] == model and row.get("target", self.target) == target:
                return row
        raise KeyError(model)

    def best_model(self) -> str:
        """Return the model with the lowest RMSECV or the highest accuracy."""
        rows = [r for r in self.rows if r.get("target", self.target) == self.target]
        if self.task == "regression":
            return min(rows, key=lambda r: r["rmsecv"])["model"]
        return max(rows, key=lambda r: r["accuracy"])["model"]

    def to_record(self) -> dict:
        """Return everything but the final models as a Tree (no lists, no None)."""
        record: dict = {
            "task": self.task,
            "target": self.target,
            "settings_json": json.dumps(self.settings),
            "rows_json": json.dumps(self.rows),
            "fold_of_sample": np.asarray(self.fold_of_sample, dtype=np.int64),
            "measured": _leaf(self.measured),
            "predictions": {MODEL_KEYS.get(k, k): _leaf(v) for k, v in self.predictions.items()},
            "classes_json": json.dumps(self.classes),
            "sample_ids": np.asarray(self.sample_ids, dtype=str),
            "preprocessing_json": self.preprocessing,
            "pls_preprocessing_json": self.pls_preprocessing or self.preprocessing,
            "pls_components": np.asarray(self.pls_components, dtype=np.int64),
            "created": self.created,
            "targets": np.asarray(self.targets, dtype=str),
            "repeats": int(self.repeats),
            "paired_json": json.dumps(self.paired),
            "verdict": self.verdict,
            "warnings_json": json.dumps(self.warnings),
        }
        if self.checkpoint_epoch is not None:
            record["checkpoint_epoch"] = int(self.checkpoint_epoch)
        # Optional parts are written only when present. `from_record` gives
        # them defaults, as for results stored before these fields existed.
        if self.fold_errors:
            record["fold_errors"] = {
                MODEL_KEYS.get(k, k): np.asarray(v, dtype=np.float64)
                for k, v in self.fold_errors.items()
            }
        if self.repeat_predictions:
            record["repeat_predictions"] = {
                MODEL_KEYS.get(k, k): _leaf(v) for k, v in self.repeat_predictions.items()
            }
        if np.size(self.repeat_folds):
            record["repeat_folds"] = np.asarray(self.repeat_folds, dtype=np.int64)
        if np.size(self.measured_targets):
            record["measured_targets"] = np.asarray(self.measured_targets, dtype=np.float64)
        return record

    @staticmethod
    def rows_from_record(record: dict) -> list[dict]:
        """Return the metrics rows stored by `to_record`."""
        return json.loads(_text(record["rows_json"]))

    @classmethod
    def from_record(cls, record: dict) -> ComparisonResult:
        """Rebuild a result from `to_record` output, with no final models."""
        names = {key: name for name, key in MODEL_KEYS.items()}
        task = _text(record["task"])
        predictions = {
            names.get(key, key): _array(value) for key, value in record["predictions"].items()
        }
        return cls(
            checkpoint_epoch=(
                int(record["checkpoint_epoch"]) if "checkpoint_epoch" in record else None
            ),
            task=task,
            target=_text(record["target"]),
            settings=json.loads(_text(record["settings_json"])),
            rows=cls.rows_from_record(record),
            fold_of_sample=np.asarray(record["fold_of_sample"], dtype=np.int64),
            measured=_array(record["measured"]),
            predictions=predictions,
            classes=json.loads(_text(record.get("classes_json", "null"))),
            sample_ids=[str(s) for s in _array(record.get("sample_ids", np.array([], str)))],
            preprocessing=_text(record.get("preprocessing_json", "[]")),
            pls_preprocessing=_text(
                record.get("pls_preprocessing_json", record.get("preprocessing_json", "[]"))
            ),
            pls_components=np.asarray(
                record.get("pls_components", np.zeros(0)), dtype=np.int64
            ),
            created=_text(record.get("created", "")),
            targets=[str(t) for t in _array(record.get("targets", np.array([], str))).ravel()],
            repeats=int(record.get("repeats", 1)),
            fold_errors={
                names.get(k, k): np.asarray(v, dtype=np.float64)
                for k, v in record.get("fold_errors", {}).items()
            },
            paired=json.loads(_text(record.get("paired_json", "[]"))),
            verdict=_text(record.get("verdict", "")),
            warnings=json.loads(_text(record.get("warnings_json", "[]"))),
            repeat_predictions={
                names.get(k, k): _array(v)
                for k, v in record.get("repeat_predictions", {}).items()
            },
            repeat_folds=np.asarray(
                record.get("repeat_folds", np.zeros((0, 0))), dtype=np.int64
            ),
            measured_targets=np.asarray(
                record.get("measured_targets", np.zeros((0, 0))), dtype=np.float64
            ),
        )


def _leaf(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values.astype(str) if values.dtype.kind in "USO" else values.astype(np.float64)


def _array(value) -> np.ndarray:
    values = np.asarray(value)
    return values.astype(str) if values.dtype.kind in "SO" else values


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def regression_row(model: str, measured: np.ndarray, predicted: np.ndarray) -> dict:
    """Return ``{"model", "rmsecv", "r2"}`` for cross-validated predictions."""
    residuals = np.asarray(predicted, dtype=np.float64) - measured
    return {
        "model": model,
        "rmsecv": float(np.sqrt(np.mean(residuals**2))),
        "r2": float(r2_score(measured, predicted)),
    }


def classification_row(
    model: str, measured: np.ndarray, predicted: np.ndarray, classes: list[str]
) -> dict:
    """Return ``{"model", "accuracy", "per_class_recall"}``.

    ``per_class_recall`` maps each class to the fraction of its samples
    predicted as that class.
    """
    recall = {c: float(np.mean(predicted[measured == c] == c)) for c in classes}
    return {
        "model": model,
        "accuracy": float(np.mean(predicted == measured)),
        "per_class_recall": recall,
    }


# --- the comparison ------------------------------------------------------------------
class _Progress:
    """Turns epochs and PLS fits into a fraction over all repeats, folds and models."""

    def __init__(self, task_state: TaskState | None, n_stages: int, n_networks: int,
                 epochs: int):
        self.task_state = task_state
        self.epochs = epochs
        self.total = max(1, n_stages * (n_networks * epochs + 1))
        self.done = 0

    def check(self) -> None:
        if self.task_state is not None:
            self.task_state.checkpoint()

    def advance(self, units: int, message: str) -> None:
        self.done = min(self.total, self.done + units)
        if self.task_state is not None:
            self.task_state.report(self.done / self.total, message)

    def epoch_hook(self, stage: str, model: str) -> Callable[[int, float], None]:
        def on_epoch(epoch: int, loss: float) -> None:
            self.advance(1, f"{stage}, {model}, epoch {epoch}/{self.epochs}")
            self.check()

        return on_epoch


@dataclass
class _StageResult:
    """Outputs of all models fitted on one training set.

    ``predictions`` are ``(n_test, n_targets)`` floats (regression) or
    ``(n_test,)`` labels; ``components`` has one PLS count per target;
    ``best_epochs`` maps each network to the epoch it kept.
    """

    predictions: dict[str, np.ndarray]
    fitted: dict[str, object]
    components: list[int]
    best_epochs: dict[str, int]


@dataclass
class CrossValidationPlan:
    """Targets, groups and folds shared by every model of a comparison or sweep.

    Attributes
    ----------
    targets
        Reference columns predicted.
    measured
        ``(n_samples, n_targets)`` floats (regression) or ``(n_samples,)``
        class labels.
    classes
        Sorted class labels, or None for regression.
    groups
        Group of each sample, or None.
    repeat_folds
        Test fold of each sample in each repeat, ``(repeats, n_samples)``.
    warnings
        Small-sample guardrails.
    """

    targets: list[str]
    measured: np.ndarray
    classes: list[str] | None
    groups: np.ndarray | None
    repeat_folds: np.ndarray
    warnings: list[str]

    @property
    def n_folds(self) -> int:
        return int(self.repeat_folds[0].max()) + 1

    def describe_folds(self) -> str:
        """Return text such as ``"5 folds x 3 repeats"``."""
        repeats = len(self.repeat_folds)
        return f"{self.n_folds} folds x {repeats} repeat{'s' if repeats != 1 else ''}"


def target_list(targets: str | Sequence[str], task: str) -> list[str]:
    """Return `targets` as a list without repeats.

    Raises
    ------
    SettingsError
        For no target, or several targets for classification.
    """
    names = [targets] if isinstance(targets, str) else [str(t) for t in targets]
    names = list(dict.fromkeys(names))
    if not names or not all(names):
        raise SettingsError("Choose at least one reference column to predict.")
    if task == "classification" and len(names) > 1:
        raise SettingsError(
            f"Classification predicts one reference column, but {len(names)} were given "
            f"({', '.join(names)}). Choose one class column, or regression for several "
            f"numeric columns."
        )
    return names


def plan_cross_validation(
    dataset: SpectralDataset,
    targets: str | Sequence[str],
    task: str,
    settings: TransferSettings,
    n_variables: int,
) -> CrossValidationPlan:
    """Check targets and groups, build the folds of every repeat and the warnings.

    Repeat ``r`` splits with seed ``settings.seed + r``; leave-one-out
    splits are the same in every repeat.  `n_variables` is the number of
    points after preprocessing, for the samples-per-variable warning.
    """
    names = target_list(targets, task)
    columns = [target_values(dataset, name, task) for name in names]
    if task == "regression":
        measured = np.column_stack(columns)  # (n_samples, n_targets)
        labels = None
        classes = None
    else:
        measured = columns[0]
        labels = measured
        classes = sorted(np.unique(measured).tolist())
    groups = group_labels(dataset, settings.group_column)
    repeat_folds = np.stack([
        make_folds(dataset.n_samples, settings, labels, groups, seed=settings.seed + repeat)
        for repeat in range(settings.repeats)
    ])
    warnings = small_sample_warnings(
        dataset.n_samples, n_variables, repeat_folds[0], labels, groups, settings
    )
    return CrossValidationPlan(names, measured, classes, groups, repeat_folds, warnings)


def small_sample_warnings(
    n_samples: int,
    n_variables: int,
    fold_of_sample: np.ndarray,
    labels: np.ndarray | None,
    groups: np.ndarray | None,
    settings: TransferSettings,
) -> list[str]:
    """Return plain-words warnings about what the sample counts allow."""
    n_folds = int(fold_of_sample.max()) + 1
    warnings = [
        f"{n_samples} samples for {n_variables} variables (points after preprocessing): "
        f"{n_samples / max(n_variables, 1):.3g} samples per variable. Every model here can "
        f"fit noise, so judge them by the cross-validated numbers only."
    ]
    if labels is not None:
        names, counts = np.unique(labels, return_counts=True)
        small = [f"{name} ({count})" for name, count in zip(names, counts) if count < n_folds]
        if small:
            warnings.append(
                f"Classes with fewer samples than the {n_folds} folds: {', '.join(small)}. "
                f"Some folds test none of them and the split is not stratified. Add samples "
                f"of those classes or choose fewer folds."
            )
    if groups is not None:
        _, sizes = np.unique(groups, return_counts=True)
        if sizes.max() == 1:
            warnings.append(
                f"Every sample of group column {settings.group_column!r} is a group of its "
                f"own, so the grouping changes nothing. Choose the column that marks "
                f"replicates or measuring days."
            )
        if len(sizes) < 10:
            warnings.append(
                f"Only {len(sizes)} groups: each fold leaves out whole groups, so fold "
                f"errors vary widely and the interval is wide."
            )
    if settings.repeats > 1 and len(np.unique(fold_of_sample)) == n_samples:
        warnings.append(
            "Leave-one-out folds are the same in every repeat; the repeats vary only the "
            "networks' initialisation, batch order and PLS's inner folds."
        )
    return warnings


class _FoldData:
    """Preprocessed spectra of each repeat's folds, fitted on the training rows only.

    The pipelines are fitted once per distinct split and reused by every
    model and every checkpoint of a sweep.
    """

    def __init__(self, dataset: SpectralDataset, pipeline: Pipeline,
                 pls_pipeline: Pipeline | None):
        self.dataset = dataset
        self.pipeline = pipeline
        self.pls_pipeline = pls_pipeline
        self.cache: dict[bytes, tuple] = {}

    def get(self, train: np.ndarray, test: np.ndarray):
        """Return ``(train_spectra, test_spectra, pls_spectra)`` for one split."""
        key = np.asarray(train, dtype=np.int64).tobytes()
        if key not in self.cache:
            spectra = self.dataset.spectra
            fitted = self.pipeline.unfitted_copy().fit(self.dataset.axis, spectra[train])
            pls_spectra = None
            if self.pls_pipeline is not None:
                fold_pls = self.pls_pipeline.unfitted_copy().fit(
                    self.dataset.axis, spectra[train]
                )
                pls_spectra = (fold_pls.transform(spectra[train]),
                               fold_pls.transform(spectra[test]))
            self.cache[key] = (fitted.transform(spectra[train]),
                               fitted.transform(spectra[test]), pls_spectra)
        return self.cache[key]


def compare_models(
    dataset: SpectralDataset,
    targets: str | Sequence[str],
    task: str,
    pipeline: Pipeline,
    architecture: GANArchitecture | None,
    checkpoint: Checkpoint | None,
    settings: TransferSettings,
    task_state: TaskState | None = None,
    pls_pipeline: Pipeline | None = None,
    include_networks: bool = True,
) -> ComparisonResult:
    """Cross-validate GAN transfer, the same network from scratch and PLS on shared folds.

    Every model is evaluated on the same outer folds in each repeat.  For several
    regression targets one network predicts all of them (one output per
    standardised target), while PLS fits one PLS1 model per target, each
    with its own component count from the inner cross-validation, as is
    usual in chemometrics.

    Parameters
    ----------
    dataset
        Spectra with the reference columns `targets`.
    targets
        A reference column, or a list of them (several for regression only).
    task
        ``"regression"`` or ``"classification"``.
    pipeline
        Preprocessing steps, fitted afresh on each training fold and on
        all samples for the final models.
    architecture
        The GAN's architecture.  None builds the default architecture for
        the preprocessed length (only sensible without a checkpoint).
    checkpoint
        An object with ``epoch`` and ``discriminator`` (a state dict of
        arrays), or None to leave out the GAN transfer model.
    settings
        Fine-tuning, fold, repeat, grouping and PLS settings.
    task_state
        Receives progress. After a stop request `Cancelled` is raised at the
        end of the current epoch.
    pls_pipeline
        Preprocessing for PLS alone, fitted like `pipeline` in every fold;
        None gives PLS the networks' pipeline.
    include_networks
        False compares PLS alone (no checkpoint allowed), for quick checks of
        a preprocessing choice.

    Raises
    ------
    DataError
        For a missing or incomplete target or group column, too few samples
        or groups, or a split that would leave a fold empty.
    SettingsError
        When the checkpoint or architecture does not fit the preprocessed
        spectra, or several targets are given for classification.
    """
    if checkpoint is not None and not include_networks:
        raise SettingsError(
            "A GAN checkpoint was given for a comparison without networks; include the "
            "networks or leave out the checkpoint."
        )
    device = resolve_device(settings.device)
    # Fit the final pipeline first: it fixes the preprocessed length, and a
    # checkpoint that does not fit is reported before any fold is trained.
    final_pipeline = pipeline.unfitted_copy().fit(dataset.axis, dataset.spectra)
    final_spectra = final_pipeline.transform(dataset.spectra)
    architecture = _checked_architecture(architecture, final_spectra.shape[1], final_pipeline)
    plan = plan_cross_validation(dataset, targets, task, settings, final_spectra.shape[1])
    own_pls = pls_pipeline is not None
    final_pls_pipeline = final_pipeline
    final_pls_spectra = final_spectra
    if own_pls:
        final_pls_pipeline = pls_pipeline.unfitted_copy().fit(dataset.axis, dataset.spectra)
        final_pls_spectra = final_pls_pipeline.transform(dataset.spectra)
    trunk = None
    network_names = ["From scratch"] if include_networks else []
    n_outputs = len(plan.targets) if task == "regression" else len(plan.classes)
    if checkpoint is not None:
        trunk = checkpoint.discriminator
        # Loading the trunk once raises SettingsError now if its shapes do not fit.
        build_network(architecture, n_outputs, 0, trunk, head_units=settings.head_units)
        network_names = ["GAN transfer", "From scratch"]
    model_names = network_names + ["PLS"]

    n_stages = settings.repeats * plan.n_folds + 1
    progress = _Progress(task_state, n_stages, len(network_names), settings.epochs)
    logger.info(
        "comparing %s on %d samples, %s, targets %s (%s), preprocessing %s, PLS "
        "preprocessing %s, device %s",
        ", ".join(model_names), dataset.n_samples, plan.describe_folds(), plan.targets, task,
        final_pipeline.describe(), final_pls_pipeline.describe(), device,
    )
    folds = _FoldData(dataset, pipeline, pls_pipeline)
    outcome = _cross_validate(plan, folds, task, architecture, trunk, network_names,
                              settings, device, progress)

    rows = _summary_rows(task, plan, outcome, model_names)
    for row in rows:
        row["preprocessing"] = final_pipeline.describe()
        if row["model"] == "PLS":
            row["preprocessing"] = final_pls_pipeline.describe()
        if row["model"] == "GAN transfer":
            row["checkpoint_epoch"] = int(checkpoint.epoch)
    fold_errors = {name: _fold_errors(task, plan, outcome.predictions[name])
                   for name in model_names}
    paired = _paired_comparisons(task, plan, fold_errors, network_names)
    logger.info("cross-validation finished: %s", json.dumps(rows))

    progress.check()
    final_epochs = {
        name: max(1, int(round(float(np.median(outcome.best_epochs[name])))))
        for name in network_names
    }
    models = _fit_final_models(
        dataset, plan, task, final_pipeline, final_spectra, architecture, checkpoint,
        network_names, settings, device, progress,
        (final_pls_pipeline, final_pls_spectra), final_epochs,
    )
    if task_state is not None:
        task_state.report(1.0, "comparison finished")
    first = {name: _first_target(task, values) for name, values in outcome.predictions.items()}
    return ComparisonResult(
        checkpoint_epoch=None if checkpoint is None else int(checkpoint.epoch),
        task=task,
        target=plan.targets[0],
        settings=settings.to_dict(),
        rows=rows,
        fold_of_sample=plan.repeat_folds[0],
        measured=plan.measured[:, 0] if task == "regression" else plan.measured,
        predictions=first,
        classes=plan.classes,
        models=models,
        sample_ids=list(dataset.sample_ids),
        preprocessing=pipeline.to_json(),
        pls_preprocessing=(pls_pipeline or pipeline).to_json(),
        pls_components=np.asarray(outcome.components[0], dtype=np.int64)[:, 0],
        targets=list(plan.targets),
        repeats=settings.repeats,
        fold_errors=fold_errors,
        paired=paired,
        verdict="\n".join(item["verdict"] for item in paired),
        warnings=list(plan.warnings),
        repeat_predictions=dict(outcome.predictions),
        repeat_folds=plan.repeat_folds,
        measured_targets=plan.measured if task == "regression" else np.zeros((0, 0)),
    )


@dataclass
class _CrossValidationOutcome:
    """Predictions of every repeat and what each fold's fits chose.

    ``predictions`` maps a model to ``(repeats, n_samples, n_targets)``
    floats or ``(repeats, n_samples)`` labels; ``components`` is
    ``(repeats, n_folds, n_targets)`` PLS counts as nested lists;
    ``best_epochs`` maps a network to the kept epoch of every fold fit.
    """

    predictions: dict[str, np.ndarray]
    components: list[list[list[int]]]
    best_epochs: dict[str, list[int]]


def _cross_validate(
    plan: CrossValidationPlan,
    folds: _FoldData,
    task: str,
    architecture: GANArchitecture,
    trunk: dict | None,
    network_names: list[str],
    settings: TransferSettings,
    device,
    progress: _Progress,
    include_pls: bool = True,
) -> _CrossValidationOutcome:
    """Fit the models on every repeat's training folds and predict the test folds."""
    model_names = network_names + (["PLS"] if include_pls else [])
    n_repeats, n_samples = plan.repeat_folds.shape
    if task == "regression":
        shape = (n_repeats, n_samples, len(plan.targets))
        predictions = {name: np.full(shape, np.nan) for name in model_names}
    else:
        predictions = {name: np.full((n_repeats, n_samples), "", dtype=plan.measured.dtype)
                       for name in model_names}
    components: list[list[list[int]]] = []
    best_epochs: dict[str, list[int]] = {name: [] for name in network_names}
    for repeat, fold_of_sample in enumerate(plan.repeat_folds):
        repeat_settings = replace(settings, seed=settings.seed + repeat)
        splits = fold_splits(fold_of_sample)
        repeat_components = []
        for fold, (train, test) in enumerate(splits):
            progress.check()
            train_spectra, test_spectra, pls_spectra = folds.get(train, test)
            stage_name = f"fold {fold + 1}/{len(splits)}"
            if n_repeats > 1:
                stage_name = f"repeat {repeat + 1}/{n_repeats}, {stage_name}"
            stage = _fit_stage(
                stage_name,
                train_spectra,
                plan.measured[train],
                test_spectra,
                task, plan.classes, architecture, trunk, network_names, repeat_settings,
                device, progress, pls_spectra,
                groups=None if plan.groups is None else plan.groups[train],
                include_pls=include_pls,
            )
            for name in model_names:
                predictions[name][repeat, test] = stage.predictions[name]
            for name in network_names:
                best_epochs[name].append(stage.best_epochs[name])
            repeat_components.append(stage.components)
        components.append(repeat_components)
    return _CrossValidationOutcome(predictions, components, best_epochs)


def _first_target(task: str, values: np.ndarray) -> np.ndarray:
    """Return per-sample predictions of the first target: the mean over repeats
    (regression) or the first repeat's labels (classification)."""
    if task == "regression":
        return np.mean(values[:, :, 0], axis=0)
    return values[0]


def _checked_architecture(
    architecture: GANArchitecture | None, n_points: int, pipeline: Pipeline
) -> GANArchitecture:
    if architecture is None:
        return GANArchitecture(n_points=n_points)
    if architecture.n_points != n_points:
        raise SettingsError(
            f"The preprocessing ({pipeline.describe()}) gives spectra of {n_points} "
            f"points, but the GAN architecture was built for {architecture.n_points}. "
            f"Use the preprocessing the GAN was trained with."
        )
    return architecture


def validation_split(
    n_samples: int,
    fraction: float,
    seed: int,
    labels: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Split a training fold into fitting and early-stopping validation rows.

    The split is stratified by `labels` (class indices) when every class
    has two members and grouped by `groups` when given.  Returns None when
    the fold is too small to spare validation samples (fewer than
    `MIN_EARLY_STOPPING_SAMPLES` samples, or a single group).
    """
    if n_samples < MIN_EARLY_STOPPING_SAMPLES:
        return None
    placeholder = np.zeros((n_samples, 1))
    if groups is not None:
        if len(np.unique(groups)) < 2:
            return None
        splitter = GroupShuffleSplit(1, test_size=fraction, random_state=seed)
        fit_rows, validation_rows = next(splitter.split(placeholder, groups=groups))
        return fit_rows, validation_rows
    n_validation = max(1, int(round(fraction * n_samples)))
    if labels is not None:
        counts = np.unique(labels, return_counts=True)[1]
        if counts.min() >= 2 and n_validation >= len(counts) \
                and n_samples - n_validation >= len(counts):
            splitter = StratifiedShuffleSplit(1, test_size=n_validation, random_state=seed)
            return next(splitter.split(placeholder, labels))
    splitter = ShuffleSplit(1, test_size=n_validation, random_state=seed)
    return next(splitter.split(placeholder))


#: Training folds smaller than this are fitted without early stopping.
MIN_EARLY_STOPPING_SAMPLES = 5


def _fit_networks(
    stage: str,
    train_spectra: np.ndarray,
    encoded: np.ndarray,
    test_spectra: np.ndarray,
    task: str,
    n_outputs: int,
    architecture: GANArchitecture,
    trunk: dict | None,
    network_names: list[str],
    settings: TransferSettings,
    device,
    progress: _Progress,
    groups: np.ndarray | None = None,
    epochs: dict[str, int] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, object], dict[str, int]]:
    """Fit each network on encoded targets; return raw test outputs, networks, kept epochs.

    With early stopping (and `epochs` None) each network holds out a
    validation split of the training set.  `epochs` fixes each network's
    epoch count instead, without validation (the final models).
    """
    split = None
    if settings.early_stopping and epochs is None:
        split = validation_split(
            len(train_spectra), settings.validation_fraction, settings.seed,
            encoded if task == "classification" else None, groups,
        )
    outputs: dict[str, np.ndarray] = {}
    fitted: dict[str, object] = {}
    best: dict[str, int] = {}
    for name in network_names:
        network = build_network(
            architecture, n_outputs, settings.seed,
            trunk if name == "GAN transfer" else None,
            freeze_trunk=settings.freeze_trunk, head_units=settings.head_units,
        )
        max_epochs = settings.epochs if epochs is None else epochs[name]
        hook = progress.epoch_hook(stage, name)
        if split is None:
            report = train_network(network, train_spectra, encoded, task, settings, device,
                                   hook, epochs=max_epochs)
        else:
            fit_rows, validation_rows = split
            report = train_network(
                network, train_spectra[fit_rows], encoded[fit_rows], task, settings, device,
                hook, validation=(train_spectra[validation_rows], encoded[validation_rows]),
                epochs=max_epochs,
            )
        # Early stopping skips the remaining epochs, so count them as done.
        progress.advance(
            settings.epochs - report.epochs_run,
            f"{stage}, {name} trained {report.epochs_run} epochs (best {report.best_epoch})",
        )
        outputs[name] = network_outputs(network, test_spectra, device)
        fitted[name] = network
        best[name] = report.best_epoch
    return outputs, fitted, best


def _fit_stage(
    stage: str,
    train_spectra: np.ndarray,
    train_targets: np.ndarray,
    test_spectra: np.ndarray,
    task: str,
    classes: list[str] | None,
    architecture: GANArchitecture,
    trunk: dict | None,
    network_names: list[str],
    settings: TransferSettings,
    device,
    progress: _Progress,
    pls_spectra: tuple[np.ndarray, np.ndarray] | None = None,
    groups: np.ndarray | None = None,
    epochs: dict[str, int] | None = None,
    include_pls: bool = True,
) -> _StageResult:
    """Fit every model on one training set and predict `test_spectra`.

    `train_targets` is ``(n, n_targets)`` floats or ``(n,)`` labels.
    `pls_spectra` gives PLS its own ``(train, test)`` spectra, preprocessed
    by its own pipeline; None gives it the networks' spectra.
    """
    codings = _codings(task, train_targets, classes)
    if task == "regression":
        encoded = np.column_stack(
            [coding.encode(train_targets[:, i]) for i, coding in enumerate(codings)]
        )
        n_outputs = len(codings)
    else:
        encoded = codings[0].encode(train_targets)
        n_outputs = codings[0].n_outputs
    outputs, fitted, best = _fit_networks(
        stage, train_spectra, encoded, test_spectra, task, n_outputs, architecture, trunk,
        network_names, settings, device, progress, groups, epochs,
    )
    predictions = {name: _decode(task, codings, value) for name, value in outputs.items()}
    components: list[int] = []
    if include_pls:
        progress.check()
        pls_train, pls_test = pls_spectra or (train_spectra, test_spectra)
        pls_fits = []
        if task == "regression":
            # One PLS1 model per target, each with its own component count.
            columns = []
            for i, coding in enumerate(codings):
                pls = fit_pls(pls_train, train_targets[:, i], coding, settings)
                pls_fits.append(pls)
                columns.append(pls.outputs(pls_test)[:, 0])
            predictions["PLS"] = np.column_stack(columns)
        else:
            pls = fit_pls(pls_train, train_targets, codings[0], settings)
            pls_fits.append(pls)
            # PLS-DA scores decode like network outputs: the largest wins.
            predictions["PLS"] = codings[0].decode(pls.outputs(pls_test))
        fitted["PLS"] = pls_fits
        components = [pls.n_components for pls in pls_fits]
        progress.advance(1, f"{stage}, PLS, {', '.join(map(str, components))} components")
    return _StageResult(predictions, fitted, components, best)


def _codings(task: str, targets: np.ndarray, classes: list[str] | None) -> list[TargetCoding]:
    if task == "regression":
        return [TargetCoding.fit(task, targets[:, i]) for i in range(targets.shape[1])]
    return [TargetCoding.fit(task, targets, classes=classes)]


def _decode(task: str, codings: list[TargetCoding], outputs: np.ndarray) -> np.ndarray:
    if task == "regression":
        return np.column_stack(
            [coding.decode(outputs[:, i:i + 1]) for i, coding in enumerate(codings)]
        )
    return codings[0].decode(outputs)


def _summary_rows(task: str, plan: CrossValidationPlan, outcome: _CrossValidationOutcome,
                  model_names: list[str]) -> list[dict]:
    """Return one row per target and model: metrics as mean and spread over repeats."""
    rows = []
    components = np.asarray(outcome.components, dtype=np.float64)  # (repeats, folds, targets)
    for t, target in enumerate(plan.targets):
        for name in model_names:
            values = outcome.predictions[name]
            if task == "regression":
                per_repeat = [regression_row(name, plan.measured[:, t], values[r, :, t])
                              for r in range(len(values))]
                row = {
                    "model": name,
                    "target": target,
                    "rmsecv": float(np.mean([r["rmsecv"] for r in per_repeat])),
                    "rmsecv_std": _spread([r["rmsecv"] for r in per_repeat]),
                    "r2": float(np.mean([r["r2"] for r in per_repeat])),
                }
            else:
                per_repeat = [classification_row(name, plan.measured, labels, plan.classes)
                              for labels in values]
                row = {
                    "model": name,
                    "target": target,
                    "accuracy": float(np.mean([r["accuracy"] for r in per_repeat])),
                    "accuracy_std": _spread([r["accuracy"] for r in per_repeat]),
                    "per_class_recall": {
                        c: float(np.mean([r["per_class_recall"][c] for r in per_repeat]))
                        for c in plan.classes
                    },
                }
            if name == "PLS":
                row["components"] = float(np.median(components[:, :, t]))
            else:
                row["epochs_used"] = float(np.median(outcome.best_epochs[name]))
            rows.append(row)
    return rows


def _spread(values: list[float]) -> float:
    """Return the sample standard deviation, 0 for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _fold_errors(task: str, plan: CrossValidationPlan, values: np.ndarray) -> np.ndarray:
    """Return ``(repeats, n_folds, n_targets)`` fold RMSE or fold error rate."""
    n_repeats = plan.repeat_folds.shape[0]
    n_targets = len(plan.targets) if task == "regression" else 1
    errors = np.full((n_repeats, plan.n_folds, n_targets), np.nan)
    for repeat, fold_of_sample in enumerate(plan.repeat_folds):
        for fold, (_, test) in enumerate(fold_splits(fold_of_sample)):
            if task == "regression":
                residuals = values[repeat, test, :] - plan.measured[test, :]
                errors[repeat, fold, :] = np.sqrt(np.mean(residuals**2, axis=0))
            else:
                errors[repeat, fold, 0] = np.mean(values[repeat, test] != plan.measured[test])
    return errors


def _paired_comparisons(task: str, plan: CrossValidationPlan,
                        fold_errors: dict[str, np.ndarray],
                        network_names: list[str]) -> list[dict]:
    """Compare GAN transfer (else From scratch) with PLS on each target's fold errors."""
    if not network_names or "PLS" not in fold_errors:
        return []
    model_a = network_names[0]
    n_samples = plan.repeat_folds.shape[1]
    n_test = n_samples / plan.n_folds
    n_train = n_samples - n_test
    metric = "fold RMSE" if task == "regression" else "fold error rate"
    scale = 1.0 if task == "regression" else 100.0
    paired = []
    for t, target in enumerate(plan.targets):
        unit = column_unit(target) if task == "regression" else "percentage points"
        comparison = paired_difference(fold_errors[model_a][:, :, t],
                                       fold_errors["PLS"][:, :, t], n_test, n_train)
        comparison = {"target": target, "model_a": model_a, "model_b": "PLS", **comparison}
        if task == "classification":
            # A difference of two error rates lies in [-1, 1]; the t interval does
            # not know that and can reach past it with few folds.
            comparison["low"] = max(comparison["low"], -1.0)
            comparison["high"] = min(comparison["high"], 1.0)
        prefix = f"{target}: " if len(plan.targets) > 1 else ""
        comparison["verdict"] = prefix + verdict_text(
            comparison, metric, unit, plan.describe_folds(), scale
        )
        paired.append(comparison)
    return paired


def _fit_final_models(
    dataset: SpectralDataset,
    plan: CrossValidationPlan,
    task: str,
    pipeline: Pipeline,
    spectra: np.ndarray,
    architecture: GANArchitecture,
    checkpoint: Checkpoint | None,
    network_names: list[str],
    settings: TransferSettings,
    device,
    progress: _Progress,
    pls_fit: tuple[Pipeline, np.ndarray],
    final_epochs: dict[str, int],
) -> dict[str, FittedModel]:
    """Fit each model on all samples and return them as `FittedModel` objects.

    Networks train without a validation split for the median of the epochs
    their fold fits kept (``settings.epochs`` without early stopping).
    `pls_fit` is PLS's fitted pipeline and its preprocessed spectra.  The
    first target's models are named after the model; a further target's
    models add the target in brackets, such as ``"PLS (ethanol)"``.
    """
    trunk = None if checkpoint is None else checkpoint.discriminator
    pls_pipeline, pls_spectra = pls_fit
    stage = _fit_stage(
        f"final models on all {dataset.n_samples} samples", spectra, plan.measured, spectra,
        task, plan.classes, architecture, trunk, network_names, settings, device, progress,
        (pls_spectra, pls_spectra), epochs=final_epochs,
    )
    codings = _codings(task, plan.measured, plan.classes)
    models: dict[str, FittedModel] = {}
    for index, (target, coding) in enumerate(zip(plan.targets, codings)):
        common = dict(
            task=task,
            target=target,
            pipeline_spec=pipeline.to_json(),
            pipeline_state=pipeline.fitted_state(),
            classes=None if plan.classes is None else list(plan.classes),
            axis_unit=dataset.axis_unit,
        )
        # Model names are HDF5 group names in the project, where "/" separates
        # groups, so a unit such as "g/L" gets the look-alike division slash.
        suffix = f" ({target})".replace("/", "\u2215") if index else ""
        for name in network_names:
            # NOTE: each target's model stores its own copy of the shared network's weights.
            models[name + suffix] = FittedModel(
                name=name + suffix,
                kind="network",
                architecture=architecture.to_dict(),
                weights=state_to_numpy(stage.fitted[name]),
                target_mean=coding.mean,
                target_std=coding.std,
                checkpoint_epoch=int(checkpoint.epoch) if name == "GAN transfer" else None,
                fitted_values=_column(task, stage.predictions[name], index),
                output_index=index,
                **common,
            )
        pls: PLSFit = stage.fitted["PLS"][index]
        common.update(
            pipeline_spec=pls_pipeline.to_json(), pipeline_state=pls_pipeline.fitted_state()
        )
        models["PLS" + suffix] = FittedModel(
            name="PLS" + suffix,
            kind="pls",
            pls=pls_arrays(pls.regression),
            n_components=pls.n_components,
            fitted_values=_column(task, stage.predictions["PLS"], index),
            **common,
        )
    return models


def _column(task: str, values: np.ndarray, index: int) -> np.ndarray:
    return values[:, index] if task == "regression" else values
