"""Fitted models: storage round trips, repeated preprocessing, axis alignment."""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest
from sklearn.cross_decomposition import PLSRegression

from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import DataError, ProjectFileError
from specgan_gui.models.gan1d import Discriminator, GANArchitecture, state_to_numpy
from specgan_gui.project.store import read_tree, write_tree
from specgan_gui.training.comparison import PLSDAClassifier, compare_models
from specgan_gui.training.prediction import FittedModel, pls_arrays, pls_outputs, predict
from specgan_gui.training.transfer import TransferSettings

GLUCOSE_CROP = (950, 1550)  # cm-1


class FakeCheckpoint:
    """Any object with ``epoch`` and ``discriminator`` serves as a checkpoint."""

    def __init__(self, epoch, discriminator):
        self.epoch = epoch
        self.discriminator = discriminator


@pytest.fixture(scope="module")
def glucose_models(fermentation):
    pipeline = Pipeline.default(crop=GLUCOSE_CROP)
    n_points = pipeline.unfitted_copy().fit_transform(
        fermentation.axis, fermentation.spectra).shape[1]
    architecture = GANArchitecture(n_points=n_points, hidden_units=64)
    checkpoint = FakeCheckpoint(7, state_to_numpy(Discriminator(architecture)))
    settings = TransferSettings(epochs=3, learning_rate=1e-3, cv="kfold", n_folds=3,
                                device="cpu")
    result = compare_models(fermentation, "glucose", "regression", pipeline, architecture,
                            checkpoint, settings)
    return result.models


@pytest.fixture(scope="module")
def coffee_models(coffee):
    pipeline = Pipeline.default(crop=(1200, 1499))
    architecture = GANArchitecture(n_points=300, hidden_units=32)
    settings = TransferSettings(epochs=2, learning_rate=1e-3, cv="kfold", n_folds=3,
                                device="cpu")
    result = compare_models(coffee, "origin", "classification", pipeline, architecture,
                            None, settings)
    return result.models


def stored_and_read(tree: dict, path) -> dict:
    with h5py.File(path, "w") as file:
        write_tree(file.create_group("model"), tree)
    with h5py.File(path, "r") as file:
        return read_tree(file["model"])


def test_pls_arrays_reproduce_sklearn(fermentation):
    spectra = fermentation.spectra[:, ::10]
    glucose = fermentation.references["glucose"].to_numpy(dtype=float)
    single = PLSRegression(n_components=3, scale=False).fit(spectra, glucose)
    np.testing.assert_allclose(pls_outputs(pls_arrays(single), spectra)[:, 0],
                               single.predict(spectra), rtol=1e-10, atol=1e-10)
    scaled = PLSRegression(n_components=3, scale=True).fit(spectra, glucose)
    np.testing.assert_allclose(pls_outputs(pls_arrays(scaled), spectra)[:, 0],
                               scaled.predict(spectra), rtol=1e-10, atol=1e-10)


def test_plsda_arrays_reproduce_sklearn(coffee):
    spectra = coffee.spectra[:, ::10]
    classes = np.repeat([0, 1, 2], 20)
    classifier = PLSDAClassifier(n_components=4).fit(spectra, classes)
    outputs = pls_outputs(pls_arrays(classifier.pls_), spectra)
    np.testing.assert_allclose(outputs, classifier.decision_function(spectra), atol=1e-10)
    np.testing.assert_array_equal(np.argmax(outputs, axis=1), classifier.predict(spectra))


def test_round_trip_predicts_identically(glucose_models, fermentation, tmp_path):
    for name, model in glucose_models.items():
        restored = FittedModel.from_tree(stored_and_read(model.to_tree(), tmp_path / "m.h5"))
        assert restored.name == name
        assert restored.kind == model.kind
        assert restored.checkpoint_epoch == model.checkpoint_epoch
        np.testing.assert_array_equal(
            predict(restored, fermentation.axis, fermentation.spectra),
            predict(model, fermentation.axis, fermentation.spectra),
            err_msg=name,
        )


def test_tree_has_no_lists_or_none(glucose_models, coffee_models):
    def check(tree, where):
        for key, value in tree.items():
            assert key and "/" not in key, where
            assert value is not None, f"{where}/{key}"
            assert not isinstance(value, (list, tuple)), f"{where}/{key}"
            if isinstance(value, dict):
                check(value, f"{where}/{key}")

    for model in [*glucose_models.values(), *coffee_models.values()]:
        check(model.to_tree(), model.name)
    assert "checkpoint_epoch" not in glucose_models["PLS"].to_tree()
    assert glucose_models["GAN transfer"].to_tree()["checkpoint_epoch"] == 7


def test_predict_training_spectra_gives_fitted_values(glucose_models, fermentation):
    for name, model in glucose_models.items():
        predicted = predict(model, fermentation.axis, fermentation.spectra)
        assert predicted.dtype == np.float64
        np.testing.assert_allclose(predicted, model.fitted_values, rtol=1e-5, atol=1e-6,
                                   err_msg=name)


def test_class_predictions_are_labels(coffee_models, coffee, tmp_path):
    for name, model in coffee_models.items():
        restored = FittedModel.from_tree(stored_and_read(model.to_tree(), tmp_path / "c.h5"))
        predicted = predict(restored, coffee.axis, coffee.spectra)
        assert predicted.dtype.kind == "U"
        assert set(predicted) <= {"Brasil", "Ethiopia", "Vietnam"}
        np.testing.assert_array_equal(predicted, model.fitted_values, err_msg=name)


def test_pls_model_on_training_spectra_is_accurate(coffee_models, coffee):
    predicted = predict(coffee_models["PLS"], coffee.axis, coffee.spectra)
    measured = coffee.references["origin"].to_numpy(dtype=str)
    # PLS-DA separates the three origins in cross-validation; on its own
    # training spectra it should make at most a few errors.
    assert np.mean(predicted == measured) >= 0.9


def test_shifted_axis_is_interpolated(glucose_models, fermentation, caplog):
    model = glucose_models["PLS"]
    axis = fermentation.axis
    shifted = axis + 0.4  # cm-1, under half the point spacing
    resampled = np.array([np.interp(shifted, axis, row) for row in fermentation.spectra])
    expected = predict(model, axis, fermentation.spectra)
    with caplog.at_level(logging.WARNING, logger="specgan_gui.training.prediction"):
        predicted = predict(model, shifted, resampled)
    assert "Interpolated 21 spectra" in caplog.text
    back = np.array([np.interp(axis, shifted, row) for row in resampled])
    np.testing.assert_allclose(predicted, predict(model, axis, back), rtol=1e-9, atol=1e-9)
    # Interpolating twice smooths the spectra slightly. The largest change
    # measured was 0.7 g/L on a glucose range of 0-38 g/L.
    np.testing.assert_allclose(predicted, expected, atol=2.0)


def test_reversed_axis_gives_same_predictions(glucose_models, fermentation):
    model = glucose_models["GAN transfer"]
    expected = predict(model, fermentation.axis, fermentation.spectra)
    predicted = predict(model, fermentation.axis[::-1], fermentation.spectra[:, ::-1])
    np.testing.assert_allclose(predicted, expected, rtol=1e-6)


def test_axis_covering_only_the_crop_is_enough(glucose_models, fermentation):
    model = glucose_models["From scratch"]
    keep = (fermentation.axis >= 900) & (fermentation.axis <= 1600)
    expected = predict(model, fermentation.axis, fermentation.spectra)
    predicted = predict(model, fermentation.axis[keep], fermentation.spectra[:, keep])
    np.testing.assert_allclose(predicted, expected, rtol=1e-6)


def test_out_of_range_axis_rejected(glucose_models, fermentation):
    keep = fermentation.axis >= 1000
    with pytest.raises(DataError, match="needs 950 to 1550 cm-1"):
        predict(glucose_models["PLS"], fermentation.axis[keep], fermentation.spectra[:, keep])


def test_point_count_mismatch_rejected(glucose_models, fermentation):
    with pytest.raises(DataError, match="points"):
        predict(glucose_models["PLS"], fermentation.axis[:-1], fermentation.spectra)


def test_missing_values_rejected(glucose_models, fermentation):
    spectra = fermentation.spectra.copy()
    spectra[3, 10] = np.nan
    with pytest.raises(DataError, match="rows 3"):
        predict(glucose_models["PLS"], fermentation.axis, spectra)


def test_single_spectrum(glucose_models, fermentation):
    model = glucose_models["PLS"]
    predicted = predict(model, fermentation.axis, fermentation.spectra[5])
    assert predicted.shape == (1,)
    assert predicted[0] == pytest.approx(model.fitted_values[5])


def test_from_tree_reports_missing_entries(glucose_models):
    tree = glucose_models["PLS"].to_tree()
    del tree["pipeline_state"]
    with pytest.raises(ProjectFileError, match="pipeline_state"):
        FittedModel.from_tree(tree)


def test_from_tree_reports_inconsistent_entries(glucose_models):
    tree = glucose_models["GAN transfer"].to_tree()
    del tree["weights"]
    with pytest.raises(ProjectFileError, match="weights"):
        FittedModel.from_tree(tree)


def test_other_axis_unit_rejected(glucose_models, fermentation):
    model = glucose_models["PLS"]
    assert model.axis_unit == "cm-1"
    with pytest.raises(DataError, match="axis is in nm, but model 'PLS' was fitted on spectra in "
                                        "cm-1"):
        predict(model, fermentation.axis, fermentation.spectra, axis_unit="nm")
    with pytest.raises(DataError, match="axis is in index"):
        predict(model, fermentation.axis, fermentation.spectra, axis_unit="index")
    same = predict(model, fermentation.axis, fermentation.spectra, axis_unit="cm-1")
    np.testing.assert_allclose(same, model.fitted_values, rtol=1e-10)


def test_coarse_axis_rejected(glucose_models, fermentation):
    model = glucose_models["PLS"]
    # Every 40th point from 900 to 1600 cm-1: 12 points where the model reads 446.
    keep = np.nonzero((fermentation.axis >= 900) & (fermentation.axis <= 1600))[0][::40]
    with pytest.raises(DataError, match="have 12 points from 950 to 1550 cm-1, where model "
                                        "'PLS' was fitted on 446"):
        predict(model, fermentation.axis[keep], fermentation.spectra[:, keep])


def test_half_resolution_accepted(glucose_models, fermentation):
    model = glucose_models["PLS"]
    predicted = predict(model, fermentation.axis[::2], fermentation.spectra[:, ::2])
    assert np.all(np.isfinite(predicted))
