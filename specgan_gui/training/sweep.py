"""Checkpoint sweep: cross-validated error of GAN transfer against GAN epoch.

Early GAN checkpoints can transfer better than late ones, so the sweep
fine-tunes the transfer network from each checkpoint on the same folds and
records the cross-validated metric per epoch.  PLS and the network from
scratch do not depend on the checkpoint and are left out; the comparison at
the chosen epoch (`compare_models`) evaluates them.

For several regression targets the sweep's metric is the RMSECV of the
first target, because a single curve is needed to choose one epoch.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import SettingsError
from specgan_gui.models.gan1d import GANArchitecture
from specgan_gui.training.comparison import (
    _checked_architecture,
    _cross_validate,
    _FoldData,
    _Progress,
    plan_cross_validation,
)
from specgan_gui.training.device import resolve_device
from specgan_gui.training.task import TaskState
from specgan_gui.training.transfer import TransferSettings, build_network

if TYPE_CHECKING:
    from specgan_gui.training.gan_trainer import Checkpoint

logger = logging.getLogger(__name__)

METRICS = ("rmsecv", "accuracy")


@dataclass
class SweepResult:
    """Cross-validated metric of GAN transfer per checkpoint epoch.

    Attributes
    ----------
    epochs
        Checkpoint epochs, ascending, int64 ``(k,)``.
    metric
        ``"rmsecv"`` (regression: RMSECV of the first target) or
        ``"accuracy"`` (classification).
    values
        Mean of the metric over repeats, float64 ``(k,)``.
    spread
        Standard deviation of the metric over repeats, float64 ``(k,)``;
        zeros for one repeat.
    targets
        Reference columns predicted; the metric belongs to the first.
    settings
        `TransferSettings.to_dict()` of the sweep.
    created
        ISO time of the sweep.
    epochs_used
        Median over repeats and folds of the epochs each fit kept (early
        stopping's best epoch, else the maximum), float64 ``(k,)``.
    """

    epochs: np.ndarray
    metric: str
    values: np.ndarray
    spread: np.ndarray
    targets: list[str]
    settings: dict
    created: str = field(default_factory=lambda: datetime.now().isoformat(timespec="seconds"))
    epochs_used: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise ValueError(f"sweep metric must be one of {METRICS}, got {self.metric!r}")
        self.epochs = np.asarray(self.epochs, dtype=np.int64)
        self.values = np.asarray(self.values, dtype=np.float64)
        self.spread = np.asarray(self.spread, dtype=np.float64)
        if self.epochs_used.size == 0:
            self.epochs_used = np.full(self.epochs.shape, np.nan)
        self.epochs_used = np.asarray(self.epochs_used, dtype=np.float64)

    @property
    def best_epoch(self) -> int:
        """Epoch of the lowest RMSECV or highest accuracy (the earliest on ties)."""
        if self.epochs.size == 0:
            raise ValueError("an empty sweep has no best epoch")
        scores = -self.values if self.metric == "accuracy" else self.values
        return int(self.epochs[int(np.nanargmin(scores))])

    def to_record(self) -> dict:
        """Return the sweep as a Tree (no lists, no None)."""
        return {
            "metric": self.metric,
            "epochs": np.asarray(self.epochs, dtype=np.int64),
            "values": np.asarray(self.values, dtype=np.float64),
            "spread": np.asarray(self.spread, dtype=np.float64),
            "epochs_used": np.asarray(self.epochs_used, dtype=np.float64),
            "targets": np.asarray(self.targets, dtype=str),
            "settings_json": json.dumps(self.settings),
            "created": self.created,
        }

    @classmethod
    def from_record(cls, record: dict) -> SweepResult:
        """Rebuild a sweep from `to_record` output; optional keys get defaults."""
        epochs = np.asarray(record["epochs"], dtype=np.int64)
        values = np.asarray(record["values"], dtype=np.float64)
        return cls(
            epochs=epochs,
            metric=_text(record["metric"]),
            values=values,
            spread=np.asarray(record.get("spread", np.zeros_like(values)), dtype=np.float64),
            targets=[str(t) for t in np.asarray(record.get("targets", np.array([], str)))
                     .astype(str).ravel()],
            settings=json.loads(_text(record.get("settings_json", "{}"))),
            created=_text(record.get("created", "")),
            epochs_used=np.asarray(
                record.get("epochs_used", np.full(epochs.shape, np.nan)), dtype=np.float64
            ),
        )


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def sweep_checkpoints(
    dataset: SpectralDataset,
    targets: str | Sequence[str],
    task: str,
    pipeline: Pipeline,
    architecture: GANArchitecture,
    checkpoints: Sequence[Checkpoint],
    settings: TransferSettings,
    task_state: TaskState | None = None,
) -> SweepResult:
    """Cross-validate GAN transfer from each checkpoint on the same folds.

    Progress runs over checkpoints x repeats x folds; a stop request raises
    `Cancelled` at the end of the current epoch.

    Raises
    ------
    SettingsError
        Without checkpoints, or when one does not fit the architecture.
    DataError
        For missing or unusable targets, groups or folds.
    """
    if not checkpoints:
        raise SettingsError("The sweep needs at least one GAN checkpoint; train the GAN first.")
    checkpoints = sorted(checkpoints, key=lambda c: int(c.epoch))
    device = resolve_device(settings.device)
    final_pipeline = pipeline.unfitted_copy().fit(dataset.axis, dataset.spectra)
    n_points = final_pipeline.output_axis.size
    architecture = _checked_architecture(architecture, n_points, final_pipeline)
    plan = plan_cross_validation(dataset, targets, task, settings, n_points)
    n_outputs = len(plan.targets) if task == "regression" else len(plan.classes)
    for checkpoint in checkpoints:
        # Raises SettingsError before any training if a trunk does not fit.
        build_network(architecture, n_outputs, 0, checkpoint.discriminator,
                      head_units=settings.head_units)
    n_stages = len(checkpoints) * settings.repeats * plan.n_folds
    progress = _Progress(task_state, n_stages, 1, settings.epochs)
    progress.total = n_stages * settings.epochs  # no PLS stage in the sweep
    folds = _FoldData(dataset, pipeline, None)
    metric = "rmsecv" if task == "regression" else "accuracy"
    logger.info("sweeping %d checkpoints (%s), %s, targets %s", len(checkpoints),
                ", ".join(str(c.epoch) for c in checkpoints), plan.describe_folds(),
                plan.targets)
    values, spread, epochs_used = [], [], []
    for checkpoint in checkpoints:
        progress.check()
        outcome = _cross_validate(
            plan, folds, task, architecture, checkpoint.discriminator, ["GAN transfer"],
            settings, device, _StagePrefix(progress, f"checkpoint {checkpoint.epoch}"),
            include_pls=False,
        )
        per_repeat = _metric_per_repeat(task, plan, outcome.predictions["GAN transfer"])
        values.append(float(np.mean(per_repeat)))
        spread.append(float(np.std(per_repeat, ddof=1)) if len(per_repeat) > 1 else 0.0)
        epochs_used.append(float(np.median(outcome.best_epochs["GAN transfer"])))
        logger.info("checkpoint %d: %s %.4g (spread %.3g)", checkpoint.epoch, metric,
                    values[-1], spread[-1])
    if task_state is not None:
        task_state.report(1.0, "sweep finished")
    return SweepResult(
        epochs=np.array([int(c.epoch) for c in checkpoints], dtype=np.int64),
        metric=metric,
        values=np.asarray(values),
        spread=np.asarray(spread),
        targets=list(plan.targets),
        settings=settings.to_dict(),
        epochs_used=np.asarray(epochs_used),
    )


class _StagePrefix:
    """Progress reporter that prefixes each message with the checkpoint being swept."""

    def __init__(self, progress, prefix: str):
        self.progress = progress
        self.prefix = prefix

    def check(self) -> None:
        self.progress.check()

    def advance(self, units: int, message: str) -> None:
        self.progress.advance(units, f"{self.prefix}, {message}")

    def epoch_hook(self, stage: str, model: str):
        return self.progress.epoch_hook(f"{self.prefix}, {stage}", model)


def _metric_per_repeat(task: str, plan, predictions: np.ndarray) -> list[float]:
    """Return the RMSECV of the first target or the accuracy of each repeat."""
    if task == "regression":
        return [float(np.sqrt(np.mean((values[:, 0] - plan.measured[:, 0]) ** 2)))
                for values in predictions]
    return [float(np.mean(labels == plan.measured)) for labels in predictions]
