"""The console-script base: every ``crnn-*`` command turns a :class:`UserError` into
``Error: ...`` and exit status 1, and takes ``--verbose`` to log the underlying traceback.

Use :func:`command` / :func:`group` instead of ``click.command`` / ``click.group``.

Every command also turns an ``OSError`` that escapes it (disk full, permission denied, a parent
that is a file) into ``Error: FILE: reason`` and exit 1, and SIGTERM (what ``timeout``,
``docker stop`` and Kubernetes send) into ``SystemExit(143)`` raised in the main thread, so
``with`` blocks remove temporaries exactly as on Ctrl-C (:func:`sigterm_cleans_up`).
Error messages pass through :func:`common.names.terminal_safe` (an escape sequence in a file
name never reaches the terminal raw). Exceptions raised with ``raise UserError(...) from None`` keep their original exception in
``__context__``; ``--verbose`` logs that chain (the SDK's own traceback) at DEBUG level.
"""
from __future__ import annotations

import contextlib
import logging
import signal
import threading
import traceback

import click

from crnn_deploy.common.errors import UserError, os_error_message
from crnn_deploy.common.names import terminal_safe

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


@contextlib.contextmanager
def sigterm_cleans_up():
    """While inside, SIGTERM raises ``SystemExit(128 + 15)`` in the main thread (a no-op in
    other threads, which cannot install handlers): the same unwinding as Ctrl-C, so staged
    outputs and temporaries are removed; the previous handler is restored on exit."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    old = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)


class Command(click.Command):
    """A click command with ``--verbose`` whose :class:`UserError` becomes a ClickException."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("context_settings", CONTEXT_SETTINGS)
        super().__init__(*args, **kwargs)
        self.params.append(verbose_option())

    def invoke(self, ctx: click.Context):
        try:
            with sigterm_cleans_up():
                return super().invoke(ctx)
        except UserError as exc:
            if ctx.meta.get("crnn_verbose"):
                _log_chain(exc)
            raise click.ClickException(terminal_safe(exc.message)) from None
        except OSError as exc:  # disk full, permissions, a parent that is a file: not a bug
            if ctx.meta.get("crnn_verbose"):
                _log_chain(exc)
            raise click.ClickException(terminal_safe(os_error_message(exc))) from None


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
