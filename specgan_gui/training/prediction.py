"""Fitted models as plain arrays, and prediction of new spectra with them.

A `FittedModel` contains everything a prediction needs and nothing pickled:
the preprocessing pipeline (JSON spec plus fitted arrays), and either the
network's architecture and weights or the PLS arrays.  `predict` brings
new spectra onto the model's input axis, repeats the preprocessing and
applies the model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import DataError, ProjectFileError
from specgan_gui.models.gan1d import GANArchitecture, load_numpy_state
from specgan_gui.training.transfer import TargetCoding, TransferNetwork, network_outputs

logger = logging.getLogger(__name__)

MODEL_KINDS = ("network", "pls")

#: Names of the arrays that reproduce `PLSRegression.predict` (scikit-learn
#: 1.9): ``(x - x_mean) @ coef.T + intercept``.  ``coef`` already contains
#: the division by ``x_std``; ``x_std`` is kept for inspection only.
PLS_ARRAYS = ("x_mean", "x_std", "coef", "intercept")

#: Spectra with fewer points than this fraction of the model's points over the
#: range the model reads are refused: interpolating them would invent most of
#: the points the model was fitted on.
MIN_POINT_DENSITY = 0.5

#: Axis units that convert into each other by ``x' = 1e7 / x``.
_CONVERTIBLE_UNITS = ("nm", "cm-1")


def pls_arrays(estimator) -> dict[str, np.ndarray]:
    """Return the arrays of a fitted scikit-learn `PLSRegression` as float64 copies."""
    return {
        "x_mean": np.array(estimator._x_mean, dtype=np.float64),
        "x_std": np.array(estimator._x_std, dtype=np.float64),
        "coef": np.array(estimator.coef_, dtype=np.float64),  # (n_targets, n_features)
        "intercept": np.array(estimator.intercept_, dtype=np.float64),  # (n_targets,)
    }


def pls_outputs(arrays: dict[str, np.ndarray], spectra: np.ndarray) -> np.ndarray:
    """Return PLS outputs ``(n, n_targets)`` for preprocessed spectra ``(n, points)``."""
    spectra = np.asarray(spectra, dtype=np.float64)
    return (spectra - arrays["x_mean"]) @ arrays["coef"].T + arrays["intercept"]


@dataclass
class FittedModel:
    """A trained model with its preprocessing, stored as plain values and arrays.

    Attributes
    ----------
    name
        Model name, such as ``"GAN transfer"``, ``"From scratch"`` or ``"PLS"``.
    kind
        ``"network"`` or ``"pls"``.
    task
        ``"regression"`` or ``"classification"``.
    target
        The reference column the model predicts.
    pipeline_spec
        The preprocessing steps as JSON (see `Pipeline.to_json`).
    pipeline_state
        The preprocessing's fitted arrays, including ``input_axis``.
    classes
        Class labels in output order (classification), else None.
    architecture
        `GANArchitecture.to_dict()` of a network, else None.
    weights
        The network's state dict as NumPy arrays, else None.
    pls
        The arrays named in `PLS_ARRAYS`, else None.
    target_mean, target_std
        Standardisation of regression targets the network was trained with.
    n_components
        PLS components (0 for networks).
    checkpoint_epoch
        The GAN epoch the trunk came from, or None.
    axis_unit
        Unit of the input axis, for messages.
    fitted_values
        The model's predictions for its own training samples, when known.
    output_index
        The network output (regression column) this model reads; a network
        fitted on several targets has one output per target.
    created
        ISO time the model was fitted.
    """

    name: str
    kind: str
    task: str
    target: str
    pipeline_spec: str
    pipeline_state: dict[str, np.ndarray]
    classes: list[str] | None = None
    architecture: dict | None = None
    weights: dict[str, np.ndarray] | None = None
    pls: dict[str, np.ndarray] | None = None
    target_mean: float = 0.0
    target_std: float = 1.0
    n_components: int = 0
    checkpoint_epoch: int | None = None
    axis_unit: str = ""
    fitted_values: np.ndarray | None = None
    output_index: int = 0
    created: str = field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ValueError(f"model kind must be one of {MODEL_KINDS}, got {self.kind!r}")
        if self.kind == "network" and (self.architecture is None or self.weights is None):
            raise ValueError("a network model needs its architecture and weights")
        if self.kind == "pls" and self.pls is None:
            raise ValueError("a PLS model needs its arrays")

    # --- derived objects --------------------------------------------------
    def pipeline(self) -> Pipeline:
        """Return the fitted preprocessing pipeline."""
        return Pipeline.from_state(json.loads(self.pipeline_spec), self.pipeline_state)

    @property
    def input_axis(self) -> np.ndarray:
        return np.asarray(self.pipeline_state["input_axis"], dtype=np.float64)

    def coding(self) -> TargetCoding:
        return TargetCoding(
            self.task, self.target_mean, self.target_std, tuple(self.classes or ())
        )

    def network(self) -> TransferNetwork:
        """Return the network with the stored weights, on the CPU, in eval mode."""
        architecture = GANArchitecture.from_dict(self.architecture)
        # The output count and hidden head layer follow from the stored
        # weights, so models saved before several targets or hidden heads load.
        n_outputs = self.coding().n_outputs
        if "head.weight" in self.weights:
            n_outputs = int(np.asarray(self.weights["head.weight"]).shape[0])
        head_units = 0
        if "hidden.weight" in self.weights:
            head_units = int(np.asarray(self.weights["hidden.weight"]).shape[0])
        network = TransferNetwork(architecture, n_outputs, head_units)
        load_numpy_state(network, self.weights)
        return network.eval()

    def outputs(self, preprocessed: np.ndarray) -> np.ndarray:
        """Return raw outputs for preprocessed spectra: ``(n, 1)`` for regression
        (the column `output_index`), ``(n, n_classes)`` for classification."""
        if self.kind == "network":
            outputs = network_outputs(self.network(), preprocessed)
        else:
            outputs = pls_outputs(self.pls, preprocessed)
        if self.task == "regression":
            return outputs[:, self.output_index:self.output_index + 1]
        return outputs

    # --- storage ------------------------------------------------------------
    def to_tree(self) -> dict:
        """Return the model as a Tree: no lists, no None, array leaves only."""
        tree: dict = {
            "name": self.name,
            "kind": self.kind,
            "task": self.task,
            "target": self.target,
            "pipeline_json": self.pipeline_spec,
            "pipeline_state": {k: np.asarray(v) for k, v in self.pipeline_state.items()},
            "target_mean": float(self.target_mean),
            "target_std": float(self.target_std),
            "n_components": int(self.n_components),
            "axis_unit": self.axis_unit,
            "created": self.created,
        }
        if self.classes is not None:
            tree["classes"] = np.asarray(self.classes, dtype=str)
        if self.architecture is not None:
            tree["architecture_json"] = json.dumps(self.architecture)
        if self.weights is not None:
            tree["weights"] = {k: np.asarray(v) for k, v in self.weights.items()}
        if self.pls is not None:
            tree["pls"] = {k: np.asarray(v) for k, v in self.pls.items()}
        if self.checkpoint_epoch is not None:
            tree["checkpoint_epoch"] = int(self.checkpoint_epoch)
        if self.fitted_values is not None:
            tree["fitted_values"] = np.asarray(self.fitted_values)
        if self.output_index:
            tree["output_index"] = int(self.output_index)
        return tree

    @classmethod
    def from_tree(cls, tree: dict) -> FittedModel:
        """Rebuild a model written by `to_tree`.

        Raises
        ------
        ProjectFileError
            When a required entry is missing or the entries contradict each
            other (a network without weights, an unknown kind).
        """
        required = ("name", "kind", "task", "target", "pipeline_json", "pipeline_state")
        missing = [key for key in required if key not in tree]
        if missing:
            raise ProjectFileError(
                f"A stored model lacks {', '.join(missing)}, so the project file is "
                f"damaged or was written by another program. Fit the model again."
            )

        def text(key: str, default: str = "") -> str:
            value = tree.get(key, default)
            return value.decode() if isinstance(value, bytes) else str(value)

        classes = None
        if "classes" in tree:
            classes = [str(c) for c in np.asarray(tree["classes"]).astype(str)]
        architecture = None
        if "architecture_json" in tree:
            architecture = json.loads(text("architecture_json"))
        weights = None
        if "weights" in tree:
            weights = {k: np.asarray(v) for k, v in tree["weights"].items()}
        pls = None
        if "pls" in tree:
            pls = {k: np.asarray(v, dtype=np.float64) for k, v in tree["pls"].items()}
        fitted_values = tree.get("fitted_values")
        if fitted_values is not None:
            fitted_values = np.asarray(fitted_values)
            if fitted_values.dtype.kind in "SO":
                fitted_values = fitted_values.astype(str)
        checkpoint_epoch = None
        if "checkpoint_epoch" in tree:
            checkpoint_epoch = int(tree["checkpoint_epoch"])
        try:
            return cls(
                name=text("name"),
                kind=text("kind"),
                task=text("task"),
                target=text("target"),
                pipeline_spec=text("pipeline_json"),
                pipeline_state={k: np.asarray(v) for k, v in tree["pipeline_state"].items()},
                classes=classes,
                architecture=architecture,
                weights=weights,
                pls=pls,
                target_mean=float(tree.get("target_mean", 0.0)),
                target_std=float(tree.get("target_std", 1.0)),
                n_components=int(tree.get("n_components", 0)),
                checkpoint_epoch=checkpoint_epoch,
                axis_unit=text("axis_unit"),
                fitted_values=fitted_values,
                output_index=int(tree.get("output_index", 0)),
                created=text("created"),
            )
        except ValueError as error:
            raise ProjectFileError(
                f"A stored model is inconsistent ({error}), so the project file is "
                f"damaged or was written by another program. Fit the model again."
            ) from error

    def describe(self) -> str:
        """Return a one-line summary such as ``PLS, 4 components, glucose``."""
        if self.kind == "pls":
            detail = f"{self.n_components} components"
        elif self.checkpoint_epoch is not None:
            detail = f"trunk from GAN epoch {self.checkpoint_epoch}"
        else:
            detail = "network"
        return f"{self.name}, {detail}, {self.task} of {self.target}"


def predict(
    model: FittedModel, axis: np.ndarray, spectra: np.ndarray, axis_unit: str | None = None
) -> np.ndarray:
    """Predict reference values for raw spectra with a fitted model.

    Parameters
    ----------
    model
        The fitted model, whose preprocessing is repeated on the spectra.
    axis
        Axis of the spectra, ``(n_points,)``, in any order.  An axis other
        than the model's input axis must cover the range the model reads,
        within half a point, with at least `MIN_POINT_DENSITY` of the model's
        points there.  The spectra are then linearly interpolated onto the
        model's axis, with a logged warning.
    spectra
        Raw spectra ``(n, n_points)`` or one spectrum ``(n_points,)``.
    axis_unit
        Unit of `axis` ("cm-1", "nm", "index"); when given it must be the
        unit the model was fitted on.

    Returns
    -------
    numpy.ndarray
        Floats ``(n,)`` for regression, class labels (unicode) for
        classification.

    Raises
    ------
    DataError
        When the spectra do not fit the axis, contain missing values, have
        another axis unit than the model, or do not cover the range the
        model needs at its resolution.
    """
    axis = np.asarray(axis, dtype=np.float64).ravel()
    spectra = np.atleast_2d(np.asarray(spectra, dtype=np.float64))
    if spectra.shape[1] != axis.size:
        raise DataError(
            f"The spectra have {spectra.shape[1]} points but their axis has {axis.size} "
            f"values. Give one axis value per point."
        )
    if not np.isfinite(spectra).all():
        bad = sorted(set(np.nonzero(~np.isfinite(spectra).all(axis=1))[0].tolist()))
        raise DataError(
            f"Spectra at rows {', '.join(str(i) for i in bad[:10])} contain NaN or "
            f"infinite values. Repair or remove them before predicting."
        )
    check_axis_unit(model, axis_unit)
    on_model_axis = align_to_model_axis(model, axis, spectra, axis_unit)
    preprocessed = model.pipeline().transform(on_model_axis)
    return model.coding().decode(model.outputs(preprocessed))


def check_axis_unit(model: FittedModel, axis_unit: str | None) -> None:
    """Raise `DataError` when spectra in `axis_unit` cannot go into `model`.

    Nothing is checked when either unit is unknown (empty), as in models
    stored before units were recorded.
    """
    if not axis_unit or not model.axis_unit or axis_unit == model.axis_unit:
        return
    if axis_unit in _CONVERTIBLE_UNITS and model.axis_unit in _CONVERTIBLE_UNITS:
        remedy = (
            f"Convert the spectra's axis to {model.axis_unit} (x' = 1e7 / x) when loading "
            f"them (Axis conversion on the Prediction page, --convert-axis "
            f"{model.axis_unit} for `specgan predict`), or set the right axis unit if the "
            f"file states it wrongly (--axis-unit)."
        )
    else:
        remedy = (
            f"Use spectra on the model's axis ({model.axis_unit}), or set the right axis "
            f"unit if the file states it wrongly (--axis-unit for `specgan predict`)."
        )
    raise DataError(
        f"The spectra's axis is in {axis_unit}, but model {model.name!r} was fitted on "
        f"spectra in {model.axis_unit}. {remedy}"
    )


def align_to_model_axis(
    model: FittedModel, axis: np.ndarray, spectra: np.ndarray, axis_unit: str | None = None
) -> np.ndarray:
    """Return the spectra on the model's input axis, interpolating when needed.

    Raises `DataError` when the axis does not cover the range the model
    reads, or has fewer than `MIN_POINT_DENSITY` of the model's points there.
    """
    model_axis = model.input_axis
    same_tolerance = 1e-9 * max(1.0, float(np.ptp(model_axis)))
    if axis.shape == model_axis.shape and np.allclose(axis, model_axis, rtol=0,
                                                      atol=same_tolerance):
        return spectra

    needed_low, needed_high = needed_range(model)
    spacing = float(np.median(np.abs(np.diff(model_axis)))) if model_axis.size > 1 else 0.0
    # Half a point of tolerance at each end: instruments often differ by a
    # fraction of a point at the edges, and np.interp then repeats the edge value.
    tolerance = spacing / 2
    low, high = float(axis.min()), float(axis.max())
    unit = f" {model.axis_unit}" if model.axis_unit and model.axis_unit != "index" else ""
    own_unit = unit
    if axis_unit is not None:
        own_unit = f" {axis_unit}" if axis_unit and axis_unit != "index" else ""
    if low > needed_low + tolerance or high < needed_high - tolerance:
        raise DataError(
            f"The spectra cover {low:g} to {high:g}{own_unit}, but model {model.name!r} "
            f"needs {needed_low:g} to {needed_high:g}{unit}. Use spectra measured over "
            f"that range, or fit a model on a range your spectra cover."
        )
    inside = (axis >= needed_low - tolerance) & (axis <= needed_high + tolerance)
    model_inside = (model_axis >= needed_low - tolerance) & (model_axis <= needed_high + tolerance)
    have, needed = int(np.count_nonzero(inside)), int(np.count_nonzero(model_inside))
    if have < MIN_POINT_DENSITY * needed:
        raise DataError(
            f"The spectra have {have} points from {needed_low:g} to {needed_high:g}{unit}, "
            f"where model {model.name!r} was fitted on {needed}; interpolating would invent "
            f"most of the points it reads. Use spectra measured at a resolution closer "
            f"to the model's (at least {int(np.ceil(MIN_POINT_DENSITY * needed))} points "
            f"over that range)."
        )

    order = np.argsort(axis)
    sorted_axis = axis[order]
    if np.any(np.diff(sorted_axis) == 0):
        raise DataError(
            "The spectra's axis repeats a value, so they cannot be interpolated onto the "
            "model's axis. Remove the repeated points."
        )
    aligned = np.array([np.interp(model_axis, sorted_axis, row[order]) for row in spectra])
    logger.warning(
        "Interpolated %d spectra from an axis of %d points (%g to %g) onto the axis of "
        "model %r (%d points, %g to %g)",
        len(spectra), axis.size, low, high, model.name, model_axis.size,
        float(model_axis.min()), float(model_axis.max()),
    )
    return aligned


def needed_range(model: FittedModel) -> tuple[float, float]:
    """Return the axis range whose points the model's preprocessing uses.

    When the pipeline starts with range steps (crop, cut, resample), only
    the points they keep reach any later step, so only that range must be
    covered.  Otherwise every step may read the whole input axis.
    """
    return model.pipeline().needed_range()
