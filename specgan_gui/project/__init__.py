"""The project object and its HDF5 store (no Qt, no torch)."""

from specgan_gui.project.project import Project, Tree, checkpoints_to_drop, transfer_rows
from specgan_gui.project.store import (
    FORMAT_VERSION,
    MIGRATIONS,
    load_project,
    read_tree,
    save_project,
    write_tree,
)

__all__ = [
    "FORMAT_VERSION",
    "MIGRATIONS",
    "Project",
    "Tree",
    "checkpoints_to_drop",
    "load_project",
    "read_tree",
    "save_project",
    "transfer_rows",
    "write_tree",
]
