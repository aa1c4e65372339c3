"""Error types that carry a message meant for the user.

Every error the engine raises on purpose derives from `SpecganError`; its
text names the file or value involved, what is wrong and what to do.  The
window and the command line show that text as it is, so it must read as a
sentence, never as a traceback.
"""

from __future__ import annotations


class SpecganError(Exception):
    """Base class of errors whose message is written for the user."""


class ReadError(SpecganError):
    """A file could not be read as spectra.

    Parameters
    ----------
    path
        The file that failed.
    problem
        What is wrong, as a sentence.
    location
        Where in the file, for example ``"line 12"`` or ``"byte 1024"``.
    hint
        What the user can do about it.
    """

    def __init__(self, path, problem: str, location: str = "", hint: str = ""):
        self.path = str(path)
        self.problem = problem
        self.location = location
        self.hint = hint
        where = f" ({location})" if location else ""
        text = f"{self.path}{where}: {problem}"
        if hint:
            text += f" {hint}"
        super().__init__(text)


class ProjectFileError(SpecganError):
    """A project file is missing, damaged or of an unsupported version."""


class SettingsError(SpecganError):
    """A setting has a value the engine cannot work with."""


class DataError(SpecganError):
    """The data do not allow the requested step (too few samples, no target)."""
