"""The one exception type for user errors, shared by every stage.

A :class:`UserError` is bad input (a missing file, a wrong shape, a checkpoint of another
architecture). It is a plain exception, so the library does not depend on click: the console
scripts (:mod:`common.cli`) print its message as ``Error: ...`` and exit with status 1, without a
Python traceback (``--verbose`` logs the hidden SDK traceback). Programming errors stay ordinary
exceptions.
"""
from __future__ import annotations


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
