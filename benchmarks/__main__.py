"""Run the benchmarks and print every figure: ``python -m benchmarks [--only A,B] [--quick]``."""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
import traceback

# name: (module, function, what it measures)
BENCHMARKS = {
    "throughput": ("benchmarks.throughput", "run_cpu", "GAN epoch throughput on the CPU"),
    "gpu": ("benchmarks.throughput", "run_gpu", "GAN epoch throughput on CUDA"),
    "checkpoints": ("benchmarks.checkpoints", "run", "checkpoint pause, sizes and memory"),
    "startup": ("benchmarks.startup", "run", "time from launch to the window shown"),
    "window": ("benchmarks.window", "run", "event-loop stalls while training in the window"),
    "transfer": ("benchmarks.transfer", "run", "checkpoint sweep and comparison time"),
    "long_run": ("benchmarks.long_run", "run", "memory and file size of a 10 000-epoch run"),
}
#: Run only when named in --only: the long run takes about 40 minutes.
ON_REQUEST = {"long_run"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Measure training speed, window responsiveness, checkpoint cost, "
        "start-up and comparison time at the reference size (40 spectra of 1868 points).",
    )
    parser.add_argument(
        "--only", metavar="NAME,...",
        help=f"run only these benchmarks, comma-separated: {', '.join(BENCHMARKS)} "
        f"({', '.join(sorted(ON_REQUEST))} only when named here)",
    )
    parser.add_argument(
        "--quick", action="store_true",
        help="fewer repeats and shorter runs, to check that every benchmark works",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    names = [name for name in BENCHMARKS if name not in ON_REQUEST]
    if args.only:
        names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in names if name not in BENCHMARKS]
        if unknown:
            build_parser().error(
                f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
            )
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    import torch

    print(f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {_cpu_model()}, {os.cpu_count()} logical CPUs, "
          f"{_memory_gb():.0f} GB memory, Python {platform.python_version()}, "
          f"torch {torch.__version__}")
    print(f"mode: {'quick' if args.quick else 'full'}")
    failed = []
    for name in names:
        module_name, function_name, title = BENCHMARKS[name]
        print(f"\n[{name}] {title}", flush=True)
        started = time.perf_counter()
        try:
            function = getattr(importlib.import_module(module_name), function_name)
            function(args.quick)
        # One broken benchmark must not hide the figures of the others.
        except Exception:  # noqa: BLE001
            failed.append(name)
            print(f"  FAILED:\n{traceback.format_exc()}", flush=True)
        print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    except (ValueError, OSError):
        return float("nan")


if __name__ == "__main__":
    sys.exit(main())
