"""Preprocessing pipeline: an ordered list of steps fitted on training spectra.

A pipeline is stored as plain parameters (JSON) plus fitted numbers
(arrays), never pickled, so a saved project repeats it exactly at
prediction.  Inside cross-validation a fresh copy is fitted on each
training fold (`Pipeline.unfitted_copy`), so held-out spectra never
inform the fitted numbers.  Only MSC and EMSC (their reference spectrum),
mean centring (the mean spectrum) and the final scaling (one minimum and
maximum) learn from data.  Every other step treats each spectrum on its own.

Step kinds
----------
``crop``            keep one axis range (the older form of ``cut``)
``cut``             keep one or several axis windows
``resample``        interpolate onto a regular grid
``snv``, ``msc``, ``emsc``      scatter correction
``smooth``, ``savgol``          Savitzky-Golay smoothing and derivatives
``linear-baseline``, ``poly-baseline``, ``asls``, ``arpls``, ``airpls``
                    baseline correction
``norm``            per-spectrum normalisation (vector, min-max, area)
``center``          mean centring
``scale``           scaling of all spectra to [-1, 1], the range of the
                    GAN's tanh output; it belongs at the end

Step metadata for a form builder
--------------------------------
`step_kinds` returns one `StepInfo` per kind, in menu order.  A form shows
``label`` as the title, ``description`` as a one-line summary and one
editor per `ParamInfo` in ``params``:

- ``type == "int"`` or ``"float"``: a spin box from ``minimum`` to
  ``maximum`` (None: unbounded).  ``odd`` asks for odd integers only;
  ``log`` marks a value that spans decades (a lambda of 1e2 to 1e9) and
  suits a scientific-notation entry.
- ``type == "choice"``: a combo box of ``choices``, ``(value, label)``
  pairs; the value is stored.
- ``type == "windows"``: a table of ``[low, high]`` rows in axis units.

``unit`` is ``"points"``, ``"axis units"`` (show the data set's axis
unit, such as cm-1 or nm, instead) or ``""``.  ``tooltip`` says what the
parameter does.  ``default`` is the value a new step gets; None marks a
value that depends on the data, which `default_params` fills from the
axis.  ``StepInfo.legacy`` marks a kind kept only to read older projects
(``crop``), which an "add step" menu hides.  `validate` returns warnings
for settings that make no sense on a given axis, to show next to the form.

The same steps written as text (command line, `parse_steps`,
`format_steps`): steps separated by commas, parameters by colons, in the
order of ``params``; trailing parameters may be left out for their
defaults, and ``name=value`` sets one by name.  A window is ``low-high``.
Example: ``cut:950-1550,savgol:15:2:1,scale``.

Speed, measured on 100 coffee spectra interpolated onto 2000 points (best
of three runs on one core of a shared 2-core machine): every step but the
iterative baselines took at most 10 ms.  ``asls`` and ``airpls`` took
about 0.15 s and ``arpls`` 0.8 s, because they iterate on each spectrum
separately.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from specgan_gui.errors import SettingsError

# The steps import chemotools where they use it: chemotools loads scikit-learn,
# which takes seconds, and the command line and window should start without it.

#: Minimum number of points a range step must keep, so that something is left to model.
MIN_KEPT_POINTS = 8

PARAM_TYPES = ("int", "float", "choice", "windows")


# --- metadata --------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamInfo:
    """One parameter of a step kind, as a settings form shows it.

    Attributes
    ----------
    name
        Key in the step's ``params``.
    label
        Short label for the form.
    type
        ``"int"``, ``"float"``, ``"choice"`` or ``"windows"``.
    default
        Value of a new step, or None when it depends on the axis (see
        `default_params`).
    minimum, maximum
        Allowed range of numbers, None for unbounded.
    unit
        ``"points"``, ``"axis units"`` or ``""``.
    tooltip
        What the parameter does, in one or two sentences.
    choices
        ``(value, label)`` pairs of a choice.
    odd
        Only odd integers are valid.
    log
        The value spans decades; a scientific-notation entry suits it.
    """

    name: str
    label: str
    type: str
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""
    tooltip: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    odd: bool = False
    log: bool = False

    def __post_init__(self) -> None:
        if self.type not in PARAM_TYPES:
            raise ValueError(f"parameter type must be one of {PARAM_TYPES}, got {self.type!r}")


@dataclass(frozen=True)
class StepInfo:
    """Description of one step kind for menus, forms and help text.

    Attributes
    ----------
    kind
        Stored name of the step, such as ``"savgol"``.
    label
        Menu and list label, such as ``"Savitzky-Golay derivative"``.
    description
        One-line summary of what the step does.
    params
        The step's parameters in text-syntax order.
    learns_from_data
        True when fitting stores numbers learned from the training spectra.
    changes_axis
        True when the step removes points or changes the axis.
    legacy
        True for kinds kept only so older projects still load.
    """

    kind: str
    label: str
    description: str
    params: tuple[ParamInfo, ...] = ()
    learns_from_data: bool = False
    changes_axis: bool = False
    legacy: bool = False

    def param(self, name: str) -> ParamInfo:
        """Return the parameter called `name`."""
        for param in self.params:
            if param.name == name:
                return param
        raise KeyError(name)


def _window_param(tooltip: str) -> ParamInfo:
    return ParamInfo(
        "window", "Window", "int", 15, minimum=3, maximum=501, unit="points", odd=True,
        tooltip=tooltip,
    )


def _polyorder_param(default: int = 2) -> ParamInfo:
    return ParamInfo(
        "polyorder", "Polynomial order", "int", default, minimum=0, maximum=10,
        tooltip="Order of the polynomial fitted in each window. It must be below the "
        "window length; 2 or 3 keeps band shapes, higher orders follow noise.",
    )


_EDGE_MODES = (
    ("interp", "Fit the edge windows"),
    ("nearest", "Repeat the edge value"),
    ("mirror", "Mirror the spectrum"),
)


def _mode_param() -> ParamInfo:
    return ParamInfo(
        "mode", "Edges", "choice", "interp", choices=_EDGE_MODES,
        tooltip="How the first and last half-window of points are treated: 'interp' "
        "evaluates the polynomial fitted to the edge window (scipy's default), 'nearest' "
        "pads with the edge value, 'mirror' reflects the spectrum.",
    )


_LAMBDA_TOOLTIP = (
    "Smoothness of the baseline (lambda). Larger values give a stiffer baseline that "
    "ignores bands; 1e4 to 1e7 suits 500 to 3000 points."
)


# --- the step base class ------------------------------------------------------------
class Step:
    """One preprocessing step; subclasses set `kind` and `info` and implement the maths.

    The constructor takes the parameters named in ``info.params`` as keyword
    arguments, fills defaults and checks types and ranges.  Invalid values
    raise `SettingsError` with a message for the user.
    """

    kind: ClassVar[str] = ""
    info: ClassVar[StepInfo]
    #: True for steps that only select points, so NaN values may pass through them.
    keeps_missing: ClassVar[bool] = False

    def __init__(self, **params):
        self._params = _checked_params(self.info, params)
        self._check_params()

    def _check_params(self) -> None:
        """Check rules between parameters; raise `SettingsError` when one fails."""

    def params(self) -> dict:
        """Return the parameters as JSON-ready values."""
        return json.loads(json.dumps(self._params))

    @property
    def learns_from_data(self) -> bool:
        return self.info.learns_from_data

    def fit(self, axis: np.ndarray, spectra: np.ndarray) -> None:
        """Learn what the step needs from training spectra (most learn nothing)."""

    def transform(self, axis: np.ndarray, spectra: np.ndarray):
        """Return ``(axis, spectra)`` after the step."""
        raise NotImplementedError

    def transform_axis(self, axis: np.ndarray) -> np.ndarray:
        """Return the axis after the step (unchanged unless the step selects points)."""
        return axis

    def check(self, axis: np.ndarray) -> list[str]:
        """Return problems of these settings on spectra with this axis, as sentences."""
        return []

    def state(self) -> dict[str, np.ndarray]:
        """Return the fitted numbers as arrays."""
        return {}

    def load_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore fitted numbers written by `state`."""

    @property
    def is_fitted(self) -> bool:
        return True

    def describe(self) -> str:
        """Return the step in text syntax, such as ``savgol:15:2:1``."""
        return format_step({"kind": self.kind, "params": self._params})


class ParameterError(SettingsError):
    """An invalid step parameter; `detail` is the message without the step's name."""

    def __init__(self, kind: str, detail: str):
        self.kind = kind
        self.detail = detail
        super().__init__(f"Step {kind!r}: {detail}")


def _checked_params(info: StepInfo, params: dict) -> dict:
    """Return `params` with defaults filled and values converted, or raise ParameterError."""
    known = {p.name for p in info.params}
    unknown = sorted(set(params) - known)
    if unknown:
        expected = ", ".join(sorted(known)) or "none"
        raise ParameterError(
            info.kind,
            f"there is no parameter {', '.join(map(repr, unknown))}; the parameters are: "
            f"{expected}.",
        )
    checked = {}
    for param in info.params:
        value = params.get(param.name, param.default)
        if value is None:
            raise ParameterError(info.kind, f"{param.name} ({param.label}) needs a value.")
        try:
            checked[param.name] = _checked_value(param, value)
        except ValueError as error:
            raise ParameterError(info.kind, f"{param.name} {error}") from None
    return checked


def _checked_value(param: ParamInfo, value):
    """Return `value` converted to the parameter's type; raise ValueError with the reason."""
    if param.type == "choice":
        values = [choice for choice, _ in param.choices]
        if str(value) not in values:
            raise ValueError(f"cannot be {value!r}; choose one of {', '.join(values)}.")
        return str(value)
    if param.type == "windows":
        return _checked_windows(value)

    if isinstance(value, bool):
        raise ValueError(f"must be a number, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"must be a number, got {value!r}.") from None
    if not math.isfinite(number):
        raise ValueError(f"must be a finite number, got {value!r}.")
    if param.type == "int":
        if not number.is_integer():
            raise ValueError(f"must be a whole number, got {value!r}.")
        number = int(number)
    if param.minimum is not None and number < param.minimum:
        raise ValueError(f"must be at least {param.minimum:g}, got {number:g}.")
    if param.maximum is not None and number > param.maximum:
        raise ValueError(f"must be at most {param.maximum:g}, got {number:g}.")
    if param.odd and number % 2 == 0:
        raise ValueError(
            f"must be odd so the window is centred on its point, got {number}; "
            f"use {number + 1}."
        )
    return number


def _checked_windows(value) -> list[list[float]]:
    try:
        pairs = [[float(low), float(high)] for low, high in value]
    except (TypeError, ValueError):
        raise ValueError(f"must be a list of [low, high] pairs, got {value!r}.") from None
    if not pairs:
        raise ValueError("needs at least one window [low, high].")
    windows = []
    for low, high in pairs:
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"window {low:g}-{high:g} must have finite bounds.")
        if low == high:
            raise ValueError(f"window {low:g}-{high:g} is empty.")
        # Wavenumber users often write the high end first; the order carries no meaning.
        windows.append([min(low, high), max(low, high)])
    return windows


def _finite_rows_problem(spectra: np.ndarray) -> str:
    bad = np.nonzero(~np.isfinite(spectra).all(axis=1))[0]
    listed = ", ".join(str(i) for i in bad[:10]) + (" ..." if bad.size > 10 else "")
    if bad.size == 1:
        return f"the spectrum in row {listed} contains NaN or infinite values"
    return f"{bad.size} spectra (rows {listed}) contain NaN or infinite values"


# --- range steps ----------------------------------------------------------------------
class Crop(Step):
    """Keep the points whose axis value lies in ``[low, high]`` (axis units)."""

    kind = "crop"
    keeps_missing = True
    info = StepInfo(
        kind="crop",
        label="Crop (one range)",
        description="Keep one axis range; older projects store their modelling range so.",
        params=(
            ParamInfo("low", "From", "float", None, unit="axis units",
                      tooltip="Lowest axis value kept (inclusive)."),
            ParamInfo("high", "To", "float", None, unit="axis units",
                      tooltip="Highest axis value kept (inclusive)."),
        ),
        changes_axis=True,
        legacy=True,
    )

    def __init__(self, low: float | None = None, high: float | None = None):
        super().__init__(low=low, high=high)
        self.low = self._params["low"]
        self.high = self._params["high"]

    def _check_params(self) -> None:
        low, high = self._params["low"], self._params["high"]
        if not low < high:
            raise SettingsError(
                f"Crop range {low:g} to {high:g} is empty; the lower bound must "
                f"be below the upper bound."
            )

    def _keep(self, axis: np.ndarray) -> np.ndarray:
        return (axis >= self.low) & (axis <= self.high)

    def transform_axis(self, axis):
        keep = self._keep(axis)
        if keep.sum() < MIN_KEPT_POINTS:
            raise SettingsError(
                f"Crop range {self.low:g} to {self.high:g} keeps {int(keep.sum())} "
                f"points of an axis from {axis.min():g} to {axis.max():g}; choose "
                f"a range inside the axis that keeps at least {MIN_KEPT_POINTS} points."
            )
        return axis[keep]

    def transform(self, axis, spectra):
        self.transform_axis(axis)
        keep = self._keep(axis)
        return axis[keep], spectra[:, keep]

    def check(self, axis):
        return _range_problems([[self.low, self.high]], axis)

    def describe(self) -> str:
        return f"crop:{_number_text(self.low)}-{_number_text(self.high)}"


class Cut(Step):
    """Keep the points inside one or several axis windows, in axis order."""

    kind = "cut"
    keeps_missing = True
    info = StepInfo(
        kind="cut",
        label="Range cut",
        description="Keep one or several axis windows, such as the bands of the analyte.",
        params=(
            ParamInfo(
                "windows", "Windows", "windows", None, unit="axis units",
                tooltip="Axis ranges to keep, each [low, high] inclusive. Cutting away "
                "regions without information (detector edges, water or CO2 bands) "
                "usually helps every model.",
            ),
        ),
        changes_axis=True,
    )

    def __init__(self, windows: list | None = None):
        super().__init__(windows=windows)
        self.windows = self._params["windows"]

    def _keep(self, axis: np.ndarray) -> np.ndarray:
        keep = np.zeros(axis.shape, dtype=bool)
        for low, high in self.windows:
            keep |= (axis >= low) & (axis <= high)
        return keep

    def transform_axis(self, axis):
        keep = self._keep(axis)
        if keep.sum() < MIN_KEPT_POINTS:
            raise SettingsError(
                f"The cut {_windows_text(self.windows)} keeps {int(keep.sum())} points of "
                f"an axis from {axis.min():g} to {axis.max():g}; choose windows inside "
                f"the axis that keep at least {MIN_KEPT_POINTS} points."
            )
        return axis[keep]

    def transform(self, axis, spectra):
        self.transform_axis(axis)
        keep = self._keep(axis)
        return axis[keep], spectra[:, keep]

    def check(self, axis):
        problems = _range_problems(self.windows, axis)
        ordered = sorted(self.windows)
        for (_, high), (low, _) in zip(ordered, ordered[1:]):
            if low <= high:
                problems.append(
                    f"windows overlap near {low:g}; merge them into one window."
                )
        return problems


def _range_problems(windows: list[list[float]], axis: np.ndarray) -> list[str]:
    low_axis, high_axis = float(np.min(axis)), float(np.max(axis))
    problems = []
    for low, high in windows:
        kept = int(np.count_nonzero((axis >= low) & (axis <= high)))
        if kept == 0:
            problems.append(
                f"window {low:g}-{high:g} lies outside the axis ({low_axis:g} to "
                f"{high_axis:g}) and keeps no point."
            )
        elif low < low_axis or high > high_axis:
            problems.append(
                f"window {low:g}-{high:g} reaches beyond the axis ({low_axis:g} to "
                f"{high_axis:g}); only {kept} points fall inside it."
            )
    return problems


class Resample(Step):
    """Interpolate each spectrum linearly onto the grid ``start, start + step, ... <= stop``."""

    kind = "resample"
    info = StepInfo(
        kind="resample",
        label="Resample",
        description="Interpolate every spectrum onto a regular grid of axis values.",
        params=(
            ParamInfo("start", "From", "float", None, unit="axis units",
                      tooltip="First axis value of the new grid."),
            ParamInfo("stop", "To", "float", None, unit="axis units",
                      tooltip="Last axis value of the new grid (included when the "
                      "spacing reaches it)."),
            ParamInfo("step", "Spacing", "float", None, minimum=0, unit="axis units",
                      tooltip="Distance between grid points. A spacing coarser than the "
                      "instrument's averages neighbouring points away; finer adds no "
                      "information."),
        ),
        changes_axis=True,
    )

    #: Largest grid a resample step builds, against typing errors such as a spacing of 1e-9.
    MAX_POINTS = 200_000

    def _check_params(self) -> None:
        start, stop, step = (self._params[k] for k in ("start", "stop", "step"))
        if not start < stop:
            raise SettingsError(
                f"Resample grid from {start:g} to {stop:g} is empty; 'start' must be "
                f"below 'stop'."
            )
        if step <= 0:
            raise SettingsError(f"Resample spacing must be positive, got {step:g}.")
        n_points = self.n_points
        if n_points < MIN_KEPT_POINTS or n_points > self.MAX_POINTS:
            raise SettingsError(
                f"Resample grid from {start:g} to {stop:g} in steps of {step:g} has "
                f"{n_points} points; choose a spacing that gives {MIN_KEPT_POINTS} to "
                f"{self.MAX_POINTS} points."
            )

    @property
    def n_points(self) -> int:
        start, stop, step = (self._params[k] for k in ("start", "stop", "step"))
        # The small tolerance keeps `stop` when (stop - start) / step is whole up to rounding.
        return int(math.floor((stop - start) / step + 1e-9)) + 1

    def grid(self) -> np.ndarray:
        return self._params["start"] + self._params["step"] * np.arange(self.n_points)

    def transform_axis(self, axis):
        grid = self.grid()
        low, high = float(np.min(axis)), float(np.max(axis))
        tolerance = 1e-9 * max(1.0, high - low)
        if grid[0] < low - tolerance or grid[-1] > high + tolerance:
            raise SettingsError(
                f"The resample grid {grid[0]:g} to {grid[-1]:g} reaches beyond the axis "
                f"({low:g} to {high:g}); interpolation cannot invent values outside it. "
                f"Choose 'start' and 'stop' inside the axis."
            )
        return grid

    def transform(self, axis, spectra):
        grid = self.transform_axis(axis)
        order = np.argsort(axis, kind="stable")
        sorted_axis = axis[order]
        if np.any(np.diff(sorted_axis) == 0):
            raise SettingsError(
                "The axis repeats a value, so the spectra cannot be resampled; remove the "
                "repeated points first."
            )
        resampled = np.empty((spectra.shape[0], grid.size))
        for row, spectrum in enumerate(spectra):
            resampled[row] = np.interp(grid, sorted_axis, spectrum[order])
        return grid, resampled

    def check(self, axis):
        try:
            grid = self.transform_axis(axis)
        except SettingsError as error:
            return [str(error)]
        spacing = float(np.median(np.abs(np.diff(np.sort(axis))))) if axis.size > 1 else 0.0
        if spacing and self._params["step"] < spacing / 2:
            return [
                f"the spacing {self._params['step']:g} is less than half the axis spacing "
                f"({spacing:g}); the {grid.size} points interpolate without adding "
                f"information."
            ]
        return []


# --- scatter correction ---------------------------------------------------------------
_REFERENCES = (("mean", "Mean spectrum"), ("median", "Median spectrum"))


class SNV(Step):
    """Standard normal variate: centre and scale each spectrum by its own mean and std."""

    kind = "snv"
    info = StepInfo(
        kind="snv",
        label="SNV",
        description="Standard normal variate: subtract each spectrum's mean and divide by "
        "its standard deviation, removing scatter offsets and gains.",
    )

    def transform(self, axis, spectra):
        from chemotools.scatter import StandardNormalVariate

        return axis, StandardNormalVariate().fit(spectra).transform(spectra)


class MSC(Step):
    """Multiplicative scatter correction against the training spectra's mean or median."""

    kind = "msc"
    info = StepInfo(
        kind="msc",
        label="MSC",
        description="Multiplicative scatter correction: regress each spectrum on a "
        "reference spectrum from the training set and undo offset and gain.",
        params=(
            ParamInfo(
                "reference", "Reference", "choice", "mean", choices=_REFERENCES,
                tooltip="Reference spectrum learned from the training spectra; the "
                "median resists outlying spectra.",
            ),
        ),
        learns_from_data=True,
    )

    def __init__(self, **params):
        super().__init__(**params)
        self._estimator = None

    def _new_estimator(self, reference: np.ndarray | None = None):
        from chemotools.scatter import MultiplicativeScatterCorrection

        return MultiplicativeScatterCorrection(
            method=self._params["reference"], reference=reference
        )

    def fit(self, axis, spectra):
        self._estimator = self._new_estimator().fit(spectra)

    @property
    def is_fitted(self) -> bool:
        return self._estimator is not None

    def transform(self, axis, spectra):
        if self._estimator is None:
            raise SettingsError(f"The {self.info.label} step was used before it was fitted.")
        return axis, self._estimator.transform(spectra)

    def state(self):
        if self._estimator is None:
            return {}
        return {"reference": np.array(self._estimator.reference_, dtype=np.float64)}

    def load_state(self, state):
        if "reference" in state:
            reference = np.asarray(state["reference"], dtype=np.float64)
            # With a reference given, fitting only derives the regression matrix from it.
            self._estimator = self._new_estimator(reference).fit(reference[np.newaxis, :])


class EMSC(MSC):
    """Extended MSC: reference spectrum plus a polynomial baseline, fitted per spectrum."""

    kind = "emsc"
    info = StepInfo(
        kind="emsc",
        label="EMSC",
        description="Extended multiplicative scatter correction: like MSC, but also "
        "removes a polynomial baseline from each spectrum.",
        params=(
            ParamInfo(
                "order", "Polynomial order", "int", 2, minimum=0, maximum=6,
                tooltip="Order of the baseline polynomial removed with the scatter "
                "effects: 0 an offset, 1 a slope, 2 a curvature.",
            ),
            MSC.info.params[0],
        ),
        learns_from_data=True,
    )

    def _new_estimator(self, reference: np.ndarray | None = None):
        from chemotools.scatter import ExtendedMultiplicativeScatterCorrection

        return ExtendedMultiplicativeScatterCorrection(
            method=self._params["reference"], order=self._params["order"], reference=reference
        )


# --- Savitzky-Golay -------------------------------------------------------------------
class _SavitzkyGolayBase(Step):
    def _check_params(self) -> None:
        window, polyorder = self._params["window"], self._params["polyorder"]
        if polyorder >= window:
            raise SettingsError(
                f"Savitzky-Golay polynomial order {polyorder} must be below the window of "
                f"{window} points; lower the order or widen the window."
            )

    def _window_problem(self, n_points: int) -> str:
        window = self._params["window"]
        if window > n_points:
            return (
                f"the window of {window} points is longer than the spectrum at this step "
                f"({n_points} points); choose at most {n_points if n_points % 2 else n_points - 1}."
            )
        return ""

    def check(self, axis):
        problem = self._window_problem(axis.size)
        return [problem] if problem else []

    def _checked_length(self, spectra: np.ndarray) -> None:
        problem = self._window_problem(spectra.shape[1])
        if problem:
            raise SettingsError(f"{self.info.label}: {problem}")


class SavitzkyGolaySmooth(_SavitzkyGolayBase):
    """Savitzky-Golay smoothing (a least-squares polynomial in a sliding window)."""

    kind = "smooth"
    info = StepInfo(
        kind="smooth",
        label="Savitzky-Golay smoothing",
        description="Smooth each spectrum with a polynomial fitted in a sliding window.",
        params=(
            _window_param(
                "Points in the sliding window. Wider windows remove more noise but also "
                "flatten narrow bands; keep it below the width of the narrowest band."
            ),
            _polyorder_param(),
            _mode_param(),
        ),
    )

    def transform(self, axis, spectra):
        # chemotools' SavitzkyGolayFilter gives the same values (to 1e-14) but
        # convolves row by row in Python, about 40 times slower on 100 spectra of
        # 2000 points; its derivative class with deriv=0 filters the whole matrix
        # in scipy at once.
        from chemotools.derivative import SavitzkyGolay

        self._checked_length(spectra)
        smoother = SavitzkyGolay(
            window_length=self._params["window"], polyorder=self._params["polyorder"],
            deriv=0, mode=self._params["mode"],
        )
        return axis, smoother.fit(spectra).transform(spectra)


class SavitzkyGolayDerivative(_SavitzkyGolayBase):
    """Savitzky-Golay derivative, per point (not per axis unit)."""

    kind = "savgol"
    info = StepInfo(
        kind="savgol",
        label="Savitzky-Golay derivative",
        description="Differentiate each spectrum with a smoothing polynomial; the first "
        "derivative removes offsets, the second also slopes.",
        params=(
            _window_param(
                "Points in the sliding window. Wider windows suppress the noise that "
                "derivatives amplify but blur narrow bands."
            ),
            _polyorder_param(),
            ParamInfo(
                "deriv", "Derivative", "int", 1, minimum=0, maximum=4,
                tooltip="Order of the derivative: 1 removes constant offsets, 2 also "
                "linear slopes and separates overlapping bands; 0 only smooths. The "
                "result is per point, not per axis unit.",
            ),
            _mode_param(),
        ),
    )

    def _check_params(self) -> None:
        super()._check_params()
        deriv, polyorder = self._params["deriv"], self._params["polyorder"]
        if deriv > polyorder:
            raise SettingsError(
                f"A Savitzky-Golay derivative of order {deriv} needs a polynomial order of "
                f"at least {deriv} (got {polyorder}); a lower-order polynomial has no such "
                f"derivative and gives zeros."
            )

    def transform(self, axis, spectra):
        from chemotools.derivative import SavitzkyGolay

        self._checked_length(spectra)
        derivative = SavitzkyGolay(
            window_length=self._params["window"], polyorder=self._params["polyorder"],
            deriv=self._params["deriv"], mode=self._params["mode"],
        )
        return axis, derivative.fit(spectra).transform(spectra)


# --- baselines --------------------------------------------------------------------------
class LinearBaseline(Step):
    """Subtract the straight line through the first and last point of each spectrum."""

    kind = "linear-baseline"
    info = StepInfo(
        kind="linear-baseline",
        label="Linear baseline",
        description="Subtract the straight line through the first and last point of each "
        "spectrum.",
    )

    def transform(self, axis, spectra):
        from chemotools.baseline import LinearCorrection

        return axis, LinearCorrection().fit(spectra).transform(spectra)


class PolynomialBaseline(Step):
    """Subtract a least-squares polynomial through all points of each spectrum (detrend)."""

    kind = "poly-baseline"
    info = StepInfo(
        kind="poly-baseline",
        label="Polynomial baseline",
        description="Fit a polynomial through all points of each spectrum and subtract it "
        "(detrending).",
        params=(
            ParamInfo(
                "order", "Order", "int", 2, minimum=0, maximum=10,
                tooltip="Order of the polynomial: 1 removes a slope, 2 a curvature. It "
                "passes through the bands too, so keep it low.",
            ),
        ),
    )

    def transform(self, axis, spectra):
        from chemotools.baseline import PolynomialCorrection

        order = self._params["order"]
        if order >= spectra.shape[1]:
            raise SettingsError(
                f"A polynomial baseline of order {order} needs more than {order} points; "
                f"the spectra have {spectra.shape[1]}."
            )
        return axis, PolynomialCorrection(order=order).fit(spectra).transform(spectra)


class _IterativeBaseline(Step):
    """Whittaker-type baseline (chemotools) computed for each spectrum on its own.

    chemotools starts every spectrum from the weights of the first training
    spectrum and stops after `max_iter_after_warmstart` iterations.  That
    makes a spectrum's baseline depend on which spectrum came first in the
    training set, so here every spectrum starts from uniform weights and
    runs the full iteration count instead.
    """

    MAX_ITERATIONS = 100

    def _estimator(self):
        raise NotImplementedError

    def transform(self, axis, spectra):
        if spectra.shape[1] < 3:
            raise SettingsError(f"{self.info.label} needs at least 3 points per spectrum.")
        estimator = self._estimator().fit(spectra[:1])
        estimator.w_init_ = np.ones(spectra.shape[1])
        return axis, estimator.transform(spectra)


def _lambda_param() -> ParamInfo:
    return ParamInfo("lam", "Lambda", "float", 1e5, minimum=1.0, maximum=1e12, log=True,
                     tooltip=_LAMBDA_TOOLTIP)


class AsLsBaseline(_IterativeBaseline):
    """Asymmetric least squares baseline (Eilers and Boelens)."""

    kind = "asls"
    info = StepInfo(
        kind="asls",
        label="AsLS baseline",
        description="Asymmetric least squares: a smooth baseline that stays under the "
        "bands, subtracted from each spectrum.",
        params=(
            _lambda_param(),
            ParamInfo(
                "p", "Asymmetry p", "float", 0.01, minimum=1e-4, maximum=0.5, log=True,
                tooltip="Weight of points above the baseline (0.001 to 0.1). Smaller values "
                "push the baseline further under the bands.",
            ),
        ),
    )

    def _estimator(self):
        from chemotools.baseline import AsLs

        return AsLs(
            lam=self._params["lam"], penalty=self._params["p"],
            nr_iterations=self.MAX_ITERATIONS, max_iter_after_warmstart=self.MAX_ITERATIONS,
        )


class ArPlsBaseline(_IterativeBaseline):
    """Asymmetrically reweighted penalised least squares baseline (Baek et al.)."""

    kind = "arpls"
    info = StepInfo(
        kind="arpls",
        label="arPLS baseline",
        description="Asymmetrically reweighted penalised least squares: like AsLS, with "
        "weights set from the noise, so there is no asymmetry to tune.",
        params=(
            _lambda_param(),
            ParamInfo(
                "ratio", "Convergence ratio", "float", 0.01, minimum=1e-6, maximum=0.5,
                log=True,
                tooltip="Iterations stop when the weights change by less than this "
                "fraction; smaller values iterate longer.",
            ),
        ),
    )

    def _estimator(self):
        from chemotools.baseline import ArPls

        return ArPls(
            lam=self._params["lam"], ratio=self._params["ratio"],
            nr_iterations=self.MAX_ITERATIONS, max_iter_after_warmstart=self.MAX_ITERATIONS,
        )


class AirPlsBaseline(_IterativeBaseline):
    """Adaptive iteratively reweighted penalised least squares baseline (Zhang et al.)."""

    kind = "airpls"
    info = StepInfo(
        kind="airpls",
        label="airPLS baseline",
        description="Adaptive iteratively reweighted penalised least squares: a baseline "
        "for strong, curved backgrounds such as Raman fluorescence.",
        params=(_lambda_param(),),
    )

    def _estimator(self):
        from chemotools.baseline import AirPls

        return AirPls(
            lam=self._params["lam"], nr_iterations=self.MAX_ITERATIONS,
            max_iter_after_warmstart=self.MAX_ITERATIONS,
        )


# --- normalisation, centring, scaling --------------------------------------------------
class Normalise(Step):
    """Divide each spectrum by its vector norm or area, or map it onto [0, 1]."""

    kind = "norm"
    info = StepInfo(
        kind="norm",
        label="Normalisation",
        description="Scale each spectrum on its own, so its overall intensity no longer "
        "matters.",
        params=(
            ParamInfo(
                "method", "Method", "choice", "vector",
                choices=(
                    ("vector", "Vector (unit length)"),
                    ("minmax", "Min-max (0 to 1)"),
                    ("area", "Area (unit sum of absolute values)"),
                ),
                tooltip="'vector' divides by the Euclidean norm, 'minmax' maps each "
                "spectrum's minimum to 0 and maximum to 1, 'area' divides by the sum of "
                "absolute intensities.",
            ),
        ),
    )

    def transform(self, axis, spectra):
        from chemotools.scale import MinMaxScaler, NormScaler

        method = self._params["method"]
        if method == "minmax":
            scaler = MinMaxScaler(use_min=True)
        else:
            scaler = NormScaler(l_norm=2 if method == "vector" else 1)
        return axis, scaler.fit(spectra).transform(spectra)


class MeanCenter(Step):
    """Subtract the mean training spectrum from every spectrum."""

    kind = "center"
    info = StepInfo(
        kind="center",
        label="Mean centring",
        description="Subtract the mean spectrum of the training set from every spectrum.",
        learns_from_data=True,
    )

    def __init__(self, **params):
        super().__init__(**params)
        self.mean: np.ndarray | None = None

    def fit(self, axis, spectra):
        self.mean = spectra.mean(axis=0)

    @property
    def is_fitted(self) -> bool:
        return self.mean is not None

    def transform(self, axis, spectra):
        if self.mean is None:
            raise SettingsError("The mean centring step was used before it was fitted.")
        return axis, spectra - self.mean

    def state(self):
        return {} if self.mean is None else {"mean": self.mean.copy()}

    def load_state(self, state):
        if "mean" in state:
            self.mean = np.asarray(state["mean"], dtype=np.float64)


class MinMaxScale(Step):
    """Scale all spectra with one minimum and maximum to [-1, 1].

    One global pair (not one per point) keeps the shape of each spectrum,
    which is what the GAN's tanh outputs must reproduce.
    """

    kind = "scale"
    info = StepInfo(
        kind="scale",
        label="Scale to [-1, 1]",
        description="Map all spectra with one minimum and maximum from the training set "
        "onto [-1, 1], the range of the GAN's output; keep it last.",
        learns_from_data=True,
    )

    def __init__(self):
        super().__init__()
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


# --- registry -------------------------------------------------------------------------
_STEP_ORDER: tuple[type[Step], ...] = (
    Cut, Resample, SNV, MSC, EMSC, SavitzkyGolaySmooth, SavitzkyGolayDerivative,
    LinearBaseline, PolynomialBaseline, AsLsBaseline, ArPlsBaseline, AirPlsBaseline,
    Normalise, MeanCenter, MinMaxScale, Crop,
)

STEP_TYPES: dict[str, type[Step]] = {step_type.kind: step_type for step_type in _STEP_ORDER}


def step_kinds() -> list[StepInfo]:
    """Return the metadata of every step kind, in menu order (legacy kinds last)."""
    return [step_type.info for step_type in _STEP_ORDER]


def step_info(kind: str) -> StepInfo:
    """Return the metadata of one step kind."""
    return _step_type(kind).info


def _step_type(kind: str) -> type[Step]:
    try:
        return STEP_TYPES[kind]
    except KeyError:
        known = ", ".join(STEP_TYPES)
        raise SettingsError(f"Unknown preprocessing step {kind!r}; known steps: {known}.") from None


def make_step(kind: str, params: dict | None = None) -> Step:
    """Build a step from its kind and parameters, as stored in a project."""
    step_type = _step_type(kind)
    if not isinstance(params or {}, dict):
        raise SettingsError(f"The parameters of step {kind!r} must be a mapping, got {params!r}.")
    return step_type(**(params or {}))


def default_params(kind: str, axis: np.ndarray | None = None) -> dict:
    """Return the parameters of a new step, filling axis-dependent ones from `axis`.

    Without an axis, parameters whose default depends on the data are left
    out, so `make_step` then reports them as missing.
    """
    info = step_info(kind)
    params = {p.name: p.default for p in info.params if p.default is not None}
    if axis is None or np.size(axis) == 0:
        return params
    axis = np.asarray(axis, dtype=np.float64)
    low, high = float(np.min(axis)), float(np.max(axis))
    if kind == "cut":
        params["windows"] = [[low, high]]
    elif kind == "crop":
        params.update(low=low, high=high)
    elif kind == "resample":
        spacing = float(np.median(np.abs(np.diff(np.sort(axis))))) if axis.size > 1 else 1.0
        params.update(start=low, stop=high, step=spacing)
    return params


# --- the step text syntax ---------------------------------------------------------------
_RANGE = re.compile(r"^\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*-\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*$")


def _number_text(value: float) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _windows_text(windows) -> str:
    return ":".join(f"{_number_text(low)}-{_number_text(high)}" for low, high in windows)


def _parse_range(text: str, where: str) -> list[float]:
    match = _RANGE.match(text)
    if not match:
        raise SettingsError(
            f"{where}: {text!r} is not a range; write it as LOW-HIGH, e.g. 950-1550."
        )
    return [float(match.group(1)), float(match.group(2))]


def parse_steps(text: str) -> list[dict]:
    """Parse the step text syntax into a pipeline spec.

    Steps are separated by commas and their parameters by colons, in the
    order `step_kinds` lists them.  ``name=value`` sets a parameter by name,
    and ``low-high`` writes a window.  For example
    ``cut:950-1550:1600-1700,savgol:15:2:1,scale``.

    Raises
    ------
    SettingsError
        For an unknown kind, too many or invalid parameters.
    """
    spec = []
    tokens = [token.strip() for token in text.split(",")]
    if not any(tokens):
        raise SettingsError("The step list is empty; give steps such as 'snv,savgol:15:2:1,scale'.")
    for position, token in enumerate(tokens, start=1):
        if not token:
            raise SettingsError(f"Step {position} of {text!r} is empty; remove the extra comma.")
        kind, *fields = [part.strip() for part in token.split(":")]
        info = step_info(kind)
        where = f"Step {position} ({kind})"
        params: dict[str, Any] = {}
        positional = [f for f in fields if "=" not in f]
        named = [f for f in fields if "=" in f]
        if kind == "cut":
            params["windows"] = [_parse_range(f, where) for f in positional]
        elif kind == "crop" and len(positional) == 1:
            params["low"], params["high"] = _parse_range(positional[0], where)
        else:
            if len(positional) > len(info.params):
                names = ":".join(p.name.upper() for p in info.params) or "no parameters"
                raise SettingsError(
                    f"{where} has {len(positional)} parameters but takes {names}."
                )
            for param, value in zip(info.params, positional):
                params[param.name] = _parse_value(param, value, where)
        for item in named:
            name, value = (part.strip() for part in item.split("=", 1))
            try:
                param = info.param(name)
            except KeyError:
                known = ", ".join(p.name for p in info.params) or "none"
                raise SettingsError(
                    f"{where} has no parameter {name!r}; its parameters are: {known}."
                ) from None
            if param.type == "windows":
                params[name] = [_parse_range(part, where) for part in value.split(";")]
            else:
                params[name] = _parse_value(param, value, where)
        # Building the step checks every value now, so errors name the step's position.
        try:
            step = make_step(kind, params)
        except ParameterError as error:
            raise SettingsError(f"{where}: {error.detail}") from None
        spec.append({"kind": kind, "params": step.params()})
    return spec


def _parse_value(param: ParamInfo, text: str, where: str):
    if param.type == "choice":
        return text
    if param.type == "windows":
        return [_parse_range(text, where)]
    try:
        return float(text)
    except ValueError:
        raise SettingsError(f"{where}: {param.name} must be a number, got {text!r}.") from None


def format_step(item: dict) -> str:
    """Return one step spec in text syntax, leaving out trailing options at their defaults."""
    kind = item["kind"]
    params = item.get("params") or {}
    info = step_info(kind)
    if kind == "cut":
        return f"cut:{_windows_text(params.get('windows', []))}"
    if kind == "crop":
        return f"crop:{_number_text(params['low'])}-{_number_text(params['high'])}"
    values = [params.get(param.name, param.default) for param in info.params]
    # Trailing options at their defaults (such as the edge mode) only add noise.
    # Numbers stay, so the text shows a window or lambda without looking it up.
    while len(values) > 1:
        last = info.params[len(values) - 1]
        if last.type != "choice" or values[-1] != last.default:
            break
        values.pop()
    fields = [value if isinstance(value, str) else _number_text(value) for value in values]
    return ":".join([kind, *fields])


def format_steps(spec: list[dict]) -> str:
    """Return a pipeline spec in text syntax, the inverse of `parse_steps`."""
    return ",".join(format_step(item) for item in spec)


# --- presets ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Preset:
    """A pipeline for a common measurement, with the reason for each step."""

    name: str
    label: str
    description: str
    steps: str  # in text syntax

    def spec(self) -> list[dict]:
        return parse_steps(self.steps)


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "nir-reflectance",
            "NIR diffuse reflectance",
            "SNV removes the offsets and gains that particle size and packing put on "
            "diffusely reflected light; a Savitzky-Golay first derivative (15 points, "
            "order 2) then removes what remains of sloping baselines and sharpens the "
            "broad, overlapping NIR bands.",
            "snv,savgol:15:2:1,scale",
        ),
        Preset(
            "atr-ftir",
            "ATR-FTIR",
            "ATR spectra carry little scatter but drifting offsets and contact-dependent "
            "intensity: a Savitzky-Golay first derivative (15 points, order 2) removes the "
            "offsets and vector normalisation the intensity differences, as in the "
            "instrument makers' quantitation software.",
            "savgol:15:2:1,norm:vector,scale",
        ),
        Preset(
            "raman",
            "Raman",
            "An asymmetric least squares baseline (lambda 1e5, p 0.01) removes the broad "
            "fluorescence background, light smoothing (9 points, order 2) the shot noise, "
            "and SNV the laser power and focus differences between spectra. Cosmic-ray "
            "spikes are not removed.",
            "asls:1e5:0.01,smooth:9:2,snv,scale",
        ),
    )
}


def preset(name: str) -> list[dict]:
    """Return the pipeline spec of a preset ("nir-reflectance", "atr-ftir" or "raman")."""
    try:
        return PRESETS[name].spec()
    except KeyError:
        raise SettingsError(
            f"Unknown preset {name!r}; choose one of: {', '.join(PRESETS)}."
        ) from None


# --- validation -------------------------------------------------------------------------
def validate(pipeline_spec: list[dict], axis: np.ndarray, for_gan: bool = True) -> list[str]:
    """Return warnings for settings that make no sense on spectra with this axis.

    Each warning is a sentence naming the step by position and label.  An
    empty list means every step can run.  The warnings cover invalid
    parameters, windows longer than the spectrum at that step, cuts outside
    the axis, and steps placed where they defeat their purpose.  With
    `for_gan` False (PLS's own pipeline) a missing final 'scale' step is
    no warning, since nothing then needs the GAN's [-1, 1] range.
    """
    axis = np.asarray(axis, dtype=np.float64)
    warnings: list[str] = []
    steps: list[Step] = []
    current = axis
    for position, item in enumerate(pipeline_spec, start=1):
        kind = item.get("kind", "")
        label = STEP_TYPES[kind].info.label if kind in STEP_TYPES else repr(kind)
        prefix = f"Step {position} ({label}): "
        try:
            step = make_step(kind, item.get("params"))
        except ParameterError as error:
            warnings.append(prefix + error.detail)
            current = None if _may_change_axis(kind) else current
            continue
        except SettingsError as error:
            warnings.append(prefix + str(error))
            current = None if _may_change_axis(kind) else current
            continue
        steps.append(step)
        if current is None:
            continue
        problems = step.check(current)
        warnings.extend(prefix + problem for problem in problems)
        try:
            current = step.transform_axis(current)
        except SettingsError as error:
            if not problems:
                warnings.append(prefix + str(error))
            current = None
    warnings.extend(_order_warnings(pipeline_spec, steps, for_gan))
    return warnings


def range_dropped_warning(pls_spec: list[dict], spec: list[dict]) -> str:
    """Return a warning when PLS's own pipeline keeps the whole axis but `spec` does not.

    An own pipeline replaces the networks' one entirely, so a crop or cut
    there does not carry over; PLS on the full axis is rarely what was meant.
    Returns "" when PLS's pipeline has a range step or `spec` has none.
    """
    range_kinds = ("crop", "cut")
    networks = [step for step in spec if step.get("kind") in range_kinds]
    if not networks or any(step.get("kind") in range_kinds for step in pls_spec):
        return ""
    return (
        f"PLS's pipeline has no range step, so PLS sees the whole axis, while the "
        f"networks' pipeline keeps {format_steps(networks)}. Add that step to PLS's "
        f"pipeline if PLS should see the same range."
    )


def _may_change_axis(kind: str) -> bool:
    return kind not in STEP_TYPES or STEP_TYPES[kind].info.changes_axis


def _order_warnings(pipeline_spec: list[dict], steps: list[Step], for_gan: bool) -> list[str]:
    kinds = [item.get("kind") for item in pipeline_spec]
    warnings = []
    if not kinds:
        if not for_gan:
            return []
        return ["The pipeline is empty; the GAN needs at least the final 'scale' step."]
    if kinds[-1] != "scale" and for_gan:
        warnings.append(
            "The pipeline does not end with 'scale', so the spectra do not lie in [-1, 1], "
            "the range of the GAN's output. Add 'scale' as the last step."
        )
    if "scale" in kinds[:-1]:
        warnings.append(
            "'scale' appears before other steps; those steps undo the [-1, 1] range. Keep "
            "'scale' last."
        )
    several_windows = False
    for step in steps:
        if isinstance(step, Cut) and len(step.windows) > 1:
            several_windows = True
        elif several_windows and isinstance(step, _SavitzkyGolayBase):
            warnings.append(
                f"{step.info.label} runs after a cut with several windows, so its window "
                f"spans the joins between them and creates artefacts there. Place it "
                f"before the cut."
            )
            break
    return warnings


# --- the pipeline -----------------------------------------------------------------------
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

    @classmethod
    def parse(cls, text: str) -> Pipeline:
        """Return an unfitted pipeline from the step text syntax (see `parse_steps`)."""
        return cls.from_spec(parse_steps(text))

    # --- fitting and applying -------------------------------------------
    def fit(self, axis: np.ndarray, spectra: np.ndarray) -> Pipeline:
        """Fit every step, in order, on the training spectra ``(n, points)``."""
        self.fit_stages(axis, spectra)
        return self

    def fit_stages(self, axis: np.ndarray, spectra: np.ndarray) -> list[tuple]:
        """Fit the steps and return ``(axis, spectra)`` before the first and after each step.

        The list has ``len(steps) + 1`` entries; a preview shows entry ``i``
        and ``i + 1`` as the effect of step ``i`` alone.
        """
        axis = np.asarray(axis, dtype=np.float64)
        spectra = np.atleast_2d(np.asarray(spectra, dtype=np.float64))
        if spectra.shape[1] != axis.size:
            raise SettingsError(
                f"Spectra have {spectra.shape[1]} points but the axis has {axis.size} values."
            )
        self.input_axis = axis.copy()
        stages = [(axis, spectra)]
        for step in self.steps:
            _check_finite(step, spectra)
            step.fit(axis, spectra)
            axis, spectra = step.transform(axis, spectra)
            stages.append((axis, spectra))
        return stages

    def transform(self, spectra: np.ndarray) -> np.ndarray:
        """Apply the fitted steps to spectra on the fitted input axis."""
        return self.transform_with_axis(spectra)[1]

    def transform_with_axis(self, spectra: np.ndarray):
        """Return ``(axis, spectra)`` after every fitted step."""
        return self.transform_stages(spectra)[-1]

    def transform_stages(self, spectra: np.ndarray, stop: int | None = None) -> list[tuple]:
        """Return ``(axis, spectra)`` before the first step and after each of `steps[:stop]`."""
        if self.input_axis is None:
            raise SettingsError("The preprocessing pipeline was used before it was fitted.")
        spectra = np.atleast_2d(np.asarray(spectra, dtype=np.float64))
        if spectra.shape[1] != self.input_axis.size:
            raise SettingsError(
                f"Spectra have {spectra.shape[1]} points but the preprocessing was "
                f"fitted on {self.input_axis.size}; bring them onto the same axis first."
            )
        axis = self.input_axis
        stages = [(axis, spectra)]
        for step in self.steps[:stop]:
            _check_finite(step, spectra)
            axis, spectra = step.transform(axis, spectra)
            stages.append((axis, spectra))
        return stages

    def fit_transform(self, axis, spectra) -> np.ndarray:
        return self.fit_stages(axis, spectra)[-1][1]

    # --- the final scaling and display units ------------------------------
    @property
    def final_scale(self) -> MinMaxScale | None:
        """Return the last step when it is the [-1, 1] scaling, else None."""
        if self.steps and isinstance(self.steps[-1], MinMaxScale):
            return self.steps[-1]
        return None

    def transform_before_scale(self, spectra: np.ndarray):
        """Return ``(axis, spectra)`` after every step but the final scaling.

        These are the units `inverse_scale` maps generated spectra back to, so
        a plot can overlay measured and generated spectra in the same units.
        """
        stop = len(self.steps) - 1 if self.final_scale is not None else None
        return self.transform_stages(spectra, stop)[-1]

    def inverse_scale(self, scaled: np.ndarray) -> np.ndarray:
        """Map model outputs in [-1, 1] back to the units before the final scaling.

        For a derivative pipeline those are derivative units, not the raw
        spectrum (see `units_label`).  Without a final scaling step the values
        are returned unchanged.
        """
        scale = self.final_scale
        if scale is None:
            return np.asarray(scaled, dtype=np.float64)
        return scale.inverse(scaled)

    def units_label(self, y_unit: str = "") -> str:
        """Return the units before the final scaling, e.g. "first derivative of absorbance"."""
        base = y_unit or "intensity"
        steps = self.steps[:-1] if self.final_scale is not None else self.steps
        deriv = sum(
            step.params()["deriv"] for step in steps if isinstance(step, SavitzkyGolayDerivative)
        )
        if deriv:
            ordinal = {1: "first", 2: "second", 3: "third"}.get(deriv, f"order-{deriv}")
            base = f"{ordinal} derivative of {base} (per point)"
        treatments = []
        for step in steps:
            treatment = _treatment_label(step)
            if treatment and treatment not in treatments:
                treatments.append(treatment)
        if treatments:
            base += f" after {', '.join(treatments)}"
        return base

    # --- axes -------------------------------------------------------------
    @property
    def output_axis(self) -> np.ndarray:
        if self.input_axis is None:
            raise SettingsError("The preprocessing pipeline was used before it was fitted.")
        axis = self.input_axis
        for step in self.steps:
            axis = step.transform_axis(axis)
        return axis

    def needed_range(self) -> tuple[float, float]:
        """Return the input axis range whose points can influence the output.

        Leading range steps (crop, cut, resample) limit it; any other step
        may read every point it receives.
        """
        if self.input_axis is None:
            raise SettingsError("The preprocessing pipeline was used before it was fitted.")
        axis = self.input_axis
        low, high = float(axis.min()), float(axis.max())
        for step in self.steps:
            if not isinstance(step, (Crop, Cut, Resample)):
                break
            axis = step.transform_axis(axis)
            low, high = max(low, float(axis.min())), min(high, float(axis.max()))
        return low, high

    # --- copies and storage ---------------------------------------------
    def unfitted_copy(self) -> Pipeline:
        """Return the same steps, unfitted, for refitting on a training fold."""
        return Pipeline([make_step(s.kind, s.params()) for s in self.steps])

    def to_spec(self) -> list[dict]:
        """Return the steps as JSON-ready ``[{"kind": ..., "params": {...}}]``."""
        return [{"kind": s.kind, "params": s.params()} for s in self.steps]

    def to_json(self) -> str:
        return json.dumps(self.to_spec())

    @classmethod
    def from_spec(cls, spec: Sequence[dict]) -> Pipeline:
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
        """Return a one-line summary in text syntax, such as ``crop:950-1550, scale``."""
        return ", ".join(step.describe() for step in self.steps) or "none"


_TREATMENT_LABELS = {
    "snv": "SNV", "msc": "MSC", "emsc": "EMSC", "linear-baseline": "baseline correction",
    "poly-baseline": "baseline correction", "asls": "baseline correction",
    "arpls": "baseline correction", "airpls": "baseline correction",
    "center": "mean centring", "smooth": "smoothing", "scale": "scaling to [-1, 1]",
}


def _treatment_label(step: Step) -> str:
    """Return how a step changes the units, for `Pipeline.units_label` ("" for none)."""
    if isinstance(step, Normalise):
        return f"{step.params()['method']} normalisation"
    return _TREATMENT_LABELS.get(step.kind, "")


def _check_finite(step: Step, spectra: np.ndarray) -> None:
    if step.keeps_missing or np.isfinite(spectra).all():
        return
    raise SettingsError(
        f"The {step.info.label} step received spectra with missing values: "
        f"{_finite_rows_problem(spectra)}. Cut away the affected range before this step, "
        f"or repair or remove those spectra."
    )
