"""Paired comparison of fold errors: corrected interval and plain-words verdict."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from specgan_gui.training.statistics import paired_difference, verdict


def _folds_with_difference(difference: float, noise: float, seed: int = 0):
    """Return fold errors ``(3 repeats, 5 folds)`` of B, and A = B + difference + noise."""
    rng = np.random.default_rng(seed)
    errors_b = rng.uniform(2.0, 4.0, size=(3, 5))
    errors_a = errors_b + difference + rng.normal(0.0, noise, size=(3, 5))
    return errors_a, errors_b


def _named(comparison: dict) -> dict:
    return {"model_a": "GAN transfer", "model_b": "PLS", **comparison}


def test_interval_matches_corrected_formula():
    errors_a, errors_b = _folds_with_difference(-0.4, 0.1)
    result = paired_difference(errors_a, errors_b, n_test=8, n_train=32)
    differences = (errors_a - errors_b).ravel()
    mean = differences.mean()
    # Nadeau and Bengio: variance times (1/J + n_test/n_train), t with J - 1 dof.
    half = stats.t.ppf(0.975, 14) * math.sqrt(differences.var(ddof=1) * (1 / 15 + 8 / 32))
    assert result["mean_difference"] == pytest.approx(mean)
    assert result["low"] == pytest.approx(mean - half)
    assert result["high"] == pytest.approx(mean + half)
    assert result["n_folds"] == 15
    assert result["level"] == 0.95


def test_correction_widens_interval():
    errors_a, errors_b = _folds_with_difference(-0.4, 0.1)
    corrected = paired_difference(errors_a, errors_b, n_test=8, n_train=32)
    differences = (errors_a - errors_b).ravel()
    naive_half = stats.t.ppf(0.975, 14) * differences.std(ddof=1) / math.sqrt(15)
    assert corrected["high"] - corrected["mean_difference"] > 1.5 * naive_half


def test_verdict_lower_error():
    errors_a, errors_b = _folds_with_difference(-0.4, 0.1)
    comparison = _named(paired_difference(errors_a, errors_b, 8, 32))
    assert comparison["high"] < 0
    text = verdict(comparison, "fold RMSE", "g/L", "5 folds x 3 repeats")
    assert text.startswith("GAN transfer's fold RMSE is on average ")
    assert " lower than PLS's " in text
    assert f"{-comparison['mean_difference']:.3g} g/L" in text
    assert f"interval {-comparison['high']:.3g} to {-comparison['low']:.3g} g/L" in text
    assert "5 folds x 3 repeats" in text


def test_verdict_higher_error():
    errors_a, errors_b = _folds_with_difference(0.5, 0.1, seed=1)
    comparison = _named(paired_difference(errors_a, errors_b, 8, 32))
    assert comparison["low"] > 0
    text = verdict(comparison)
    assert " higher than PLS's " in text
    assert f"{comparison['mean_difference']:.3g}" in text


def test_verdict_no_evidence_when_interval_spans_zero():
    errors_a, errors_b = _folds_with_difference(0.0, 0.5, seed=2)
    comparison = _named(paired_difference(errors_a, errors_b, 8, 32))
    assert comparison["low"] < 0 < comparison["high"]
    text = verdict(comparison)
    assert text.startswith("No evidence of a difference in fold RMSE between GAN transfer "
                           "and PLS")
    assert "lower" not in text
    assert "higher" not in text


def test_verdict_scales_error_rates():
    errors_a = np.array([0.0, 0.1, 0.0, 0.05, 0.0, 0.0])
    errors_b = errors_a + 0.2
    comparison = _named(paired_difference(errors_a, errors_b, 10, 50))
    text = verdict(comparison, "fold error rate", "percentage points", scale=100.0)
    assert "fold error rate is on average 20 percentage points lower" in text


def test_single_fold_has_no_interval():
    result = paired_difference(np.array([1.0]), np.array([2.0]), 1, 20)
    assert result["mean_difference"] == -1.0
    assert math.isnan(result["low"])
    assert math.isnan(result["high"])
    assert verdict(_named(result)).startswith("No evidence either way")


def test_nan_folds_left_out_in_pairs():
    errors_a = np.array([1.0, np.nan, 1.5, 2.0])
    errors_b = np.array([1.2, 1.0, np.nan, 2.4])
    result = paired_difference(errors_a, errors_b, 5, 15)
    assert result["n_folds"] == 2
    assert result["mean_difference"] == pytest.approx(-0.3)


def test_shapes_must_match():
    with pytest.raises(ValueError, match="shape"):
        paired_difference(np.zeros(3), np.zeros(4), 1, 2)
