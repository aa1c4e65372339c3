"""The crop-and-scale pipeline: fitting, inversion and storage as parameters."""

from __future__ import annotations

import json

import numpy as np
import pytest

from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import SettingsError


def test_scale_maps_training_to_unit_range(fermentation):
    pipeline = Pipeline.default(crop=(950, 1550))
    scaled = pipeline.fit_transform(fermentation.axis, fermentation.spectra)
    assert scaled.min() == pytest.approx(-1.0)
    assert scaled.max() == pytest.approx(1.0)
    axis = pipeline.output_axis
    assert axis.min() >= 950
    assert axis.max() <= 1550
    assert scaled.shape == (21, axis.size)


def test_inverse_scale_restores_units(fermentation):
    pipeline = Pipeline.default(crop=(950, 1550))
    scaled = pipeline.fit_transform(fermentation.axis, fermentation.spectra)
    keep = (fermentation.axis >= 950) & (fermentation.axis <= 1550)
    np.testing.assert_allclose(pipeline.inverse_scale(scaled), fermentation.spectra[:, keep])


def test_fit_uses_training_rows_only(fermentation):
    train = fermentation.spectra[:15]
    pipeline = Pipeline.default().fit(fermentation.axis, train)
    held_out = pipeline.transform(fermentation.spectra[15:])
    refit = Pipeline.default().fit(fermentation.axis, fermentation.spectra)
    assert not np.allclose(held_out, refit.transform(fermentation.spectra[15:]))
    assert pipeline.transform(train).max() == pytest.approx(1.0)


def test_stored_state_repeats_exactly(fermentation):
    pipeline = Pipeline.default(crop=(950, 1550)).fit(fermentation.axis, fermentation.spectra)
    spec = json.loads(json.dumps(pipeline.to_spec()))
    state = {k: np.array(v) for k, v in pipeline.fitted_state().items()}
    restored = Pipeline.from_state(spec, state)
    assert restored.is_fitted
    np.testing.assert_array_equal(
        restored.transform(fermentation.spectra), pipeline.transform(fermentation.spectra)
    )
    assert pipeline.unfitted_copy().is_fitted is False


@pytest.mark.parametrize(
    "crop, message",
    [((1550, 950), "lower bound"), ((5000, 6000), "keeps 0 points")],
)
def test_bad_crop_rejected(fermentation, crop, message):
    with pytest.raises(SettingsError, match=message):
        Pipeline.default(crop=crop).fit(fermentation.axis, fermentation.spectra)


def test_wrong_width_rejected(fermentation):
    pipeline = Pipeline.default().fit(fermentation.axis, fermentation.spectra)
    with pytest.raises(SettingsError, match="1047"):
        pipeline.transform(fermentation.spectra[:, :100])
