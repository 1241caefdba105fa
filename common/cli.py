"""The console-script base: every ``crnn-*`` command turns a :class:`UserError` into
``Error: ...`` and exit status 1, and takes ``--verbose`` to log the underlying traceback.

Use :func:`command` / :func:`group` instead of ``click.command`` / ``click.group``.
Exceptions raised with ``raise UserError(...) from None`` keep their original exception in
``__context__``; ``--verbose`` logs that chain (the SDK's own traceback) at DEBUG level.
"""
from __future__ import annotations

import logging
import traceback

import click

from crnn_deploy.common.errors import UserError

log = logging.getLogger("crnn_deploy")

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"]}


def _set_verbose(ctx: click.Context, _param, value: bool) -> bool:
    if value:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
        log.setLevel(logging.DEBUG)
        ctx.meta["crnn_verbose"] = True
    return value


def _log_chain(exc: BaseException) -> None:
    """Log ``exc``'s traceback and every exception hidden behind it (``from None`` included)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        log.debug("".join(traceback.format_exception(type(exc), exc, exc.__traceback__, chain=False)))
        exc = exc.__cause__ or exc.__context__


def verbose_option() -> click.Option:
    return click.Option(["--verbose", "-v"], is_flag=True, expose_value=False, is_eager=True,
                        callback=_set_verbose,
                        help="Log debug messages and the traceback behind an error.")


class Command(click.Command):
    """A click command with ``--verbose`` whose :class:`UserError` becomes a ClickException."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(*args, **kwargs)
        self.params.append(verbose_option())

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            if ctx.meta.get("crnn_verbose"):
                _log_chain(exc)
            raise click.ClickException(exc.message) from None


class Group(click.Group):
    """A click group whose subcommands are :class:`Command` s."""

    command_class = Command

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(*args, **kwargs)


def command(*args, **kwargs):
    """``click.command`` with :class:`Command` (``--verbose``, UserError -> exit 1)."""
    return click.command(*args, cls=Command, **kwargs)


def group(*args, **kwargs):
    """``click.group`` with :class:`Group`."""
    return click.group(*args, cls=Group, **kwargs)
