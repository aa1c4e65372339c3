"""The `specgan` command line, run in-process on real example data."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from specgan_gui.cli import main
from specgan_gui.project.store import load_project

FAST = ["--transfer-epochs", "2", "--checkpoint-interval", "1", "--cv", "kfold", "--folds", "3"]


def _info(path, capsys) -> dict:
    capsys.readouterr()
    assert main(["info", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "ferm.h5"
    code = main(
        ["demo", "--example", "fermentation", "--epochs", "3", "--crop", "950", "1550",
         "--out", str(path), *FAST]
    )
    assert code == 0
    return path


def test_demo_info_json(demo_project, capsys):
    info = _info(demo_project, capsys)
    assert info["n_spectra"] == 21
    assert info["n_points"] == 1047
    assert info["axis_unit"] == "cm-1"
    assert info["epochs_trained"] == 3
    assert info["checkpoint_epochs"] == [1, 2, 3]
    assert [row["model"] for row in info["transfer_results"]] == [
        "GAN transfer", "From scratch", "PLS"
    ]
    for row in info["transfer_results"]:
        assert np.isfinite(row["rmsecv"])
        assert "r2" in row
    assert info["n_predictions"] == 21
    assert info["format_version"] == 1


def test_train_continues_run(demo_project, tmp_path, capsys):
    out = tmp_path / "longer.h5"
    assert main(["train", str(demo_project), "--epochs", "5", "--out", str(out)]) == 0
    project = load_project(out)
    assert project.epochs_trained == 5
    assert list(project.history["epoch"]) == [1, 2, 3, 4, 5]
    assert load_project(demo_project).epochs_trained == 3


def test_train_without_more_epochs_rejected(demo_project, capsys):
    capsys.readouterr()
    assert main(["train", str(demo_project), "--epochs", "3"]) == 2
    assert "already trained 3 epochs" in capsys.readouterr().err


def test_predict_files_to_csv(demo_project, fermentation, tmp_path, capsys):
    table = pd.DataFrame(fermentation.spectra[:5], columns=[f"{x:g}" for x in fermentation.axis])
    table.insert(0, "id", [f"new{i}" for i in range(5)])
    spectra_path = tmp_path / "new.csv"
    table.to_csv(spectra_path, index=False)
    csv_path = tmp_path / "pred.csv"
    out = tmp_path / "with-pred.h5"
    code = main(["predict", str(demo_project), str(spectra_path), "--model", "PLS",
                 "--csv", str(csv_path), "--out", str(out)])
    assert code == 0
    predicted = pd.read_csv(csv_path)
    assert list(predicted["sample_id"]) == [f"new{i}" for i in range(5)]
    assert len(predicted) == 5
    assert np.isfinite(predicted["prediction"]).all()
    assert load_project(out).predictions[-1]["source"] == "new.csv"


def _write_spectra(path, axis, spectra, ids, first_header="id") -> None:
    table = pd.DataFrame(spectra, columns=[f"{x:g}" for x in axis])
    table.insert(0, first_header, ids)
    table.to_csv(path, index=False)


def test_predict_csv_never_replaces_inputs(demo_project, fermentation, tmp_path, capsys):
    spectra_path = tmp_path / "new.csv"
    _write_spectra(spectra_path, fermentation.axis, fermentation.spectra[:3], ["a", "b", "c"])
    before = spectra_path.read_bytes()
    project_before = demo_project.read_bytes()
    capsys.readouterr()
    assert main(["predict", str(demo_project), str(spectra_path), "--model", "PLS",
                 "--csv", str(spectra_path)]) == 2
    assert "--csv" in capsys.readouterr().err
    assert spectra_path.read_bytes() == before
    assert main(["predict", str(demo_project), "--csv", str(demo_project)]) == 2
    assert "project file" in capsys.readouterr().err
    assert demo_project.read_bytes() == project_before


@pytest.mark.parametrize("where", ["missing folder", "folder"])
def test_predict_unwritable_csv_named(demo_project, tmp_path, capsys, where):
    csv_path = tmp_path / "no such folder" / "p.csv" if where == "missing folder" else tmp_path
    out = tmp_path / "out.h5"
    capsys.readouterr()
    assert main(["predict", str(demo_project), "--model", "PLS", "--csv", str(csv_path),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {csv_path}: the predictions could not be written")
    assert "Traceback" not in err
    assert not out.exists()


def test_predict_csv_quotes_ids(demo_project, fermentation, tmp_path):
    ids = [f'batch {i}, "A"' for i in range(3)]
    spectra_path = tmp_path / "quoted.csv"
    _write_spectra(spectra_path, fermentation.axis, fermentation.spectra[:3], ids)
    csv_path = tmp_path / "pred.csv"
    assert main(["predict", str(demo_project), str(spectra_path), "--model", "PLS",
                 "--csv", str(csv_path), "--out", str(tmp_path / "p.h5")]) == 0
    predicted = pd.read_csv(csv_path)
    assert list(predicted.columns) == ["sample_id", "prediction"]
    assert list(predicted["sample_id"]) == ids


def test_predict_stdout_holds_only_the_table(demo_project, tmp_path, capsys):
    capsys.readouterr()
    assert main(["predict", str(demo_project), "--out", str(tmp_path / "p.h5")]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "sample_id,prediction"
    assert len(lines) == 22


def test_predict_default_is_best_model(demo_project, tmp_path, capsys):
    out = tmp_path / "p.h5"
    assert main(["predict", str(demo_project), "--out", str(out)]) == 0
    info = _info(demo_project, capsys)
    best = min(info["transfer_results"], key=lambda row: row["rmsecv"])["model"]
    assert load_project(out).predictions[-1]["model"] == best


def test_predict_rejects_other_axis_unit(demo_project, fermentation, tmp_path, capsys):
    spectra_path = tmp_path / "nm.csv"
    _write_spectra(spectra_path, fermentation.axis, fermentation.spectra[:3], ["a", "b", "c"],
                   first_header="Wavelength (nm)")
    capsys.readouterr()
    assert main(["predict", str(demo_project), str(spectra_path), "--model", "PLS",
                 "--out", str(tmp_path / "p.h5")]) == 2
    err = capsys.readouterr().err
    assert "axis is in nm" in err
    assert "fitted on spectra in cm-1" in err
    assert "--convert-axis cm-1" in err


def test_predict_rejects_sparse_axis(demo_project, fermentation, tmp_path, capsys):
    keep = np.nonzero((fermentation.axis >= 900) & (fermentation.axis <= 1600))[0][::40]
    spectra_path = tmp_path / "sparse.csv"
    _write_spectra(spectra_path, fermentation.axis[keep], fermentation.spectra[:3, keep],
                   ["a", "b", "c"])
    capsys.readouterr()
    assert main(["predict", str(demo_project), str(spectra_path), "--model", "PLS",
                 "--out", str(tmp_path / "p.h5")]) == 2
    inside = int(np.count_nonzero((fermentation.axis[keep] >= 950)
                                  & (fermentation.axis[keep] <= 1550)))
    assert f"have {inside} points from 950 to 1550" in capsys.readouterr().err


def test_train_new_architecture_needs_restart(demo_project, tmp_path, capsys):
    out = tmp_path / "other.h5"
    capsys.readouterr()
    assert main(["train", str(demo_project), "--epochs", "4", "--code-length", "50",
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "code length 100" in err
    assert "code length 50" in err
    assert "--restart" in err
    assert not out.exists()

    assert main(["train", str(demo_project), "--epochs", "2", "--code-length", "50",
                 "--checkpoint-interval", "1", "--restart", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rates = [float(line.split()[-2]) for line in printed.splitlines() if "epochs/s" in line]
    assert len(rates) == 2
    assert all(rate > 0 for rate in rates)
    project = load_project(out)
    assert project.epochs_trained == 2
    assert project.gan_architecture["code_length"] == 50
    assert load_project(demo_project).epochs_trained == 3


def test_transfer_leaves_out_samples_without_value(demo_project, tmp_path, capsys):
    from specgan_gui.project.store import save_project
    from specgan_gui.training.comparison import ComparisonResult

    project = load_project(demo_project)
    project.dataset.references.loc[3, "glucose"] = np.nan
    path = tmp_path / "gap.h5"
    save_project(project, path)
    capsys.readouterr()
    assert main(["transfer", str(path), "--transfer-epochs", "1", "--cv", "kfold",
                 "--folds", "3"]) == 0
    sample = project.dataset.sample_ids[3]
    expected = f"1 sample has no 'glucose' value and is left out of the comparison: {sample}"
    assert expected in capsys.readouterr().out
    result = ComparisonResult.from_record(load_project(path).transfer_runs[-1])
    assert len(result.sample_ids) == 20
    assert sample not in result.sample_ids
    # The stored result keeps the note, for the window and later readers.
    assert result.warnings[0] == expected


def test_import_with_targets(fermentation, tmp_path, capsys):
    spectra = pd.DataFrame(fermentation.spectra, columns=[f"{x:g}" for x in fermentation.axis])
    spectra.insert(0, "sample", fermentation.sample_ids)
    spectra_path = tmp_path / "spectra.csv"
    spectra.to_csv(spectra_path, index=False)
    targets = pd.DataFrame(
        {"sample": fermentation.sample_ids, "glucose": fermentation.references["glucose"]}
    )
    targets_path = tmp_path / "targets.csv"
    targets.to_csv(targets_path, index=False)
    out = tmp_path / "imported.h5"
    code = main(["import", str(spectra_path), "--targets", str(targets_path),
                 "--id-column", "sample", "--target", "glucose", "--out", str(out)])
    assert code == 0
    project = load_project(out)
    assert project.target == "glucose"
    assert project.task == "regression"
    np.testing.assert_allclose(project.dataset.spectra, fermentation.spectra, rtol=1e-9)


def test_bad_input_exits_with_message(tmp_path, capsys):
    broken = tmp_path / "broken.h5"
    broken.write_bytes(b"not a project")
    assert main(["info", str(broken)]) == 2
    error = capsys.readouterr().err
    assert "broken.h5" in error
    assert "Traceback" not in error


def test_inspect_json_error(tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    capsys.readouterr()
    assert main(["inspect", str(empty), "--json"]) != 0
    payload = json.loads(capsys.readouterr().out)
    assert "empty.csv" in payload["error"]


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "specgan_gui.cli", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.startswith("specgan ")


SWEEP = ["--transfer-epochs", "1", "--cv", "kfold", "--folds", "3", "--patience", "1"]


@pytest.fixture(scope="module")
def swept_project(demo_project, tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "swept.h5"
    code = main(["transfer", str(demo_project), "--sweep", "--checkpoints", "1,3",
                 "--repeats", "2", "--head-units", "4", *SWEEP, "--out", str(out)])
    assert code == 0
    return out


def test_transfer_sweep_prints_tables(demo_project, tmp_path, capsys):
    out = tmp_path / "printed.h5"
    capsys.readouterr()
    code = main(["transfer", str(demo_project), "--sweep", "--checkpoints", "2",
                 "--freeze-trunk", "--no-early-stopping", *SWEEP, "--out", str(out)])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    start = lines.index(next(line for line in lines if line.startswith("checkpoint sweep")))
    assert lines[start].startswith("checkpoint sweep (1 checkpoints")
    assert lines[start + 1].split() == ["epoch", "rmsecv", "spread", "epochs", "used", "best"]
    assert lines[start + 2].split()[0] == "2"
    assert lines[start + 2].split()[-1] == "*"
    assert "comparing at the sweep's best epoch, 2" in lines
    header = next(line for line in lines if line.startswith("model "))
    assert header.split()[:5] == ["model", "target", "rmsecv", "spread", "r2"]
    assert "(components, epochs used: medians over the folds)" in lines
    assert "(epochs used: median over the folds)" in lines
    assert any(line.startswith("warning: 21 samples for ") for line in lines)
    verdicts = [line for line in lines if line.startswith("verdict: ")]
    assert len(verdicts) == 1
    assert "GAN transfer" in verdicts[0]
    assert "PLS" in verdicts[0]
    assert "3 folds x 1 repeat" in verdicts[0]


def test_transfer_sweep_stored(swept_project, capsys):
    from specgan_gui.training.comparison import ComparisonResult
    from specgan_gui.training.sweep import SweepResult

    project = load_project(swept_project)
    assert len(project.sweeps) == 1
    sweep = SweepResult.from_record(project.sweeps[0])
    assert sweep.epochs.tolist() == [1, 3]
    assert project.transfer_settings["repeats"] == 2
    assert project.transfer_settings["head_units"] == 4
    result = ComparisonResult.from_record(project.transfer_runs[-1])
    assert result.checkpoint_epoch == sweep.best_epoch
    assert result.repeats == 2
    assert result.fold_errors["GAN transfer"].shape == (2, 3, 1)
    assert result.verdict.startswith(("GAN transfer's fold RMSE", "No evidence"))
    info = _info(swept_project, capsys)
    assert [point["epoch"] for point in info["sweep"]] == [1, 3]
    np.testing.assert_allclose([point["rmsecv"] for point in info["sweep"]], sweep.values)
    assert info["alarms"] == []
    assert info["targets"] == ["glucose"]


def test_info_prints_sweep_and_alarms(swept_project, tmp_path, capsys):
    from specgan_gui.project.store import save_project

    project = load_project(swept_project)
    project.alarms.append({"epoch": 2, "kind": "flat_output",
                           "message": "generated spectra are flat lines"})
    path = tmp_path / "alarmed.h5"
    save_project(project, path)
    capsys.readouterr()
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    start = lines.index("sweep:")
    assert lines[start + 1].split() == ["epoch", "rmsecv"]
    assert lines[start + 2].split()[0] == "1"
    assert lines[start + 3].split()[0] == "3"
    assert "  epoch 2: flat_output: generated spectra are flat lines" in lines
    # Pipelines in the step syntax that --steps takes, not as dicts.
    steps = next(line for line in lines if line.startswith("preprocessing: "))
    assert "{" not in steps
    assert steps.endswith("scale")
    assert "pls_preprocessing: same as preprocessing" in lines
    info = _info(path, capsys)
    assert info["alarms"] == [{"epoch": 2, "kind": "flat_output",
                               "message": "generated spectra are flat lines"}]


@pytest.mark.parametrize("arguments, message", [
    (["--checkpoints", "1"], "--checkpoints chooses the epochs of a sweep; add --sweep"),
    (["--repeats", "0"], "repeats must be an integer from 1 to 100, got 0"),
    (["--target", "ethanol"], "--target 'ethanol' is not a reference column"),
    (["--group", "day"], "group column 'day' is not a reference column"),
    (["--sweep", "--checkpoints", "7"], "No checkpoint at epoch 7"),
    (["--validation-fraction", "0.9"], "validation_fraction must be a number from 0.05"),
])
def test_transfer_bad_input(demo_project, tmp_path, capsys, arguments, message):
    capsys.readouterr()
    code = main(["transfer", str(demo_project), *arguments, *SWEEP,
                 "--out", str(tmp_path / "never.h5")])
    assert code == 2
    error = capsys.readouterr().err
    assert message in error
    assert "Traceback" not in error
    assert not (tmp_path / "never.h5").exists()


def test_transfer_several_targets(demo_project, tmp_path, capsys):
    from specgan_gui.project.store import save_project

    project = load_project(demo_project)
    # The same glucose values in mmol/L (180.156 g/mol): a second numeric column.
    project.dataset.references["glucose_mmol"] = project.dataset.references["glucose"] / 0.180156
    path = tmp_path / "two.h5"
    save_project(project, path)
    capsys.readouterr()
    code = main(["transfer", str(path), "--target", "glucose", "--target", "glucose_mmol",
                 *SWEEP])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    verdicts = [line for line in lines if line.startswith("verdict: ")]
    assert [line.split(":")[1].strip() for line in verdicts] == ["glucose", "glucose_mmol"]
    loaded = load_project(path)
    assert loaded.target == "glucose"
    assert loaded.extra_targets == ["glucose_mmol"]
    assert loaded.info()["targets"] == ["glucose", "glucose_mmol"]
    assert "PLS (glucose_mmol)" in loaded.models
    assert "GAN transfer (glucose_mmol)" in loaded.models


def test_stopped_comparison_keeps_sweep(demo_project, tmp_path, capsys, monkeypatch):
    from specgan_gui import cli
    from specgan_gui.project.store import load_project
    from specgan_gui.training.task import Cancelled

    def stopped_comparison(*args, **kwargs):
        raise Cancelled()

    # Stop where Ctrl+C would land after the sweep: in the comparison.
    monkeypatch.setattr(cli, "_transfer", stopped_comparison)
    out = tmp_path / "stopped.h5"
    before = len(load_project(demo_project).sweeps)
    code = main(["transfer", str(demo_project), "--sweep", "--checkpoints", "2",
                 "--freeze-trunk", "--no-early-stopping", *SWEEP, "--out", str(out)])
    assert code == 130
    assert "saving the finished sweep" in capsys.readouterr().err
    assert len(load_project(out).sweeps) == before + 1


def test_train_prints_alarm_with_remedy(demo_project, tmp_path, capsys):
    out = tmp_path / "exploded.h5"
    capsys.readouterr()
    code = main(["train", str(demo_project), "--epochs", "5", "--generator-lr", "1e38",
                 "--discriminator-lr", "1e38", "--out", str(out)])
    assert code == 2  # a non-finite loss ends the run as an error
    printed = capsys.readouterr().out
    assert "GAN alarm at epoch 4 (non_finite): " in printed
    assert "\n  Try: " in printed
    assert [str(a["kind"]) for a in load_project(out).alarms] == ["non_finite"]
