"""Tests of the project object and its HDF5 store, on real files."""

from __future__ import annotations

import json
import os
import time

import h5py
import numpy as np
import pandas as pd
import pytest
from chemotools.datasets import load_fermentation_train

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import ProjectFileError
from specgan_gui.project import (
    FORMAT_VERSION,
    Project,
    checkpoints_to_drop,
    load_project,
    read_tree,
    save_project,
    write_tree,
)
from specgan_gui.project import store
from specgan_gui.project.project import STORED_FIELDS

HISTORY_FIELDS = (
    "epoch",
    "discriminator_loss",
    "generator_loss",
    "d_real",
    "d_fake",
    "discriminator_grad_norm",
    "generator_grad_norm",
    "seconds",
)


# --- fixtures -----------------------------------------------------------------
def fermentation_dataset() -> SpectralDataset:
    """Return real fermentation spectra cropped to 200 points, with odd references."""
    spectra, references = load_fermentation_train()
    axis = spectra.columns.to_numpy(dtype=float)[:200]
    n = spectra.shape[0]
    glucose = references["glucose"].to_numpy(dtype=float).copy()
    glucose[3] = np.nan
    batch = ["Brühe A" if i % 2 else "batch β" for i in range(n)]
    batch[5] = None
    table = pd.DataFrame(
        {
            "glucose (g/L)": glucose,
            "batch": batch,
            "replicate": np.arange(n, dtype=np.int64) % 3,
        }
    )
    return SpectralDataset(
        axis=axis,
        spectra=spectra.to_numpy()[:, :200],
        axis_unit="cm-1",
        sample_ids=[f"Probe-{i:02d}-ü" for i in range(n)],
        references=table,
        metadata={"source": "chemotools fermentation", "Gerät": "ATR-FTIR"},
        y_unit="absorbance",
        name="Fermentation (Glukose)",
    )


def resume_tree() -> dict:
    """Return a tree with every leaf type a trainer's resume state may use."""
    return {
        "epoch": 120,
        "generator_lr": 2e-4,
        "stopped": False,
        "finished": True,
        "device": "cpu",
        "note": "naïve ünïcode ✓",
        "empty_text": "",
        "torch_rng": np.arange(5000, dtype=np.uint8),
        "layer_names": np.array(["conv1.weight", "dense.bias"], dtype="U20"),
        "labels_2d": np.array([["a", "β"], ["", "long label"]]),
        "mask": np.array([True, False, True]),
        "numpy_float": np.float32(1.5),
        "numpy_int": np.int16(-7),
        "zero_d": np.array(3.25),
        "optimizer": {
            "generator": {
                "state": {"0": {"step": np.array(120.0), "exp_avg": np.ones((4, 3))}},
                "param_groups": '[{"lr": 0.0002, "betas": [0.5, 0.999]}]',
            },
            "empty": {},
        },
    }


def full_project() -> Project:
    """Return a project with every part filled."""
    dataset = fermentation_dataset()
    pipeline = Pipeline.default(crop=(500.0, 700.0))
    pipeline.fit(dataset.axis, dataset.spectra)
    rng = np.random.default_rng(0)

    project = Project(
        dataset=dataset,
        target="glucose (g/L)",
        task="regression",
        preprocessing=pipeline.to_spec(),
        preprocessing_state=pipeline.fitted_state(),
        gan_architecture={"n_points": 200, "code_length": 100, "generator_filters": 64},
        gan_settings={"epochs": 30, "batch_size": 40, "generator_lr": 2e-4, "device": "auto"},
    )
    for epoch in range(1, 31):
        stats = {name: float(rng.normal()) for name in HISTORY_FIELDS}
        stats["epoch"] = epoch
        project.append_history(stats)
        if epoch % 10 == 0:
            project.add_snapshot(epoch, rng.normal(size=(4, 200)).astype(np.float32))
            state = {
                "conv1.weight": rng.normal(size=(64, 1, 3)).astype(np.float32),
                "conv1.bias": rng.normal(size=64).astype(np.float32),
                "output.bias": np.zeros(1, dtype=np.float32),
            }
            project.add_checkpoint(epoch, state, max_kept=10)
    project.resume_state = resume_tree()
    for epoch in (10, 30):
        project.add_transfer_run(
            {
                "checkpoint_epoch": epoch,
                "task": "regression",
                "target": "glucose (g/L)",
                "settings_json": '{"epochs": 200}',
                "rows_json": json.dumps(
                    [
                        {"model": "GAN transfer", "rmsecv": 1.3, "r2": 0.98},
                        {"model": "From scratch", "rmsecv": 1.4, "r2": 0.97},
                        {"model": "PLS", "rmsecv": 1.2, "r2": 0.99, "components": 3},
                    ]
                ),
                "fold_of_sample": np.arange(21, dtype=np.int64),
                "measured": rng.normal(size=21),
                "predictions": {"pls": rng.normal(size=21), "gan_transfer": rng.normal(size=21)},
                "sample_ids": np.array([f"Probe-{i:02d}-ü" for i in range(21)]),
            }
        )
    project.set_model(
        "PLS",
        {
            "name": "PLS",
            "kind": "pls",
            "pipeline_spec": '[{"kind": "scale", "params": {}}]',
            "coefficients": rng.normal(size=(200, 1)),
            "n_components": 3,
        },
    )
    project.set_model(
        "GAN transfer",
        {
            "name": "GAN transfer",
            "kind": "network",
            "weights": {"conv1.weight": rng.normal(size=(64, 1, 3)).astype(np.float32)},
        },
    )
    project.add_prediction(
        {
            "model": "PLS",
            "source": "new_batch.csv",
            "sample_ids": np.array(["n1", "n2-é"]),
            "values": np.array([3.5, 7.25]),
            "created": "2026-05-09T10:00:00",
        }
    )
    project.add_prediction(
        {
            "model": "classifier",
            "source": "other.spc",
            "sample_ids": np.array(["x"]),
            "values": np.array(["Brazil"]),
            "created": "2026-05-09T11:00:00",
        }
    )
    project.pls_preprocessing = [
        {"kind": "cut", "params": {"windows": [[520.0, 680.0]]}},
        {"kind": "savgol", "params": {"window": 15, "polyorder": 2, "deriv": 1}},
    ]
    project.transfer_settings = {"epochs": 20, "learning_rate": 1e-4, "cv": "kfold"}
    project.extra_targets = ["replicate"]
    project.sweeps.append(
        {
            "metric": "rmsecv",
            "epochs": np.array([10, 20, 30], dtype=np.int64),
            "values": np.array([1.5, 1.25, 1.375]),
            "created": "2026-05-09T12:00:00",
        }
    )
    project.alarms.append(
        {"epoch": 20, "kind": "flat_output", "message": "Generated spectra are flat at epoch 20."}
    )
    project.realism = {
        "epoch": np.array([10.0, 20.0, 30.0]),
        "mean_distance": np.array([0.5, 0.25, 0.125]),
    }
    return project


# --- deep equality --------------------------------------------------------------
def assert_values_equal(left, right, where: str) -> None:
    """Assert two tree values are equal, with the same types and dtypes."""
    assert type(left) is type(right), f"{where}: {type(left)} != {type(right)}"
    if isinstance(left, dict):
        assert list(left) == list(right), f"{where}: keys {list(left)} != {list(right)}"
        for key in left:
            assert_values_equal(left[key], right[key], f"{where}/{key}")
    elif isinstance(left, list):
        assert len(left) == len(right), f"{where}: lengths differ"
        for index, (a, b) in enumerate(zip(left, right)):
            assert_values_equal(a, b, f"{where}[{index}]")
    elif isinstance(left, (np.ndarray, np.generic)):
        assert left.dtype == right.dtype, f"{where}: dtype {left.dtype} != {right.dtype}"
        assert np.array_equal(left, right, equal_nan=left.dtype.kind in "fc"), where
    elif isinstance(left, float) and np.isnan(left):
        assert np.isnan(right), where
    else:
        assert left == right, f"{where}: {left!r} != {right!r}"


def assert_datasets_equal(left: SpectralDataset, right: SpectralDataset) -> None:
    assert_values_equal(left.axis, right.axis, "axis")
    assert_values_equal(left.spectra, right.spectra, "spectra")
    assert left.sample_ids == right.sample_ids
    assert left.axis_unit == right.axis_unit
    assert left.y_unit == right.y_unit
    assert left.name == right.name
    assert left.metadata == right.metadata
    pd.testing.assert_frame_equal(left.references, right.references)


def assert_projects_equal(left: Project, right: Project) -> None:
    for name in STORED_FIELDS:
        if name == "dataset":
            if left.dataset is None:
                assert right.dataset is None
            else:
                assert_datasets_equal(left.dataset, right.dataset)
        else:
            assert_values_equal(getattr(left, name), getattr(right, name), name)


# --- round trips ------------------------------------------------------------------
def test_round_trip_every_part(tmp_path):
    original = full_project()
    first = tmp_path / "first.h5"
    second = tmp_path / "second.h5"

    save_project(original, first)
    loaded = load_project(first)
    assert_projects_equal(original, loaded)

    save_project(loaded, second)
    reloaded = load_project(second)
    assert_projects_equal(original, reloaded)


def test_round_trip_details(tmp_path):
    original = full_project()
    path = tmp_path / "project.h5"
    save_project(original, path)
    loaded = load_project(path)

    references = loaded.dataset.references
    assert np.isnan(references["glucose (g/L)"][3])
    assert pd.isna(references["batch"][5])
    assert references["batch"][0] == "batch β"
    assert references["replicate"].dtype == np.int64
    assert loaded.dataset.sample_ids[1] == "Probe-01-ü"
    assert list(references.columns) == ["glucose (g/L)", "batch", "replicate"]
    assert loaded.resume_state["layer_names"].dtype == np.dtype("U20")
    assert isinstance(loaded.resume_state["epoch"], int)
    assert isinstance(loaded.resume_state["stopped"], bool)
    assert loaded.snapshots[20].dtype == np.float32
    assert loaded.checkpoint_epochs == [10, 20, 30]


def test_round_trip_empty_project(tmp_path):
    path = tmp_path / "empty.h5"
    save_project(Project(), path)
    loaded = load_project(path)
    assert_projects_equal(Project(), loaded)
    assert loaded.dataset is None
    assert loaded.resume_state is None
    assert loaded.epochs_trained == 0


def test_dataset_without_references(tmp_path):
    spectra, _ = load_fermentation_train()
    dataset = SpectralDataset(
        axis=spectra.columns.to_numpy(dtype=float)[:50],
        spectra=spectra.to_numpy()[:, :50],
        axis_unit="cm-1",
        sample_ids=[str(i) for i in range(spectra.shape[0])],
    )
    path = tmp_path / "plain.h5"
    save_project(Project(dataset=dataset), path)
    loaded = load_project(path)
    assert_datasets_equal(dataset, loaded.dataset)


def test_saved_bytes_identical(tmp_path):
    first = tmp_path / "first.h5"
    second = tmp_path / "second.h5"
    save_project(full_project(), first)
    # HDF5 timestamps have one-second resolution; any stored time would differ.
    time.sleep(1.1)
    save_project(load_project(first), second)
    assert first.read_bytes() == second.read_bytes()


def test_save_and_load_set_path_and_modified(tmp_path):
    project = full_project()
    assert project.modified
    path = tmp_path / "p.h5"
    save_project(project, path)
    assert not project.modified
    assert project.path == path
    loaded = load_project(path)
    assert not loaded.modified
    assert loaded.path == path
    loaded.target = "replicate"
    assert loaded.modified
    save_project(loaded)
    assert load_project(path).target == "replicate"


def test_history_datasets_growable(tmp_path):
    path = tmp_path / "p.h5"
    save_project(full_project(), path)
    with h5py.File(path, "r") as file:
        column = file["history/generator_loss"]
        assert column.maxshape == (None,)
        assert column.chunks is not None
        assert column.shape == (30,)
        assert file["checkpoints/epoch_000020"]["conv1.weight"].chunks is None
        assert file.attrs["format_version"] == FORMAT_VERSION
        assert file.attrs["application"] == "specgan_gui"


# --- trees --------------------------------------------------------------------------
def test_tree_round_trip_types(tmp_path):
    tree = resume_tree()
    with h5py.File(tmp_path / "tree.h5", "w") as file:
        write_tree(file.create_group("tree", track_order=True), tree)
    with h5py.File(tmp_path / "tree.h5", "r") as file:
        loaded = read_tree(file["tree"])
    assert_values_equal(tree, loaded, "tree")
    assert type(loaded["numpy_float"]) is np.float32
    assert loaded["labels_2d"].shape == (2, 2)


@pytest.mark.parametrize("key", ["a/b", "", "."])
def test_write_tree_rejects_bad_keys(tmp_path, key):
    with h5py.File(tmp_path / "t.h5", "w") as file:
        with pytest.raises(ValueError, match="must not contain '/'"):
            write_tree(file, {"outer": {key: 1}})


@pytest.mark.parametrize(
    "value",
    [[1, 2], None, np.array([{"a": 1}], dtype=object), np.array([b"x"]), "nul\x00char"],
)
def test_write_tree_rejects_unsupported_values(tmp_path, value):
    with h5py.File(tmp_path / "t.h5", "w") as file:
        with pytest.raises((TypeError, ValueError), match="/bad"):
            write_tree(file, {"bad": value})


# --- file checks ----------------------------------------------------------------------
def test_newer_version_rejected(tmp_path):
    path = tmp_path / "future.h5"
    save_project(Project(), path)
    with h5py.File(path, "r+") as file:
        file.attrs["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(ProjectFileError) as error:
        load_project(path)
    message = str(error.value)
    assert str(path) in message
    assert f"version {FORMAT_VERSION + 1}" in message
    assert f"up to {FORMAT_VERSION}" in message


def test_older_version_migrated_in_memory(tmp_path, monkeypatch):
    path = tmp_path / "old.h5"
    save_project(full_project(), path)
    # Fake a version-0 layout in which the history group had another name.
    with h5py.File(path, "r+") as file:
        file.attrs["format_version"] = FORMAT_VERSION - 1
        file.move("history", "loss_history")
    before = path.read_bytes()

    def rename_history(file):
        file.move("loss_history", "history")

    monkeypatch.setitem(store.MIGRATIONS, FORMAT_VERSION - 1, rename_history)
    loaded = load_project(path)
    assert loaded.epochs_trained == 30
    assert path.read_bytes() == before


def test_older_version_without_migration_rejected(tmp_path):
    path = tmp_path / "old.h5"
    save_project(Project(), path)
    with h5py.File(path, "r+") as file:
        file.attrs["format_version"] = FORMAT_VERSION - 1
    with pytest.raises(ProjectFileError, match=f"no migration from version {FORMAT_VERSION - 1}"):
        load_project(path)


def test_text_file_rejected(tmp_path):
    path = tmp_path / "spectra.h5"
    path.write_text("wavenumber,absorbance\n400,0.1\n")
    with pytest.raises(ProjectFileError) as error:
        load_project(path)
    assert str(path) in str(error.value)
    assert "not an HDF5 file" in str(error.value)
    assert "wavenumber,absorbance" in str(error.value)


def test_other_hdf5_file_rejected(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as file:
        file["intensity"] = np.zeros(3)
    with pytest.raises(ProjectFileError, match="not a specgan_gui project.*intensity"):
        load_project(path)


def test_missing_file_rejected(tmp_path):
    path = tmp_path / "nowhere.h5"
    with pytest.raises(ProjectFileError, match="was not found") as error:
        load_project(path)
    assert str(path) in str(error.value)


def test_save_into_missing_folder_rejected(tmp_path):
    with pytest.raises(ProjectFileError, match="Failed to save"):
        save_project(Project(), tmp_path / "no_such_folder" / "p.h5")


# --- atomic save ------------------------------------------------------------------------
def test_failed_save_keeps_old_file_bad_value(tmp_path):
    path = tmp_path / "project.h5"
    save_project(full_project(), path)
    before = path.read_bytes()

    broken = load_project(path)
    broken.resume_state = {"fine": 1, "losses": [0.1, 0.2]}
    with pytest.raises(TypeError, match="/resume/losses"):
        save_project(broken, path)

    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["project.h5"]
    assert broken.modified


def test_failed_save_keeps_old_file_writer_error(tmp_path, monkeypatch):
    path = tmp_path / "project.h5"
    save_project(full_project(), path)
    before = path.read_bytes()

    def fail_midway(group, checkpoints):
        group.create_dataset("partial", data=np.zeros(10))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store, "_write_checkpoints", fail_midway)
    with pytest.raises(ProjectFileError, match="No space left on device"):
        save_project(full_project(), path)

    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["project.h5"]


# --- checkpoints ----------------------------------------------------------------------
def test_checkpoints_to_drop_by_hand():
    # Dropping 200 or 300 would each leave a gap of 200, so the earlier one goes.
    assert checkpoints_to_drop([100, 200, 300, 400, 1000], 4) == [200]
    assert checkpoints_to_drop([1000, 100, 300, 400], 3) == [300]
    assert checkpoints_to_drop([100, 200, 300], 3) == []
    assert checkpoints_to_drop([100, 200, 300], 1) == [100, 200]
    with pytest.raises(ValueError):
        checkpoints_to_drop([100], 0)


def test_checkpoints_to_drop_keeps_spread():
    epochs = [100 * i for i in range(1, 21)]
    dropped = checkpoints_to_drop(epochs, 5)
    kept = sorted(set(epochs) - set(dropped))
    assert len(kept) == 5
    assert kept[0] == 100
    assert kept[-1] == 2000
    even_gap = (2000 - 100) / 4
    assert max(np.diff(kept)) <= 2 * even_gap
    assert min(np.diff(kept)) >= even_gap / 2


def test_add_checkpoint_keeps_spread():
    project = Project()
    state = {"w": np.zeros(2, dtype=np.float32)}
    for epoch in range(100, 20001, 100):
        project.add_checkpoint(epoch, state, max_kept=8)
    kept = project.checkpoint_epochs
    assert len(kept) == 8
    assert kept[0] == 100
    assert kept[-1] == 20000
    assert max(np.diff(kept)) <= 2 * (20000 - 100) / 7


# --- project methods ---------------------------------------------------------------------
def test_append_history_columns():
    project = Project()
    project.append_history({"epoch": 1, "generator_loss": 0.5})
    project.append_history({"epoch": 2, "discriminator_loss": 0.7})
    assert project.epochs_trained == 2
    assert list(project.history) == ["epoch", "generator_loss", "discriminator_loss"]
    for column in project.history.values():
        assert column.dtype == np.float64
        assert column.shape == (2,)
    assert np.isnan(project.history["generator_loss"][1])
    assert np.isnan(project.history["discriminator_loss"][0])


def test_reset_training_clears_run():
    project = full_project()
    project.modified = False
    project.reset_training()
    assert project.modified
    assert project.history == {}
    assert project.snapshots == {}
    assert project.checkpoints == {}
    assert project.resume_state is None
    assert project.epochs_trained == 0
    assert project.transfer_runs  # transfer results stay for comparison


def test_info_keys():
    info = full_project().info()
    expected = {
        "dataset_name": "Fermentation (Glukose)",
        "n_spectra": 21,
        "n_points": 200,
        "axis_unit": "cm-1",
        "target": "glucose (g/L)",
        "targets": ["glucose (g/L)", "replicate"],
        "task": "regression",
        "epochs_trained": 30,
        "checkpoint_epochs": [10, 20, 30],
        "n_predictions": 3,
        "prediction_runs": 2,
        "format_version": FORMAT_VERSION,
        "models": ["PLS", "GAN transfer"],
    }
    for key, value in expected.items():
        assert info[key] == value, key
    assert info["preprocessing"][0] == {"kind": "crop", "params": {"low": 500.0, "high": 700.0}}
    results = info["transfer_results"]
    assert len(results) == 6
    assert results[0] == {
        "model": "GAN transfer",
        "rmsecv": 1.3,
        "r2": 0.98,
        "checkpoint_epoch": 10,
    }
    assert {row["checkpoint_epoch"] for row in results} == {10, 30}


def test_info_rows_from_trees():
    project = Project()
    project.add_transfer_run(
        {
            "checkpoint_epoch": np.int64(40),
            "rows": {
                "model": np.array(["GAN transfer", "PLS"]),
                "accuracy": np.array([0.9, 1.0]),
            },
        }
    )
    project.add_transfer_run({"rows": {"0": {"model": "PLS", "accuracy": 0.8}}})
    rows = project.info()["transfer_results"]
    assert rows == [
        {"model": "GAN transfer", "accuracy": 0.9, "checkpoint_epoch": 40},
        {"model": "PLS", "accuracy": 1.0, "checkpoint_epoch": 40},
        {"model": "PLS", "accuracy": 0.8, "checkpoint_epoch": None},
    ]
    assert type(rows[0]["model"]) is str


def test_truncated_file_rejected(tmp_path):
    path = tmp_path / "cut.h5"
    save_project(full_project(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ProjectFileError, match="may be damaged") as error:
        load_project(path)
    assert str(path) in str(error.value)


# --- trees from the real training code ------------------------------------------------
def test_real_resume_state_round_trip(tmp_path):
    from specgan_gui.models.gan1d import GANArchitecture
    from specgan_gui.training.gan_trainer import GANTrainer, GANTrainingSettings

    spectra = Pipeline.default().fit_transform(*_short_fermentation(64))
    architecture = GANArchitecture(
        64, generator_filters=8, discriminator_filters=8, hidden_units=32
    )
    settings = GANTrainingSettings(epochs=2, batch_size=8, device="cpu")
    trainer = GANTrainer(spectra, architecture, settings)
    trainer.run()

    path = tmp_path / "resume.h5"
    save_project(Project(resume_state=trainer.resume_state()), path)
    loaded = load_project(path).resume_state
    assert_values_equal(trainer.resume_state(), loaded, "resume")

    settings.epochs = 3
    resumed = GANTrainer(spectra, architecture, settings, resume_state=loaded)
    assert resumed.epoch == 2
    assert resumed.run().epochs_completed == 3


def test_real_comparison_record_round_trip(tmp_path):
    from specgan_gui.training.comparison import ComparisonResult

    rows = [
        {"model": "GAN transfer", "rmsecv": 1.33, "r2": 0.98, "checkpoint_epoch": 100},
        {"model": "PLS", "rmsecv": 1.2, "r2": 0.99, "components": 3},
    ]
    result = ComparisonResult(
        checkpoint_epoch=100,
        task="regression",
        target="glucose (g/L)",
        settings={"epochs": 200, "cv": "loo"},
        rows=rows,
        fold_of_sample=np.arange(4),
        measured=np.array([1.0, 2.0, 3.0, np.nan]),
        predictions={"GAN transfer": np.ones(4), "PLS": np.zeros(4)},
        classes=None,
        sample_ids=["a", "b", "c", "d"],
    )
    project = Project()
    project.add_transfer_run(result.to_record())
    path = tmp_path / "runs.h5"
    save_project(project, path)
    record = load_project(path).transfer_runs[0]

    assert ComparisonResult.rows_from_record(record) == rows
    restored = ComparisonResult.from_record(record)
    assert_values_equal(result.predictions, restored.predictions, "predictions")
    info_rows = load_project(path).info()["transfer_results"]
    assert [row["model"] for row in info_rows] == ["GAN transfer", "PLS"]
    assert [row["checkpoint_epoch"] for row in info_rows] == [100, 100]


def _short_fermentation(n_points: int):
    spectra, _ = load_fermentation_train()
    return spectra.columns.to_numpy(dtype=float)[:n_points], spectra.to_numpy()[:, :n_points]
