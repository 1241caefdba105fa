"""The one exception type for user errors, shared by every stage.

A :class:`UserError` is bad input (a missing file, a wrong shape, a checkpoint of another
architecture). It is a plain exception, so the library does not depend on click: the console
scripts (:mod:`common.cli`) print its message as ``Error: ...`` and exit with status 1, without a
Python traceback (``--verbose`` logs the hidden SDK traceback). Programming errors stay ordinary
exceptions.
"""
from __future__ import annotations

import contextlib

#: How to install PyTorch for the export and the pytorch backend: the CPU build first, so the
#: ``[export]`` extra (``torch>=2.6``) is already met; ``pip install 'crnn-deploy[export]'``
#: alone pulls the default PyPI torch, a multi-GB CUDA build on Linux (docs/INSTALL.md).
TORCH_INSTALL = ("pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu "
                 "(the CPU build) first, then: pip install 'crnn-deploy[export]'")


class UserError(Exception):
    """Bad user input; the message names the file/sample/key and what was expected."""

    exit_code = 1

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def format_message(self) -> str:
        return self.message

    def __str__(self) -> str:
        return self.message


def os_error_message(exc: OSError) -> str:
    """``FILE: reason`` of an OSError (``FILE -> OTHER: reason`` for a rename or link)."""
    where = ""
    if exc.filename:
        where = f"{exc.filename}"
        if getattr(exc, "filename2", None):
            where += f" -> {exc.filename2}"
        where += ": "
    return f"{where}{exc.strerror or exc}"


@contextlib.contextmanager
def os_errors_as_user_errors():
    """Turn an OSError raised inside (disk full, permissions) into a UserError naming the file:
    a message for the user instead of a traceback."""
    try:
        yield
    except OSError as exc:
        raise UserError(os_error_message(exc)) from None


class OptionError(UserError, ValueError):
    """An option value out of range or of the wrong type, given through the Python API (the
    CLIs check theirs with click): a UserError for the console scripts, a ValueError for
    callers that catch the standard exception."""
