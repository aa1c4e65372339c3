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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.cross_decomposition import PLSRegression
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold

from specgan_gui.data.dataset import SpectralDataset
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
    fit_network,
    network_outputs,
)

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
    column = dataset.references[target]
    missing = column.isna()
    if not pd.api.types.is_numeric_dtype(column):
        missing |= column.astype(str).str.strip().eq("")
    return missing.to_numpy(dtype=bool)


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
    return labels


def make_folds(
    n_samples: int, settings: TransferSettings, labels: np.ndarray | None = None
) -> np.ndarray:
    """Return the test fold of each sample, ``(n_samples,)`` integers from 0.

    ``"auto"`` is leave-one-out up to `LEAVE_ONE_OUT_LIMIT` samples and
    k-fold above.  K-fold is stratified for classification (`labels` given)
    when every class has at least `n_folds` members, else plain shuffled
    k-fold.  Shuffling uses ``settings.seed``.

    Raises
    ------
    DataError
        When there are fewer than `MIN_SAMPLES` samples or a fold would be
        empty.
    """
    if n_samples < MIN_SAMPLES:
        raise DataError(
            f"Cross-validation needs at least {MIN_SAMPLES} samples with a reference "
            f"value; there are {n_samples}. Add samples before comparing models."
        )
    scheme = settings.cv
    if scheme == "auto":
        scheme = "loo" if n_samples <= LEAVE_ONE_OUT_LIMIT else "kfold"
    if scheme == "loo":
        return np.arange(n_samples)

    n_folds = settings.n_folds
    if n_folds > n_samples:
        raise DataError(
            f"{n_folds}-fold cross-validation of {n_samples} samples would leave a fold "
            f"empty. Choose at most {n_samples} folds or leave-one-out."
        )
    placeholder = np.zeros((n_samples, 1))
    splitter: KFold | StratifiedKFold
    if labels is not None and np.unique(labels, return_counts=True)[1].min() >= n_folds:
        splitter = StratifiedKFold(n_folds, shuffle=True, random_state=settings.seed)
    else:
        splitter = KFold(n_folds, shuffle=True, random_state=settings.seed)
    fold_of_sample = np.full(n_samples, -1, dtype=np.int64)
    for fold, (_, test) in enumerate(splitter.split(placeholder, labels)):
        fold_of_sample[test] = fold
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

    def row(self, model: str) -> dict:
        """Return the metrics row of a model."""
        for row in self.rows:
            if row["model"] == model:
                return row
        raise KeyError(model)

    def best_model(self) -> str:
        """Return the model with the lowest RMSECV or the highest accuracy."""
        if self.task == "regression":
            return min(self.rows, key=lambda r: r["rmsecv"])["model"]
        return max(self.rows, key=lambda r: r["accuracy"])["model"]

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
        }
        if self.checkpoint_epoch is not None:
            record["checkpoint_epoch"] = int(self.checkpoint_epoch)
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
    """Turns epochs and PLS fits into a fraction over all folds and models."""

    def __init__(self, task_state: TaskState | None, n_stages: int, n_networks: int,
                 epochs: int):
        self.task_state = task_state
        self.epochs = epochs
        self.total = n_stages * (n_networks * epochs + 1)
        self.done = 0

    def check(self) -> None:
        if self.task_state is not None:
            self.task_state.checkpoint()

    def advance(self, units: int, message: str) -> None:
        self.done += units
        if self.task_state is not None:
            self.task_state.report(self.done / self.total, message)

    def epoch_hook(self, stage: str, model: str) -> Callable[[int, float], None]:
        def on_epoch(epoch: int, loss: float) -> None:
            self.advance(1, f"{stage}, {model}, epoch {epoch}/{self.epochs}")
            self.check()

        return on_epoch


@dataclass
class _StageResult:
    """Outputs of all models fitted on one training set."""

    predictions: dict[str, np.ndarray]
    fitted: dict[str, object]
    components: int


def compare_models(
    dataset: SpectralDataset,
    target: str,
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

    Parameters
    ----------
    dataset
        Spectra with the reference column `target`.
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
        Fine-tuning, fold and PLS settings.
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
        For a missing or incomplete target or too few samples.
    SettingsError
        When the checkpoint or architecture does not fit the preprocessed
        spectra.
    """
    measured = target_values(dataset, target, task)
    fold_of_sample = make_folds(
        dataset.n_samples, settings, measured if task == "classification" else None
    )
    splits = fold_splits(fold_of_sample)
    classes = sorted(np.unique(measured).tolist()) if task == "classification" else None
    device = resolve_device(settings.device)
    if checkpoint is not None and not include_networks:
        raise SettingsError(
            "A GAN checkpoint was given for a comparison without networks; include the "
            "networks or leave out the checkpoint."
        )

    # Fit the final pipeline first: it fixes the preprocessed length, and a
    # checkpoint that does not fit is reported before any fold is trained.
    final_pipeline = pipeline.unfitted_copy().fit(dataset.axis, dataset.spectra)
    final_spectra = final_pipeline.transform(dataset.spectra)
    architecture = _checked_architecture(architecture, final_spectra.shape[1], final_pipeline)
    own_pls = pls_pipeline is not None
    final_pls_pipeline = final_pipeline
    final_pls_spectra = final_spectra
    if own_pls:
        final_pls_pipeline = pls_pipeline.unfitted_copy().fit(dataset.axis, dataset.spectra)
        final_pls_spectra = final_pls_pipeline.transform(dataset.spectra)
    trunk = None
    network_names = ["From scratch"] if include_networks else []
    if checkpoint is not None:
        trunk = checkpoint.discriminator
        # Loading the trunk once raises SettingsError now if its shapes do not fit.
        build_network(architecture, 1 if classes is None else len(classes), 0, trunk)
        network_names = ["GAN transfer", "From scratch"]
    model_names = network_names + ["PLS"]

    progress = _Progress(task_state, len(splits) + 1, len(network_names), settings.epochs)
    logger.info(
        "comparing %s on %d samples, %d folds, target %r (%s), preprocessing %s, PLS "
        "preprocessing %s, device %s",
        ", ".join(model_names), dataset.n_samples, len(splits), target, task,
        final_pipeline.describe(), final_pls_pipeline.describe(), device,
    )
    # NaN or "" marks a sample no fold has predicted yet.
    blank = np.nan if task == "regression" else ""
    predictions = {
        name: np.full(dataset.n_samples, blank, dtype=measured.dtype) for name in model_names
    }
    fold_components = []
    for fold, (train, test) in enumerate(splits):
        progress.check()
        fold_pipeline = pipeline.unfitted_copy().fit(dataset.axis, dataset.spectra[train])
        pls_spectra = None
        if own_pls:
            fold_pls = pls_pipeline.unfitted_copy().fit(dataset.axis, dataset.spectra[train])
            pls_spectra = (
                fold_pls.transform(dataset.spectra[train]),
                fold_pls.transform(dataset.spectra[test]),
            )
        stage = _fit_stage(
            f"fold {fold + 1}/{len(splits)}",
            fold_pipeline.transform(dataset.spectra[train]),
            measured[train],
            fold_pipeline.transform(dataset.spectra[test]),
            task, classes, architecture, trunk, network_names, settings, device, progress,
            pls_spectra,
        )
        for name in model_names:
            predictions[name][test] = stage.predictions[name]
        fold_components.append(stage.components)

    rows = _metric_rows(task, measured, predictions, classes, model_names)
    for row in rows:
        row["preprocessing"] = final_pipeline.describe()
        if row["model"] == "PLS":
            row["preprocessing"] = final_pls_pipeline.describe()
            row["components"] = float(np.median(fold_components))
        if row["model"] == "GAN transfer":
            row["checkpoint_epoch"] = int(checkpoint.epoch)
    logger.info("cross-validation finished: %s", json.dumps(rows))

    progress.check()
    models = _fit_final_models(
        dataset, target, task, classes, final_pipeline, final_spectra, measured,
        architecture, checkpoint, network_names, settings, device, progress,
        (final_pls_pipeline, final_pls_spectra),
    )
    if task_state is not None:
        task_state.report(1.0, "comparison finished")
    return ComparisonResult(
        checkpoint_epoch=None if checkpoint is None else int(checkpoint.epoch),
        task=task,
        target=target,
        settings=settings.to_dict(),
        rows=rows,
        fold_of_sample=fold_of_sample,
        measured=measured,
        predictions=predictions,
        classes=classes,
        models=models,
        sample_ids=list(dataset.sample_ids),
        preprocessing=pipeline.to_json(),
        pls_preprocessing=(pls_pipeline or pipeline).to_json(),
        pls_components=np.asarray(fold_components, dtype=np.int64),
    )


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
) -> _StageResult:
    """Fit every model on one training set and predict `test_spectra`.

    `pls_spectra` gives PLS its own ``(train, test)`` spectra, preprocessed
    by its own pipeline; None gives it the networks' spectra.
    """
    coding = TargetCoding.fit(task, train_targets, classes=classes)
    predictions: dict[str, np.ndarray] = {}
    fitted: dict[str, object] = {}
    for name in network_names:
        network = build_network(
            architecture, coding.n_outputs, settings.seed,
            trunk if name == "GAN transfer" else None,
            freeze_trunk=settings.freeze_trunk,
        )
        fit_network(
            network, train_spectra, coding.encode(train_targets), task, settings, device,
            on_epoch=progress.epoch_hook(stage, name),
        )
        predictions[name] = coding.decode(network_outputs(network, test_spectra, device))
        fitted[name] = network

    progress.check()
    pls_train, pls_test = pls_spectra or (train_spectra, test_spectra)
    pls = fit_pls(pls_train, train_targets, coding, settings)
    # PLS outputs are already in target units (or one-hot scores); decode
    # with an identity coding for regression.
    pls_coding = TargetCoding(task, classes=coding.classes)
    predictions["PLS"] = pls_coding.decode(pls.outputs(pls_test))
    fitted["PLS"] = pls
    progress.advance(1, f"{stage}, PLS, {pls.n_components} components")
    return _StageResult(predictions, fitted, pls.n_components)


def _metric_rows(task, measured, predictions, classes, model_names) -> list[dict]:
    if task == "regression":
        return [regression_row(n, measured, predictions[n]) for n in model_names]
    return [classification_row(n, measured, predictions[n], classes) for n in model_names]


def _fit_final_models(
    dataset: SpectralDataset,
    target: str,
    task: str,
    classes: list[str] | None,
    pipeline: Pipeline,
    spectra: np.ndarray,
    measured: np.ndarray,
    architecture: GANArchitecture,
    checkpoint: Checkpoint | None,
    network_names: list[str],
    settings: TransferSettings,
    device,
    progress: _Progress,
    pls_fit: tuple[Pipeline, np.ndarray],
) -> dict[str, FittedModel]:
    """Fit each model on all samples and return them as `FittedModel` objects.

    `pls_fit` is PLS's fitted pipeline and its preprocessed spectra.
    """
    trunk = None if checkpoint is None else checkpoint.discriminator
    pls_pipeline, pls_spectra = pls_fit
    stage = _fit_stage(
        f"final models on all {dataset.n_samples} samples", spectra, measured, spectra,
        task, classes, architecture, trunk, network_names, settings, device, progress,
        (pls_spectra, pls_spectra),
    )
    coding = TargetCoding.fit(task, measured, classes=classes)
    common = dict(
        task=task,
        target=target,
        pipeline_spec=pipeline.to_json(),
        pipeline_state=pipeline.fitted_state(),
        classes=None if classes is None else list(classes),
        axis_unit=dataset.axis_unit,
    )
    models: dict[str, FittedModel] = {}
    for name in network_names:
        models[name] = FittedModel(
            name=name,
            kind="network",
            architecture=architecture.to_dict(),
            weights=state_to_numpy(stage.fitted[name]),
            target_mean=coding.mean,
            target_std=coding.std,
            checkpoint_epoch=int(checkpoint.epoch) if name == "GAN transfer" else None,
            fitted_values=stage.predictions[name],
            **common,
        )
    pls: PLSFit = stage.fitted["PLS"]
    common.update(
        pipeline_spec=pls_pipeline.to_json(), pipeline_state=pls_pipeline.fitted_state()
    )
    models["PLS"] = FittedModel(
        name="PLS",
        kind="pls",
        pls=pls_arrays(pls.regression),
        n_components=pls.n_components,
        fitted_values=stage.predictions["PLS"],
        **common,
    )
    return models
