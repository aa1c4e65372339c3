"""Paired comparison of two models' cross-validation fold errors.

Both models are evaluated on the same outer folds, so their errors are
compared fold by fold.  With repeated k-fold cross-validation the folds of
different repeats share most of their training samples.  The fold errors
are therefore not independent, and a plain paired t-test would give
intervals that are too narrow.

`paired_difference` uses the corrected resampled t-test of Nadeau and
Bengio ("Inference for the Generalization Error", Machine Learning 52,
2003), in the form for repeated k-fold of Bouckaert and Frank (PAKDD 2004).
The variance of the mean difference is the sample variance of the fold
differences times ``1/J + n_test/n_train`` instead of ``1/J``, where ``J``
is the number of folds over all repeats.  The interval uses Student's t
with ``J - 1`` degrees of freedom.  The R package correctR
(``resampled_ttest``) documents the same statistic.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

#: Confidence level of the interval of the mean difference.
LEVEL = 0.95


def paired_difference(
    errors_a: np.ndarray,
    errors_b: np.ndarray,
    n_test: float,
    n_train: float,
    level: float = LEVEL,
) -> dict:
    """Return the mean of ``errors_a - errors_b`` over folds with its corrected interval.

    Parameters
    ----------
    errors_a, errors_b
        Fold errors of the two models on the same folds, any shape (for
        example ``(repeats, n_folds)``); NaN entries are left out in pairs.
    n_test, n_train
        Mean number of test and training samples of a fold.
    level
        Confidence level of the interval.

    Returns
    -------
    dict
        ``{"mean_difference", "low", "high", "level", "n_folds"}``.  A
        negative mean difference means model A has the smaller error.  With
        one fold ``low`` and ``high`` are NaN, and with no fold all numbers are.
    """
    a = np.asarray(errors_a, dtype=np.float64).ravel()
    b = np.asarray(errors_b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"fold errors differ in shape: {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    differences = a[keep] - b[keep]
    n_folds = int(differences.size)
    if n_folds == 0:
        return {"mean_difference": math.nan, "low": math.nan, "high": math.nan,
                "level": level, "n_folds": 0}
    mean = float(np.mean(differences))
    if n_folds < 2:
        return {"mean_difference": mean, "low": math.nan, "high": math.nan,
                "level": level, "n_folds": n_folds}
    variance = float(np.var(differences, ddof=1))
    corrected = variance * (1.0 / n_folds + float(n_test) / float(n_train))
    half_width = float(stats.t.ppf(0.5 + level / 2, n_folds - 1)) * math.sqrt(corrected)
    return {"mean_difference": mean, "low": mean - half_width, "high": mean + half_width,
            "level": level, "n_folds": n_folds}


def verdict(
    comparison: dict,
    metric: str = "fold RMSE",
    unit: str = "",
    detail: str = "",
    scale: float = 1.0,
) -> str:
    """Return a one-line plain-words verdict for a `paired_difference` result.

    `comparison` must have ``model_a`` and ``model_b`` besides the numbers.
    The verdict names a difference only when the whole interval lies on
    one side of zero.  Otherwise it states that there is no evidence of a
    difference.  `scale` multiplies the numbers for display (100 turns
    error rates into percentage points), `detail` is appended in the
    brackets (such as ``"5 folds x 3 repeats"``).
    """
    a, b = comparison["model_a"], comparison["model_b"]
    mean = comparison["mean_difference"] * scale
    low, high = comparison["low"] * scale, comparison["high"] * scale
    level = f"{comparison['level'] * 100:g} %"
    suffix = f" {unit}" if unit else ""
    extra = f", {detail}" if detail else ""
    if not math.isfinite(mean):
        return f"No comparison of {a} and {b}: no fold has errors of both."
    if not (math.isfinite(low) and math.isfinite(high)):
        return (
            f"No evidence either way between {a} and {b}: one fold cannot give an interval "
            f"(difference {_number(mean)}{suffix}{extra}). Use k-fold cross-validation or "
            f"more repeats."
        )
    if high < 0:
        return (
            f"{a}'s {metric} is on average {_number(-mean)}{suffix} lower than {b}'s "
            f"({level} interval {_number(-high)} to {_number(-low)}{suffix}{extra})."
        )
    if low > 0:
        return (
            f"{a}'s {metric} is on average {_number(mean)}{suffix} higher than {b}'s "
            f"({level} interval {_number(low)} to {_number(high)}{suffix}{extra})."
        )
    return (
        f"No evidence of a difference in {metric} between {a} and {b} (mean difference "
        f"{_number(mean)}{suffix}, {level} interval {_number(low)} to {_number(high)}"
        f"{suffix}{extra})."
    )


def _number(value: float) -> str:
    """Format with three significant digits, without exponent for everyday sizes."""
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e4 or value == 0 else f"{value:.2e}"
