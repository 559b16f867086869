"""Errors the coding pipeline raises for problems a person can fix.

Callers (CLI, web, jobs) show ``str(error)`` to the user as it is: every message
names the problem and, where there is one, the file/line or the setting to fix.
"""


class CodingError(Exception):
    """Base class: a user-facing problem, never a bug."""


class InputError(CodingError, ValueError):
    """The input (transcript, audio, corpus file) is unreadable or invalid."""


class ModelError(CodingError, RuntimeError):
    """A model is missing, unreadable or of the wrong version."""
