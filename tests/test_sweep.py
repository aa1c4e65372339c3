"""Checkpoint sweep on real spectra: metric per epoch, best epoch, records, stops."""

from __future__ import annotations

import numpy as np
import pytest

from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import SettingsError
from specgan_gui.models.gan1d import GANArchitecture
from specgan_gui.project.project import Project, sweep_points
from specgan_gui.project.store import load_project, save_project
from specgan_gui.training.comparison import make_folds
from specgan_gui.training.gan_trainer import GANTrainer, GANTrainingSettings, TrainingCallbacks
from specgan_gui.training.sweep import SweepResult, sweep_checkpoints
from specgan_gui.training.task import Cancelled, TaskState
from specgan_gui.training.transfer import TransferSettings
from specgan_gui.training.workflow import run_sweep

GLUCOSE_CROP = (950, 1550)  # cm-1


class _Keep(TrainingCallbacks):
    def __init__(self):
        self.checkpoints = []

    def on_checkpoint(self, checkpoint):
        self.checkpoints.append(checkpoint)


@pytest.fixture(scope="module")
def sweep_setup(fermentation):
    pipeline = Pipeline.default(crop=GLUCOSE_CROP)
    scaled = pipeline.unfitted_copy().fit_transform(fermentation.axis, fermentation.spectra)
    architecture = GANArchitecture(n_points=scaled.shape[1], hidden_units=64)
    keep = _Keep()
    settings = GANTrainingSettings(epochs=2, batch_size=16, device="cpu",
                                   checkpoint_interval=1)
    GANTrainer(scaled, architecture, settings).run(callbacks=keep)
    return pipeline, architecture, keep.checkpoints


def _settings(**values) -> TransferSettings:
    base = dict(epochs=3, learning_rate=1e-3, cv="kfold", n_folds=3, repeats=2, patience=1,
                device="cpu")
    base.update(values)
    return TransferSettings(**base)


@pytest.fixture(scope="module")
def sweep(fermentation, sweep_setup):
    pipeline, architecture, checkpoints = sweep_setup
    reports = []
    result = sweep_checkpoints(fermentation, "glucose", "regression", pipeline, architecture,
                               checkpoints, _settings(), TaskState(
                                   lambda f, m: reports.append((f, m))))
    return result, reports


def test_sweep_values_per_checkpoint(sweep, sweep_setup):
    result, _ = sweep
    checkpoints = sweep_setup[2]
    assert result.epochs.tolist() == [c.epoch for c in checkpoints] == [1, 2]
    assert result.metric == "rmsecv"
    assert result.values.shape == (2,)
    assert np.all(np.isfinite(result.values))
    assert np.all(result.values > 0)
    # Two repeats split differently, so their RMSECV differs.
    assert np.all(result.spread > 0)
    assert np.all((result.epochs_used >= 1) & (result.epochs_used <= 3))
    assert result.targets == ["glucose"]
    assert result.settings["repeats"] == 2
    assert result.best_epoch == int(result.epochs[np.argmin(result.values)])


def test_sweep_progress_reaches_end(sweep):
    _, reports = sweep
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert any("checkpoint 2" in message for _, message in reports)


def test_sweep_with_one_repeat_has_zero_spread(fermentation, sweep_setup):
    pipeline, architecture, checkpoints = sweep_setup
    result = sweep_checkpoints(fermentation, "glucose", "regression", pipeline, architecture,
                               checkpoints[:1], _settings(repeats=1, epochs=1,
                                                          early_stopping=False))
    assert result.spread.tolist() == [0.0]
    assert result.epochs_used.tolist() == [1.0]


def test_sweep_classification_accuracy(coffee):
    pipeline = Pipeline.default(crop=(1200, 1299))
    scaled = pipeline.unfitted_copy().fit_transform(coffee.axis, coffee.spectra)
    architecture = GANArchitecture(n_points=scaled.shape[1], hidden_units=32)
    keep = _Keep()
    GANTrainer(scaled, architecture, GANTrainingSettings(
        epochs=1, batch_size=30, device="cpu", checkpoint_interval=1)).run(callbacks=keep)
    result = sweep_checkpoints(coffee, "origin", "classification", pipeline, architecture,
                               keep.checkpoints, _settings(repeats=1, epochs=2))
    assert result.metric == "accuracy"
    assert 0.0 <= result.values[0] <= 1.0


def test_sweep_stop_raises_cancelled(fermentation, sweep_setup):
    pipeline, architecture, checkpoints = sweep_setup
    state = TaskState()
    state.request_stop()
    with pytest.raises(Cancelled):
        sweep_checkpoints(fermentation, "glucose", "regression", pipeline, architecture,
                          checkpoints, _settings(), state)


def test_sweep_without_checkpoints_rejected(fermentation, sweep_setup):
    pipeline, architecture, _ = sweep_setup
    with pytest.raises(SettingsError, match="at least one GAN checkpoint"):
        sweep_checkpoints(fermentation, "glucose", "regression", pipeline, architecture, [],
                          _settings())


def test_best_epoch_rules():
    def result(metric, values):
        return SweepResult(np.array([10, 20, 30]), metric, np.array(values), np.zeros(3),
                           ["y"], {})

    assert result("rmsecv", [2.0, 1.0, 1.0]).best_epoch == 20
    assert result("accuracy", [0.5, 0.9, 0.9]).best_epoch == 20
    assert result("accuracy", [0.95, 0.9, 0.9]).best_epoch == 10


def test_record_round_trip(sweep, tmp_path, fermentation):
    result, _ = sweep
    project = Project(dataset=fermentation, target="glucose")
    project.sweeps.append(result.to_record())
    path = tmp_path / "sweep.h5"
    save_project(project, path)
    record = load_project(path).sweeps[0]
    assert record["epochs"].dtype == np.int64
    assert record["values"].dtype == np.float64
    loaded = SweepResult.from_record(record)
    np.testing.assert_array_equal(loaded.epochs, result.epochs)
    np.testing.assert_allclose(loaded.values, result.values)
    np.testing.assert_allclose(loaded.spread, result.spread)
    np.testing.assert_allclose(loaded.epochs_used, result.epochs_used)
    assert loaded.targets == result.targets
    assert loaded.settings == result.settings
    assert loaded.best_epoch == result.best_epoch
    assert sweep_points(record) == [
        {"epoch": int(e), "rmsecv": float(v)} for e, v in zip(result.epochs, result.values)
    ]


def test_run_sweep_on_project(fermentation, sweep_setup):
    pipeline, architecture, checkpoints = sweep_setup
    project = Project(dataset=fermentation, target="glucose", task="regression",
                      preprocessing=pipeline.to_spec(),
                      gan_architecture=architecture.to_dict())
    for checkpoint in checkpoints:
        project.add_checkpoint(checkpoint.epoch, checkpoint.discriminator, 10)
    settings = _settings(repeats=1, epochs=1, early_stopping=False)
    result = run_sweep(project, settings, epochs=[2])
    assert result.epochs.tolist() == [2]
    assert len(project.sweeps) == 1
    assert project.transfer_settings == settings.to_dict()
    assert project.info()["sweep"] == [{"epoch": 2, "rmsecv": float(result.values[0])}]
    with pytest.raises(SettingsError, match="No checkpoint at epoch 7"):
        run_sweep(project, settings, epochs=[7])


def test_repeat_folds_use_seed_plus_repeat(fermentation):
    from specgan_gui.training.comparison import plan_cross_validation

    settings = _settings(seed=4, repeats=2)
    plan = plan_cross_validation(fermentation, "glucose", "regression", settings, 100)
    for repeat in range(2):
        expected = make_folds(fermentation.n_samples, settings, seed=4 + repeat)
        np.testing.assert_array_equal(plan.repeat_folds[repeat], expected)
    assert not np.array_equal(plan.repeat_folds[0], plan.repeat_folds[1])
