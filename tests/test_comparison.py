"""Cross-validated comparison on real spectra: folds, metrics, PLS, records, stops."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import LeaveOneOut, cross_val_predict

from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import DataError, SettingsError
from specgan_gui.models.gan1d import GANArchitecture
from specgan_gui.project.store import read_tree, write_tree
from specgan_gui.training.comparison import (
    MODEL_NAMES,
    ComparisonResult,
    compare_models,
    fold_splits,
    left_out_message,
    make_folds,
)
from specgan_gui.training.gan_trainer import (
    Checkpoint,
    GANTrainer,
    GANTrainingSettings,
    TrainingCallbacks,
)
from specgan_gui.training.task import Cancelled, TaskState
from specgan_gui.training.transfer import (
    TargetCoding,
    TransferSettings,
    build_network,
    fit_network,
    network_outputs,
)

GLUCOSE_CROP = (950, 1550)  # cm-1
COFFEE_CROP = (1200, 1499)  # point indices: 300 points


def gan_checkpoint(spectra_scaled: np.ndarray, architecture: GANArchitecture) -> Checkpoint:
    """Train the GAN for two epochs and return its last checkpoint."""

    class Keep(TrainingCallbacks):
        def __init__(self):
            self.checkpoints = []

        def on_checkpoint(self, checkpoint):
            self.checkpoints.append(checkpoint)

    settings = GANTrainingSettings(epochs=2, batch_size=16, device="cpu",
                                   checkpoint_interval=1)
    keep = Keep()
    GANTrainer(spectra_scaled, architecture, settings).run(callbacks=keep)
    return keep.checkpoints[-1]


@pytest.fixture(scope="module")
def glucose_setup(fermentation):
    pipeline = Pipeline.default(crop=GLUCOSE_CROP)
    scaled = pipeline.unfitted_copy().fit_transform(fermentation.axis, fermentation.spectra)
    architecture = GANArchitecture(n_points=scaled.shape[1], hidden_units=256)
    return pipeline, architecture, gan_checkpoint(scaled, architecture)


@pytest.fixture(scope="module")
def glucose_result(fermentation, glucose_setup):
    pipeline, architecture, checkpoint = glucose_setup
    settings = TransferSettings(epochs=2, learning_rate=1e-3, device="cpu", early_stopping=False)
    return compare_models(fermentation, "glucose", "regression", pipeline, architecture,
                          checkpoint, settings)


def test_regression_rows(glucose_result, glucose_setup):
    rows = glucose_result.rows
    assert [row["model"] for row in rows] == list(MODEL_NAMES)
    for row in rows:
        assert np.isfinite(row["rmsecv"])
        assert np.isfinite(row["r2"])
    assert rows[0]["checkpoint_epoch"] == glucose_setup[2].epoch == 2
    assert glucose_result.checkpoint_epoch == 2
    pls = glucose_result.row("PLS")
    per_fold = glucose_result.pls_components
    assert per_fold.shape == (21,)
    assert pls["components"] == np.median(per_fold)
    assert per_fold.min() >= 1
    assert per_fold.max() <= 15


def test_regression_metrics_recomputed(glucose_result):
    measured = glucose_result.measured
    for name, predicted in glucose_result.predictions.items():
        row = glucose_result.row(name)
        assert row["rmsecv"] == pytest.approx(np.sqrt(np.mean((predicted - measured) ** 2)))
        residual = np.sum((predicted - measured) ** 2)
        total = np.sum((measured - measured.mean()) ** 2)
        assert row["r2"] == pytest.approx(1 - residual / total)


def test_pls_beats_mean_on_glucose(glucose_result):
    # Cut and scaled spectra carry the glucose signal; the mean predictor
    # has an RMSECV near the 14 g/L spread of the references.
    assert glucose_result.row("PLS")["rmsecv"] < 0.3 * glucose_result.measured.std()


def test_leave_one_out_folds(glucose_result, fermentation):
    folds = glucose_result.fold_of_sample
    assert folds.shape == (fermentation.n_samples,)
    assert sorted(folds.tolist()) == list(range(fermentation.n_samples))
    for name in MODEL_NAMES:
        predicted = glucose_result.predictions[name]
        assert predicted.shape == (fermentation.n_samples,)
        assert np.isfinite(predicted).all(), name


def test_networks_use_the_shared_folds(glucose_result, glucose_setup, fermentation):
    """Refitting fold 4 by hand reproduces both networks' held-out prediction."""
    pipeline, architecture, checkpoint = glucose_setup
    settings = TransferSettings.from_dict(glucose_result.settings)
    train, test = fold_splits(glucose_result.fold_of_sample)[4]
    fold_pipeline = pipeline.unfitted_copy().fit(fermentation.axis, fermentation.spectra[train])
    x_train = fold_pipeline.transform(fermentation.spectra[train])
    x_test = fold_pipeline.transform(fermentation.spectra[test])
    y_train = glucose_result.measured[train]
    coding = TargetCoding.fit("regression", y_train)
    for name, trunk in (("GAN transfer", checkpoint.discriminator), ("From scratch", None)):
        network = build_network(architecture, 1, settings.seed, trunk)
        fit_network(network, x_train, coding.encode(y_train), "regression", settings,
                    torch.device("cpu"))
        expected = coding.decode(network_outputs(network, x_test))
        np.testing.assert_allclose(glucose_result.predictions[name][test], expected,
                                   rtol=1e-5, err_msg=name)


def test_final_models(glucose_result, glucose_setup):
    assert set(glucose_result.models) == set(MODEL_NAMES)
    gan = glucose_result.models["GAN transfer"]
    assert gan.kind == "network"
    assert gan.checkpoint_epoch == 2
    assert gan.architecture == glucose_setup[1].to_dict()
    assert glucose_result.models["From scratch"].checkpoint_epoch is None
    pls = glucose_result.models["PLS"]
    assert pls.kind == "pls"
    assert pls.n_components >= 1
    for model in glucose_result.models.values():
        assert model.fitted_values.shape == (21,)
        assert model.target == "glucose"


def test_record_round_trip(glucose_result, tmp_path):
    record = glucose_result.to_record()
    assert set(record["predictions"]) == {"gan_transfer", "from_scratch", "pls"}
    with h5py.File(tmp_path / "record.h5", "w") as file:
        write_tree(file.create_group("run"), record)
    with h5py.File(tmp_path / "record.h5", "r") as file:
        stored = read_tree(file["run"])

    assert ComparisonResult.rows_from_record(stored) == glucose_result.rows
    restored = ComparisonResult.from_record(stored)
    assert restored.checkpoint_epoch == 2
    assert restored.task == "regression"
    assert restored.settings == glucose_result.settings
    np.testing.assert_array_equal(restored.fold_of_sample, glucose_result.fold_of_sample)
    np.testing.assert_array_equal(restored.measured, glucose_result.measured)
    for name in MODEL_NAMES:
        np.testing.assert_array_equal(restored.predictions[name],
                                      glucose_result.predictions[name])
    assert restored.classes is None
    assert restored.sample_ids == glucose_result.sample_ids
    assert restored.best_model() == glucose_result.best_model()
    np.testing.assert_array_equal(restored.pls_components, glucose_result.pls_components)


def test_pls_fixed_components_match_sklearn(fermentation):
    """PLS at 4 components inside the tool equals scikit-learn on the same folds."""
    pipeline = Pipeline.default(crop=GLUCOSE_CROP)
    n_points = pipeline.unfitted_copy().fit_transform(
        fermentation.axis, fermentation.spectra).shape[1]
    settings = TransferSettings(epochs=1, pls_components=4, device="cpu")
    result = compare_models(fermentation, "glucose", "regression", pipeline,
                            GANArchitecture(n_points=n_points, hidden_units=16), None, settings)
    assert [row["model"] for row in result.rows] == ["From scratch", "PLS"]
    assert "GAN transfer" not in result.predictions
    assert result.checkpoint_epoch is None
    assert "checkpoint_epoch" not in result.to_record()
    assert result.pls_components.tolist() == [4] * 21
    assert result.row("PLS")["components"] == 4

    # The tool scales each training fold with its own minimum and maximum.
    # That is an affine map of all points alike, which PLS (centred, no
    # scaling) cancels, so the unscaled cut spectra give the same predictions.
    keep = (fermentation.axis >= GLUCOSE_CROP[0]) & (fermentation.axis <= GLUCOSE_CROP[1])
    glucose = fermentation.references["glucose"].to_numpy(dtype=float)
    direct = cross_val_predict(PLSRegression(n_components=4, scale=False),
                               fermentation.spectra[:, keep], glucose, cv=LeaveOneOut())
    np.testing.assert_allclose(result.predictions["PLS"], np.ravel(direct), rtol=1e-6,
                               atol=1e-8)


def test_coffee_classification(coffee):
    pipeline = Pipeline.default(crop=COFFEE_CROP)
    scaled = pipeline.unfitted_copy().fit_transform(coffee.axis, coffee.spectra)
    architecture = GANArchitecture(n_points=scaled.shape[1], hidden_units=64)
    checkpoint = gan_checkpoint(scaled, architecture)
    settings = TransferSettings(epochs=2, learning_rate=1e-3, device="cpu")
    result = compare_models(coffee, "origin", "classification", pipeline, architecture,
                            checkpoint, settings)

    assert result.classes == ["Brasil", "Ethiopia", "Vietnam"]
    assert [row["model"] for row in result.rows] == list(MODEL_NAMES)
    for row in result.rows:
        assert 0.0 <= row["accuracy"] <= 1.0
        assert set(row["per_class_recall"]) == set(result.classes)
        # Every origin has 20 samples, so accuracy is the mean recall.
        mean_recall = np.mean(list(row["per_class_recall"].values()))
        assert row["accuracy"] == pytest.approx(mean_recall)
    for name in MODEL_NAMES:
        assert set(result.predictions[name]) <= set(result.classes), name
        assert result.predictions[name].dtype.kind == "U"
    # 60 samples: 5 stratified folds of 12, each holding 4 of every class.
    assert sorted(np.bincount(result.fold_of_sample).tolist()) == [12] * 5
    for fold in range(5):
        in_fold = result.measured[result.fold_of_sample == fold]
        assert sorted(np.unique(in_fold, return_counts=True)[1].tolist()) == [4, 4, 4]
    # PLS-DA on this 300-point window after [-1, 1] scaling reached 100 %
    # 5-fold accuracy when measured, and 98-100 % on five other windows.
    # A bound of 90 % allows 6 errors, and a broken class mapping scores near 33 %.
    assert result.row("PLS")["accuracy"] >= 0.9
    record = result.to_record()
    assert json.loads(record["classes_json"]) == result.classes
    assert record["measured"].dtype.kind == "U"


def test_stop_request_cancels_promptly(fermentation):
    reports = []

    def stop_at_first_report(fraction, message):
        reports.append(message)
        state.request_stop()

    state = TaskState(stop_at_first_report)
    pipeline = Pipeline.default(crop=GLUCOSE_CROP)
    settings = TransferSettings(epochs=50, device="cpu")
    with pytest.raises(Cancelled):
        compare_models(fermentation, "glucose", "regression", pipeline, None, None,
                       settings, task_state=state)
    assert reports == ["fold 1/21, From scratch, epoch 1/50"]


def test_progress_reaches_one(fermentation):
    reports = []
    state = TaskState(lambda fraction, message: reports.append((fraction, message)))
    subset = fermentation.subset(range(6))
    settings = TransferSettings(epochs=2, device="cpu")
    compare_models(subset, "glucose", "regression", Pipeline.default(crop=GLUCOSE_CROP),
                   None, None, settings, task_state=state)
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    assert ("fold 3/6, From scratch, epoch 2/2") in [message for _, message in reports]


def test_checkpoint_of_other_length_rejected(fermentation, glucose_setup):
    _, _, checkpoint = glucose_setup
    pipeline = Pipeline.default(crop=(1000, 1550))
    n_points = pipeline.unfitted_copy().fit_transform(
        fermentation.axis, fermentation.spectra).shape[1]
    architecture = GANArchitecture(n_points=n_points, hidden_units=256)
    with pytest.raises(SettingsError, match="dense.weight"):
        compare_models(fermentation, "glucose", "regression", pipeline, architecture,
                       checkpoint, TransferSettings(epochs=1, device="cpu"))


def test_architecture_of_other_length_rejected(fermentation, glucose_setup):
    pipeline, architecture, checkpoint = glucose_setup
    with pytest.raises(SettingsError, match="points"):
        compare_models(fermentation, "glucose", "regression", Pipeline.default(),
                       architecture, checkpoint, TransferSettings(epochs=1, device="cpu"))


# --- folds and targets -------------------------------------------------------------
def test_auto_folds():
    settings = TransferSettings()
    np.testing.assert_array_equal(make_folds(21, settings), np.arange(21))
    labels = np.repeat(["a", "b", "c"], 20)
    folds = make_folds(60, settings, labels)
    assert np.bincount(folds).tolist() == [12] * 5


def test_kfold_without_enough_class_members_falls_back():
    labels = np.array(["a"] * 10 + ["b"] * 2)
    folds = make_folds(12, TransferSettings(cv="kfold", n_folds=3), labels)
    assert sorted(np.bincount(folds).tolist()) == [4, 4, 4]


def test_loo_setting_on_many_samples():
    folds = make_folds(40, TransferSettings(cv="loo"))
    np.testing.assert_array_equal(folds, np.arange(40))


def test_folds_reject_too_few_samples():
    with pytest.raises(DataError, match="at least 3 samples"):
        make_folds(2, TransferSettings())


def test_folds_reject_empty_fold():
    with pytest.raises(DataError, match="empty"):
        make_folds(4, TransferSettings(cv="kfold", n_folds=5))


def test_too_few_samples_in_comparison(fermentation):
    with pytest.raises(DataError, match="at least 3 samples"):
        compare_models(fermentation.subset([0, 1]), "glucose", "regression",
                       Pipeline.default(), None, None, TransferSettings(epochs=1))


def test_missing_target_column(fermentation):
    with pytest.raises(DataError, match="sucrose"):
        compare_models(fermentation, "sucrose", "regression", Pipeline.default(), None, None,
                       TransferSettings(epochs=1))


def test_missing_target_values_name_samples(fermentation):
    dataset = fermentation.subset(range(8))
    dataset.references.loc[[2, 5], "glucose"] = np.nan
    with pytest.raises(DataError) as raised:
        compare_models(dataset, "glucose", "regression", Pipeline.default(), None, None,
                       TransferSettings(epochs=1))
    assert dataset.sample_ids[2] in str(raised.value)
    assert dataset.sample_ids[5] in str(raised.value)


def test_text_target_rejected_for_regression(coffee):
    with pytest.raises(DataError, match="text"):
        compare_models(coffee, "origin", "regression", Pipeline.default(), None, None,
                       TransferSettings(epochs=1))


def test_single_class_rejected(coffee):
    dataset = coffee.subset(range(20))
    with pytest.raises(DataError, match="single class"):
        compare_models(dataset, "origin", "classification", Pipeline.default(), None, None,
                       TransferSettings(epochs=1))


def test_numeric_classes_become_labels(coffee):
    dataset = coffee.subset(range(0, 60, 4))
    dataset.references = pd.DataFrame({"batch": np.repeat([1.0, 2.0, 3.0], 5)})
    settings = TransferSettings(epochs=1, cv="kfold", n_folds=3, device="cpu")
    result = compare_models(dataset, "batch", "classification",
                            Pipeline.default(crop=COFFEE_CROP), None, None, settings)
    assert result.classes == ["1", "2", "3"]


# --- repeats, several targets, groups, paired verdict ---------------------------------
@pytest.fixture(scope="module")
def repeated_result(fermentation, glucose_setup):
    pipeline, architecture, checkpoint = glucose_setup
    settings = TransferSettings(epochs=2, learning_rate=1e-3, cv="kfold", n_folds=3,
                                repeats=2, patience=1, device="cpu")
    return compare_models(fermentation, ["glucose"], "regression", pipeline, architecture,
                          checkpoint, settings)


def test_repeats_give_fold_errors(repeated_result):
    result = repeated_result
    assert result.repeats == 2
    assert result.targets == ["glucose"]
    assert result.repeat_folds.shape == (2, 21)
    # Repeat r splits with seed + r, so the two repeats differ.
    assert not np.array_equal(result.repeat_folds[0], result.repeat_folds[1])
    np.testing.assert_array_equal(result.fold_of_sample, result.repeat_folds[0])
    for name in MODEL_NAMES:
        errors = result.fold_errors[name]
        assert errors.shape == (2, 3, 1), name
        values = result.repeat_predictions[name]
        assert values.shape == (2, 21, 1), name
        for repeat in range(2):
            for fold, (_, test) in enumerate(fold_splits(result.repeat_folds[repeat])):
                rmse = np.sqrt(np.mean((values[repeat, test, 0] - result.measured[test]) ** 2))
                assert errors[repeat, fold, 0] == pytest.approx(rmse), name
        np.testing.assert_allclose(result.predictions[name], values[:, :, 0].mean(axis=0))


def test_rows_show_mean_and_spread(repeated_result):
    result = repeated_result
    for name in MODEL_NAMES:
        row = result.row(name)
        per_repeat = [
            np.sqrt(np.mean((result.repeat_predictions[name][r, :, 0] - result.measured) ** 2))
            for r in range(2)
        ]
        assert row["target"] == "glucose"
        assert row["rmsecv"] == pytest.approx(np.mean(per_repeat))
        assert row["rmsecv_std"] == pytest.approx(np.std(per_repeat, ddof=1))
    for name in ("GAN transfer", "From scratch"):
        assert 1 <= result.row(name)["epochs_used"] <= 2
    assert "epochs_used" not in result.row("PLS")


def test_verdict_follows_fold_errors(repeated_result):
    from specgan_gui.training.statistics import paired_difference

    result = repeated_result
    assert len(result.paired) == 1
    paired = result.paired[0]
    expected = paired_difference(result.fold_errors["GAN transfer"][:, :, 0],
                                 result.fold_errors["PLS"][:, :, 0], 7, 14)
    assert paired["model_a"] == "GAN transfer"
    assert paired["model_b"] == "PLS"
    assert paired["n_folds"] == 6
    for key in ("mean_difference", "low", "high"):
        assert paired[key] == pytest.approx(expected[key]), key
    assert result.verdict == paired["verdict"]
    if paired["high"] < 0:
        assert " lower than PLS's" in result.verdict
    elif paired["low"] > 0:
        assert " higher than PLS's" in result.verdict
    else:
        assert result.verdict.startswith("No evidence of a difference")
    assert "3 folds x 2 repeats" in result.verdict


def test_warnings_state_samples_per_variable(repeated_result):
    first = repeated_result.warnings[0]
    assert first.startswith("21 samples for ")
    assert "samples per variable" in first


def test_repeated_record_round_trip(repeated_result, tmp_path):
    path = tmp_path / "record.h5"
    with h5py.File(path, "w") as file:
        write_tree(file.create_group("run"), repeated_result.to_record())
    with h5py.File(path, "r") as file:
        loaded = ComparisonResult.from_record(read_tree(file["run"]))
    assert loaded.targets == ["glucose"]
    assert loaded.repeats == 2
    assert loaded.paired == repeated_result.paired
    assert loaded.verdict == repeated_result.verdict
    assert loaded.warnings == repeated_result.warnings
    assert loaded.rows == repeated_result.rows
    np.testing.assert_array_equal(loaded.repeat_folds, repeated_result.repeat_folds)
    np.testing.assert_allclose(loaded.measured_targets, repeated_result.measured_targets)
    for name in MODEL_NAMES:
        np.testing.assert_allclose(loaded.fold_errors[name], repeated_result.fold_errors[name])
        np.testing.assert_allclose(loaded.repeat_predictions[name],
                                   repeated_result.repeat_predictions[name])


def test_old_record_without_repeats_loads(glucose_result):
    record = glucose_result.to_record()
    for key in ("targets", "repeats", "fold_errors", "paired_json", "verdict",
                "warnings_json", "repeat_predictions", "repeat_folds", "measured_targets"):
        record.pop(key, None)
    loaded = ComparisonResult.from_record(record)
    assert loaded.targets == ["glucose"]
    assert loaded.repeats == 1
    assert loaded.fold_errors == {}
    assert loaded.verdict == ""


MMOL_PER_GRAM = 1 / 0.180156  # glucose: 180.156 g/mol


def test_several_targets(fermentation):
    from specgan_gui.training.prediction import FittedModel, predict

    data = fermentation.subset(np.arange(fermentation.n_samples))
    data.references["glucose (mmol/L)"] = data.references["glucose"] * MMOL_PER_GRAM
    settings = TransferSettings(epochs=1, cv="kfold", n_folds=3, head_units=4,
                                max_pls_components=6, device="cpu")
    result = compare_models(data, ["glucose", "glucose (mmol/L)"], "regression",
                            Pipeline.default(crop=GLUCOSE_CROP), None, None, settings)
    assert result.targets == ["glucose", "glucose (mmol/L)"]
    assert [(row["model"], row["target"]) for row in result.rows] == [
        ("From scratch", "glucose"), ("PLS", "glucose"),
        ("From scratch", "glucose (mmol/L)"), ("PLS", "glucose (mmol/L)"),
    ]
    # PLS1 without scaling is equivariant to the unit of its target, so the
    # second target's PLS is the first one's in other units.
    first = result.row("PLS", "glucose")
    second = result.row("PLS", "glucose (mmol/L)")
    assert second["rmsecv"] == pytest.approx(first["rmsecv"] * MMOL_PER_GRAM, rel=1e-6)
    assert second["components"] == first["components"]
    assert result.fold_errors["PLS"].shape == (1, 3, 2)
    assert [item["target"] for item in result.paired] == result.targets
    assert result.paired[0]["model_a"] == "From scratch"
    lines = result.verdict.splitlines()
    assert len(lines) == 2
    assert lines[1].startswith("glucose (mmol/L): ")

    assert set(result.models) == {"From scratch", "PLS", "From scratch (glucose (mmol\u2215L))",
                                  "PLS (glucose (mmol\u2215L))"}
    for name, model in result.models.items():
        loaded = FittedModel.from_tree(model.to_tree())
        predicted = predict(loaded, data.axis, data.spectra)
        np.testing.assert_allclose(predicted, model.fitted_values, rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    network = result.models["From scratch (glucose (mmol\u2215L))"]
    assert network.output_index == 1
    assert network.weights["hidden.weight"].shape[0] == 4


def test_several_targets_rejected_for_classes(coffee):
    with pytest.raises(SettingsError, match="Classification predicts one"):
        compare_models(coffee, ["origin", "origin2"], "classification", Pipeline.default(),
                       None, None, TransferSettings(epochs=1), include_networks=False)


def test_three_classes_with_repeats(coffee):
    settings = TransferSettings(epochs=1, cv="kfold", n_folds=3, repeats=2,
                                max_pls_components=5, device="cpu")
    result = compare_models(coffee, "origin", "classification",
                            Pipeline.default(crop=(1200, 1299)), None, None, settings)
    assert result.classes == ["Brasil", "Ethiopia", "Vietnam"]
    for name in ("From scratch", "PLS"):
        errors = result.fold_errors[name]
        assert errors.shape == (2, 3, 1)
        assert np.all((errors >= 0) & (errors <= 1))
        row = result.row(name)
        accuracies = [np.mean(labels == result.measured)
                      for labels in result.repeat_predictions[name]]
        assert row["accuracy"] == pytest.approx(np.mean(accuracies))
        assert row["accuracy"] == pytest.approx(1 - errors.mean(), abs=1e-9)
        assert row["accuracy_std"] == pytest.approx(np.std(accuracies, ddof=1))
    np.testing.assert_array_equal(result.predictions["PLS"], result.repeat_predictions["PLS"][0])
    assert "fold error rate" in result.verdict
    assert "percentage points" in result.verdict


def test_grouped_folds_keep_groups_together():
    groups = np.repeat(np.array(["a", "b", "c", "d", "e", "f", "g"]), 3)
    for seed in range(3):
        folds = make_folds(21, TransferSettings(cv="kfold", n_folds=3), groups=groups,
                           seed=seed)
        for group in np.unique(groups):
            assert len(np.unique(folds[groups == group])) == 1, (seed, group)
        assert sorted(np.unique(folds).tolist()) == [0, 1, 2]
    one_group_out = make_folds(21, TransferSettings(cv="loo"), groups=groups)
    assert len(np.unique(one_group_out)) == 7
    assert np.all(np.bincount(one_group_out) == 3)


def test_stratified_group_folds():
    labels = np.repeat(["x", "y"], 12)
    groups = np.repeat(np.arange(8).astype(str), 3)
    folds = make_folds(24, TransferSettings(cv="kfold", n_folds=4), labels, groups)
    for group in np.unique(groups):
        assert len(np.unique(folds[groups == group])) == 1


def test_fewer_groups_than_folds_rejected():
    groups = np.repeat(np.array(["a", "b", "c"]), 4)
    with pytest.raises(DataError, match="5-fold cross-validation of 3 groups") as error:
        make_folds(12, TransferSettings(cv="kfold", n_folds=5), groups=groups)
    assert "Choose at most 3 folds" in str(error.value)
    with pytest.raises(DataError, match="one group"):
        make_folds(12, TransferSettings(cv="loo"), groups=np.full(12, "a"))


def test_group_column_checked(fermentation):
    data = fermentation.subset(np.arange(fermentation.n_samples))
    day = np.array([f"day {i // 3}" for i in range(data.n_samples)], dtype=object)
    day[[2, 5]] = None
    data.references["day"] = day
    settings = TransferSettings(cv="kfold", n_folds=3, group_column="day",
                                pls_components=2)
    with pytest.raises(DataError, match="no value for 2 samples") as error:
        compare_models(data, "glucose", "regression", Pipeline.default(crop=GLUCOSE_CROP),
                       None, None, settings, include_networks=False)
    assert data.sample_ids[2] in str(error.value)
    with pytest.raises(DataError, match="'week' is not a reference column"):
        compare_models(data, "glucose", "regression", Pipeline.default(crop=GLUCOSE_CROP),
                       None, None, TransferSettings(group_column="week"),
                       include_networks=False)


def test_grouped_comparison(fermentation):
    data = fermentation.subset(np.arange(fermentation.n_samples))
    data.references["day"] = [f"day {i // 3}" for i in range(data.n_samples)]
    settings = TransferSettings(cv="kfold", n_folds=3, repeats=2, group_column="day",
                                pls_components=2)
    result = compare_models(data, "glucose", "regression", Pipeline.default(crop=GLUCOSE_CROP),
                            None, None, settings, include_networks=False)
    days = data.references["day"].to_numpy()
    for folds in result.repeat_folds:
        for day in np.unique(days):
            assert len(np.unique(folds[days == day])) == 1
    assert any("Only 7 groups" in warning for warning in result.warnings)
    assert result.paired == []
    assert result.verdict == ""


def test_small_class_warned():
    from specgan_gui.training.comparison import small_sample_warnings

    labels = np.array(["a"] * 10 + ["b"] * 2)
    warnings = small_sample_warnings(12, 100, np.arange(12) % 3, labels, None,
                                     TransferSettings(n_folds=3))
    small = [warning for warning in warnings if "fewer samples than the 3 folds" in warning]
    assert len(small) == 1
    assert "b (2)" in small[0]
    assert "a (10)" not in small[0]


def test_continuous_column_rejected_as_classes(fermentation):
    from specgan_gui.training.comparison import target_values

    with pytest.raises(DataError, match="too many to be classes"):
        target_values(fermentation, "glucose", "classification")


@pytest.mark.parametrize("targets, ids, expected", [
    ("glucose", ["s1"], "1 sample has no 'glucose' value and is left out of the comparison: s1"),
    (["glucose", "ethanol"], ["s1", "s4"],
     "2 samples have no value in 'glucose' or 'ethanol' and are left out of the comparison: "
     "s1, s4"),
    (["a", "b", "c"], ["s2"], "1 sample has no value in 'a', 'b' or 'c' and is left out of "
     "the comparison: s2"),
])
def test_left_out_message_names_targets_and_samples(targets, ids, expected):
    assert left_out_message(targets, ids, "the comparison") == expected
