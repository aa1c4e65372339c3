"""The `specgan` command line: the same engine as the window, without Qt.

Every subcommand reads or writes one project file; `demo` runs a whole
session on a bundled example.  Errors meant for the user are printed as
one line on stderr with exit status 2; Ctrl+C during training stops at the
next batch and still saves what was trained.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path

import numpy as np

from specgan_gui import __version__
from specgan_gui.errors import SpecganError

log = logging.getLogger("specgan")


# --- helpers -----------------------------------------------------------------
def _default_task(dataset, column: str) -> str:
    if column in dataset.numeric_columns() and dataset.references[column].nunique() > 10:
        return "regression"
    return "classification" if column in dataset.class_columns() else "regression"


def _new_project(dataset, target: str | None, task: str | None, crop):
    from specgan_gui.data.preprocessing import Pipeline
    from specgan_gui.project.project import Project

    project = Project(dataset=dataset)
    columns = list(map(str, dataset.references.columns))
    if target is None and columns:
        target = columns[0]
    if target is not None and target not in columns:
        raise SpecganError(
            f"The data have no reference column {target!r}; columns: {', '.join(columns) or 'none'}."
        )
    project.target = target
    if target is not None:
        project.task = task or _default_task(dataset, target)
    project.preprocessing = Pipeline.default(crop=tuple(crop) if crop else None).to_spec()
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


def _train(project, settings, architecture, quiet: bool = False):
    from specgan_gui.training.task import TaskState
    from specgan_gui.training.workflow import train_gan

    task = TaskState()
    interval = max(1, settings.checkpoint_interval)
    start = time.perf_counter()
    first_epoch = project.epochs_trained

    def on_epoch(stats):
        if quiet or (stats.epoch % interval and stats.epoch != settings.epochs):
            return
        rate = (stats.epoch - first_epoch) / max(time.perf_counter() - start, 1e-9)
        print(
            f"epoch {stats.epoch}/{settings.epochs}  D loss {stats.discriminator_loss:.4f}  "
            f"G loss {stats.generator_loss:.4f}  D(real) {stats.d_real:.3f}  "
            f"D(fake) {stats.d_fake:.3f}  {rate:.2f} epochs/s",
            flush=True,
        )

    previous = signal.getsignal(signal.SIGINT)

    def on_interrupt(signum, frame):
        print("stopping after the current batch (Ctrl+C again to abort)...", flush=True)
        task.request_stop()
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        outcome = train_gan(project, settings, architecture, task, on_epoch=on_epoch)
    finally:
        signal.signal(signal.SIGINT, previous)
    seconds = time.perf_counter() - start
    print(
        f"trained {outcome.epochs_completed} epochs in total ({seconds:.1f} s this run)"
        + (f"; stopped: {outcome.reason}" if outcome.stopped else ""),
        flush=True,
    )
    return outcome


def _transfer_settings(args):
    from specgan_gui.training.transfer import TransferSettings

    values = {}
    for key in ("epochs", "learning_rate", "batch_size", "cv", "n_folds", "seed", "device"):
        value = getattr(args, f"transfer_{key}", None)
        if value is not None:
            values[key] = value
    if getattr(args, "freeze_trunk", False):
        values["freeze_trunk"] = True
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


def _transfer(project, settings, checkpoint_epoch=None, quiet=False):
    from specgan_gui.training.task import TaskState
    from specgan_gui.training.workflow import run_transfer

    last = [-1.0]

    def on_progress(fraction, message):
        if quiet or fraction - last[0] < 0.1 and fraction < 1:
            return
        last[0] = fraction
        print(f"transfer {fraction:5.0%}  {message}", flush=True)

    result = run_transfer(project, settings, checkpoint_epoch, TaskState(on_progress))
    print(f"cross-validated comparison on checkpoint epoch {result.checkpoint_epoch}:")
    _print_table(result.rows)
    return result


def _save(project, path) -> None:
    from specgan_gui.project.store import save_project

    save_project(project, Path(path))
    print(f"saved {path}", flush=True)


def _load(path):
    from specgan_gui.project.store import load_project

    return load_project(Path(path))


# --- subcommands -------------------------------------------------------------
def cmd_demo(args) -> int:
    from specgan_gui.io.examples import EXAMPLES, load_example
    from specgan_gui.training.workflow import predict_samples

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
    _train(project, settings, _architecture(args, project))
    result = _transfer(project, _transfer_settings(args))
    # Predict with the model that won the comparison, as a user would.
    best = result.best_model()
    record = predict_samples(project, best)
    print(f"predicted {len(record['values'])} spectra with {best}, the best model", flush=True)
    _save(project, args.out)
    return 0


def cmd_import(args) -> int:
    from specgan_gui.io.importer import ImportOptions, import_files

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
    result = import_files(
        args.files, options, reference_table=args.targets, id_column=args.id_column,
        skip_failed=args.skip_failed,
    )
    for notice in result.notices:
        print(f"note: {notice}")
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    dataset = result.dataset
    project = _new_project(dataset, args.target, args.task, args.crop)
    files = [item for item in result.preview.files if item.ok]
    print(
        f"imported {dataset.n_samples} spectra of {dataset.n_points} points "
        f"({dataset.axis[0]:g} to {dataset.axis[-1]:g} {dataset.axis_unit}) from "
        f"{len(files)} file{'s' if len(files) != 1 else ''} "
        f"({'; '.join(dict.fromkeys(item.format for item in files))})"
    )
    _save(project, args.out)
    return 0


def cmd_train(args) -> int:
    project = _load(args.project)
    if args.restart:
        project.reset_training()
    settings = _gan_settings(args, project)
    _train(project, settings, _architecture(args, project))
    _save(project, args.out or args.project)
    return 0


def cmd_transfer(args) -> int:
    project = _load(args.project)
    _transfer(project, _transfer_settings(args), args.checkpoint)
    _save(project, args.out or args.project)
    return 0


def cmd_predict(args) -> int:
    from specgan_gui.io import read_many
    from specgan_gui.training.workflow import predict_samples

    project = _load(args.project)
    name = args.model or next(iter(project.models), None)
    if name is None:
        raise SpecganError(f"{args.project} has no fitted model; run `specgan transfer` first.")
    dataset = None
    source = ""
    if args.files:
        dataset = read_many(args.files).dataset
        source = ", ".join(Path(f).name for f in args.files)
    record = predict_samples(project, name, dataset, source)
    lines = ["sample_id,prediction"]
    for sample, value in zip(record["sample_ids"], record["values"]):
        lines.append(f"{sample},{value}")
    text = "\n".join(lines) + "\n"
    if args.csv:
        Path(args.csv).write_text(text, encoding="utf-8")
        print(f"wrote {len(record['values'])} predictions to {args.csv}")
    else:
        sys.stdout.write(text)
    _save(project, args.out or args.project)
    return 0


def cmd_preprocess(args) -> int:
    from specgan_gui.data.preprocessing import (
        Pipeline,
        format_steps,
        parse_steps,
        preset,
        validate,
    )

    project = _load(args.project)
    dataset = project.dataset
    if dataset is None:
        raise SpecganError(f"{args.project} has no spectra; import spectra first.")
    if args.suggest:
        return _suggest_preprocessing(project, args)
    if args.steps is None and args.preset is None:
        print(f"preprocessing: {format_steps(project.preprocessing)}")
        for warning in validate(project.preprocessing, dataset.axis):
            print(f"warning: {warning}")
        return 0

    spec = parse_steps(args.steps) if args.steps is not None else preset(args.preset)
    for warning in validate(spec, dataset.axis):
        print(f"warning: {warning}", file=sys.stderr)
    # Fitting now reports a step that cannot run on these spectra before anything changes.
    pipeline = Pipeline.from_spec(spec).fit(dataset.axis, dataset.spectra)
    if spec == project.preprocessing:
        print(f"preprocessing unchanged: {format_steps(spec)}")
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
    project.models = {}
    if cleared:
        print(f"cleared {' and '.join(cleared)}, trained on the old preprocessing")
    print(
        f"preprocessing: {format_steps(spec)} ({pipeline.output_axis.size} points; before "
        f"the final scaling: {pipeline.units_label(dataset.y_unit)})"
    )
    _save(project, args.out or args.project)
    return 0


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
    project = _load(args.project)
    info = project.info()
    if args.json:
        print(json.dumps(info, indent=2, default=_json_default))
        return 0
    for key, value in info.items():
        if key == "transfer_results":
            print("transfer_results:")
            _print_table(value)
        else:
            print(f"{key}: {value}")
    return 0


def cmd_inspect(args) -> int:
    from specgan_gui.io import read_spectra

    try:
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
def _add_gan_options(parser) -> None:
    group = parser.add_argument_group("GAN settings (defaults: the project's last run)")
    group.add_argument("--epochs", type=int, help="total epochs to reach")
    group.add_argument("--batch-size", type=int, help="spectra per batch")
    group.add_argument("--code-length", type=int, help="length of the noise code (100)")
    group.add_argument("--generator-filters", type=int, help="generator convolution filters (64)")
    group.add_argument(
        "--discriminator-filters", type=int, help="discriminator first-layer filters (64)"
    )
    group.add_argument(
        "--discriminator-steps", type=int, help="discriminator steps per generator step (1)"
    )
    group.add_argument("--generator-lr", type=float, help="generator learning rate (2e-4)")
    group.add_argument("--discriminator-lr", type=float, help="discriminator learning rate (2e-4)")
    group.add_argument("--seed", type=int, help="random seed")
    group.add_argument("--snapshot-interval", type=int, help="epochs between generated snapshots")
    group.add_argument("--checkpoint-interval", type=int, help="epochs between checkpoints")
    group.add_argument("--max-checkpoints", type=int, help="checkpoints kept, spread over the run")
    group.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where to train (auto)")


def _add_transfer_options(parser) -> None:
    group = parser.add_argument_group("transfer settings")
    group.add_argument("--transfer-epochs", type=int, help="fine-tuning epochs per fold (200)")
    group.add_argument("--transfer-learning-rate", type=float, help="fine-tuning learning rate")
    group.add_argument("--transfer-batch-size", type=int, help="fine-tuning batch size")
    group.add_argument(
        "--cv", dest="transfer_cv", choices=["auto", "loo", "kfold"],
        help="cross-validation: leave-one-out up to 30 samples else 5-fold (auto)",
    )
    group.add_argument("--folds", dest="transfer_n_folds", type=int, help="folds for kfold (5)")
    group.add_argument("--freeze-trunk", action="store_true", help="train only the new head")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specgan",
        description="Train GAN1D on spectra, transfer its discriminator, compare with PLS.",
    )
    parser.add_argument("--version", action="version", version=f"specgan {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log engine decisions")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run a whole session on a bundled example")
    demo.add_argument("--example", choices=["coffee", "fermentation"], required=True)
    demo.add_argument("--out", required=True, help="project file to write (.h5)")
    demo.add_argument("--crop", nargs=2, type=float, metavar=("LOW", "HIGH"),
                      help="keep this axis range only (axis units)")
    _add_gan_options(demo)
    _add_transfer_options(demo)
    demo.set_defaults(func=cmd_demo, epochs=200)

    imp = sub.add_parser("import", help="build a project from spectra files")
    imp.add_argument("files", nargs="+",
                     help="spectra files or folders (any format that `inspect` reads)")
    imp.add_argument("--targets", help="table of reference values to join (CSV or XLSX)")
    imp.add_argument("--id-column", help="column of --targets that contains the sample ids "
                     "(default: join by row order)")
    imp.add_argument("--id-source", choices=["auto", "filename", "metadata", "table"],
                     default="auto", help="where sample ids come from (auto: the file name "
                     "for one spectrum per file, else the ids inside the file)")
    imp.add_argument("--id-pattern", metavar="REGEX", help="regular expression searched in "
                     "each file name; its first group is the sample id, e.g. 'coffee_(\\d+)'")
    imp.add_argument("--column", help="text files: the spectrum column (name, number "
                     "counted from 1, or 'all')")
    imp.add_argument("--block", help="OPUS files: the data block to read (default AB)")
    imp.add_argument("--axis-unit", help="axis unit to use instead of the files' (nm, cm-1, "
                     "index)")
    imp.add_argument("--convert-axis", choices=["nm", "cm-1"],
                     help="convert axes between nm and cm-1 (1e7 / x)")
    imp.add_argument("--resample", action="store_true", help="resample files with different "
                     "axes onto a common grid (linear interpolation over their overlap)")
    imp.add_argument("--y-unit", choices=["absorbance", "transmittance", "%T"],
                     help="y unit of files that do not state it (transmittance as a fraction)")
    imp.add_argument("--to-absorbance", action="store_true",
                     help="convert transmittance to absorbance, A = -log10(T)")
    imp.add_argument("--recursive", action="store_true", help="search folders' subfolders too")
    imp.add_argument("--skip-failed", action="store_true",
                     help="import the readable files when others fail (listed as warnings)")
    imp.add_argument("--target", help="reference column to predict (default: the first)")
    imp.add_argument("--task", choices=["regression", "classification"])
    imp.add_argument("--crop", nargs=2, type=float, metavar=("LOW", "HIGH"))
    imp.add_argument("--out", required=True, help="project file to write (.h5)")
    imp.set_defaults(func=cmd_import)

    train = sub.add_parser("train", help="train or continue training the GAN")
    train.add_argument("project")
    train.add_argument("--restart", action="store_true", help="discard the old run first")
    train.add_argument("--out", help="write to this file instead of PROJECT")
    _add_gan_options(train)
    train.set_defaults(func=cmd_train)

    transfer = sub.add_parser("transfer", help="compare GAN transfer, from scratch and PLS")
    transfer.add_argument("project")
    transfer.add_argument("--checkpoint", type=int, help="GAN epoch to transfer (newest)")
    transfer.add_argument("--out", help="write to this file instead of PROJECT")
    _add_transfer_options(transfer)
    transfer.set_defaults(func=cmd_transfer)

    predict = sub.add_parser("predict", help="predict spectra with a fitted model")
    predict.add_argument("project")
    predict.add_argument("files", nargs="*", help="spectra to predict (default: the project's)")
    predict.add_argument("--model", help="model name (default: the first, GAN transfer)")
    predict.add_argument("--csv", help="write the predictions to this CSV file")
    predict.add_argument("--out", help="write the project to this file instead of PROJECT")
    predict.set_defaults(func=cmd_predict)

    from specgan_gui.data.preprocessing import PRESETS

    prep = sub.add_parser(
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
    prep.add_argument("--force", action="store_true",
                      help="replace the pipeline even when a GAN was trained on the old one")
    prep.add_argument("--max-components", type=int, default=10,
                      help="--suggest: most PLS components tried (10)")
    prep.add_argument("--seed", type=int, default=0, help="--suggest: seed of the folds (0)")
    prep.add_argument("--out", help="write to this file instead of PROJECT")
    prep.set_defaults(func=cmd_preprocess)

    info = sub.add_parser("info", help="summarise a project")
    info.add_argument("project")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)

    inspect = sub.add_parser("inspect", help="show what the reader sees in a file")
    inspect.add_argument("file")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    inspect.set_defaults(func=cmd_inspect)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except SpecganError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
