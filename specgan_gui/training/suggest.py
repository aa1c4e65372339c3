"""Rank standard preprocessing pipelines by cross-validated PLS, to suggest a start.

Every candidate pipeline is scored the same honest way.  An outer
cross-validation (leave-one-out up to 30 samples, else 5-fold, as in the
model comparison) fits the pipeline on each outer training fold.  Inside
it, an inner 5-fold cross-validation on that training fold alone chooses
the number of PLS components.  The outer predictions give
RMSECV (regression) or accuracy (PLS-DA, classification).  Folds, seeds
and the choice of components follow the model comparison
(`specgan_gui.training.comparison`), so a candidate's score is the PLS
result the comparison would report with that pipeline.

Two shortcuts keep a ranking of 100 spectra of 2000 points within seconds
without changing the results:

- Steps at the start of a pipeline that learn nothing from data treat each
  spectrum on its own, so they run once on all spectra; the steps from the
  first data-learning one on are refitted in every outer fold.
- PLS components are built one after another, so one fit with the largest
  number of components gives the predictions of every smaller number too
  (`pls_predictions_by_components`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.cross_decomposition import PLSRegression
from sklearn.model_selection import KFold

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import Cut, Crop, Pipeline, format_steps, parse_steps
from specgan_gui.errors import SettingsError, SpecganError
from specgan_gui.training.comparison import (
    fold_splits,
    left_out_message,
    make_folds,
    missing_target,
    target_values,
)
from specgan_gui.training.task import TaskState
from specgan_gui.training.transfer import TransferSettings

logger = logging.getLogger(__name__)

#: Folds of the inner cross-validation that chooses the PLS components.
INNER_FOLDS = 5


@dataclass(frozen=True)
class Candidate:
    """A pipeline to score: a short name, why it is a candidate, and its steps."""

    name: str
    description: str
    steps: str  # in step text syntax

    def spec(self) -> list[dict]:
        return parse_steps(self.steps)


@dataclass
class Suggestion:
    """The cross-validated score of one candidate pipeline.

    Attributes
    ----------
    name, description, steps
        As in the `Candidate` (``steps`` in step text syntax).
    metric
        ``"rmsecv"`` (regression, lower is better) or ``"accuracy"``
        (classification, higher is better).
    score
        The metric over the outer folds, or None when the candidate failed.
    r2
        Cross-validated R² for regression, else None.
    components
        Median number of PLS components chosen over the outer folds.
    error
        Why the candidate could not be scored (for example a window longer
        than the spectrum), else "".
    """

    name: str
    description: str
    steps: str
    metric: str
    score: float | None = None
    r2: float | None = None
    components: float = 0.0
    error: str = ""
    fold_components: list[int] = field(default_factory=list)

    def spec(self) -> list[dict]:
        return parse_steps(self.steps)

    def to_row(self) -> dict:
        """Return a flat row for tables: pipeline, metric, r2, components, steps, error."""
        row = {"pipeline": self.name, self.metric: self.score}
        if self.metric == "rmsecv":
            row["r2"] = self.r2
        row["components"] = self.components
        row["steps"] = self.steps
        if self.error:
            row["error"] = self.error
        return row


def standard_candidates(windows: Sequence[Sequence[float]] | None = None) -> list[Candidate]:
    """Return the standard pipelines `suggest_pipelines` scores by default.

    Parameters
    ----------
    windows
        Axis windows ``[[low, high], ...]`` known to hold the analyte's
        bands; they add candidates that cut to those windows first.
    """
    candidates = [
        Candidate("raw", "No correction, only the final scaling.", "scale"),
        Candidate("SNV", "Scatter correction by standard normal variate.", "snv,scale"),
        Candidate("MSC", "Scatter correction against the mean training spectrum.",
                  "msc,scale"),
        Candidate("SG1", "Savitzky-Golay first derivative, 15 points, order 2.",
                  "savgol:15:2:1,scale"),
        Candidate("SNV + SG1", "SNV, then the first derivative.", "snv,savgol:15:2:1,scale"),
        Candidate("SG2", "Savitzky-Golay second derivative, 21 points, order 2.",
                  "savgol:21:2:2,scale"),
        Candidate("AsLS + SNV", "Asymmetric least squares baseline, then SNV.",
                  "asls:1e5:0.01,snv,scale"),
    ]
    if windows:
        cut = "cut:" + ":".join(f"{low:g}-{high:g}" for low, high in windows)
        candidates += [
            Candidate("cut + SG1", "The known windows, then the first derivative.",
                      f"{cut},savgol:15:2:1,scale"),
            Candidate("cut + SNV", "The known windows, then SNV.", f"{cut},snv,scale"),
        ]
    return candidates


def windows_of(spec: Sequence[dict]) -> list[list[float]] | None:
    """Return the windows of a pipeline spec's crop or cut step, or None without one."""
    pipeline = Pipeline.from_spec(spec)
    for step in pipeline.steps:
        if isinstance(step, Cut):
            return [list(window) for window in step.windows]
        if isinstance(step, Crop):
            return [[step.low, step.high]]
    return None


def suggest_pipelines(
    dataset: SpectralDataset,
    target: str,
    task: str,
    candidates: Sequence[Candidate] | Mapping[str, str | list[dict]] | None = None,
    max_components: int = 10,
    seed: int = 0,
    task_state: TaskState | None = None,
    windows: Sequence[Sequence[float]] | None = None,
) -> list[Suggestion]:
    """Score candidate pipelines by nested cross-validation with PLS and rank them.

    Parameters
    ----------
    dataset
        Spectra with the reference column `target`.
    task
        ``"regression"`` or ``"classification"``.
    candidates
        `Candidate` objects, or a mapping of name to steps (text syntax or
        spec).  None scores `standard_candidates`.
    max_components
        Largest number of PLS components the inner cross-validation tries.
    seed
        Seed of the outer k-fold split (above 30 samples) and the inner folds.
    task_state
        Receives progress after each candidate; a stop request raises
        `Cancelled` between candidates.
    windows
        Axis windows known to hold the analyte's bands, for the default
        candidates (see `standard_candidates`).

    Returns
    -------
    list[Suggestion]
        Best first: lowest RMSECV or highest accuracy (fewer components
        first on ties); candidates that failed come last with their error.

    Samples without a value in `target` are left out of the scoring, as
    the model comparison leaves them out; the first progress message and
    the log name them.

    Raises
    ------
    DataError
        For a missing target column, a column without any value, or too
        few samples.
    """
    if max_components < 1:
        raise SettingsError(f"max_components must be at least 1, got {max_components}.")
    dataset, left_out = samples_with_target(dataset, target)
    if left_out:
        message = left_out_message(target, left_out)
        logger.info("%s", message)
        if task_state is not None:
            task_state.report(0.0, message)
    measured = target_values(dataset, target, task)
    classification = task == "classification"
    classes = sorted(np.unique(measured).tolist()) if classification else None
    if classification:
        codes = np.searchsorted(np.asarray(classes), measured)
        responses = np.eye(len(classes))[codes]  # one-hot (n, n_classes)
    else:
        codes = None
        responses = np.asarray(measured, dtype=np.float64)[:, np.newaxis]  # (n, 1)
    folds = make_folds(
        dataset.n_samples, TransferSettings(cv="auto", seed=seed),
        measured if classification else None,
    )
    splits = fold_splits(folds)
    scored = _as_candidates(candidates, windows)
    logger.info(
        "scoring %d preprocessing candidates on %d samples, %d outer folds, target %r (%s)",
        len(scored), dataset.n_samples, len(splits), target, task,
    )

    results = []
    for position, candidate in enumerate(scored):
        if task_state is not None:
            task_state.checkpoint()
        suggestion = Suggestion(
            candidate.name, candidate.description, candidate.steps,
            "accuracy" if classification else "rmsecv",
        )
        try:
            predictions, chosen = _cross_validate(
                dataset, candidate, responses, splits, max_components, seed, classification
            )
        except SpecganError as error:
            suggestion.error = str(error)
            logger.info("candidate %s failed: %s", candidate.name, error)
        else:
            suggestion.fold_components = chosen
            suggestion.components = float(np.median(chosen))
            if classification:
                suggestion.score = float(np.mean(np.argmax(predictions, axis=1) == codes))
            else:
                residuals = predictions[:, 0] - responses[:, 0]
                suggestion.score = float(np.sqrt(np.mean(residuals**2)))
                spread = np.sum((responses[:, 0] - responses[:, 0].mean()) ** 2)
                suggestion.r2 = float(1 - np.sum(residuals**2) / spread) if spread else None
            logger.info("candidate %s: %s %.4g with %.1f components", candidate.name,
                        suggestion.metric, suggestion.score, suggestion.components)
        results.append(suggestion)
        if task_state is not None:
            task_state.report((position + 1) / len(scored), f"scored {candidate.name}")
    return _ranked(results, classification)


def samples_with_target(
    dataset: SpectralDataset, target: str
) -> tuple[SpectralDataset, list[str]]:
    """Return the samples that have a `target` value, and the ids of those left out.

    A column without any value is returned whole, so that `target_values`
    reports it; so is a column name the data set does not have.
    """
    if target not in map(str, dataset.references.columns):
        return dataset, []
    missing = missing_target(dataset, target)
    if not missing.any() or missing.all():
        return dataset, []
    left_out = [dataset.sample_ids[i] for i in np.nonzero(missing)[0]]
    return dataset.subset(np.nonzero(~missing)[0]), left_out


def _as_candidates(candidates, windows) -> list[Candidate]:
    if candidates is None:
        return standard_candidates(windows)
    if isinstance(candidates, Mapping):
        result = []
        for name, steps in candidates.items():
            text = steps if isinstance(steps, str) else format_steps(list(steps))
            result.append(Candidate(str(name), "", text))
        return result
    return list(candidates)


def _ranked(results: list[Suggestion], classification: bool) -> list[Suggestion]:
    def key(suggestion: Suggestion):
        if suggestion.score is None:
            return (1, 0.0, 0.0)
        score = -suggestion.score if classification else suggestion.score
        return (0, score, suggestion.components)

    return sorted(results, key=key)


def _cross_validate(
    dataset: SpectralDataset,
    candidate: Candidate,
    responses: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    max_components: int,
    seed: int,
    classification: bool,
) -> tuple[np.ndarray, list[int]]:
    """Return outer-fold PLS predictions ``(n, n_targets)`` and the components per fold."""
    pipeline = Pipeline.from_spec(candidate.spec())
    # Leading steps that learn nothing transform each spectrum alone: run them once.
    split_at = next(
        (i for i, step in enumerate(pipeline.steps) if step.learns_from_data),
        len(pipeline.steps),
    )
    prefix = Pipeline(pipeline.steps[:split_at])
    axis, spectra = prefix.fit_stages(dataset.axis, dataset.spectra)[-1]
    rest = Pipeline(pipeline.steps[split_at:])

    predictions = np.zeros_like(responses)
    chosen = []
    for train, test in splits:
        fold_pipeline = rest.unfitted_copy().fit(axis, spectra[train])
        train_x = fold_pipeline.transform(spectra[train])
        test_x = fold_pipeline.transform(spectra[test])
        components = _inner_components(
            train_x, responses[train], max_components, seed, classification
        )
        path = pls_predictions_by_components(train_x, responses[train], test_x, components)
        predictions[test] = path[-1]
        chosen.append(components)
    return predictions, chosen


def _inner_components(
    spectra: np.ndarray, responses: np.ndarray, max_components: int, seed: int,
    classification: bool,
) -> int:
    """Choose PLS components by shuffled inner k-fold CV on one training fold.

    The folds, the candidates and the criterion (mean RMSE or mean accuracy
    over the inner folds, fewer components on ties) are those of
    `specgan_gui.training.comparison.fit_pls`, so a candidate scores what
    the model comparison would give PLS with that pipeline.
    """
    n_train = spectra.shape[0]
    n_folds = min(INNER_FOLDS, n_train)
    smallest_inner_train = n_train - math.ceil(n_train / n_folds)
    limit = max(1, min(max_components, spectra.shape[1], smallest_inner_train - 1))
    if limit == 1 or n_train < 3:
        return 1
    scores = np.zeros(limit)  # summed over inner folds; higher is better
    for train, test in KFold(n_folds, shuffle=True, random_state=seed).split(spectra):
        path = pls_predictions_by_components(
            spectra[train], responses[train], spectra[test], limit
        )  # (limit, n_test, n_targets)
        if classification:
            right = np.argmax(path, axis=2) == np.argmax(responses[test], axis=1)
            scores += right.mean(axis=1)
        else:
            scores -= np.sqrt(((path - responses[test]) ** 2).mean(axis=(1, 2)))
    # argmax takes the first maximum, so ties go to fewer components.
    return int(np.argmax(scores)) + 1


def pls_predictions_by_components(
    train_spectra: np.ndarray,
    train_responses: np.ndarray,
    test_spectra: np.ndarray,
    max_components: int,
) -> np.ndarray:
    """Return PLS predictions for 1 to `max_components` components from one fit.

    scikit-learn's PLS (NIPALS, ``scale=False``) builds each component from
    the residuals of the ones before, so the first k components of a larger
    fit are the k-component model, whose coefficients are
    ``W_k (P_k' W_k)^-1 Q_k'`` (weights W, x loadings P, y loadings Q).

    Returns
    -------
    numpy.ndarray
        ``(max_components, n_test, n_targets)``.
    """
    responses = np.asarray(train_responses, dtype=np.float64)
    if responses.ndim == 1:
        responses = responses[:, np.newaxis]
    pls = PLSRegression(n_components=max_components, scale=False).fit(train_spectra, responses)
    weights, x_loadings, y_loadings = pls.x_weights_, pls.x_loadings_, pls.y_loadings_
    centred = np.asarray(test_spectra, dtype=np.float64) - pls._x_mean
    path = np.empty((max_components, centred.shape[0], responses.shape[1]))
    for k in range(1, max_components + 1):
        rotations = weights[:, :k] @ np.linalg.pinv(x_loadings[:, :k].T @ weights[:, :k])
        coefficients = rotations @ y_loadings[:, :k].T  # (n_features, n_targets)
        path[k - 1] = centred @ coefficients + pls.intercept_
    return path
