"""The command line on bad input: it never destroys data, prints one line and exits 2.

Every case here comes from a trial by a new user, run on the fermentation
example written out as the files a lab would have.
"""

from __future__ import annotations

import io
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from specgan_gui.cli import EXIT_BROKEN_PIPE, build_parser, main
from specgan_gui.errors import SettingsError
from specgan_gui.models.gan1d import (
    MAX_PARAMETERS,
    Discriminator,
    GANArchitecture,
    Generator,
    count_parameters,
)
from specgan_gui.project.store import load_project

CROP = ["--crop", "950", "1550"]  # cm-1: 446 of the 1047 points, to keep the GAN small


def _wide(path, sample_ids, dataset) -> None:
    frame = pd.DataFrame(dataset.spectra, columns=[f"{x:g}" for x in dataset.axis])
    frame.insert(0, "sample", sample_ids)
    frame.to_csv(path, index=False)


@pytest.fixture(scope="module")
def lab(fermentation, tmp_path_factory):
    """Spectra and reference tables as a lab exports them; returns (folder, glucose by id)."""
    folder = tmp_path_factory.mktemp("lab")
    ids = [f"s{i + 1:02d}" for i in range(fermentation.n_samples)]
    glucose = fermentation.references["glucose"].to_numpy(dtype=float)
    _wide(folder / "spectra.csv", ids, fermentation)
    pd.DataFrame({"sample": ids, "glucose": glucose}).to_csv(folder / "ref.csv", index=False)
    (folder / "ref_ragged.csv").write_text("sample,glucose\ns01,1\ns02,2,3,4\n")
    (folder / "fake.xlsx").write_text("not an excel workbook\n")

    zero_ids = [f"{i + 1:03d}" for i in range(fermentation.n_samples)]
    _wide(folder / "zeroids.csv", zero_ids, fermentation)
    lines = ["sample,glucose"] + [f"{i},{float(v)!r}" for i, v in zip(zero_ids, glucose)]
    (folder / "ref_zeroids.csv").write_text("\n".join(lines) + "\n")

    text = pd.DataFrame({"sample": ids, "glucose": [repr(float(v)) for v in glucose]})
    text.loc[3, "glucose"] = "n.d."
    text.to_csv(folder / "ref_text.csv", index=False)
    duplicated = pd.DataFrame({"sample": ids + ["s01"], "glucose": list(glucose) + [999.0]})
    duplicated.to_csv(folder / "ref_dup.csv", index=False)
    return folder, dict(zip(ids, glucose))


@pytest.fixture
def imported(lab, tmp_path):
    """A project imported from the lab files, untrained."""
    folder, _ = lab
    path = tmp_path / "p.h5"
    assert main(["import", str(folder / "spectra.csv"), "--targets", str(folder / "ref.csv"),
                 "--id-column", "sample", *CROP, "--out", str(path)]) == 0
    return path


def _error_line(capsys) -> str:
    """Return the one error line of stderr, checking that no traceback came with it."""
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, err
    assert "Traceback" not in err
    return errors[0]


# --- data loss ---------------------------------------------------------------------------
def test_import_out_naming_spectra_rejected(lab, tmp_path, capsys):
    folder, _ = lab
    spectra = tmp_path / "mydata.csv"
    spectra.write_bytes((folder / "spectra.csv").read_bytes())
    before = spectra.read_bytes()
    assert main(["import", str(spectra), "--out", str(spectra)]) == 2
    line = _error_line(capsys)
    assert "--out" in line
    assert "mydata.csv" in line
    assert spectra.read_bytes() == before


def test_import_out_naming_reference_table_rejected(lab, capsys):
    folder, _ = lab
    table = folder / "ref.csv"
    before = table.read_bytes()
    code = main(["import", str(folder / "spectra.csv"), "--targets", str(table),
                 "--id-column", "sample", "--out", str(table)])
    assert code == 2
    assert "reference table" in _error_line(capsys)
    assert table.read_bytes() == before


def test_import_over_project_needs_force(lab, imported, capsys):
    folder, _ = lab
    before = imported.read_bytes()
    capsys.readouterr()
    assert main(["import", str(folder / "spectra.csv"), "--out", str(imported)]) == 2
    assert "--force" in _error_line(capsys)
    assert imported.read_bytes() == before
    assert main(["import", str(folder / "spectra.csv"), "--out", str(imported), "--force"]) == 0
    assert load_project(imported).target is None


# --- one line and status 2, never a traceback ----------------------------------------------
@pytest.mark.parametrize("table, expected", [
    ("ref_ragged.csv", "ref_ragged.csv (line 3)"),
    ("fake.xlsx", "fake.xlsx"),
])
def test_broken_reference_table_named(lab, tmp_path, capsys, table, expected):
    folder, _ = lab
    code = main(["import", str(folder / "spectra.csv"), "--targets", str(folder / table),
                 "--id-column", "sample", "--out", str(tmp_path / "x.h5")])
    assert code == 2
    assert expected in _error_line(capsys)
    assert not (tmp_path / "x.h5").exists()


@pytest.mark.parametrize("option, value", [
    ("--code-length", "0"),
    ("--generator-filters", "0"),
    ("--discriminator-filters", "-3"),
    ("--discriminator-filters", "200000"),
])
def test_invalid_architecture_names_option(imported, capsys, option, value):
    capsys.readouterr()
    assert main(["train", str(imported), "--epochs", "1", option, value]) == 2
    line = _error_line(capsys)
    assert option in line
    assert value in line
    assert load_project(imported).epochs_trained == 0


def test_parameter_count_matches_networks():
    architecture = GANArchitecture(n_points=300, code_length=7, generator_filters=5,
                                   discriminator_filters=9, hidden_units=33)
    counts = architecture.parameter_counts()
    assert counts["generator"] == count_parameters(Generator(architecture))
    assert counts["discriminator"] == count_parameters(Discriminator(architecture))


def test_oversized_network_rejected_before_allocation():
    # 200000 points give a generator Dense layer of 1024 x 50000 x 32 weights.
    with pytest.raises(SettingsError, match="million parameters"):
        GANArchitecture(n_points=200_000)
    assert max(GANArchitecture(n_points=1868).parameter_counts().values()) < MAX_PARAMETERS


def test_broken_pipe_exits_quietly(imported, monkeypatch, capsys):
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["info", str(imported)]) == EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


def test_crop_outside_axis_rejected_at_import(lab, tmp_path, capsys):
    folder, _ = lab
    out = tmp_path / "x.h5"
    code = main(["import", str(folder / "spectra.csv"), "--crop", "5000", "6000",
                 "--out", str(out)])
    assert code == 2
    line = _error_line(capsys)
    assert "428 to 1833" in line  # the axis range, in cm-1
    assert not out.exists()


# --- reference values --------------------------------------------------------------------
def test_zero_padded_ids_joined_without_id_column(lab, fermentation, tmp_path, capsys):
    folder, _ = lab
    out = tmp_path / "z.h5"
    assert main(["import", str(folder / "zeroids.csv"), "--targets",
                 str(folder / "ref_zeroids.csv"), "--out", str(out)]) == 0
    project = load_project(out)
    assert project.dataset.sample_ids[:2] == ["001", "002"]
    assert project.target == "glucose"
    assert project.task == "regression"
    np.testing.assert_allclose(project.dataset.references["glucose"],
                               fermentation.references["glucose"])


def test_id_column_never_the_target(lab, tmp_path):
    folder, _ = lab
    out = tmp_path / "x.h5"
    assert main(["import", str(folder / "spectra.csv"), "--targets", str(folder / "ref.csv"),
                 "--out", str(out)]) == 0
    project = load_project(out)
    assert project.target == "glucose"
    assert "sample" not in project.dataset.references.columns


def test_text_cell_read_as_missing(lab, tmp_path, capsys):
    folder, glucose = lab
    out = tmp_path / "t.h5"
    capsys.readouterr()
    assert main(["import", str(folder / "spectra.csv"), "--targets",
                 str(folder / "ref_text.csv"), "--id-column", "sample", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "s04 ('n.d.')" in err
    project = load_project(out)
    assert project.task == "regression"
    values = project.dataset.references["glucose"]
    assert np.isnan(values[3])
    assert values[0] == pytest.approx(glucose["s01"])


def test_duplicate_reference_ids_reported(lab, tmp_path, capsys):
    folder, _ = lab
    capsys.readouterr()
    assert main(["import", str(folder / "spectra.csv"), "--targets",
                 str(folder / "ref_dup.csv"), "--id-column", "sample",
                 "--out", str(tmp_path / "d.h5")]) == 0
    err = capsys.readouterr().err
    assert "s01" in err
    assert "999" in err


def test_text_target_with_many_classes_rejected(lab, tmp_path, capsys):
    folder, _ = lab
    out = tmp_path / "c.h5"
    capsys.readouterr()
    code = main(["import", str(folder / "spectra.csv"), "--targets", str(folder / "ref.csv"),
                 "--id-column", "sample", "--target", "glucose", "--task", "classification",
                 "--out", str(out)])
    assert code == 0  # asked for explicitly, with a warning
    assert "21 classes for 21 samples" in capsys.readouterr().err


def test_reader_warning_printed_once(lab, tmp_path, capsys):
    folder, _ = lab
    capsys.readouterr()
    assert main(["import", str(folder / "spectra.csv"), "--out", str(tmp_path / "x.h5")]) == 0
    captured = capsys.readouterr()
    assert (captured.out + captured.err).count("does not state the axis unit") == 1


def test_text_regression_target_names_value(fermentation):
    from specgan_gui.errors import DataError
    from specgan_gui.training.comparison import target_values

    dataset = fermentation.subset(range(5))
    dataset.references["origin"] = ["a", "b", "a", "b", "a"]
    with pytest.raises(DataError, match=r"\('a' for sample fermentation-01, 5 such values\)"):
        target_values(dataset, "origin", "regression")


def test_inspect_project_points_to_info(imported, capsys):
    capsys.readouterr()
    assert main(["inspect", str(imported)]) == 2
    assert f"specgan info {imported}" in _error_line(capsys)


# --- options and help --------------------------------------------------------------------
def test_verbose_after_subcommand(imported, capsys):
    assert main(["info", str(imported), "-v"]) == 0


@pytest.mark.parametrize("command, options", [
    ("train", ["--batch-size", "--seed", "--snapshot-interval", "--checkpoint-interval",
               "--max-checkpoints", "--epochs", "--code-length"]),
    ("demo", ["--epochs", "--transfer-learning-rate", "--transfer-batch-size", "--crop"]),
    ("import", ["--task", "--crop", "--target", "--id-column"]),
    ("predict", ["--model", "--csv"]),
])
def test_help_states_defaults(command, options):
    subcommands = next(action for action in build_parser()._actions
                       if hasattr(action, "choices") and isinstance(action.choices, dict))
    helps = {option: action.help or ""
             for action in subcommands.choices[command]._actions
             for option in action.option_strings}
    for option in options:
        assert "default" in helps[option], option


# --- Ctrl+C during demo --------------------------------------------------------------------
def test_demo_interrupt_saves_and_skips(tmp_path):
    out = tmp_path / "demo.h5"
    command = [sys.executable, "-m", "specgan_gui.cli", "demo", "--example", "fermentation",
               "--epochs", "500", *CROP, "--checkpoint-interval", "1", "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    for line in process.stdout:
        if line.startswith("epoch 1/"):
            process.send_signal(signal.SIGINT)
            break
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert "transfer comparison and the prediction were skipped" in err
    project = load_project(out)
    assert 1 <= project.epochs_trained < 500
    assert project.transfer_runs == []
    assert project.predictions == []


def test_out_over_other_project_needs_force(imported, tmp_path, capsys):
    other = tmp_path / "other.h5"
    other.write_bytes(b"a project the user keeps")
    assert main(["preprocess", str(imported), "--pls-steps", "snv", "--out", str(other)]) == 2
    assert "--force" in _error_line(capsys)
    assert other.read_bytes() == b"a project the user keeps"
    assert main(["train", str(imported), "--epochs", "1", "--out", str(other)]) == 2
    assert main(["transfer", str(imported), "--out", str(other)]) == 2
    assert other.read_bytes() == b"a project the user keeps"
    assert main(["preprocess", str(imported), "--pls-steps", "snv", "--out", str(other),
                 "--force"]) == 0
    assert other.read_bytes() != b"a project the user keeps"


def test_pls_pipeline_warns_about_dropped_range(imported, capsys):
    capsys.readouterr()
    assert main(["preprocess", str(imported), "--pls-steps", "snv,savgol:15:2:1"]) == 0
    err = capsys.readouterr().err
    assert "PLS sees the whole axis" in err
    # PLS never feeds the GAN, so its pipeline needs no final scaling.
    assert "does not end with 'scale'" not in err
