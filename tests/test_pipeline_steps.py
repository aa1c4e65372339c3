"""Every preprocessing step on real spectra: maths, stored state, metadata, warnings."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import savgol_filter

from specgan_gui.data.preprocessing import (
    PRESETS,
    STEP_TYPES,
    Pipeline,
    default_params,
    format_steps,
    make_step,
    parse_steps,
    preset,
    step_info,
    step_kinds,
    validate,
)
from specgan_gui.errors import SettingsError

#: Non-default settings for each kind, on the fermentation axis (428-1833 cm-1).
STEP_CASES = {
    "crop": {"low": 900, "high": 1600},
    "cut": {"windows": [[950, 1550], [1600, 1700]]},
    "resample": {"start": 500, "stop": 1800, "step": 2.5},
    "snv": {},
    "msc": {"reference": "median"},
    "emsc": {"order": 1, "reference": "mean"},
    "smooth": {"window": 11, "polyorder": 3, "mode": "nearest"},
    "savgol": {"window": 15, "polyorder": 2, "deriv": 1},
    "linear-baseline": {},
    "poly-baseline": {"order": 3},
    "asls": {"lam": 1e6, "p": 0.02},
    "arpls": {"lam": 1e5, "ratio": 0.05},
    "airpls": {"lam": 1e5},
    "norm": {"method": "area"},
    "center": {},
    "scale": {},
}


def test_cases_cover_every_kind():
    assert set(STEP_CASES) == set(STEP_TYPES)


@pytest.mark.parametrize("kind", sorted(STEP_CASES))
def test_state_restores_transform_exactly(fermentation, kind):
    train, held_out = fermentation.spectra[:15], fermentation.spectra[15:]
    spec = [{"kind": kind, "params": STEP_CASES[kind]}]
    pipeline = Pipeline.from_spec(spec).fit(fermentation.axis, train)

    # Through JSON and plain arrays, as the project file stores them.
    stored_spec = json.loads(pipeline.to_json())
    stored_state = {key: np.array(value) for key, value in pipeline.fitted_state().items()}
    restored = Pipeline.from_state(stored_spec, stored_state)

    assert restored.is_fitted
    expected = pipeline.transform(held_out)
    np.testing.assert_array_equal(restored.transform(held_out), expected)
    np.testing.assert_array_equal(restored.output_axis, pipeline.output_axis)
    assert expected.shape == (6, pipeline.output_axis.size)
    assert np.isfinite(expected).all()


@pytest.mark.parametrize("kind", ["msc", "emsc", "center", "scale"])
def test_learning_steps_depend_on_training_rows(fermentation, kind):
    spec = [{"kind": kind, "params": STEP_CASES[kind]}]
    first = Pipeline.from_spec(spec).fit(fermentation.axis, fermentation.spectra[:10])
    second = Pipeline.from_spec(spec).fit(fermentation.axis, fermentation.spectra[10:])
    assert first.fitted_state().keys() - {"input_axis"}
    assert not np.allclose(
        first.transform(fermentation.spectra), second.transform(fermentation.spectra)
    )
    assert Pipeline.from_spec(spec).is_fitted is False


@pytest.mark.parametrize("kind", ["snv", "savgol", "asls", "airpls", "norm", "poly-baseline"])
def test_spectrum_wise_steps_ignore_other_spectra(fermentation, kind):
    spec = [{"kind": kind, "params": STEP_CASES[kind]}]
    together = Pipeline.from_spec(spec).fit_transform(fermentation.axis, fermentation.spectra)
    alone = Pipeline.from_spec(spec).fit_transform(fermentation.axis, fermentation.spectra[7:8])
    np.testing.assert_allclose(alone[0], together[7], rtol=1e-10, atol=1e-12)
    assert step_info(kind).learns_from_data is False


def test_snv_rows_have_zero_mean_unit_std(fermentation):
    out = Pipeline.parse("snv").fit_transform(fermentation.axis, fermentation.spectra)
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=1), 1, atol=1e-12)


def test_savgol_matches_scipy(fermentation):
    out = Pipeline.parse("savgol:15:2:1").fit_transform(fermentation.axis, fermentation.spectra)
    expected = savgol_filter(fermentation.spectra, 15, 2, deriv=1, axis=1, mode="interp")
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)


def test_msc_maps_spectra_onto_reference(fermentation):
    train = fermentation.spectra[:15]
    reference = train.mean(axis=0)
    # A spectrum with a known gain and offset comes back as the reference.
    distorted = 1.7 * reference + 0.3
    pipeline = Pipeline.parse("msc").fit(fermentation.axis, train)
    np.testing.assert_allclose(
        pipeline.transform(distorted)[0], reference, rtol=1e-9, atol=1e-12
    )


def test_cut_keeps_points_in_every_window(fermentation):
    pipeline = Pipeline.parse("cut:1600-1700:950-1550").fit(fermentation.axis, fermentation.spectra)
    axis = pipeline.output_axis
    inside = ((axis >= 950) & (axis <= 1550)) | ((axis >= 1600) & (axis <= 1700))
    assert inside.all()
    expected = np.count_nonzero(
        ((fermentation.axis >= 950) & (fermentation.axis <= 1550))
        | ((fermentation.axis >= 1600) & (fermentation.axis <= 1700))
    )
    assert axis.size == expected
    assert np.all(np.diff(axis) > 0)


def test_resample_interpolates_onto_grid(fermentation):
    pipeline = Pipeline.parse("resample:500:1800:2.5").fit(fermentation.axis, fermentation.spectra)
    grid = pipeline.output_axis
    assert grid[0] == 500
    assert grid[-1] == 1800
    assert grid.size == 521
    out = pipeline.transform(fermentation.spectra[:2])
    np.testing.assert_allclose(out[1], np.interp(grid, fermentation.axis, fermentation.spectra[1]))


def test_resample_outside_axis_rejected(fermentation):
    pipeline = Pipeline.parse("resample:300:1800:2")
    with pytest.raises(SettingsError, match="beyond the axis"):
        pipeline.fit(fermentation.axis, fermentation.spectra)


def test_norm_methods(fermentation):
    spectra = fermentation.spectra
    vector = Pipeline.parse("norm:vector").fit_transform(fermentation.axis, spectra)
    np.testing.assert_allclose(np.linalg.norm(vector, axis=1), 1)
    area = Pipeline.parse("norm:area").fit_transform(fermentation.axis, spectra)
    np.testing.assert_allclose(np.abs(area).sum(axis=1), 1)
    minmax = Pipeline.parse("norm:minmax").fit_transform(fermentation.axis, spectra)
    np.testing.assert_allclose(minmax.min(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(minmax.max(axis=1), 1)


def test_center_subtracts_training_mean(fermentation):
    train = fermentation.spectra[:12]
    pipeline = Pipeline.parse("center").fit(fermentation.axis, train)
    np.testing.assert_allclose(
        pipeline.transform(fermentation.spectra[12:]), fermentation.spectra[12:] - train.mean(0)
    )


def test_asls_removes_added_baseline(fermentation):
    x = np.linspace(0, 1, fermentation.n_points)
    drift = 0.5 + 0.8 * x**2  # a smooth background well above the bands
    corrected = Pipeline.parse("asls:1e6:0.01").fit_transform(
        fermentation.axis, fermentation.spectra[:3] + drift
    )
    plain = Pipeline.parse("asls:1e6:0.01").fit_transform(
        fermentation.axis, fermentation.spectra[:3]
    )
    # The drift is gone up to a small part of its size.
    assert np.abs(corrected - plain).max() < 0.05 * np.ptp(drift)


# --- final scaling, display units, axes ---------------------------------------------
def test_before_scale_matches_inverse(fermentation):
    pipeline = Pipeline.parse("cut:950-1550,savgol:15:2:1,scale").fit(
        fermentation.axis, fermentation.spectra
    )
    scaled = pipeline.transform(fermentation.spectra)
    axis, before = pipeline.transform_before_scale(fermentation.spectra)
    np.testing.assert_allclose(pipeline.inverse_scale(scaled), before, atol=1e-15)
    np.testing.assert_array_equal(axis, pipeline.output_axis)
    # Derivative units, not the raw spectrum: values change sign around zero.
    assert before.min() < 0 < before.max()
    assert pipeline.units_label("absorbance") == "first derivative of absorbance (per point)"


def test_units_label_names_treatments(fermentation):
    pipeline = Pipeline.parse("snv,savgol:21:3:2,scale")
    assert pipeline.units_label("absorbance") == (
        "second derivative of absorbance (per point) after SNV"
    )
    assert Pipeline.parse("scale").units_label("absorbance") == "absorbance"
    assert Pipeline.parse("scale").units_label() == "intensity"


def test_without_final_scale_inverse_is_identity(fermentation):
    pipeline = Pipeline.parse("snv").fit(fermentation.axis, fermentation.spectra)
    values = np.array([[-1.0, 0.5]])
    np.testing.assert_array_equal(pipeline.inverse_scale(values), values)
    np.testing.assert_array_equal(
        pipeline.transform_before_scale(fermentation.spectra)[1],
        pipeline.transform(fermentation.spectra),
    )


def test_fit_stages_show_each_step(fermentation):
    pipeline = Pipeline.parse("cut:950-1550,snv,scale")
    stages = pipeline.fit_stages(fermentation.axis, fermentation.spectra)
    assert len(stages) == 4
    np.testing.assert_array_equal(stages[0][1], fermentation.spectra)
    assert stages[1][1].shape[1] == stages[1][0].size < fermentation.n_points
    np.testing.assert_array_equal(stages[-1][1], pipeline.transform(fermentation.spectra))
    later = pipeline.transform_stages(fermentation.spectra)
    for (axis_a, values_a), (axis_b, values_b) in zip(stages, later):
        np.testing.assert_array_equal(axis_a, axis_b)
        np.testing.assert_array_equal(values_a, values_b)


def test_needed_range_follows_leading_range_steps(fermentation):
    cut = Pipeline.parse("cut:950-1100:1400-1550,snv,scale").fit(
        fermentation.axis, fermentation.spectra
    )
    low, high = cut.needed_range()
    assert 950 <= low < 955
    assert 1545 < high <= 1550
    snv_first = Pipeline.parse("snv,cut:950-1550,scale").fit(
        fermentation.axis, fermentation.spectra
    )
    assert snv_first.needed_range() == (428.0, 1833.0)


def test_missing_values_named_before_step(fermentation):
    spectra = fermentation.spectra.copy()
    spectra[3, :5] = np.nan  # below 950 cm-1
    # A cut that drops the missing points lets later steps run.
    out = Pipeline.parse("cut:950-1550,snv,scale").fit_transform(fermentation.axis, spectra)
    assert np.isfinite(out).all()
    with pytest.raises(SettingsError, match=r"SNV step .* in row 3 "):
        Pipeline.parse("snv,scale").fit(fermentation.axis, spectra)
    spectra[5, -3:] = np.inf
    with pytest.raises(SettingsError, match=r"2 spectra \(rows 3, 5\)"):
        Pipeline.parse("snv,scale").fit(fermentation.axis, spectra)


def test_window_longer_than_spectrum_rejected(fermentation):
    pipeline = Pipeline.parse("cut:950-1000,savgol:101:2:1")
    with pytest.raises(SettingsError, match="longer than the spectrum"):
        pipeline.fit(fermentation.axis, fermentation.spectra)


# --- parameters and text syntax -----------------------------------------------------
@pytest.mark.parametrize(
    "spec, message",
    [
        ({"kind": "savgol", "params": {"window": 14}}, "odd"),
        ({"kind": "savgol", "params": {"window": 5, "polyorder": 5}}, "below the window"),
        ({"kind": "savgol", "params": {"window": 9, "polyorder": 1, "deriv": 2}},
         "polynomial order of at least 2"),
        ({"kind": "norm", "params": {"method": "peak"}}, "vector, minmax, area"),
        ({"kind": "asls", "params": {"lam": -1}}, "at least 1"),
        ({"kind": "snv", "params": {"window": 3}}, "no parameter 'window'"),
        ({"kind": "cut", "params": {"windows": []}}, "at least one window"),
        ({"kind": "resample", "params": {"start": 10, "stop": 5, "step": 1}}, "empty"),
        ({"kind": "wavelet", "params": {}}, "Unknown preprocessing step"),
    ],
)
def test_invalid_parameters_rejected(spec, message):
    with pytest.raises(SettingsError, match=message):
        make_step(spec["kind"], spec["params"])


def test_parse_steps_reads_issue_example():
    spec = parse_steps("cut:950-1550, savgol:15:2:1 ,scale")
    assert spec == [
        {"kind": "cut", "params": {"windows": [[950.0, 1550.0]]}},
        {"kind": "savgol", "params": {"window": 15, "polyorder": 2, "deriv": 1,
                                      "mode": "interp"}},
        {"kind": "scale", "params": {}},
    ]


@pytest.mark.parametrize(
    "text",
    [
        "cut:950-1550:1600-1700,savgol:15:2:1,scale",
        "resample:500:1800:2.5,snv,scale",
        "asls:1000000:0.02,smooth:9:2:nearest,norm:area,center,scale",
        "emsc:1:median,poly-baseline:3,arpls:100000:0.05,airpls:1000,scale",
        "crop:-5.5-10,msc:mean,linear-baseline,scale",
    ],
)
def test_text_syntax_round_trips(text):
    spec = parse_steps(text)
    assert parse_steps(format_steps(spec)) == spec
    assert Pipeline.from_spec(spec).describe() == format_steps(spec).replace(",", ", ")


def test_named_parameters_and_defaults():
    spec = parse_steps("savgol:deriv=2:window=21,asls:p=0.05")
    assert spec[0]["params"] == {"window": 21, "polyorder": 2, "deriv": 2, "mode": "interp"}
    assert spec[1]["params"] == {"lam": 1e5, "p": 0.05}


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "empty"),
        ("snv,,scale", "Step 2"),
        ("savgol:15:2:1:interp:9", "takes WINDOW:POLYORDER:DERIV:MODE"),
        ("cut:950", "not a range"),
        ("savgol:fifteen", "must be a number"),
        ("asls:q=1", "no parameter 'q'"),
        ("savgol:14", r"Step 1 \(savgol\): window must be odd"),
    ],
)
def test_bad_text_rejected(text, message):
    with pytest.raises(SettingsError, match=message):
        parse_steps(text)


# --- metadata for the window ---------------------------------------------------------
def test_metadata_describes_every_parameter(fermentation):
    infos = step_kinds()
    assert [info.kind for info in infos] == list(STEP_TYPES)
    for info in infos:
        assert info.label
        assert info.description.endswith(".")
        step_type = STEP_TYPES[info.kind]
        assert step_type.info is info
        for param in info.params:
            assert param.label
            assert len(param.tooltip) > 20, (info.kind, param.name)
            if param.type in ("int", "float") and param.default is not None:
                assert param.minimum is None or param.default >= param.minimum
                assert param.maximum is None or param.default <= param.maximum
            if param.type == "choice":
                assert param.default in [value for value, _ in param.choices]
            if param.type in ("windows",) or param.name in ("start", "stop", "step", "low",
                                                            "high"):
                assert param.unit == "axis units"
            if param.name == "window":
                assert param.unit == "points"
                assert param.odd
        # Defaults filled from the axis build a step that runs on these spectra.
        step = make_step(info.kind, default_params(info.kind, fermentation.axis))
        pipeline = Pipeline([step]).fit(fermentation.axis, fermentation.spectra)
        assert np.isfinite(pipeline.transform(fermentation.spectra)).all()


def test_axis_dependent_defaults_need_axis():
    assert default_params("cut") == {}
    with pytest.raises(SettingsError, match="needs a value"):
        make_step("cut", default_params("cut"))
    assert default_params("cut", np.array([400.0, 401.0, 402.0])) == {
        "windows": [[400.0, 402.0]]
    }


# --- validation ---------------------------------------------------------------------
def test_sound_pipeline_has_no_warnings(fermentation):
    assert validate(parse_steps("cut:950-1550,savgol:15:2:1,scale"), fermentation.axis) == []


@pytest.mark.parametrize(
    "spec, message",
    [
        ([{"kind": "cut", "params": {"windows": [[950, 1000]]}},
          {"kind": "savgol", "params": {"window": 101}}, {"kind": "scale"}],
         "window of 101 points is longer than the spectrum at this step"),
        ([{"kind": "savgol", "params": {"window": 14}}, {"kind": "scale"}], "must be odd"),
        ([{"kind": "smooth", "params": {"window": 5, "polyorder": 5}}, {"kind": "scale"}],
         "must be below the window"),
        ([{"kind": "savgol", "params": {"window": 9, "polyorder": 1, "deriv": 2}},
          {"kind": "scale"}], "needs a polynomial order of at least 2"),
        ([{"kind": "cut", "params": {"windows": [[5000, 6000]]}}, {"kind": "scale"}],
         "lies outside the axis"),
        ([{"kind": "cut", "params": {"windows": [[300, 1000]]}}, {"kind": "scale"}],
         "reaches beyond the axis"),
        ([{"kind": "resample", "params": {"start": 100, "stop": 900, "step": 1}},
          {"kind": "scale"}], "beyond the axis"),
        ([{"kind": "snv"}], "does not end with 'scale'"),
        ([{"kind": "scale"}, {"kind": "snv"}, {"kind": "scale"}], "Keep 'scale' last"),
        ([{"kind": "cut", "params": {"windows": [[950, 1100], [1300, 1500]]}},
          {"kind": "savgol", "params": {}}, {"kind": "scale"}], "spans the joins"),
        ([], "empty"),
    ],
)
def test_validate_warns(fermentation, spec, message):
    warnings = validate(spec, fermentation.axis)
    assert any(message in warning for warning in warnings), warnings


def test_validate_names_step_position(fermentation):
    spec = [{"kind": "snv"}, {"kind": "savgol", "params": {"window": 2001}}, {"kind": "scale"}]
    (warning,) = validate(spec, fermentation.axis)
    assert warning.startswith("Step 2 (Savitzky-Golay derivative): ")


# --- presets --------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_run_and_end_with_scale(coffee, name):
    spec = preset(name)
    assert spec[-1]["kind"] == "scale"
    assert validate(spec, coffee.axis) == []
    out = Pipeline.from_spec(spec).fit_transform(coffee.axis, coffee.spectra)
    assert out.min() == pytest.approx(-1)
    assert out.max() == pytest.approx(1)
    assert len(PRESETS[name].description) > 80


def test_unknown_preset_lists_names():
    with pytest.raises(SettingsError, match="nir-reflectance, atr-ftir, raman"):
        preset("uv-vis")


@pytest.mark.parametrize("mode", ["interp", "nearest", "mirror"])
def test_smooth_matches_chemotools_filter(fermentation, mode):
    from chemotools.smooth import SavitzkyGolayFilter

    out = Pipeline.parse(f"smooth:11:3:{mode}").fit_transform(
        fermentation.axis, fermentation.spectra
    )
    expected = SavitzkyGolayFilter(window_length=11, polyorder=3, mode=mode).fit_transform(
        fermentation.spectra
    )
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
