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


# --- every OS error on write is "Error:", and leaves no temporary (issue 20) ----------------

@pytest.fixture
def full_disk(tmp_path):
    """A folder on a full file system: a 64 KiB tmpfs filled up (needs root to mount), else
    None."""
    import os
    import shutil
    import subprocess

    mnt = tmp_path / "full"
    mnt.mkdir()
    if not shutil.which("mount") or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
            capture_output=True).returncode != 0:
        yield None
        return
    try:
        fd = os.open(mnt / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 512):
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def _hidden_left(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_recognize_disk_full_and_parent_file_are_errors(assets, nano_dynamic_onnx, tmp_path,
                                                        full_disk, monkeypatch):
    from crnn_deploy.pipeline import recognize_cli

    words = str(assets / "demo_words")
    (tmp_path / "afile").write_text("x")
    res = CliRunner().invoke(recognize_cli.main, ["--engine", str(nano_dynamic_onnx), words,
                                                  "-o", str(tmp_path / "afile" / "p.tsv")])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "Error: " in res.output and "afile is a file, not a folder" in res.output
    if full_disk is None:  # no tmpfs: the write itself fails as on a full disk
        def enospc(*a, **k):
            raise OSError(28, "No space left on device")
        monkeypatch.setattr(recognize_cli, "_row", enospc)
        target = tmp_path / "p.tsv"
    else:
        target = full_disk / "p.tsv"
    res = CliRunner().invoke(recognize_cli.main, ["--engine", str(nano_dynamic_onnx), words,
                                                  "-o", str(target)])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "Error: " in res.output and "No space left on device" in res.output
    assert not target.exists() and not _hidden_left(target.parent)


def test_eval_output_that_cannot_be_written_fails_before_the_work(iiit5k_lmdb, nano_dynamic_onnx,
                                                                  tmp_path):
    from crnn_deploy.pipeline.eval_cli import main

    (tmp_path / "afile").write_text("x")
    res = CliRunner().invoke(main, ["--lmdb", str(iiit5k_lmdb), "--engine",
                                    str(nano_dynamic_onnx), "--output",
                                    str(tmp_path / "afile" / "out")])
    assert res.exit_code == 1 and "Error: " in res.output, res.output
    assert "afile is a file, not a folder" in res.output
    assert "accuracy" not in res.output  # failed at once, not after scoring 3000 images


def test_build_lmdb_open_failure_is_an_error_and_leaves_no_stage(assets, tmp_path, monkeypatch):
    import lmdb

    from crnn_deploy.preprocess import lmdb_build
    from crnn_deploy.preprocess.cli import main

    def fail(*a, **k):
        raise lmdb.Error("mdb_env_open: No space left on device")

    monkeypatch.setattr(lmdb_build.lmdb, "open", fail)
    res = CliRunner().invoke(main, ["build-lmdb", "--images", str(assets / "demo_words"),
                                    "--output", str(tmp_path / "w.lmdb")])
    assert res.exit_code == 1 and "Error: writing the LMDB" in res.output, res.output
    assert "No space left" in res.output and list(tmp_path.iterdir()) == []


def test_sigterm_cleans_up_like_ctrl_c(assets, nano_dynamic_onnx, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "p.tsv"
    cmd = [sys.executable, "-m", "crnn_deploy.pipeline.recognize_cli", "--engine",
           str(nano_dynamic_onnx), str(assets / "eval_iiit5k_3000"), "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not list(tmp_path.glob(".p.tsv.tmp-*")):
            assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
            time.sleep(0.02)
        time.sleep(0.5)  # working: the temporary is being written
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []  # neither the output nor its temporary
    assert os.path.exists(assets / "eval_iiit5k_3000")
