"""bench.subcommands through the crnn-bench group: the bare form is ``run``, each focused run
has its own options under ``crnn-bench NAME --help``, and bad input is an ``Error:``."""
from __future__ import annotations

from click.testing import CliRunner

from crnn_deploy.bench.cli import main


def test_group_lists_every_subcommand():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    for name in ("run", "peers", "pages", "same", "widths", "fused", "ray", "scale"):
        assert f"  {name} " in res.output


def test_bare_options_go_to_run():
    res = CliRunner().invoke(main, ["--variants", "tflite"])
    assert res.exit_code == 1 and "Error: unknown variant(s) tflite" in res.output


def test_forwarded_help_names_the_subcommand(capsys):
    res = CliRunner().invoke(main, ["same", "--help"])
    assert res.exit_code == 0
    assert "usage: crnn-bench same" in capsys.readouterr().out + res.output


def test_peers_missing_gt_is_an_error(tmp_path):
    res = CliRunner().invoke(main, ["peers", "--peer", "rapidocr", "--ours", "x.onnx",
                                    "--gt", str(tmp_path / "gt.txt"),
                                    "--workdir", str(tmp_path / "w")])
    assert res.exit_code == 1 and "Error: --gt" in res.output and "file not found" in res.output
