"""The `specgan` command line: the same engine as the window, without Qt.

Every subcommand reads or writes one project file; `demo` runs a whole
session on a bundled example.  Errors meant for the user are printed as
one line on stderr with exit status 2; Ctrl+C during training stops at the
next batch and still saves what was trained.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import re
import signal
import sys
import time
from pathlib import Path

import numpy as np

from specgan_gui import __version__
from specgan_gui.errors import SpecganError

log = logging.getLogger("specgan")


# --- helpers -----------------------------------------------------------------
#: Command-line option of each engine setting, so that messages name what users type.
OPTION_NAMES = {
    "GAN": {
        "epochs": "--epochs", "batch_size": "--batch-size",
        "discriminator_steps": "--discriminator-steps", "generator_lr": "--generator-lr",
        "discriminator_lr": "--discriminator-lr", "seed": "--seed",
        "snapshot_interval": "--snapshot-interval",
        "checkpoint_interval": "--checkpoint-interval", "max_checkpoints": "--max-checkpoints",
        "device": "--device", "code_length": "--code-length",
        "generator_filters": "--generator-filters",
        "discriminator_filters": "--discriminator-filters",
    },
    "Transfer": {
        "epochs": "--transfer-epochs", "learning_rate": "--transfer-learning-rate",
        "batch_size": "--transfer-batch-size", "n_folds": "--folds", "cv": "--cv",
    },
}
_SETTING_NAME = re.compile(r"\b(GAN|Transfer) setting (\w+)")

#: Exit status after Ctrl+C, as a shell reports a program stopped by SIGINT.
EXIT_INTERRUPTED = 130
#: Exit status when the reader of our output went away (``specgan info p.h5 | head``),
#: as a shell reports a program stopped by SIGPIPE.
EXIT_BROKEN_PIPE = 141


def _option_names(message: str) -> str:
    """Replace engine setting names ("GAN setting batch_size") by their options."""
    def option(match: re.Match) -> str:
        name = OPTION_NAMES[match.group(1)].get(match.group(2))
        return name if name is not None else match.group(0)

    return _SETTING_NAME.sub(option, message)


def _same_path(a, b) -> bool:
    """Return whether two paths name one file (also through links or `..`)."""
    a, b = Path(a), Path(b)
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _refuse_overwriting(option: str, output, inputs: dict[str, list]) -> None:
    """Raise when the file an option writes is one of the command's inputs."""
    if output is None:
        return
    for what, paths in inputs.items():
        for path in paths:
            if path is not None and _same_path(output, path):
                raise SpecganError(
                    f"{option} {output} is the {what} {path}; writing there would replace "
                    f"it. Choose another file name."
                )


def _refuse_replacing_project(option: str, output, force: bool) -> None:
    """Raise when `output` exists, unless `force`; a folder is refused always."""
    path = Path(output)
    if path.is_dir():
        raise SpecganError(
            f"{option} {output} is a folder; give a file name for the project, such as "
            f"{path / 'project.h5'}."
        )
    if path.exists() and not force:
        raise SpecganError(
            f"{option} {output} already exists; writing a new project there would replace "
            f"it and everything trained in it. Choose another file name, or add --force to "
            f"replace it."
        )


def _refuse_replacing_other_project(args) -> None:
    """Raise when ``--out`` names an existing file other than PROJECT, unless ``--force``."""
    output = getattr(args, "out", None)
    if output is None:
        return
    if Path(output).exists() and Path(output).resolve() == Path(args.project).resolve():
        return
    _refuse_replacing_project("--out", output, getattr(args, "force", False))


def _warn(text: str) -> None:
    print(f"warning: {text}", file=sys.stderr, flush=True)


def _n_classes(dataset, column: str) -> int:
    values = dataset.references[column].dropna()
    return int(values.astype(str).str.strip().replace("", np.nan).dropna().nunique())


def _default_task(dataset, column: str) -> str | None:
    """Return the task a column suits, or None for text with too many classes.

    Numbers with more than 10 values are a regression target.  Classes are
    accepted only when there are at most half as many as samples, so that
    most classes have two or more samples for cross-validation.
    """
    numeric = column in dataset.numeric_columns()
    if numeric and dataset.references[column].nunique() > 10:
        return "regression"
    if column in dataset.class_columns() and _n_classes(dataset, column) <= dataset.n_samples / 2:
        return "classification"
    return "regression" if numeric else None


def _new_project(dataset, target: str | None, task: str | None, crop):
    from specgan_gui.data.preprocessing import Pipeline
    from specgan_gui.project.project import Project

    project = Project(dataset=dataset)
    columns = list(map(str, dataset.references.columns))
    if target is not None and target not in columns:
        raise SpecganError(
            f"The data have no reference column {target!r}; columns: {', '.join(columns) or 'none'}."
        )
    if target is None and columns:
        usable = [c for c in columns if _default_task(dataset, c) is not None]
        target = usable[0] if usable else None
        if target is None:
            _warn(
                f"no reference column suits as a target (text columns with more classes than "
                f"half the samples: {', '.join(columns)}); choose one with --target and "
                f"--task classification."
            )
    project.target = target
    if target is not None:
        chosen = task or _default_task(dataset, target)
        classes = _n_classes(dataset, target)
        if chosen is None:
            raise SpecganError(
                f"Reference column {target!r} contains text with {classes} different values for "
                f"{dataset.n_samples} samples: as classes, most would have one sample, which "
                f"cross-validation cannot predict. Choose a numeric column with --target, or "
                f"add --task classification to use it anyway."
            )
        if chosen == "classification" and classes > dataset.n_samples / 2:
            _warn(
                f"reference column {target!r} has {classes} classes for {dataset.n_samples} "
                f"samples; most have one sample, which cross-validation cannot predict."
            )
        project.task = chosen
    pipeline = Pipeline.default(crop=tuple(crop) if crop else None)
    # Fitting checks the crop range against the axis now, not at `train`.
    pipeline.fit(dataset.axis, dataset.spectra)
    project.preprocessing = pipeline.to_spec()
    return project


def _gan_settings(args, project):
    from specgan_gui.training.gan_trainer import GANTrainingSettings

    values = dict(project.gan_settings or {})
    for option, key in [
        ("epochs", "epochs"),
        ("batch_size", "batch_size"),
        ("discriminator_steps", "discriminator_steps"),
        ("generator_lr", "generator_lr"),
        ("discriminator_lr", "discriminator_lr"),
        ("seed", "seed"),
        ("snapshot_interval", "snapshot_interval"),
        ("checkpoint_interval", "checkpoint_interval"),
        ("max_checkpoints", "max_checkpoints"),
        ("device", "device"),
    ]:
        value = getattr(args, option, None)
        if value is not None:
            values[key] = value
    return GANTrainingSettings.from_dict(values)


def _architecture(args, project):
    from specgan_gui.training.workflow import gan_architecture

    return gan_architecture(
        project,
        code_length=getattr(args, "code_length", None),
        generator_filters=getattr(args, "generator_filters", None),
        discriminator_filters=getattr(args, "discriminator_filters", None),
    )


def _describe_architecture(architecture) -> str:
    return (
        f"code length {architecture.code_length}, generator filters "
        f"{architecture.generator_filters}, discriminator filters "
        f"{architecture.discriminator_filters}, {architecture.hidden_units} hidden units, "
        f"{architecture.n_points} points"
    )


def _check_run_continues(path, project, architecture) -> None:
    """Raise unless `train` can continue the stored GAN run with `architecture`.

    A different architecture, or a run without its resume state, starts a
    new run that discards the stored epochs and checkpoints.  The command
    line does that only with --restart.
    """
    from specgan_gui.models.gan1d import GANArchitecture

    trained = project.epochs_trained
    if not trained and not project.checkpoints:
        return
    summary = f"{trained} epochs and {len(project.checkpoints)} checkpoints"
    resume = project.resume_state
    if resume is None or "architecture" not in resume:
        raise SpecganError(
            f"{path} contains a GAN run ({summary}) that cannot be continued, because its "
            f"resume state is missing. Add --restart to discard it and start a new run."
        )
    stored = GANArchitecture.from_dict(dict(resume["architecture"]))
    if stored != architecture:
        raise SpecganError(
            f"{path} contains a GAN run ({summary}) with {_describe_architecture(stored)}, but "
            f"the options request {_describe_architecture(architecture)}. A different "
            f"architecture starts a new run and discards the stored one. Add --restart to "
            f"do that, or leave out the changed options to continue the run."
        )


class _StopOnInterrupt:
    """Turn the first Ctrl+C into a stop request; a second one aborts at once."""

    def __init__(self, task, what: str):
        self.task = task
        self.what = what
        self.interrupted = False
        self.previous = None

    def __enter__(self):
        self.previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.interrupted = True
        print(f"stopping {self.what} after the current batch (Ctrl+C again to abort)...",
              file=sys.stderr, flush=True)
        self.task.request_stop()
        signal.signal(signal.SIGINT, self.previous)

    def __exit__(self, *exc_info) -> None:
        signal.signal(signal.SIGINT, self.previous)


def _train(project, settings, architecture, quiet: bool = False):
    """Train the GAN; return ``(outcome, interrupted)``, interrupted by Ctrl+C."""
    from specgan_gui.training.task import TaskState
    from specgan_gui.training.workflow import train_gan

    task = TaskState()
    interval = max(1, settings.checkpoint_interval)
    start = time.perf_counter()
    epochs_this_run = [0]  # the rate counts only epochs trained by this command

    def on_epoch(stats):
        epochs_this_run[0] += 1
        if quiet or (stats.epoch % interval and stats.epoch != settings.epochs):
            return
        rate = epochs_this_run[0] / max(time.perf_counter() - start, 1e-9)
        print(
            f"epoch {stats.epoch}/{settings.epochs}  D loss {stats.discriminator_loss:.4f}  "
            f"G loss {stats.generator_loss:.4f}  D(real) {stats.d_real:.3f}  "
            f"D(fake) {stats.d_fake:.3f}  {rate:.2f} epochs/s",
            flush=True,
        )

    def on_alarm(alarm):
        # Printed even with quiet progress, because an alarm needs the user to act.
        print(f"GAN alarm at epoch {alarm.epoch} ({alarm.kind}): {alarm.message}\n"
              f"  Try: {alarm.remedy}", flush=True)

    with _StopOnInterrupt(task, "training") as guard:
        outcome = train_gan(
            project, settings, architecture, task, on_epoch=on_epoch, on_alarm=on_alarm)
    seconds = time.perf_counter() - start
    print(
        f"trained {outcome.epochs_completed} epochs in total ({epochs_this_run[0]} in "
        f"{seconds:.1f} s this run)" + (f"; stopped: {outcome.reason}" if outcome.stopped else ""),
        flush=True,
    )
    return outcome, guard.interrupted


def _transfer_settings(args):
    from specgan_gui.training.transfer import TransferSettings

    values = {}
    for key in ("epochs", "learning_rate", "batch_size", "cv", "n_folds", "seed", "device",
                "repeats", "group_column", "patience", "validation_fraction", "head_units"):
        value = getattr(args, f"transfer_{key}", None)
        if value is not None:
            values[key] = value
    if getattr(args, "freeze_trunk", False):
        values["freeze_trunk"] = True
    if getattr(args, "no_early_stopping", False):
        values["early_stopping"] = False
    return TransferSettings.from_dict(values)


def _print_table(rows: list[dict]) -> None:
    if not rows:
        print("(no results)")
        return
    columns = [c for c in rows[0] if c not in ("per_class_recall",)]
    for row in rows[1:]:
        columns += [c for c in row if c not in columns and c != "per_class_recall"]

    def cell(value):
        if isinstance(value, float):
            return f"{value:.4g}"
        return "" if value is None else str(value)

    widths = {c: max(len(c), *(len(cell(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(cell(row.get(c)).ljust(widths[c]) for c in columns))


def _printed_progress(label: str, quiet: bool):
    """Return a `TaskState` that prints progress every tenth of the way, and at the end."""
    from specgan_gui.training.task import TaskState

    last = [-1.0]

    def on_progress(fraction, message):
        if quiet or fraction - last[0] < 0.1 and fraction < 1:
            return
        last[0] = fraction
        print(f"{label} {fraction:5.0%}  {message}", flush=True)

    return TaskState(on_progress)


def _transfer(project, settings, checkpoint_epoch=None, quiet=False):
    """Run the comparison; Ctrl+C stops it (`Cancelled`) and leaves the project as it was."""
    from specgan_gui.training.workflow import run_transfer

    task = _printed_progress("transfer", quiet)
    started = time.perf_counter()
    with _StopOnInterrupt(task, "the comparison"):
        result = run_transfer(project, settings, checkpoint_epoch, task)
    seconds = time.perf_counter() - started

    print(f"cross-validated comparison on checkpoint epoch {result.checkpoint_epoch} "
          f"({_describe_cv(result.settings, result.fold_of_sample)}, {seconds:.0f} s):")
    _print_comparison(result)
    return result


def _describe_cv(settings: dict, fold_of_sample) -> str:
    n_folds = int(np.max(fold_of_sample)) + 1
    repeats = int(settings.get("repeats", 1))
    text = f"{n_folds} folds x {repeats} repeat{'s' if repeats != 1 else ''}"
    if settings.get("group_column"):
        text += f", grouped by {settings['group_column']}"
    return text


def _print_comparison(result) -> None:
    """Print the comparison table, the warnings and the verdict."""
    metric = "rmsecv" if result.task == "regression" else "accuracy"
    rows = []
    for row in result.rows:
        line = {"model": row["model"], "target": row.get("target", result.target),
                metric: row[metric], "spread": row.get(f"{metric}_std")}
        if metric == "rmsecv":
            line["r2"] = row.get("r2")
        line["components"] = row.get("components")
        line["epochs used"] = row.get("epochs_used")
        line["preprocessing"] = row.get("preprocessing")
        rows.append(line)
    _print_table(rows)
    # Each fold chooses its own count, so a median of 3 and 4 reads 3.5.
    print("(components, epochs used: medians over the folds)")
    for warning in result.warnings:
        print(f"warning: {warning}")
    for line in result.verdict.splitlines():
        print(f"verdict: {line}")


def _sweep(project, settings, epochs=None, quiet=False):
    """Run the checkpoint sweep and print its table; Ctrl+C stops it (`Cancelled`)."""
    from specgan_gui.training.workflow import run_sweep

    task = _printed_progress("sweep", quiet)
    started = time.perf_counter()
    with _StopOnInterrupt(task, "the sweep"):
        result = run_sweep(project, settings, epochs, task)
    seconds = time.perf_counter() - started
    print(f"checkpoint sweep ({len(result.epochs)} checkpoints, {seconds:.0f} s):")
    _print_sweep(result)
    return result


def _print_sweep(result) -> None:
    best = result.best_epoch
    rows = [
        {"epoch": int(epoch), result.metric: float(value), "spread": float(spread),
         "epochs used": float(used), "best": "*" if int(epoch) == best else ""}
        for epoch, value, spread, used in zip(result.epochs, result.values, result.spread,
                                              result.epochs_used)
    ]
    _print_table(rows)
    print("(epochs used: median over the folds)")


def _save(project, path, stream=None) -> None:
    from specgan_gui.project.store import save_project

    save_project(project, Path(path))
    print(f"saved {path}", file=stream or sys.stdout, flush=True)


def _load(path):
    from specgan_gui.project.store import load_project

    return load_project(Path(path))


def _best_model(project) -> str | None:
    """Return the model that won the latest comparison, else the first stored model."""
    from specgan_gui.project.project import transfer_rows

    if project.transfer_runs:
        record = project.transfer_runs[-1]
        rows = [row for row in transfer_rows(record) if row.get("model") in project.models]
        task = str(record.get("task", project.task))
        metric, sign = ("rmsecv", 1.0) if task == "regression" else ("accuracy", -1.0)
        scored = [row for row in rows
                  if isinstance(row.get(metric), (int, float)) and np.isfinite(row[metric])]
        if scored:
            return min(scored, key=lambda row: sign * row[metric])["model"]
    return next(iter(project.models), None)


# --- subcommands -------------------------------------------------------------
def cmd_demo(args) -> int:
    from specgan_gui.io.examples import EXAMPLES, load_example
    from specgan_gui.training.task import Cancelled
    from specgan_gui.training.workflow import predict_samples

    _refuse_replacing_project("--out", args.out, args.force)
    dataset = load_example(args.example)
    info = EXAMPLES[args.example]
    project = _new_project(dataset, info["target"], info["task"], args.crop)
    print(
        f"{args.example}: {dataset.n_samples} spectra of {dataset.n_points} points, "
        f"target {project.target!r} ({project.task})",
        flush=True,
    )
    if args.checkpoint_interval is None:
        args.checkpoint_interval = max(1, args.epochs // 4)
    if args.snapshot_interval is None:
        args.snapshot_interval = max(1, args.epochs // 20)
    settings = _gan_settings(args, project)
    outcome, interrupted = _train(project, settings, _architecture(args, project))
    if outcome.stopped:
        # Transfer and prediction need a finished run; keep what was trained.
        _save(project, args.out)
        print(
            f"{'' if interrupted else 'error: '}training stopped at epoch "
            f"{outcome.epochs_completed} of {settings.epochs} ({outcome.reason}), so the "
            f"transfer comparison and the prediction were skipped. Continue with `specgan "
            f"train {args.out} --epochs {settings.epochs}`, then `specgan transfer {args.out}`.",
            file=sys.stderr, flush=True,
        )
        return EXIT_INTERRUPTED if interrupted else 2
    try:
        result = _transfer(project, _transfer_settings(args))
    except Cancelled:
        _save(project, args.out)
        print(
            f"the transfer comparison was stopped, so it and the prediction were skipped; "
            f"the trained GAN is saved. Run `specgan transfer {args.out}` to compare the "
            f"models.",
            file=sys.stderr, flush=True,
        )
        return EXIT_INTERRUPTED
    # Predict with the model that won the comparison, as a user would.
    best = result.best_model()
    record = predict_samples(project, best)
    print(f"predicted {len(record['values'])} spectra with {best}, the best model", flush=True)
    _save(project, args.out)
    return 0


def cmd_import(args) -> int:
    from specgan_gui.io.importer import (
        ImportOptions,
        finish_import,
        guess_id_column,
        preview_import,
    )
    from specgan_gui.io.table import read_reference_table

    _refuse_overwriting("--out", args.out, {"spectra file": args.files,
                                           "reference table": [args.targets]})
    _refuse_replacing_project("--out", args.out, args.force)
    options = ImportOptions(
        id_source=args.id_source,
        id_pattern=args.id_pattern,
        column=args.column,
        block=args.block,
        axis_unit=args.axis_unit,
        convert_axis_to=args.convert_axis,
        resample="auto" if args.resample else "never",
        y_unit=args.y_unit,
        y_conversion="absorbance" if args.to_absorbance else None,
        recursive=args.recursive,
    )
    preview = preview_import(args.files, options)
    _refuse_overwriting("--out", args.out,
                        {"spectra file": [item.path for item in preview.files]})
    id_column = args.id_column
    if args.targets is not None and id_column is None and preview.dataset is not None:
        # Join by the column that contains the sample ids, so that it never becomes a target.
        table = read_reference_table(args.targets)
        id_column = guess_id_column(table, preview.dataset.sample_ids)
        if id_column is not None:
            print(f"note: joining {Path(args.targets).name} by its column {id_column!r}, whose "
                  f"values match the sample ids (choose another with --id-column)")
        else:
            _warn(
                f"no column of {Path(args.targets).name} matches the sample ids (such as "
                f"{', '.join(preview.dataset.sample_ids[:3])}), so its rows are joined in "
                f"file order; name the id column with --id-column to join by id."
            )
    result = finish_import(preview, args.targets, id_column, skip_failed=args.skip_failed)
    for notice in result.notices:
        print(f"note: {notice}")
    for warning in result.warnings:
        _warn(warning)
    dataset = result.dataset
    if args.target is not None and args.target == id_column:
        raise SpecganError(
            f"Column {id_column!r} of {Path(args.targets).name} contains the sample ids that join "
            f"it to the spectra, so it cannot be the target; choose a reference column with "
            f"--target: {', '.join(map(str, dataset.references.columns)) or 'none'}."
        )
    project = _new_project(dataset, args.target, args.task, args.crop)
    files = [item for item in result.preview.files if item.ok]
    print(
        f"imported {dataset.n_samples} spectra of {dataset.n_points} points "
        f"({dataset.axis[0]:g} to {dataset.axis[-1]:g} {dataset.axis_unit}) from "
        f"{len(files)} file{'s' if len(files) != 1 else ''} "
        f"({'; '.join(dict.fromkeys(item.format for item in files))})"
        + (f"; target {project.target!r} ({project.task})" if project.target else "")
    )
    _save(project, args.out)
    return 0


def cmd_train(args) -> int:
    _refuse_replacing_other_project(args)
    project = _load(args.project)
    architecture = _architecture(args, project)
    if args.restart:
        if project.epochs_trained or project.checkpoints:
            print(
                f"discarded the GAN run ({project.epochs_trained} epochs, "
                f"{len(project.checkpoints)} checkpoints); transfer results and fitted "
                f"models are kept", flush=True,
            )
        project.reset_training()
    else:
        _check_run_continues(args.project, project, architecture)
    settings = _gan_settings(args, project)
    outcome, interrupted = _train(project, settings, architecture)
    _save(project, args.out or args.project)
    if interrupted:
        print(f"continue with `specgan train {args.out or args.project} --epochs "
              f"{settings.epochs}`", file=sys.stderr)
        return EXIT_INTERRUPTED
    if outcome.stopped:
        print(f"error: training stopped at epoch {outcome.epochs_completed}: "
              f"{outcome.reason}", file=sys.stderr)
        return 2
    return 0


def cmd_transfer(args) -> int:
    from specgan_gui.training.task import Cancelled

    _refuse_replacing_other_project(args)
    project = _load(args.project)
    if args.targets:
        _set_targets(project, args.targets, args.project)
    if project.dataset is not None and not project.target:
        raise SpecganError(
            f"{args.project} has no reference column to predict. Import the spectra again "
            f"with --targets TABLE and --target COLUMN."
        )
    if args.checkpoints is not None and not args.sweep:
        raise SpecganError("--checkpoints chooses the epochs of a sweep; add --sweep.")
    settings = _transfer_settings(args)
    checkpoint = args.checkpoint
    swept = False
    try:
        if args.sweep:
            sweep = _sweep(project, settings, args.checkpoints)
            swept = True
            if checkpoint is None:
                checkpoint = sweep.best_epoch
                print(f"comparing at the sweep's best epoch, {checkpoint}")
        _transfer(project, settings, checkpoint)
    except Cancelled:
        if swept:
            # The finished sweep took most of the time; keep it.
            print("the comparison was stopped; saving the finished sweep", file=sys.stderr)
            _save(project, args.out or args.project, stream=sys.stderr)
        else:
            print(f"the {'sweep' if args.sweep else 'comparison'} was stopped; "
                  f"{args.out or args.project} was not changed", file=sys.stderr)
        return EXIT_INTERRUPTED
    _save(project, args.out or args.project)
    return 0


def _set_targets(project, targets: list[str], path) -> None:
    """Make the first of `targets` the project's target and the rest its extra targets."""
    if project.dataset is not None:
        columns = [str(c) for c in project.dataset.references.columns]
        unknown = [t for t in targets if t not in columns]
        if unknown:
            raise SpecganError(
                f"--target {unknown[0]!r} is not a reference column of {path} (columns: "
                f"{', '.join(columns) or 'none'}). Choose one of those columns."
            )
    if len(targets) > 1 and project.task != "regression":
        raise SpecganError(
            f"Several --target columns need regression, but {path} is a {project.task} "
            f"project. Give one --target."
        )
    project.target = targets[0]
    project.extra_targets = list(dict.fromkeys(t for t in targets[1:] if t != targets[0]))


def _epoch_list(text: str) -> list[int]:
    try:
        epochs = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid epoch list {text!r}; give epochs separated by commas, e.g. 100,200"
        ) from None
    if not epochs:
        raise argparse.ArgumentTypeError("the epoch list is empty; give e.g. 100,200")
    return epochs


def cmd_predict(args) -> int:
    from specgan_gui.io.importer import ImportOptions, import_files
    from specgan_gui.training.workflow import predict_samples

    _refuse_replacing_other_project(args)
    _refuse_overwriting("--csv", args.csv, {"project file": [args.project],
                                            "spectra file": args.files})
    _refuse_overwriting("--out", args.out, {"spectra file": args.files,
                                            "predictions file (--csv)": [args.csv]})
    project = _load(args.project)
    name = args.model or _best_model(project)
    if name is None:
        raise SpecganError(f"{args.project} has no fitted model; run `specgan transfer` first.")
    dataset = None
    source = ""
    if args.files:
        options = ImportOptions(axis_unit=args.axis_unit, convert_axis_to=args.convert_axis)
        result = import_files(args.files, options)
        _refuse_overwriting("--csv", args.csv,
                            {"spectra file": [item.path for item in result.preview.files]})
        for notice in result.notices:
            print(f"note: {notice}", file=sys.stderr)
        for warning in result.warnings:
            _warn(warning)
        dataset = result.dataset
        source = ", ".join(Path(f).name for f in args.files)
    record = predict_samples(project, name, dataset, source)
    rows = [(str(sample), _csv_value(value))
            for sample, value in zip(record["sample_ids"], record["values"])]
    if args.csv:
        _write_predictions(args.csv, rows)
        print(f"wrote {len(rows)} predictions with {name} to {args.csv}")
        _save(project, args.out or args.project)
    else:
        # The table goes to stdout, so messages go to stderr; saving first keeps the
        # project complete when the reader stops early (`| head`).
        _save(project, args.out or args.project, stream=sys.stderr)
        print(f"predictions with {name}:", file=sys.stderr, flush=True)
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["sample_id", "prediction"])
        writer.writerows(rows)
    return 0


def _csv_value(value) -> str:
    """Return a prediction as CSV text: floats at full precision, class labels as they are."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _write_predictions(path, rows) -> None:
    """Write ``sample_id,prediction`` rows with CSV quoting; errors name the path."""
    try:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["sample_id", "prediction"])
            writer.writerows(rows)
    except OSError as error:
        reason = error.strerror or str(error)
        raise SpecganError(
            f"{path}: the predictions could not be written ({reason}). Choose a file in a "
            f"folder that exists and that you may write to."
        ) from None


def cmd_preprocess(args) -> int:
    from specgan_gui.data.preprocessing import (
        format_steps,
        parse_steps,
        preset,
        range_dropped_warning,
    )

    _refuse_replacing_other_project(args)
    project = _load(args.project)
    dataset = project.dataset
    if dataset is None:
        raise SpecganError(f"{args.project} has no spectra; import spectra first.")
    if args.suggest:
        return _suggest_preprocessing(project, args)
    pls_changed = False
    if args.pls_same or args.pls_steps is not None:
        pls_spec = None
        if args.pls_steps is not None:
            text = args.pls_steps.strip()
            pls_spec = preset(text) if text in _preset_names() else parse_steps(text)
            _check_pipeline(pls_spec, dataset, "PLS pipeline", for_gan=False)
            dropped = range_dropped_warning(pls_spec, project.preprocessing)
            if dropped:
                print(f"warning: {dropped}", file=sys.stderr)
        pls_changed = pls_spec != project.pls_preprocessing
        project.pls_preprocessing = pls_spec
    if args.steps is None and args.preset is None:
        _print_pipelines(project)
        if pls_changed:
            _save(project, args.out or args.project)
        return 0

    spec = parse_steps(args.steps) if args.steps is not None else preset(args.preset)
    pipeline = _check_pipeline(spec, dataset, "pipeline")
    if spec == project.preprocessing:
        print(f"preprocessing unchanged: {format_steps(spec)}")
        if pls_changed:
            _print_pipelines(project)
            _save(project, args.out or args.project)
        return 0

    epochs = project.epochs_trained
    trained = bool(epochs or project.checkpoints or project.resume_state is not None)
    if trained and not args.force:
        raise SpecganError(
            f"{args.project} holds a GAN trained for {epochs} epochs on the current "
            f"preprocessing ({format_steps(project.preprocessing)}). A new pipeline "
            f"changes the spectra the GAN learned, so it discards that run, its "
            f"checkpoints and the transfer results. Add --force to replace it."
        )
    cleared = []
    if trained:
        cleared.append(f"the GAN run ({epochs} epochs, {len(project.checkpoints)} checkpoints)")
    if project.transfer_runs or project.models:
        cleared.append(
            f"{len(project.transfer_runs)} transfer result(s) and {len(project.models)} "
            f"fitted model(s)"
        )
    project.preprocessing = spec
    project.preprocessing_state = pipeline.fitted_state()
    project.gan_architecture = None
    project.reset_training()
    project.transfer_runs = []
    project.sweeps = []
    project.models = {}
    if cleared:
        print(f"cleared {' and '.join(cleared)}, trained on the old preprocessing")
    print(
        f"preprocessing: {format_steps(spec)} ({pipeline.output_axis.size} points; before "
        f"the final scaling: {pipeline.units_label(dataset.y_unit)})"
    )
    if project.pls_preprocessing is not None:
        print(f"PLS preprocessing: {format_steps(project.pls_preprocessing)}")
    _save(project, args.out or args.project)
    return 0


def _preset_names() -> list[str]:
    from specgan_gui.data.preprocessing import PRESETS

    return list(PRESETS)


def _check_pipeline(spec, dataset, what: str, for_gan: bool = True):
    """Print the warnings of `spec` and return it fitted on `dataset`.

    Fitting reports a step that cannot run on these spectra before anything
    in the project changes.
    """
    from specgan_gui.data.preprocessing import Pipeline, validate

    for warning in validate(spec, dataset.axis, for_gan=for_gan):
        print(f"warning: {what}: {warning}", file=sys.stderr)
    return Pipeline.from_spec(spec).fit(dataset.axis, dataset.spectra)


def _print_pipelines(project) -> None:
    from specgan_gui.data.preprocessing import format_steps, validate

    print(f"preprocessing: {format_steps(project.preprocessing)}")
    for warning in validate(project.preprocessing, project.dataset.axis):
        print(f"warning: {warning}")
    if project.pls_preprocessing is None:
        print("PLS preprocessing: the same")
    else:
        print(f"PLS preprocessing: {format_steps(project.pls_preprocessing)}")


def _suggest_preprocessing(project, args) -> int:
    from specgan_gui.training.suggest import suggest_pipelines, windows_of

    if not project.target:
        raise SpecganError(
            f"{args.project} has no target column; set one with `specgan import --target`."
        )
    print(
        f"scoring standard pipelines with PLS, nested cross-validation on "
        f"{project.dataset.n_samples} samples...", flush=True,
    )
    suggestions = suggest_pipelines(
        project.dataset, project.target, project.task,
        max_components=args.max_components, seed=args.seed,
        windows=windows_of(project.preprocessing),
    )
    _print_table([suggestion.to_row() for suggestion in suggestions])
    best = suggestions[0]
    if best.score is not None:
        print(
            f"best: {best.name}; store it with\n"
            f"  specgan preprocess {args.project} --steps \"{best.steps}\""
        )
    return 0


def _preprocess_epilog() -> str:
    """Return the step syntax, each kind and the presets, from the steps' own metadata."""
    import textwrap

    from specgan_gui.data.preprocessing import PRESETS, step_kinds

    lines = [
        "step syntax: steps separated by commas, parameters by colons in the order below;",
        "trailing parameters may be left out for their defaults (in brackets), and",
        "NAME=VALUE sets one by name. A window is LOW-HIGH in axis units.",
        "",
    ]
    for info in step_kinds():
        if info.legacy:
            continue
        fields = []
        for param in info.params:
            name = param.name.upper()
            if param.type == "windows":
                fields.append("LOW-HIGH[:LOW-HIGH...]")
            elif param.type == "choice":
                fields.append(f"{name}[{param.default}]")
            elif param.default is None:
                fields.append(name)
            else:
                fields.append(f"{name}[{param.default:g}]")
        lines.append("  " + ":".join([info.kind, *fields]))
        text = f"{info.label}. {info.description}"
        for param in info.params:
            if param.type == "choice":
                text += f" {param.name.upper()}: {', '.join(v for v, _ in param.choices)}."
        lines += textwrap.wrap(text, 78, initial_indent="      ", subsequent_indent="      ")
    lines += ["", "presets:"]
    for item in PRESETS.values():
        lines.append(f"  {item.name}: {item.steps}")
    lines += [
        "",
        'example: specgan preprocess p.h5 --steps "cut:950-1550,savgol:15:2:1,scale"',
    ]
    return "\n".join(lines)


def cmd_info(args) -> int:
    from specgan_gui.data.preprocessing import format_steps

    project = _load(args.project)
    info = project.info()
    if args.json:
        print(json.dumps(info, indent=2, default=_json_default))
        return 0
    for key, value in info.items():
        if key == "transfer_results":
            print("transfer_results:")
            _print_table(value)
        elif key == "sweep":
            print("sweep:" + ("" if value else " none"))
            if value:
                _print_table(value)
        elif key == "alarms":
            print("alarms:" + ("" if value else " none"))
            for alarm in value:
                print(f"  epoch {alarm['epoch']}: {alarm['kind']}: {alarm['message']}")
        elif key == "preprocessing":
            # Step syntax, as --steps takes it; --json keeps the step dicts.
            print(f"{key}: {format_steps(value)}")
        elif key == "pls_preprocessing":
            print(f"{key}: " + ("same as preprocessing" if value is None else format_steps(value)))
        else:
            print(f"{key}: {value}")
    return 0


def cmd_inspect(args) -> int:
    from specgan_gui.io import read_spectra

    try:
        _refuse_project_file(args.file)
        # Sentinel values for clipped points are shown as the file holds them
        # (and listed in the warnings); an import masks them instead.
        result = read_spectra(args.file, sentinels="keep")
    except SpecganError as error:
        if args.json:
            print(json.dumps({"error": str(error)}))
            return 2
        raise
    spectra = [
        {
            "n_points": block.n_points,
            "x_first": float(block.axis[0]),
            "x_last": float(block.axis[-1]),
            "y_first": _json_number(row[0]),
            "y_last": _json_number(row[-1]),
            "x_unit": block.axis_unit,
        }
        for block in result.blocks
        for row in block.spectra
    ]
    if args.json:
        print(json.dumps({"format": result.format, "spectra": spectra, "warnings": result.warnings}))
        return 0
    print(f"{args.file}: {result.format}, {result.n_spectra} spectra in {len(result.blocks)} block(s)")
    for block in result.blocks:
        print(f"  {block.n_samples} x {block.n_points} points, axis {block.axis[0]:g} to "
              f"{block.axis[-1]:g} {block.axis_unit}")
    for warning in result.warnings:
        print(f"warning: {warning}")
    return 0


def _refuse_project_file(path) -> None:
    """Raise for an HDF5 file, which `inspect` cannot read but `info` may."""
    try:
        with open(path, "rb") as handle:
            signature = handle.read(8)
    except OSError:
        return  # the reader reports a missing or unreadable file
    if signature == b"\x89HDF\r\n\x1a\n":
        raise SpecganError(
            f"{path} is an HDF5 file, not a spectra export; if it is a specgan project, "
            f"`specgan info {path}` summarises it."
        )


def _json_number(value) -> float | None:
    """Return a float, or None for NaN, which strict JSON cannot hold."""
    value = float(value)
    return value if np.isfinite(value) else None


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


# --- argument parsing --------------------------------------------------------
def _finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def _add_gan_options(parser, demo: bool = False) -> None:
    from specgan_gui.models.gan1d import GANArchitecture
    from specgan_gui.training.gan_trainer import GANTrainingSettings

    gan = GANTrainingSettings()
    arch = GANArchitecture(n_points=8)
    title = ("GAN settings" if demo else
             "GAN settings (default: the project's last run, else the value shown)")
    group = parser.add_argument_group(title)
    group.add_argument("--epochs", type=int,
                       help="total epochs to reach (default: 200)" if demo else
                       f"total epochs to reach (default: {gan.epochs})")
    group.add_argument("--batch-size", type=int,
                       help=f"spectra per batch (default: {gan.batch_size})")
    group.add_argument("--code-length", type=int,
                       help=f"length of the noise code (default: {arch.code_length})")
    group.add_argument("--generator-filters", type=int, help="generator convolution filters "
                       f"(default: {arch.generator_filters})")
    group.add_argument("--discriminator-filters", type=int, help="discriminator first-layer "
                       f"filters (default: {arch.discriminator_filters})")
    group.add_argument("--discriminator-steps", type=int, help="discriminator steps per "
                       f"generator step (default: {gan.discriminator_steps})")
    group.add_argument("--generator-lr", type=float,
                       help=f"generator learning rate (default: {gan.generator_lr:g})")
    group.add_argument("--discriminator-lr", type=float,
                       help=f"discriminator learning rate (default: {gan.discriminator_lr:g})")
    group.add_argument("--seed", type=int, help=f"random seed (default: {gan.seed})")
    group.add_argument("--snapshot-interval", type=int,
                       help="epochs between generated snapshots (default: "
                       + ("a twentieth of --epochs)" if demo else f"{gan.snapshot_interval})"))
    group.add_argument("--checkpoint-interval", type=int,
                       help="epochs between checkpoints and printed lines (default: "
                       + ("a quarter of --epochs)" if demo else f"{gan.checkpoint_interval})"))
    group.add_argument("--max-checkpoints", type=int, help="checkpoints kept, spread over the "
                       f"run (default: {gan.max_checkpoints})")
    group.add_argument("--device", choices=["auto", "cpu", "cuda"],
                       help=f"where to train (default: {gan.device}: cuda when available)")


def _add_transfer_options(parser) -> None:
    from specgan_gui.training.transfer import TransferSettings

    defaults = TransferSettings()
    group = parser.add_argument_group("transfer settings")
    group.add_argument("--transfer-epochs", type=int, help="fine-tuning epochs per fold "
                       f"(default: {defaults.epochs})")
    group.add_argument("--transfer-learning-rate", type=float, help="fine-tuning learning rate "
                       f"(default: {defaults.learning_rate:g})")
    group.add_argument("--transfer-batch-size", type=int, help="fine-tuning batch size "
                       f"(default: {defaults.batch_size})")
    group.add_argument(
        "--cv", dest="transfer_cv", choices=["auto", "loo", "kfold"],
        help=f"cross-validation (default: {defaults.cv}: leave-one-out up to 30 samples, "
        f"else k-fold)",
    )
    group.add_argument("--folds", dest="transfer_n_folds", type=int,
                       help=f"folds for kfold (default: {defaults.n_folds})")
    group.add_argument("--freeze-trunk", action="store_true",
                       help="train only the new head (default: train the whole network)")
    group.add_argument("--repeats", dest="transfer_repeats", type=int,
                       help="repetitions of the cross-validation with seeds seed, seed+1, ... "
                       f"(default: {defaults.repeats})")
    group.add_argument("--group", dest="transfer_group_column", metavar="COLUMN",
                       help="reference column whose equal values (replicates, measuring "
                       "days) always share a fold (default: no grouping)")
    group.add_argument("--head-units", dest="transfer_head_units", type=int,
                       help="units of a hidden ReLU layer before the output; 0 for a linear "
                       f"head (default: {defaults.head_units})")
    group.add_argument("--no-early-stopping", action="store_true",
                       help="train every fold for --transfer-epochs (default: stop when the "
                       "loss on an inner validation split stops falling)")
    group.add_argument("--patience", dest="transfer_patience", type=int,
                       help="epochs without a lower validation loss before early stopping "
                       f"(default: {defaults.patience})")
    group.add_argument("--validation-fraction", dest="transfer_validation_fraction",
                       type=float, help="fraction of each training fold held out for early "
                       f"stopping (default: {defaults.validation_fraction:g})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specgan",
        description="Train GAN1D on spectra, transfer its discriminator, compare with PLS.",
    )
    parser.add_argument("--version", action="version", version=f"specgan {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log engine decisions")
    # -v also after the subcommand; SUPPRESS keeps a -v given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log engine decisions")
    sub = parser.add_subparsers(dest="command", required=True)

    def add_command(name: str, **kwargs) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], **kwargs)

    demo = add_command("demo", help="run a whole session on a bundled example")
    demo.add_argument("--example", choices=["coffee", "fermentation"], required=True,
                      help="bundled data: coffee (60 ATR-FTIR spectra, 3 origins) or "
                      "fermentation (21 spectra, glucose in g/L)")
    demo.add_argument("--out", required=True, help="project file to write (.h5)")
    demo.add_argument("--force", action="store_true", help="replace --out if it exists")
    demo.add_argument("--crop", nargs=2, type=_finite_float, metavar=("LOW", "HIGH"),
                      help="keep this axis range only, in axis units (default: the whole axis)")
    _add_gan_options(demo, demo=True)
    _add_transfer_options(demo)
    demo.set_defaults(func=cmd_demo, epochs=200)

    imp = add_command("import", help="build a project from spectra files")
    imp.add_argument("files", nargs="+",
                     help="spectra files or folders (any format that `inspect` reads)")
    imp.add_argument("--targets", help="table of reference values to join (CSV or XLSX)")
    imp.add_argument("--id-column", help="column of --targets that contains the sample ids "
                     "(default: the column whose values match the sample ids, else rows are "
                     "joined in order)")
    imp.add_argument("--id-source", choices=["auto", "filename", "metadata", "table"],
                     default="auto", help="where sample ids come from (default: auto: the "
                     "file name for one spectrum per file, else the ids inside the file)")
    imp.add_argument("--id-pattern", metavar="REGEX", help="regular expression searched in "
                     "each file name; its first group is the sample id, e.g. 'coffee_(\\d+)' "
                     "(default: the whole file name)")
    imp.add_argument("--column", help="text files: the spectrum column (name, number "
                     "counted from 1, or 'all'; default: the first column after the x column)")
    imp.add_argument("--block", help="OPUS files: the data block to read (default: AB)")
    imp.add_argument("--axis-unit", help="axis unit to use instead of the files' (nm, cm-1, "
                     "index; default: as the files state it, else guessed from the range)")
    imp.add_argument("--convert-axis", choices=["nm", "cm-1"],
                     help="convert axes between nm and cm-1 by 1e7 / x (default: no conversion)")
    imp.add_argument("--resample", action="store_true", help="resample files with different "
                     "axes onto a common grid by linear interpolation over their overlap "
                     "(default: refuse different axes)")
    imp.add_argument("--y-unit", choices=["absorbance", "transmittance", "%T"],
                     help="y unit of files that do not state it, transmittance as a fraction "
                     "(default: as the files state it)")
    imp.add_argument("--to-absorbance", action="store_true",
                     help="convert transmittance to absorbance, A = -log10(T)")
    imp.add_argument("--recursive", action="store_true", help="search folders' subfolders too")
    imp.add_argument("--skip-failed", action="store_true",
                     help="import the readable files when others fail (listed as warnings)")
    imp.add_argument("--target", help="reference column to predict (default: the first "
                     "column that suits: numbers, or text with at most half as many classes "
                     "as samples)")
    imp.add_argument("--task", choices=["regression", "classification"],
                     help="what to predict (default: regression for numbers, classification "
                     "for text and for numbers with at most 10 values)")
    imp.add_argument("--crop", nargs=2, type=_finite_float, metavar=("LOW", "HIGH"),
                     help="keep this axis range only, in axis units (default: the whole axis)")
    imp.add_argument("--out", required=True, help="project file to write (.h5)")
    imp.add_argument("--force", action="store_true", help="replace --out if it exists")
    imp.set_defaults(func=cmd_import)

    train = add_command("train", help="train or continue training the GAN")
    train.add_argument("project")
    train.add_argument("--restart", action="store_true",
                       help="discard the stored GAN run and start a new one; needed to "
                       "change --code-length or the filters of a trained GAN")
    train.add_argument("--out", help="write to this file instead of PROJECT")
    train.add_argument("--force", action="store_true", help="replace --out if it exists")
    _add_gan_options(train)
    train.set_defaults(func=cmd_train)

    transfer = add_command("transfer", help="compare GAN transfer, from scratch and PLS")
    transfer.add_argument("project")
    transfer.add_argument("--sweep", action="store_true",
                          help="cross-validate GAN transfer from every checkpoint first, "
                          "then compare at the best epoch (unless --checkpoint)")
    transfer.add_argument("--checkpoints", type=_epoch_list, metavar="EPOCHS",
                          help="checkpoint epochs the sweep uses, e.g. 100,200 (default: all)")
    transfer.add_argument("--target", dest="targets", action="append", metavar="COLUMN",
                          help="reference column to predict; repeat for several (regression "
                          "only). Stored as the project's targets (default: the project's)")
    transfer.add_argument("--checkpoint", type=int,
                          help="GAN epoch to transfer (default: the newest checkpoint)")
    transfer.add_argument("--out", help="write to this file instead of PROJECT")
    transfer.add_argument("--force", action="store_true", help="replace --out if it exists")
    _add_transfer_options(transfer)
    transfer.set_defaults(func=cmd_transfer)

    predict = add_command("predict", help="predict spectra with a fitted model")
    predict.add_argument("project")
    predict.add_argument("files", nargs="*", help="spectra to predict (default: the project's)")
    predict.add_argument("--model", help="model name (default: the best model of the latest "
                         "comparison)")
    predict.add_argument("--axis-unit", help="axis unit to use instead of the files' (nm, "
                         "cm-1, index; default: as the files state it, else guessed from the "
                         "range)")
    predict.add_argument("--convert-axis", choices=["nm", "cm-1"],
                         help="convert the files' axes between nm and cm-1 by 1e7 / x, to "
                         "match the model (default: no conversion)")
    predict.add_argument("--csv", help="write the predictions to this CSV file (default: "
                         "print them)")
    predict.add_argument("--out", help="write the project to this file instead of PROJECT")
    predict.add_argument("--force", action="store_true", help="replace --out if it exists")
    predict.set_defaults(func=cmd_predict)

    from specgan_gui.data.preprocessing import PRESETS

    prep = add_command(
        "preprocess",
        help="set the preprocessing pipeline, or rank standard ones",
        description="Store a preprocessing pipeline in the project (clearing a GAN run and "
        "results trained on the old one), or score standard pipelines with PLS. Without "
        "options, print the current pipeline.",
        epilog=_preprocess_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    prep.add_argument("project")
    choice = prep.add_mutually_exclusive_group()
    choice.add_argument("--steps", help='pipeline in step syntax, e.g. "snv,savgol:15:2:1,scale"')
    choice.add_argument("--preset", choices=list(PRESETS),
                        help="a standard pipeline for the measurement (listed below)")
    choice.add_argument("--suggest", action="store_true",
                        help="rank standard pipelines by nested cross-validation with PLS "
                        "and print the table; stores nothing")
    pls = prep.add_mutually_exclusive_group()
    pls.add_argument("--pls-steps", metavar="STEPS",
                     help="give PLS a pipeline of its own (step syntax or a preset name); "
                     "the GAN and the networks keep --steps. Transfer runs after this "
                     "use it")
    pls.add_argument("--pls-same", action="store_true",
                     help="let PLS use the networks' pipeline again (the default)")
    prep.add_argument("--force", action="store_true",
                      help="replace the pipeline even when a GAN was trained on the old one, "
                      "and replace --out if it exists")
    prep.add_argument("--max-components", type=int, default=10,
                      help="--suggest: most PLS components tried (default: 10)")
    prep.add_argument("--seed", type=int, default=0,
                      help="--suggest: seed of the folds (default: 0)")
    prep.add_argument("--out", help="write to this file instead of PROJECT")
    prep.set_defaults(func=cmd_preprocess)

    info = add_command("info", help="summarise a project")
    info.add_argument("project")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)

    inspect = add_command("inspect", help="show what the reader sees in a file")
    inspect.add_argument("file")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(func=cmd_inspect)
    return parser


class _PrintedElsewhere(logging.Filter):
    """Drop the readers' per-file warnings: every command prints them from its result."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "specgan_gui.io.base" and record.levelno == logging.WARNING)


def _configure_logging(verbose: bool) -> tuple[logging.Handler, int]:
    """Log to standard error; return the handler and the root level to restore."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_PrintedElsewhere())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    return handler, previous_level


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    handler, previous_level = _configure_logging(args.verbose)
    try:
        return _run(args)
    finally:
        # `main` may run inside another program (tests call it many times),
        # which must not keep a handler on a standard error that may be closed.
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(previous_level)


def _run(args) -> int:
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe fails here, inside the handler below
        return code
    except SpecganError as error:
        print(f"error: {_option_names(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of the output (such as `head`) has gone: stop quietly, and point
        # stdout at nothing so that the final flush at exit does not fail again.
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass  # stdout is not a real file (tests capture it)
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
