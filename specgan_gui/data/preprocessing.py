"""Preprocessing pipeline: an ordered list of steps fitted on training spectra.

A pipeline is stored as plain parameters (JSON) plus fitted numbers
(arrays), never pickled, so a saved project repeats it exactly at
prediction.  Inside cross-validation a fresh copy is fitted on each
training fold (`Pipeline.unfitted_copy`), so held-out spectra never
inform the fitted numbers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from specgan_gui.errors import SettingsError


class Step:
    """One preprocessing step; subclasses set `kind` and implement the maths."""

    kind = ""

    def params(self) -> dict:
        return {}

    def fit(self, axis: np.ndarray, spectra: np.ndarray) -> None:
        """Learn what the step needs from training spectra (most learn nothing)."""

    def transform(self, axis: np.ndarray, spectra: np.ndarray):
        """Return ``(axis, spectra)`` after the step."""
        raise NotImplementedError

    def state(self) -> dict[str, np.ndarray]:
        """Return the fitted numbers as arrays."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore fitted numbers written by `state`."""

    @property
    def is_fitted(self) -> bool:
        return True


class Crop(Step):
    """Keep the points whose axis value lies in ``[low, high]`` (axis units)."""

    kind = "crop"

    def __init__(self, low: float, high: float):
        low, high = float(low), float(high)
        if not low < high:
            raise SettingsError(
                f"Crop range {low:g} to {high:g} is empty; the lower bound must "
                f"be below the upper bound."
            )
        self.low = low
        self.high = high

    def params(self) -> dict:
        return {"low": self.low, "high": self.high}

    def transform(self, axis, spectra):
        keep = (axis >= self.low) & (axis <= self.high)
        if keep.sum() < 8:
            raise SettingsError(
                f"Crop range {self.low:g} to {self.high:g} keeps {int(keep.sum())} "
                f"points of an axis from {axis.min():g} to {axis.max():g}; choose "
                f"a range inside the axis that keeps at least 8 points."
            )
        return axis[keep], spectra[:, keep]


class MinMaxScale(Step):
    """Scale all spectra with one minimum and maximum to [-1, 1].

    One global pair (not one per point) keeps the shape of each spectrum,
    which is what the GAN's tanh outputs must reproduce.
    """

    kind = "scale"

    def __init__(self):
        self.minimum: float | None = None
        self.maximum: float | None = None

    def fit(self, axis, spectra):
        self.minimum = float(np.min(spectra))
        self.maximum = float(np.max(spectra))
        if not np.isfinite([self.minimum, self.maximum]).all():
            raise SettingsError(
                "The spectra contain NaN or infinite values; remove or repair "
                "those points before scaling."
            )

    @property
    def is_fitted(self) -> bool:
        return self.minimum is not None

    def _span(self) -> float:
        span = self.maximum - self.minimum
        return span if span > 0 else 1.0

    def transform(self, axis, spectra):
        if not self.is_fitted:
            raise SettingsError("The scaling step was used before it was fitted.")
        return axis, 2.0 * (spectra - self.minimum) / self._span() - 1.0

    def inverse(self, scaled: np.ndarray) -> np.ndarray:
        return (np.asarray(scaled, dtype=np.float64) + 1.0) * self._span() / 2.0 + self.minimum

    def state(self):
        if not self.is_fitted:
            return {}
        return {"minimum": np.float64(self.minimum), "maximum": np.float64(self.maximum)}

    def load_state(self, state):
        if "minimum" in state:
            self.minimum = float(state["minimum"])
            self.maximum = float(state["maximum"])


STEP_TYPES: dict[str, type[Step]] = {Crop.kind: Crop, MinMaxScale.kind: MinMaxScale}


def make_step(kind: str, params: dict | None = None) -> Step:
    """Build a step from its kind and parameters, as stored in a project."""
    try:
        step_type = STEP_TYPES[kind]
    except KeyError:
        known = ", ".join(sorted(STEP_TYPES))
        raise SettingsError(f"Unknown preprocessing step {kind!r}; known steps: {known}.") from None
    return step_type(**(params or {}))


@dataclass
class Pipeline:
    """Ordered preprocessing steps plus the axis they were fitted on."""

    steps: list[Step] = field(default_factory=list)
    input_axis: np.ndarray | None = None

    @classmethod
    def default(cls, crop: tuple[float, float] | None = None) -> Pipeline:
        """Return the GAN's standard pipeline: optional crop, then [-1, 1] scaling."""
        steps: list[Step] = []
        if crop is not None:
            steps.append(Crop(*crop))
        steps.append(MinMaxScale())
        return cls(steps)

    # --- fitting and applying -------------------------------------------
    def fit(self, axis: np.ndarray, spectra: np.ndarray) -> Pipeline:
        axis = np.asarray(axis, dtype=np.float64)
        spectra = np.asarray(spectra, dtype=np.float64)
        self.input_axis = axis.copy()
        for step in self.steps:
            step.fit(axis, spectra)
            axis, spectra = step.transform(axis, spectra)
        return self

    def transform(self, spectra: np.ndarray) -> np.ndarray:
        """Apply the fitted steps to spectra on the fitted input axis."""
        return self.transform_with_axis(spectra)[1]

    def transform_with_axis(self, spectra: np.ndarray):
        if self.input_axis is None:
            raise SettingsError("The preprocessing pipeline was used before it was fitted.")
        spectra = np.atleast_2d(np.asarray(spectra, dtype=np.float64))
        if spectra.shape[1] != self.input_axis.size:
            raise SettingsError(
                f"Spectra have {spectra.shape[1]} points but the preprocessing was "
                f"fitted on {self.input_axis.size}; bring them onto the same axis first."
            )
        axis = self.input_axis
        for step in self.steps:
            axis, spectra = step.transform(axis, spectra)
        return axis, spectra

    def fit_transform(self, axis, spectra) -> np.ndarray:
        return self.fit(axis, spectra).transform(spectra)

    @property
    def output_axis(self) -> np.ndarray:
        if self.input_axis is None:
            raise SettingsError("The preprocessing pipeline was used before it was fitted.")
        axis = self.input_axis
        dummy = np.zeros((1, axis.size))
        for step in self.steps:
            if isinstance(step, Crop):
                axis, dummy = step.transform(axis, dummy)
        return axis

    def inverse_scale(self, scaled: np.ndarray) -> np.ndarray:
        """Map model outputs in [-1, 1] back to the units before scaling."""
        for step in reversed(self.steps):
            if isinstance(step, MinMaxScale):
                return step.inverse(scaled)
        return np.asarray(scaled, dtype=np.float64)

    def unfitted_copy(self) -> Pipeline:
        """Return the same steps, unfitted, for refitting on a training fold."""
        return Pipeline([make_step(s.kind, s.params()) for s in self.steps])

    # --- storage ---------------------------------------------------------
    def to_spec(self) -> list[dict]:
        """Return the steps as JSON-ready ``[{"kind": ..., "params": {...}}]``."""
        return [{"kind": s.kind, "params": s.params()} for s in self.steps]

    def to_json(self) -> str:
        return json.dumps(self.to_spec())

    @classmethod
    def from_spec(cls, spec: list[dict]) -> Pipeline:
        return cls([make_step(item["kind"], item.get("params")) for item in spec])

    def fitted_state(self) -> dict[str, np.ndarray]:
        """Return the fitted numbers as flat ``{"<index>.<name>": array}``."""
        state: dict[str, np.ndarray] = {}
        if self.input_axis is not None:
            state["input_axis"] = self.input_axis.copy()
        for index, step in enumerate(self.steps):
            for name, value in step.state().items():
                state[f"{index}.{name}"] = np.asarray(value)
        return state

    @classmethod
    def from_state(cls, spec: list[dict], state: dict[str, np.ndarray]) -> Pipeline:
        pipeline = cls.from_spec(spec)
        if "input_axis" in state:
            pipeline.input_axis = np.asarray(state["input_axis"], dtype=np.float64)
        for index, step in enumerate(pipeline.steps):
            prefix = f"{index}."
            step.load_state(
                {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
            )
        return pipeline

    @property
    def is_fitted(self) -> bool:
        return self.input_axis is not None and all(s.is_fitted for s in self.steps)

    def describe(self) -> str:
        """Return a one-line summary such as ``crop 950-1550, scale``."""
        parts = []
        for step in self.steps:
            if isinstance(step, Crop):
                parts.append(f"crop {step.low:g}-{step.high:g}")
            else:
                parts.append(step.kind)
        return ", ".join(parts) or "none"
