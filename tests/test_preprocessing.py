"""The preprocessing pipeline: fitting, inversion, storage, and its use in the tool.

Besides the crop-and-scale basics, these tests run the pipeline inside the
model comparison, prediction and the `specgan preprocess` command.
"""

from __future__ import annotations

import dataclasses
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


# --- the pipeline inside the tool: the checks the preprocessing issue names ---------
REFERENCE_STEPS = "cut:950-1550,savgol:15:2:1,scale"
#: Leave-one-out RMSECV (g/L) of PLS with 4 components after the reference steps,
#: computed with plain scikit-learn and scipy on the chemotools fermentation data.
REFERENCE_RMSECV = 1.23


def _pls_only(dataset, steps: str, **settings):
    from specgan_gui.training.comparison import compare_models
    from specgan_gui.training.transfer import TransferSettings

    return compare_models(
        dataset, "glucose", "regression", Pipeline.parse(steps), None, None,
        TransferSettings(pls_components=4, cv="loo", **settings), include_networks=False,
    )


@pytest.fixture(scope="module")
def reference_result(fermentation):
    return _pls_only(fermentation, REFERENCE_STEPS)


def test_cut_and_derivative_reach_reference(reference_result, fermentation):
    (row,) = reference_result.rows
    assert row["model"] == "PLS"
    assert row["rmsecv"] == pytest.approx(REFERENCE_RMSECV, rel=0.10)
    assert row["components"] == 4
    assert row["preprocessing"] == "cut:950-1550, savgol:15:2:1, scale"
    # Without the cut and derivative the same PLS is several times worse.
    raw = _pls_only(fermentation, "scale").rows[0]["rmsecv"]
    assert raw > 3 * row["rmsecv"]


def test_prediction_repeats_fitted_values(reference_result, fermentation, tmp_path):
    from specgan_gui.project.project import Project
    from specgan_gui.project.store import load_project, save_project
    from specgan_gui.training.prediction import FittedModel, predict
    from specgan_gui.training.workflow import predict_samples

    model = reference_result.models["PLS"]
    assert json.loads(model.pipeline_spec) == Pipeline.parse(REFERENCE_STEPS).to_spec()
    fitted = np.asarray(model.fitted_values)
    np.testing.assert_allclose(
        predict(model, fermentation.axis, fermentation.spectra), fitted, rtol=1e-12
    )

    # The same through the project file: pipeline stored as parameters and arrays.
    project = Project(dataset=fermentation, target="glucose", task="regression")
    project.preprocessing = Pipeline.parse(REFERENCE_STEPS).to_spec()
    project.set_model("PLS", model.to_tree())
    path = tmp_path / "reference.h5"
    save_project(project, path)
    loaded = load_project(path)
    stored = FittedModel.from_tree(loaded.models["PLS"])
    assert stored.pipeline().describe() == "cut:950-1550, savgol:15:2:1, scale"
    record = predict_samples(loaded, "PLS")
    np.testing.assert_allclose(record["values"], fitted, rtol=1e-12)
    # Fitted values are not the cross-validated predictions: they see every sample.
    assert not np.allclose(fitted, reference_result.predictions["PLS"])


def _spiked(fermentation):
    """Fermentation spectra with one narrow, strong spike each, outside 950-1550 cm-1.

    The spikes sit at different wavenumbers (460 to 900 cm-1), like cosmic-ray
    spikes in Raman spectra, and are 100 absorbance units high (the spectra
    span about 166).
    """
    centres = np.linspace(460, 900, fermentation.n_samples)
    spikes = np.exp(-0.5 * ((fermentation.axis - centres[:, np.newaxis]) / 5.0) ** 2)
    return dataclasses.replace(fermentation, spectra=fermentation.spectra + 100 * spikes)


def _loo_predictions(dataset, steps: str, fit_on_all: bool) -> np.ndarray:
    from specgan_gui.training.comparison import fit_pls
    from specgan_gui.training.transfer import TargetCoding, TransferSettings

    settings = TransferSettings(pls_components=4, cv="loo")
    y = dataset.references["glucose"].to_numpy(dtype=float)
    everything = Pipeline.parse(steps).fit(dataset.axis, dataset.spectra)
    predictions = np.zeros_like(y)
    for test in range(dataset.n_samples):
        train = np.delete(np.arange(dataset.n_samples), test)
        pipeline = everything
        if not fit_on_all:
            pipeline = Pipeline.parse(steps).fit(dataset.axis, dataset.spectra[train])
        pls = fit_pls(
            pipeline.transform(dataset.spectra[train]), y[train],
            TargetCoding.fit("regression", y[train]), settings,
        )
        predictions[test] = pls.outputs(pipeline.transform(dataset.spectra[test]))[0, 0]
    return predictions


def test_leakage_is_optimistic_and_compare_is_honest(fermentation):
    # MSC learns its reference (the mean spectrum) from data.  Each training
    # spectrum's own spike is part of that reference, which raises its fitted
    # gain.  A held-out spectrum's spike is not, so after the cut it is scaled
    # differently from every training spectrum, as a new sample would be.
    # Fitted on all spectra, the held-out one is in the reference too, which
    # hides that mismatch and makes the error look better than it is.
    dataset = _spiked(fermentation)
    steps = "msc,cut:950-1550,savgol:15:2:1,scale"
    y = dataset.references["glucose"].to_numpy(dtype=float)

    honest = _loo_predictions(dataset, steps, fit_on_all=False)
    leaky = _loo_predictions(dataset, steps, fit_on_all=True)
    honest_rmse = float(np.sqrt(np.mean((honest - y) ** 2)))
    leaky_rmse = float(np.sqrt(np.mean((leaky - y) ** 2)))
    assert leaky_rmse < 0.75 * honest_rmse

    tool = _pls_only(dataset, steps)
    np.testing.assert_allclose(tool.predictions["PLS"], honest, rtol=1e-9)
    assert tool.rows[0]["rmsecv"] == pytest.approx(honest_rmse, rel=1e-9)
    assert not np.allclose(tool.predictions["PLS"], leaky, rtol=1e-3)


def test_pls_may_use_its_own_pipeline(fermentation):
    from specgan_gui.models.gan1d import GANArchitecture
    from specgan_gui.training.comparison import ComparisonResult, compare_models
    from specgan_gui.training.prediction import predict
    from specgan_gui.training.transfer import TransferSettings

    network_pipeline = Pipeline.parse("cut:950-1550,scale")
    pls_pipeline = Pipeline.parse(REFERENCE_STEPS)
    n_points = network_pipeline.unfitted_copy().fit(
        fermentation.axis, fermentation.spectra
    ).output_axis.size
    tiny = GANArchitecture(n_points=n_points, code_length=8, generator_filters=4,
                           discriminator_filters=4, hidden_units=8)
    settings = TransferSettings(epochs=1, cv="kfold", n_folds=3, pls_components=4,
                                device="cpu")
    result = compare_models(fermentation, "glucose", "regression", network_pipeline, tiny,
                            None, settings, pls_pipeline=pls_pipeline)

    rows = {row["model"]: row for row in result.rows}
    assert rows["From scratch"]["preprocessing"] == "cut:950-1550, scale"
    assert rows["PLS"]["preprocessing"] == "cut:950-1550, savgol:15:2:1, scale"
    assert json.loads(result.preprocessing) == network_pipeline.to_spec()
    assert json.loads(result.pls_preprocessing) == pls_pipeline.to_spec()
    assert ComparisonResult.from_record(result.to_record()).pls_preprocessing == (
        result.pls_preprocessing
    )

    # PLS predicted exactly what a PLS-only comparison with its pipeline predicts.
    alone = compare_models(fermentation, "glucose", "regression", pls_pipeline, None, None,
                           settings, include_networks=False)
    np.testing.assert_allclose(result.predictions["PLS"], alone.predictions["PLS"])
    assert not np.allclose(
        result.predictions["PLS"],
        compare_models(fermentation, "glucose", "regression", network_pipeline, None, None,
                       settings, include_networks=False).predictions["PLS"],
    )

    pls_model = result.models["PLS"]
    assert json.loads(pls_model.pipeline_spec) == pls_pipeline.to_spec()
    assert json.loads(result.models["From scratch"].pipeline_spec) == network_pipeline.to_spec()
    np.testing.assert_allclose(
        predict(pls_model, fermentation.axis, fermentation.spectra), pls_model.fitted_values
    )


def test_checkpoint_needs_networks(fermentation):
    from specgan_gui.training.comparison import compare_models
    from specgan_gui.training.gan_trainer import Checkpoint
    from specgan_gui.training.transfer import TransferSettings

    with pytest.raises(SettingsError, match="without networks"):
        compare_models(fermentation, "glucose", "regression", Pipeline.default(), None,
                       Checkpoint(epoch=1, discriminator={}), TransferSettings(),
                       include_networks=False)


# --- the command line -------------------------------------------------------------
@pytest.fixture
def project_file(fermentation, tmp_path):
    from specgan_gui.project.project import Project
    from specgan_gui.project.store import save_project

    project = Project(dataset=fermentation, target="glucose", task="regression")
    path = tmp_path / "fermentation.h5"
    save_project(project, path)
    return path


def _info(path, capsys) -> dict:
    from specgan_gui.cli import main

    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_stores_steps(project_file, capsys):
    from specgan_gui.cli import main
    from specgan_gui.project.store import load_project

    assert main(["preprocess", str(project_file), "--steps", REFERENCE_STEPS]) == 0
    out = capsys.readouterr().out
    assert "first derivative of absorbance" in out
    info = _info(project_file, capsys)
    assert info["preprocessing"] == [
        {"kind": "cut", "params": {"windows": [[950.0, 1550.0]]}},
        {"kind": "savgol", "params": {"window": 15, "polyorder": 2, "deriv": 1,
                                      "mode": "interp"}},
        {"kind": "scale", "params": {}},
    ]
    project = load_project(project_file)
    stored = Pipeline.from_state(project.preprocessing, project.preprocessing_state)
    assert stored.is_fitted
    assert stored.output_axis.size == 446

    assert main(["preprocess", str(project_file), "--preset", "atr-ftir"]) == 0
    assert [s["kind"] for s in _info(project_file, capsys)["preprocessing"]] == [
        "savgol", "norm", "scale"
    ]
    assert main(["preprocess", str(project_file)]) == 0
    assert "savgol:15:2:1,norm:vector,scale" in capsys.readouterr().out


def test_cli_rejects_bad_steps(project_file, capsys):
    from specgan_gui.cli import main

    assert main(["preprocess", str(project_file), "--steps", "cut:950-1550,savgol:14"]) == 2
    assert "window must be odd" in capsys.readouterr().err
    assert main(["preprocess", str(project_file), "--steps", "cut:5000-6000,scale"]) == 2
    err = capsys.readouterr().err
    assert "outside the axis" in err
    assert "keeps 0 points" in err
    assert _info(project_file, capsys)["preprocessing"] == [{"kind": "scale", "params": {}}]


def test_cli_guards_trained_gan(project_file, capsys):
    from specgan_gui.cli import main
    from specgan_gui.project.store import load_project

    assert main(["preprocess", str(project_file), "--steps", "cut:950-1550,scale"]) == 0
    assert main(["train", str(project_file), "--epochs", "1", "--batch-size", "21",
                 "--code-length", "8", "--generator-filters", "4",
                 "--discriminator-filters", "4", "--checkpoint-interval", "1",
                 "--device", "cpu"]) == 0
    capsys.readouterr()

    assert main(["preprocess", str(project_file), "--steps", REFERENCE_STEPS]) == 2
    err = capsys.readouterr().err
    assert "trained for 1 epochs" in err
    assert "--force" in err
    assert load_project(project_file).epochs_trained == 1

    assert main(["preprocess", str(project_file), "--steps", REFERENCE_STEPS, "--force"]) == 0
    assert "cleared the GAN run (1 epochs" in capsys.readouterr().out
    project = load_project(project_file)
    assert project.epochs_trained == 0
    assert project.checkpoints == {}
    assert project.gan_architecture is None
    assert Pipeline.from_spec(project.preprocessing).describe() == (
        "cut:950-1550, savgol:15:2:1, scale"
    )


def test_cli_suggest_prints_ranking(project_file, capsys):
    from specgan_gui.cli import main

    assert main(["preprocess", str(project_file), "--steps", "cut:950-1550,scale"]) == 0
    capsys.readouterr()
    assert main(["preprocess", str(project_file), "--suggest", "--max-components", "6"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("pipeline"))
    assert "rmsecv" in lines[header]
    # The known window and a derivative beat the raw spectra by far.
    assert lines[header + 1].startswith("cut + SG1")
    assert 'best: cut + SG1' in out
    assert "cut:950-1550,savgol:15:2:1,scale" in out


def test_cli_help_documents_syntax(capsys):
    from specgan_gui.cli import main

    with pytest.raises(SystemExit):
        main(["preprocess", "--help"])
    out = capsys.readouterr().out
    assert "step syntax" in out
    assert "savgol:WINDOW[15]:POLYORDER[2]:DERIV[1]:MODE[interp]" in out
    assert "cut:LOW-HIGH[:LOW-HIGH...]" in out
    assert "nir-reflectance: snv,savgol:15:2:1,scale" in out


def test_cli_pls_pipeline_kept_apart(project_file, capsys):
    from specgan_gui.cli import main
    from specgan_gui.project.store import load_project

    assert main(["preprocess", str(project_file), "--steps", "cut:950-1550,scale"]) == 0
    assert main(["train", str(project_file), "--epochs", "1", "--batch-size", "21",
                 "--code-length", "8", "--generator-filters", "4",
                 "--discriminator-filters", "4", "--checkpoint-interval", "1",
                 "--device", "cpu"]) == 0
    capsys.readouterr()

    assert main(["preprocess", str(project_file), "--pls-steps", REFERENCE_STEPS]) == 0
    out = capsys.readouterr().out
    assert "PLS preprocessing: cut:950-1550,savgol:15:2:1,scale" in out
    info = _info(project_file, capsys)
    assert [s["kind"] for s in info["pls_preprocessing"]] == ["cut", "savgol", "scale"]
    # PLS's own pipeline leaves the GAN and its pipeline alone.
    assert info["epochs_trained"] == 1
    assert [s["kind"] for s in info["preprocessing"]] == ["cut", "scale"]

    assert main(["preprocess", str(project_file), "--pls-steps", "cut:5000-6000"]) == 2
    assert "outside the axis" in capsys.readouterr().err
    assert len(load_project(project_file).pls_preprocessing) == 3

    assert main(["preprocess", str(project_file), "--pls-steps", "nir-reflectance"]) == 0
    assert load_project(project_file).pls_preprocessing[0]["kind"] == "snv"

    assert main(["preprocess", str(project_file), "--pls-same"]) == 0
    assert "PLS preprocessing: the same" in capsys.readouterr().out
    assert _info(project_file, capsys)["pls_preprocessing"] is None
