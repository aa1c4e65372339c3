"""GAN health diagnostics: realism measures per snapshot and alarms on failing runs.

Two parts, both free of Qt and torch:

- `realism_measures` compares generated spectra with the real scaled spectra
  the GAN trains on (both in the [-1, 1] units of the final scaling step).
- `HealthMonitor` watches the per-epoch statistics, the realism measures and
  the run's outcome and raises an `Alarm` when a rule fires.  Each rule
  raises one alarm per episode.  It stays silent while its condition is
  true and raises again only after the condition has cleared and returned.

The thresholds come from calibration runs of the reference architecture with
the default pipeline (scaling to [-1, 1]) and default settings, on one CPU
thread:

- coffee (60 spectra x 1841 points), 300 epochs, whose generated spectra
  looked like the real ones from about epoch 200 on.  It raised no alarm.
- fermentation (21 x 1047), 400 epochs, whose losses went through the usual
  phases but whose generated spectra stayed much noisier than the real ones.
  It raised one alarm, "generator_outpaces_realism", at epoch 290.
- broken runs: generator learning rates from 0.01 to 1 (saturated, noisy
  spectra), code length 200, and a one-unit Dense layer (flat lines).

The comment next to each threshold gives the measured values.
"""

from __future__ import annotations

import logging
import math
import statistics
import warnings
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

# scikit-learn is imported inside the functions that use it, so the window can
# import `Alarm` and `RealismRecord` without loading it.

log = logging.getLogger(__name__)

# --- realism measures ---------------------------------------------------------

#: Column names of `Project.realism` besides "epoch", in plotting order.
REALISM_MEASURES = (
    "mean_distance",
    "std_distance",
    "nearest_neighbour_ratio",
    "classifier_score",
    "diversity",
    "variation",
)

#: Number of spectra generated for each realism evaluation.
REALISM_SAMPLE_COUNT = 64
#: Seed of the noise codes of those spectra, fixed so epochs compare alike.
REALISM_SEED = 20_240_601
#: Principal components the real-vs-generated classifier uses.
CLASSIFIER_COMPONENTS = 5
#: Cross-validation folds of the classifier (fewer when a group is smaller).
CLASSIFIER_FOLDS = 5
#: Shrinkage of QDA's per-class covariances towards the identity (the scores
#: are standardized first), so a collapsed class with no spread still fits.
CLASSIFIER_REGULARIZATION = 0.1


@dataclass(frozen=True)
class RealismRecord:
    """Realism measures (see `realism_measures`) of the snapshot at one epoch."""

    epoch: int
    measures: dict[str, float]


def realism_measures(real: np.ndarray, generated: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Compare generated spectra with real ones; return one float per measure.

    Both arrays are ``(n_spectra, n_points)`` in the same units (the scaled
    units the GAN trains on).  Distances are RMS over points, so they do not
    grow with the spectrum length.

    - ``mean_distance``, ``std_distance``: RMS difference between the real and
      generated mean spectra, and between their standard-deviation spectra.
      0 is a perfect match.
    - ``nearest_neighbour_ratio``: mean distance from each generated spectrum
      to its nearest real one, over the mean distance from each real spectrum
      to its nearest other real one (leave-self-out).  It is about 1 when
      generated spectra lie among the real ones as closely as real ones lie
      among each other.  It is well above 1 when they are far away, and near
      0 when they copy real spectra.
    - ``classifier_score``: cross-validated balanced accuracy of a quadratic
      classifier on principal component scores that separates real from
      generated spectra (see `classifier_score`).  0.5 means indistinguishable, 1 means every
      spectrum is told apart.
    - ``diversity``: mean pairwise distance among generated spectra over the
      same among real ones.  Near 0 when every generated spectrum is alike.
    - ``variation``: mean standard deviation along the axis of each generated
      spectrum over the same for the real ones.  Near 0 for flat lines.

    Raises
    ------
    ValueError
        If the arrays are not 2-D with equal point counts, hold fewer than two
        spectra each, or contain NaN or infinite values.
    """
    real = _checked_matrix("real", real)
    generated = _checked_matrix("generated", generated)
    # One BLAS thread: these matrices are small, and on a loaded 2-core machine
    # OpenBLAS threads waiting for each other made one evaluation take seconds
    # instead of tens of milliseconds.
    with threadpool_limits(limits=1, user_api="blas"):
        return _realism_measures(real, generated, seed)


def _realism_measures(real: np.ndarray, generated: np.ndarray, seed: int) -> dict[str, float]:
    from sklearn.metrics import pairwise_distances

    if real.shape[1] != generated.shape[1]:
        raise ValueError(
            f"real spectra have {real.shape[1]} points but generated ones have "
            f"{generated.shape[1]}; compare spectra on the same axis."
        )
    n_points = real.shape[1]
    scale = math.sqrt(n_points)  # Euclidean distance / sqrt(points) = RMS difference

    mean_distance = _rms(real.mean(axis=0) - generated.mean(axis=0))
    std_distance = _rms(real.std(axis=0) - generated.std(axis=0))

    real_to_real = pairwise_distances(real) / scale
    np.fill_diagonal(real_to_real, np.inf)
    real_nearest = float(real_to_real.min(axis=1).mean())
    generated_nearest = float((pairwise_distances(generated, real) / scale).min(axis=1).mean())

    generated_to_generated = pairwise_distances(generated) / scale
    np.fill_diagonal(real_to_real, 0.0)
    real_spread = _mean_off_diagonal(real_to_real)
    generated_spread = _mean_off_diagonal(generated_to_generated)

    real_variation = float(real.std(axis=1).mean())
    generated_variation = float(generated.std(axis=1).mean())

    return {
        "mean_distance": mean_distance,
        "std_distance": std_distance,
        "nearest_neighbour_ratio": _ratio(generated_nearest, real_nearest),
        "classifier_score": classifier_score(real, generated, seed),
        "diversity": _ratio(generated_spread, real_spread),
        "variation": _ratio(generated_variation, real_variation),
    }


def classifier_score(real: np.ndarray, generated: np.ndarray, seed: int = 0) -> float:
    """Return the cross-validated balanced accuracy of telling real from generated.

    The classifier is quadratic discriminant analysis on the first
    `CLASSIFIER_COMPONENTS` standardized principal component scores,
    evaluated by stratified k-fold cross-validation (k is `CLASSIFIER_FOLDS`,
    or the smaller group's size when that is smaller).  A quadratic boundary
    is needed because a poor generator often spreads noisy spectra around
    the tight cluster of real ones, which no straight boundary separates: on
    a fermentation run at epoch 300 logistic regression scored 0.43 and QDA
    0.98.  The principal components are fitted once on all spectra pooled:
    PCA uses no labels, so no label leaks into the test folds.  Balanced
    accuracy keeps 0.5 as the no-skill level even when the groups differ in
    size.  Small groups scatter around it: random halves of the 21
    fermentation spectra scored 0.32 to 0.52.
    """
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    spectra = np.vstack([real, generated])
    labels = np.r_[np.ones(len(real), dtype=int), np.zeros(len(generated), dtype=int)]
    folds = min(CLASSIFIER_FOLDS, len(real), len(generated))
    if folds < 2:
        raise ValueError("the classifier score needs at least two real and two generated spectra")
    scores = _principal_scores(spectra, CLASSIFIER_COMPONENTS)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    predicted = np.empty_like(labels)
    for train, test in splitter.split(scores, labels):
        model = make_pipeline(
            StandardScaler(), QuadraticDiscriminantAnalysis(reg_param=CLASSIFIER_REGULARIZATION)
        )
        with warnings.catch_warnings():
            # Collapsed generators give (nearly) singular covariances, which the
            # regularization handles; sklearn still warns about collinearity.
            warnings.simplefilter("ignore", UserWarning)
            model.fit(scores[train], labels[train])
            predicted[test] = model.predict(scores[test])
    # Balanced accuracy over the pooled out-of-fold predictions.
    recalls = [np.mean(predicted[labels == label] == label) for label in (0, 1)]
    return float(np.mean(recalls))


def _principal_scores(spectra: np.ndarray, components: int) -> np.ndarray:
    """Return the first principal component scores of the rows of `spectra`.

    The scores come from the eigenvectors of the centred Gram matrix
    (spectra x spectra), which is much smaller than the covariance matrix
    when spectra have more points than there are spectra.
    """
    centred = spectra - spectra.mean(axis=0)
    gram = centred @ centred.T
    eigenvalues, eigenvectors = np.linalg.eigh(gram)  # ascending order
    keep = min(components, spectra.shape[0] - 1)
    eigenvalues = np.clip(eigenvalues[::-1][:keep], 0.0, None)
    return eigenvectors[:, ::-1][:, :keep] * np.sqrt(eigenvalues)


def _checked_matrix(name: str, spectra) -> np.ndarray:
    array = np.asarray(spectra, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] < 2:
        raise ValueError(
            f"{name} spectra must be a (spectra, points) matrix with at least 2 spectra, "
            f"got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} spectra contain NaN or infinite values")
    return array


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values))))


def _mean_off_diagonal(distances: np.ndarray) -> float:
    n = distances.shape[0]
    return float((distances.sum() - np.trace(distances)) / (n * (n - 1)))


def _standard_deviation(values) -> float:
    """Return the population standard deviation (`statistics.pstdev` is exact but slow)."""
    mean = sum(values) / len(values)
    return math.sqrt(sum((value - mean) ** 2 for value in values) / len(values))


def _ratio(value: float, reference: float) -> float:
    """Return value / reference; a zero reference (identical real spectra) gives inf or 1."""
    if reference > 0:
        return value / reference
    return 1.0 if value == 0 else math.inf


# --- alarms --------------------------------------------------------------------

#: Every alarm kind that `HealthMonitor` raises.
ALARM_KINDS = (
    "collapse",
    "discriminator_wins",
    "gradient_norm",
    "unstable_discriminator",
    "generator_outpaces_realism",
    "non_finite",
)

#: Settings to try for each alarm kind, named as the GAN training page names them.
REMEDIES = {
    "collapse": (
        "Reset and start a new run with code length 100 (a code of 200 collapsed to one "
        "flat line in the reference design) and a lower generator learning rate, for "
        "example 0.0001."
    ),
    "discriminator_wins": (
        "Lower the discriminator learning rate (for example to 0.0001) or keep 1 "
        "discriminator step per generator step; check that the code length is 100."
    ),
    "gradient_norm": (
        "Lower both learning rates, for example to 0.0001, and continue from the "
        "last checkpoint or start a new run."
    ),
    "unstable_discriminator": (
        "Widen the discriminator's first layer to 128 filters, use 2 discriminator "
        "steps per generator step, or lower the learning rates."
    ),
    "generator_outpaces_realism": (
        "Strengthen the discriminator: 2 discriminator steps per generator step or 128 "
        "discriminator filters; or lower the generator learning rate."
    ),
    "non_finite": (
        "Lower both learning rates, for example to 0.0001, and start a new run or "
        "continue from the kept checkpoint."
    ),
}

# Thresholds.  The values quoted below come from the calibration runs that
# the module docstring lists.  The loss statistics of both the coffee and the
# fermentation run count as healthy, because both went through the usual
# phases without instability.

#: Discriminator loss counted as "near zero".  Binary cross-entropy 0.05 means
#: the discriminator gives real spectra about 0.95 and generated ones 0.05.
DISCRIMINATOR_LOSS_NEAR_ZERO = 0.05
#: Consecutive epochs below that loss before the alarm.  The discriminator
#: wins early in healthy runs too: the longest spans below 0.05 were 34
#: epochs (coffee) and 41 (fermentation) before the generator caught up.
DISCRIMINATOR_WINS_EPOCHS = 100

#: Gradient norm limit, from the reference design's observation that norms
#: above about 100 went with failing runs.
GRADIENT_NORM_LIMIT = 100.0
#: Epochs whose median gradient norm (the larger of the two networks) is
#: compared with the limit.  Single epochs of healthy runs exceeded 100 (13
#: epochs of coffee after epoch 198, up to 111 in fermentation), but their
#: 20-epoch medians stayed at most 74 (coffee) and 60 (fermentation).
GRADIENT_NORM_EPOCHS = 20
#: A gradient-norm episode ends once the median stays at or below this for
#: `CLEAR_AFTER_EPOCHS` epochs.  Without this margin, a coffee run at the
#: reference size whose median hovered at 100 to 104 raised the same alarm
#: three times between epochs 1060 and 1384.
GRADIENT_NORM_CLEAR = 80.0

#: A spike is an epoch whose discriminator loss exceeds this many times the
#: median of the previous `SPIKE_BASELINE_EPOCHS` epochs, and exceeds that
#: median by `SPIKE_MIN_RISE` too (so tiny losses doubling are no spike).
#: The short baseline counts a lasting change of level, such as the jump
#: from 0.01 to 0.5 when the generator catches up, as a few spikes only.
SPIKE_FACTOR = 4.0
SPIKE_MIN_RISE = 0.3
SPIKE_BASELINE_EPOCHS = 10
#: Spikes within `SPIKE_WINDOW_EPOCHS` epochs that raise the alarm, about
#: twice what healthy runs reached: at most 6 (coffee) and 7 (fermentation).
SPIKE_WINDOW_EPOCHS = 100
SPIKE_COUNT = 15
#: Epochs over which the discriminator loss's standard deviation is taken.
LOSS_SPREAD_EPOCHS = 50
#: That standard deviation which raises the alarm on its own.  Healthy runs
#: reached at most 0.48 (coffee) and 0.41 (fermentation).
DISCRIMINATOR_LOSS_STD_LIMIT = 0.7

#: Epochs over which the generator loss must have fallen while realism did not
#: improve.
OUTPACE_EPOCHS = 100
#: Relative fall of the generator loss (mean of the last 20 epochs against the
#: first 20 of the span) counted as "falling steadily".
OUTPACE_LOSS_FALL = 0.25
#: Relative fall of the nearest-neighbour ratio within the span that counts
#: as "realism improved".  While the healthy coffee run's generator loss fell
#: from 7.1 to 1.3 (epochs 30 to 150), the ratio fell from 116 to 31.  Its
#: classifier score stayed between 0.94 and 1.0 even once the spectra looked
#: real, so the classifier score alone cannot show progress.
REALISM_IMPROVEMENT = 0.10
#: Classifier score below which the rule stays silent: the generated spectra
#: are then hard to tell from real ones whatever the losses do.
POOR_CLASSIFIER_SCORE = 0.9

#: Collapse: generated spectra vary along the axis less than this fraction
#: of the real ones' variation (a flat line), or differ among themselves
#: less than this fraction of the real spread (all alike).  The lowest values
#: of the calibration runs were 0.67 (variation) and 1.1 (diversity) for
#: coffee, 3.5 and 23 for fermentation.  Random halves of the real spectra
#: reached 0.48 at the lowest (diversity, fermentation).  The flat lines of
#: the one-unit Dense layer scored 0.03 to 0.05.
COLLAPSE_RATIO = 0.1

#: Observations without the condition after which an episode ends, so a rule
#: that flickers around its threshold raises one alarm and not one per flicker.
CLEAR_AFTER_EPOCHS = 20
CLEAR_AFTER_SNAPSHOTS = 3


@dataclass(frozen=True)
class Alarm:
    """One GAN health alarm: the first epoch of an episode and what to change."""

    epoch: int
    kind: str
    message: str
    remedy: str

    def to_tree(self) -> dict:
        """Return the alarm as a project tree (see `Project.alarms`)."""
        return {"epoch": int(self.epoch), "kind": self.kind, "message": self.message,
                "remedy": self.remedy}

    @classmethod
    def from_tree(cls, tree: Mapping) -> Alarm:
        """Build an alarm from a stored tree; a missing remedy is looked up by kind."""
        kind = str(tree["kind"])
        return cls(
            epoch=int(tree["epoch"]),
            kind=kind,
            message=str(tree["message"]),
            remedy=str(tree.get("remedy", REMEDIES.get(kind, ""))),
        )


class _Episode:
    """On/off state of one rule with the count of quiet observations."""

    def __init__(self, clear_after: int):
        self.clear_after = clear_after
        self.active = False
        self.quiet = 0

    def update(self, condition: bool, holding: bool | None = None) -> bool:
        """Record one observation; return True when a new episode starts.

        `condition` starts an episode.  An active episode ends after
        `clear_after` observations in a row without `holding` (which is
        `condition` unless given), so a rule that needs a long span to fire
        can keep its episode through short breaks.
        """
        holding = condition if holding is None else holding
        if condition and not self.active:
            self.active = True
            self.quiet = 0
            return True
        if not self.active:
            return False
        if holding or condition:
            self.quiet = 0
        else:
            self.quiet += 1
            if self.quiet >= self.clear_after:
                self.active = False
        return False


class HealthMonitor:
    """Apply the alarm rules to a run's epochs, realism rows and outcome.

    Feed it every epoch in order (`observe_epoch`), every realism row
    (`observe_realism`) and the final `TrainingOutcome` (`observe_outcome`).
    Each call returns the alarms it raised, usually none.  To continue a
    stored run without raising its alarms again, build the monitor with
    `replay`, which feeds the stored history and realism rows silently.
    """

    def __init__(self) -> None:
        self._episodes = {
            "collapse": _Episode(CLEAR_AFTER_SNAPSHOTS),
            "discriminator_wins": _Episode(CLEAR_AFTER_EPOCHS),
            "gradient_norm": _Episode(CLEAR_AFTER_EPOCHS),
            "unstable_discriminator": _Episode(CLEAR_AFTER_EPOCHS),
            "generator_outpaces_realism": _Episode(CLEAR_AFTER_SNAPSHOTS),
        }
        self._last_epoch = 0
        self._winning_streak = 0
        self._gradient_norms: deque[float] = deque(maxlen=GRADIENT_NORM_EPOCHS)
        self._discriminator_losses: deque[float] = deque(maxlen=LOSS_SPREAD_EPOCHS)
        self._spike_baseline: deque[float] = deque(maxlen=SPIKE_BASELINE_EPOCHS)
        self._spike_epochs: deque[int] = deque()
        self._generator_losses: deque[tuple[int, float]] = deque()
        self._realism_rows: deque[tuple[int, dict[str, float]]] = deque()

    @classmethod
    def replay(cls, history: Mapping[str, np.ndarray],
               realism: Mapping[str, np.ndarray]) -> HealthMonitor:
        """Return a monitor that has seen a stored run, without raising its alarms.

        `history` and `realism` are `Project.history` and `Project.realism`.
        Realism rows are fed after the epoch they belong to.
        """
        monitor = cls()
        # Python lists: indexing them is much faster than indexing arrays.
        columns = {name: np.asarray(column, dtype=np.float64).tolist()
                   for name, column in history.items()}
        realism_columns = {name: np.asarray(column, dtype=np.float64).tolist()
                           for name, column in realism.items()}
        epochs = columns.get("epoch", [])
        realism_epochs = realism_columns.pop("epoch", [])
        next_row = 0
        for index, epoch in enumerate(epochs):
            monitor.observe_epoch({name: column[index] for name, column in columns.items()})
            while next_row < len(realism_epochs) and realism_epochs[next_row] <= epoch:
                monitor.observe_realism(int(realism_epochs[next_row]), {
                    name: column[next_row] for name, column in realism_columns.items()})
                next_row += 1
        return monitor

    # --- per epoch --------------------------------------------------------------
    def observe_epoch(self, stats) -> list[Alarm]:
        """Check one epoch's statistics (an `EpochStats` or a history row dict)."""
        values = stats if isinstance(stats, Mapping) else stats.to_dict()
        epoch = int(values["epoch"])
        discriminator_loss = float(values["discriminator_loss"])
        generator_loss = float(values["generator_loss"])
        gradient_norm = max(float(values["discriminator_grad_norm"]),
                            float(values["generator_grad_norm"]))
        self._last_epoch = epoch
        alarms = []

        if discriminator_loss < DISCRIMINATOR_LOSS_NEAR_ZERO:
            self._winning_streak += 1
        else:
            self._winning_streak = 0
        if self._raise("discriminator_wins", self._winning_streak >= DISCRIMINATOR_WINS_EPOCHS,
                       holding=self._winning_streak > 0):
            alarms.append(self._alarm(
                epoch, "discriminator_wins",
                f"The discriminator loss has stayed below {DISCRIMINATOR_LOSS_NEAR_ZERO} for "
                f"{self._winning_streak} epochs: the discriminator tells every generated "
                "spectrum apart, so the generator gets little to learn from."))

        self._gradient_norms.append(gradient_norm)
        median_norm = statistics.median(self._gradient_norms)
        sustained = (len(self._gradient_norms) == GRADIENT_NORM_EPOCHS
                     and median_norm > GRADIENT_NORM_LIMIT)
        still_high = (len(self._gradient_norms) == GRADIENT_NORM_EPOCHS
                      and median_norm > GRADIENT_NORM_CLEAR)
        if self._raise("gradient_norm", sustained, holding=still_high):
            alarms.append(self._alarm(
                epoch, "gradient_norm",
                f"The median gradient norm of the last {GRADIENT_NORM_EPOCHS} epochs is "
                f"{median_norm:.0f}, above {GRADIENT_NORM_LIMIT:.0f}: the updates are too "
                "large for stable training."))

        alarms.extend(self._check_discriminator_loss(epoch, discriminator_loss))
        self._generator_losses.append((epoch, generator_loss))
        while self._generator_losses[0][0] <= epoch - OUTPACE_EPOCHS:
            self._generator_losses.popleft()
        return alarms

    def _check_discriminator_loss(self, epoch: int, loss: float) -> list[Alarm]:
        # Pure-Python statistics: these windows are short, and replaying a
        # 10 000-epoch history with NumPy calls per epoch took seconds.
        baseline = self._spike_baseline
        if len(baseline) >= SPIKE_BASELINE_EPOCHS // 2:
            median = statistics.median(baseline)
            if loss > SPIKE_FACTOR * median and loss > median + SPIKE_MIN_RISE:
                self._spike_epochs.append(epoch)
        while self._spike_epochs and self._spike_epochs[0] <= epoch - SPIKE_WINDOW_EPOCHS:
            self._spike_epochs.popleft()
        baseline.append(loss)
        losses = self._discriminator_losses
        losses.append(loss)
        spread = _standard_deviation(losses) if len(losses) == LOSS_SPREAD_EPOCHS else 0.0
        spikes = len(self._spike_epochs)
        unstable = spikes >= SPIKE_COUNT or spread > DISCRIMINATOR_LOSS_STD_LIMIT
        if not self._raise("unstable_discriminator", unstable):
            return []
        # Name only what fired: "0 spikes" beside a huge spread read as a contradiction.
        reasons = []
        if spikes >= SPIKE_COUNT:
            reasons.append(f"{spikes} spikes in the last {SPIKE_WINDOW_EPOCHS} epochs")
        if spread > DISCRIMINATOR_LOSS_STD_LIMIT:
            reasons.append(f"a standard deviation of {spread:.3g} over the last "
                           f"{LOSS_SPREAD_EPOCHS} epochs (above {DISCRIMINATOR_LOSS_STD_LIMIT:g})")
        return [self._alarm(
            epoch, "unstable_discriminator",
            f"The discriminator loss is unstable: {' and '.join(reasons)}.")]

    # --- per snapshot -------------------------------------------------------------
    def observe_realism(self, epoch: int, measures: Mapping[str, float]) -> list[Alarm]:
        """Check the realism measures of the snapshot at `epoch`."""
        alarms = []
        variation = float(measures["variation"])
        diversity = float(measures["diversity"])
        flat = variation < COLLAPSE_RATIO
        alike = diversity < COLLAPSE_RATIO
        if self._raise("collapse", flat or alike):
            if flat:
                detail = (f"flat: they vary along the axis {variation:.2f} times as much as "
                          "the real spectra, close to a horizontal line")
            else:
                detail = (f"nearly identical: they differ from each other {diversity:.2f} "
                          "times as much as the real spectra do")
            alarms.append(self._alarm(
                epoch, "collapse", f"The generator collapsed at epoch {epoch}: the generated "
                f"spectra are {detail}."))

        self._realism_rows.append((epoch, dict(measures)))
        while self._realism_rows[0][0] <= epoch - OUTPACE_EPOCHS:
            self._realism_rows.popleft()
        if self._raise("generator_outpaces_realism", self._generator_outpaces_realism()):
            first_epoch = self._realism_rows[0][0]
            alarms.append(self._alarm(
                epoch, "generator_outpaces_realism",
                f"The generator loss fell steadily since epoch {first_epoch} but the "
                f"generated spectra came no closer to the real ones (nearest-neighbour "
                f"ratio {float(measures['nearest_neighbour_ratio']):.2f}, classifier "
                f"score {float(measures['classifier_score']):.2f}): the generator may be "
                "fooling a weak discriminator."))
        return alarms

    def _generator_outpaces_realism(self) -> bool:
        losses = self._generator_losses
        rows = self._realism_rows
        # The span must be covered: losses over the whole window and at least
        # 5 realism rows spread over half of it.
        if not losses or losses[-1][0] - losses[0][0] < OUTPACE_EPOCHS - 1 or len(rows) < 5:
            return False
        if rows[-1][0] - rows[0][0] < OUTPACE_EPOCHS // 2:
            return False
        values = np.array([loss for _, loss in losses])
        start, end = float(values[:20].mean()), float(values[-20:].mean())
        falling = start > 0 and (start - end) / start >= OUTPACE_LOSS_FALL
        ratios = np.array([row["nearest_neighbour_ratio"] for _, row in rows])
        improved = ratios[1:].min() < (1 - REALISM_IMPROVEMENT) * ratios[0]
        poor = rows[-1][1]["classifier_score"] >= POOR_CLASSIFIER_SCORE
        return bool(falling and poor and not improved)

    # --- at the end ---------------------------------------------------------------
    def observe_outcome(self, outcome, last_checkpoint_epoch: int | None) -> list[Alarm]:
        """Raise the non-finite alarm when training stopped on a NaN or infinite value.

        `outcome` is the `TrainingOutcome`.  The trainer stops on a NaN or
        infinite loss or gradient norm and names it in ``outcome.reason``,
        which then starts with "non-finite".
        """
        if not outcome.reason.startswith("non-finite"):
            return []
        epoch = int(outcome.epochs_completed) + 1
        if last_checkpoint_epoch is None:
            kept = "no epoch was completed, so no checkpoint was stored"
        else:
            kept = f"the last good checkpoint (epoch {last_checkpoint_epoch}) was kept"
        return [self._alarm(
            epoch, "non_finite",
            f"Training stopped at epoch {epoch} because a loss or gradient became NaN or "
            f"infinite; {kept}.")]

    # --- helpers ------------------------------------------------------------------
    def _raise(self, kind: str, condition: bool, holding: bool | None = None) -> bool:
        return self._episodes[kind].update(bool(condition), holding)

    @staticmethod
    def _alarm(epoch: int, kind: str, message: str) -> Alarm:
        # Info, not warning: the callers show alarms themselves (the window's
        # alarm panel, `specgan train`'s output), with the remedy.
        log.info("GAN alarm at epoch %d (%s): %s", epoch, kind, message)
        return Alarm(epoch=epoch, kind=kind, message=message, remedy=REMEDIES[kind])
