"""common/cli.py: UserError -> ``Error: ...`` and exit 1 without traceback; ``--verbose`` logs the
traceback hidden behind ``raise UserError(...) from None``; other exceptions are not swallowed."""
from __future__ import annotations

import logging

import click
import pytest
from click.testing import CliRunner

from crnn_deploy.common.cli import command, group
from crnn_deploy.common.errors import UserError


def _sdk_call():
    raise ValueError("protobuf parse failed at byte 17")


@command()
@click.argument("what")
def tool(what):
    """A tool that fails in three ways."""
    if what == "user":
        try:
            _sdk_call()
        except ValueError:
            raise UserError("cannot load m.onnx: not an ONNX model") from None
    if what == "bug":
        raise KeyError("programming error")
    click.echo(f"ok {what}")


@group()
def cli():
    """A group of tools."""


cli.add_command(tool)


def test_user_error_is_one_line_and_exit_1():
    res = CliRunner().invoke(tool, ["user"])
    assert res.exit_code == 1
    assert res.output == "Error: cannot load m.onnx: not an ONNX model\n"


def test_verbose_logs_the_hidden_traceback(caplog):
    caplog.set_level(logging.DEBUG, logger="crnn_deploy")
    res = CliRunner().invoke(tool, ["--verbose", "user"])
    assert res.exit_code == 1 and "Error: cannot load m.onnx" in res.output
    assert "Traceback" not in res.output
    assert "ValueError: protobuf parse failed at byte 17" in caplog.text
    assert "_sdk_call" in caplog.text  # the SDK's frames, kept in __context__


def test_without_verbose_nothing_is_logged(caplog):
    caplog.set_level(logging.DEBUG, logger="crnn_deploy")
    CliRunner().invoke(tool, ["user"])
    assert "protobuf" not in caplog.text


def test_success_and_help():
    assert CliRunner().invoke(tool, ["-v", "fine"]).output == "ok fine\n"
    res = CliRunner().invoke(tool, ["-h"])
    assert res.exit_code == 0 and "--verbose" in res.output


def test_programming_errors_are_not_turned_into_user_errors():
    res = CliRunner().invoke(tool, ["bug"])
    assert res.exit_code == 1 and isinstance(res.exception, KeyError)
    with pytest.raises(KeyError):
        CliRunner().invoke(tool, ["bug"], catch_exceptions=False)


def test_group_subcommands_get_the_same_handling():
    res = CliRunner().invoke(cli, ["tool", "user"])
    assert res.exit_code == 1 and res.output == "Error: cannot load m.onnx: not an ONNX model\n"
    assert "--verbose" in CliRunner().invoke(cli, ["tool", "-h"]).output
