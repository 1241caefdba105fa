"""The one exception type for user errors, shared by every stage.

A :class:`UserError` is bad input (a missing file, a wrong shape, a checkpoint of another
architecture): the console scripts print its message as ``Error: ...`` and exit with status 1,
without a Python traceback. Programming errors stay ordinary exceptions.
"""
from __future__ import annotations

import click


class UserError(click.ClickException):
    """Bad user input; the message names the file/sample/key and what was expected."""
