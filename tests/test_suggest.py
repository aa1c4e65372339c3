"""Ranking standard pipelines by nested cross-validation with PLS, on real spectra."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest
from sklearn.cross_decomposition import PLSRegression

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import Pipeline, parse_steps
from specgan_gui.training.suggest import (
    Candidate,
    pls_predictions_by_components,
    standard_candidates,
    suggest_pipelines,
    windows_of,
)
from specgan_gui.training.comparison import compare_models
from specgan_gui.training.task import Cancelled, TaskState
from specgan_gui.training.transfer import TransferSettings


def test_one_fit_gives_every_component_count(fermentation):
    spectra = fermentation.spectra
    glucose = fermentation.references["glucose"].to_numpy(dtype=float)
    path = pls_predictions_by_components(spectra[:15], glucose[:15], spectra[15:], 6)
    assert path.shape == (6, 6, 1)
    for k in range(1, 7):
        expected = PLSRegression(k, scale=False).fit(spectra[:15], glucose[:15]).predict(
            spectra[15:]
        )
        np.testing.assert_allclose(path[k - 1, :, 0], np.ravel(expected), rtol=1e-9, atol=1e-9)


def test_one_fit_handles_several_targets(coffee):
    labels = pd.factorize(coffee.references["origin"])[0]
    one_hot = np.eye(labels.max() + 1)[labels]
    path = pls_predictions_by_components(coffee.spectra[::2], one_hot[::2], coffee.spectra[1::2], 4)
    expected = PLSRegression(3, scale=False).fit(coffee.spectra[::2], one_hot[::2]).predict(
        coffee.spectra[1::2]
    )
    np.testing.assert_allclose(path[2], expected, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def fermentation_ranking(fermentation):
    return suggest_pipelines(fermentation, "glucose", "regression", windows=[[950, 1550]])


def test_ranking_puts_known_window_first(fermentation_ranking):
    names = [s.name for s in fermentation_ranking]
    assert set(names) == {c.name for c in standard_candidates([[950, 1550]])}
    scores = [s.score for s in fermentation_ranking]
    assert scores == sorted(scores)
    best = fermentation_ranking[0]
    assert best.name == "cut + SG1"
    assert best.steps == "cut:950-1550,savgol:15:2:1,scale"
    assert best.metric == "rmsecv"
    # Nested CV chooses the components per fold, so it is close to, not equal to,
    # the 1.24 g/L of 4 fixed components.
    assert 1.0 < best.score < 2.5
    assert best.r2 > 0.95
    assert len(best.fold_components) == 21  # leave-one-out up to 30 samples
    raw = next(s for s in fermentation_ranking if s.name == "raw")
    assert raw.score > 4 * best.score
    assert best.spec() == parse_steps(best.steps)


def test_suggestion_rows_for_tables(fermentation_ranking):
    row = fermentation_ranking[0].to_row()
    assert list(row) == ["pipeline", "rmsecv", "r2", "components", "steps"]


def test_classification_ranks_by_accuracy(coffee):
    ranking = suggest_pipelines(
        coffee, "origin", "classification",
        candidates={"raw": "scale", "SNV": "snv,scale", "flat": "cut:0-9,scale"},
        max_components=5,
    )
    assert [s.metric for s in ranking] == ["accuracy"] * 3
    accuracies = [s.score for s in ranking]
    assert accuracies == sorted(accuracies, reverse=True)
    snv = next(s for s in ranking if s.name == "SNV")
    assert snv.score >= 0.95  # PLS-DA after SNV separates the three origins
    assert ranking[-1].name == "flat"  # ten points near the first carry little
    assert ranking[-1].score < snv.score
    assert "r2" not in ranking[0].to_row()


def test_failed_candidate_ranked_last(fermentation):
    ranking = suggest_pipelines(
        fermentation, "glucose", "regression",
        candidates=[
            Candidate("too wide", "A window longer than the cut.",
                      "cut:950-1000,savgol:101:2:1,scale"),
            Candidate("SG1", "", "cut:950-1550,savgol:15:2:1,scale"),
        ],
        max_components=4,
    )
    assert [s.name for s in ranking] == ["SG1", "too wide"]
    assert ranking[1].score is None
    assert "longer than the spectrum" in ranking[1].error
    assert "error" in ranking[1].to_row()


@pytest.mark.parametrize("steps", ["msc,cut:950-1550,savgol:15:2:1,scale",
                                   "cut:950-1550,center,snv,scale"])
def test_score_matches_model_comparison(fermentation, steps):
    # The comparison refits the pipeline in every fold, as its leakage test
    # checks. Equal scores show that the ranking does so too, also for steps
    # that learn from data, and that it chooses the same components.
    (suggestion,) = suggest_pipelines(fermentation, "glucose", "regression",
                                      candidates={"candidate": steps}, max_components=8)
    result = compare_models(fermentation, "glucose", "regression", Pipeline.parse(steps),
                            None, None, TransferSettings(max_pls_components=8),
                            include_networks=False)
    assert suggestion.score == pytest.approx(result.rows[0]["rmsecv"], rel=1e-9)
    assert suggestion.fold_components == result.pls_components.tolist()


def test_classification_matches_model_comparison(coffee):
    (suggestion,) = suggest_pipelines(coffee, "origin", "classification",
                                      candidates={"SG1": "savgol:15:2:1,scale"},
                                      max_components=6, seed=3)
    result = compare_models(coffee, "origin", "classification",
                            Pipeline.parse("savgol:15:2:1,scale"), None, None,
                            TransferSettings(max_pls_components=6, seed=3),
                            include_networks=False)
    assert suggestion.score == result.rows[0]["accuracy"]
    assert suggestion.fold_components == result.pls_components.tolist()


def test_stop_request_cancels(fermentation):
    state = TaskState()
    state.request_stop()
    with pytest.raises(Cancelled):
        suggest_pipelines(fermentation, "glucose", "regression", task_state=state)


def test_progress_reaches_one(fermentation):
    reports = []
    suggest_pipelines(fermentation, "glucose", "regression",
                      candidates={"raw": "scale", "SNV": "snv,scale"}, max_components=3,
                      task_state=TaskState(lambda fraction, message: reports.append(fraction)))
    assert reports == [0.5, 1.0]


def test_windows_of_reads_crop_and_cut():
    assert windows_of(Pipeline.default(crop=(950, 1550)).to_spec()) == [[950.0, 1550.0]]
    assert windows_of(parse_steps("snv,cut:1-2:5-9,scale")) == [[1.0, 2.0], [5.0, 9.0]]
    assert windows_of(parse_steps("snv,scale")) is None


def test_hundred_long_spectra_in_seconds(coffee):
    # 100 spectra of 2000 points: coffee spectra interpolated onto 2000 points,
    # mixed in pairs, with the mixing fraction as the target.
    rng = np.random.default_rng(0)
    axis = np.linspace(coffee.axis.min(), coffee.axis.max(), 2000)
    base = np.array([np.interp(axis, coffee.axis, row) for row in coffee.spectra])
    first, second = rng.integers(0, 60, 100), rng.integers(0, 60, 100)
    fraction = rng.uniform(0, 1, 100)
    origin = coffee.references["origin"].to_numpy()
    # Mix spectra of two different origins so the fraction changes the chemistry.
    a = base[origin == origin[0]].mean(axis=0)
    b = base[origin != origin[0]].mean(axis=0)
    spectra = base[first] * 0.1 + base[second] * 0.1 + np.outer(1 - fraction, a) + np.outer(
        fraction, b
    )
    dataset = SpectralDataset(
        axis=axis, spectra=spectra, axis_unit="index",
        sample_ids=[f"mix-{i}" for i in range(100)],
        references=pd.DataFrame({"fraction": fraction}),
    )
    start = time.perf_counter()
    ranking = suggest_pipelines(dataset, "fraction", "regression")
    seconds = time.perf_counter() - start
    assert len(ranking) == 7
    assert all(s.error == "" for s in ranking)
    assert ranking[0].score < 0.5 * fraction.std()
    # About 2 s on a quiet 2-core machine; the bound leaves room for a loaded one.
    assert seconds < 15


def test_samples_without_target_left_out(fermentation):
    references = fermentation.references.copy()
    references["glucose"] = references["glucose"].astype(float)
    blank = [2, 7, 11]
    references.loc[references.index[blank], "glucose"] = np.nan
    partial = dataclasses.replace(fermentation, references=references)
    kept = np.setdiff1d(np.arange(fermentation.n_samples), blank)
    candidates = {"cut + SG1": "cut:950-1550,savgol:15:2:1,scale", "SNV": "snv,scale"}
    messages = []
    state = TaskState(lambda fraction, message: messages.append(message))

    ranked = suggest_pipelines(partial, "glucose", "regression", candidates, task_state=state)
    expected = suggest_pipelines(fermentation.subset(kept), "glucose", "regression", candidates)

    assert [s.name for s in ranked] == [s.name for s in expected]
    assert [s.score for s in ranked] == [s.score for s in expected]
    assert all(s.error == "" for s in ranked)
    left_out = ", ".join(fermentation.sample_ids[i] for i in blank)
    assert messages[0] == f"3 samples have no 'glucose' value and are left out: {left_out}"
