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
