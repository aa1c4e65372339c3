"""Benchmarks of specgan_gui: run ``python -m benchmarks`` (see docs/performance.md)."""
