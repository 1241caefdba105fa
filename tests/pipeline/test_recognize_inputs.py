"""crnn-recognize's inputs: ``-`` for paths on stdin, ``--list FILE`` (relative to it or
--root), with the rows of the same images given on the command line."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli
from crnn_deploy.pipeline.recognize_inputs import gather_inputs


def run(*args, stdin=None):
    return CliRunner().invoke(recognize_cli, [str(a) for a in args], input=stdin)


@pytest.fixture(scope="module")
def words(assets):
    root = assets / "eval_iiit5k_3000"
    rels = [line.split("\t", 1)[0] for line in
            (root / "gt.txt").read_text("utf-8").splitlines()[:7]]
    return root, rels


def test_stdin_and_list_give_the_rows_of_the_command_line(words, nano_dynamic_onnx, tmp_path):
    root, rels = words
    paths = [str(root / r) for r in rels]
    direct = run("--engine", nano_dynamic_onnx, *paths)
    assert direct.exit_code == 0, direct.output
    piped = run("--engine", nano_dynamic_onnx, "-", stdin="\n".join(paths) + "\n\n# done\n")
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == direct.stdout and len(piped.stdout.splitlines()) == 7
    listed = tmp_path / "list.txt"
    listed.write_text("\n".join(rels) + "\n", "utf-8")
    res = run("--engine", nano_dynamic_onnx, "--list", listed, "--root", root)
    assert res.exit_code == 0, res.output
    rows = [line.split("\t") for line in res.stdout.splitlines()]
    assert [r[0] for r in rows] == rels  # named as listed
    assert [r[1:] for r in rows] == [line.split("\t")[1:] for line in direct.stdout.splitlines()]
    res = run("--engine", nano_dynamic_onnx, "--list", listed)  # relative to the list's folder
    assert res.exit_code == 1 and f"skipped {rels[0]}: " in res.stderr  # not beside it
    assert "Error: no image could be recognized (7 bad" in res.output


def test_input_errors(tmp_path, words):
    root, rels = words
    listed = tmp_path / "list.txt"
    listed.write_text(f"{rels[0]}\n{rels[1]}\tLABEL\n", "utf-8")
    with pytest.raises(UserError, match=r"list.txt:2: expected one image path per line"):
        gather_inputs((), listed, root=root)
    with pytest.raises(UserError, match="stdin line 1: .*use --gt"):
        gather_inputs(("-",), stdin=["a.png\tA\n"])
    with pytest.raises(UserError, match="no image to recognize"):
        gather_inputs(("-",), stdin=[])
    with pytest.raises(UserError, match="--gt lists the images itself"):
        gather_inputs(("a.png",), gt=root / "gt.txt")
    with pytest.raises(UserError, match="--root goes with --list or --gt"):
        gather_inputs((str(root / rels[0]),), root=root)
    got = gather_inputs((str(root / rels[0]), "-"), stdin=[str(root / rels[1]) + "\n"])
    assert got.paths == [str(root / rels[0]), str(root / rels[1])] and got.labels is None
