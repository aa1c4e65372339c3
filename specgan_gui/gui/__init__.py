"""The desktop window: pages, plots and the worker that runs engine tasks.

Start it with ``specgan-gui`` or ``python -m specgan_gui.gui``.  Every long
task runs through `specgan_gui.gui.worker.TaskRunner`; pages reach the
project only through `specgan_gui.gui.controller.ProjectController`.
"""
