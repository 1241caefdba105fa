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
        list(gather_inputs((), listed, root=root).rows())  # read lazily: the error comes then
    with pytest.raises(UserError, match="stdin line 1: .*use --gt"):
        list(gather_inputs(("-",), stdin=["a.png\tA\n"]).rows())
    with pytest.raises(UserError, match="no image to recognize"):
        list(gather_inputs(("-",), stdin=[]).rows())
    with pytest.raises(UserError, match="--gt lists the images itself"):
        gather_inputs(("a.png",), gt=root / "gt.txt")
    with pytest.raises(UserError, match="--root goes with --list or --gt"):
        gather_inputs((str(root / rels[0]),), root=root)
    got = gather_inputs((str(root / rels[0]), "-"), stdin=[str(root / rels[1]) + "\n"])
    assert [r[0] for r in got.rows()] == [str(root / rels[0]), str(root / rels[1])]
    assert got.labels is None
    got = gather_inputs((str(root / rels[0]), "-"), stdin=[str(root / rels[1]) + "\n"])
    assert got.materialize().paths == [str(root / rels[0]), str(root / rels[1])]  # Ray's list


def test_stdin_and_list_are_streamed(words, nano_dynamic_onnx, tmp_path):
    """``yes PATH | crnn-recognize -``: paths are read only as the run needs them (the first
    rows come out while stdin has no end), so memory is bounded."""
    import itertools

    from crnn_deploy.pipeline import Recognizer

    root, rels = words
    path = str(root / rels[0])
    read = itertools.count()

    class Endless:  # `yes PATH` on stdin
        def readline(self, limit=-1):
            next(read)
            return path + "\n"

    src = gather_inputs(("-",), stdin=Endless())
    assert src.total is None and next(read) == 0  # nothing read yet
    with Recognizer(nano_dynamic_onnx, 16, prep_threads=1, ahead=1) as rec:
        rows = rec.iter(p for p, _, _ in src.rows())
        got = [next(rows) for _ in range(40)]
        rows.close()
    assert all(r[2] == got[0][2] and r[4] is None for r in got)
    assert next(read) < 200  # a few batches ahead, not the whole (endless) stream


@pytest.mark.parametrize("where", ["stdin", "list", "gt"])
def test_a_nul_in_a_path_is_an_error_naming_the_line(words, nano_dynamic_onnx, tmp_path, where):
    root, rels = words
    lines = [str(root / rels[0]), str(root / rels[1]) + "\0x.png"]
    if where == "stdin":
        res = run("--engine", nano_dynamic_onnx, "-", stdin="\n".join(lines) + "\n")
        want = "stdin line 2: the image path holds a NUL byte"
    elif where == "list":
        (tmp_path / "l.txt").write_text("\n".join(lines) + "\n")
        res = run("--engine", nano_dynamic_onnx, "--list", tmp_path / "l.txt")
        want = "l.txt:2: image path holds a NUL byte"
    else:
        (tmp_path / "gt.txt").write_text(f"{rels[0]}\tA\n{rels[1]}\0x.png\tB\n")
        res = run("--engine", nano_dynamic_onnx, "--gt", tmp_path / "gt.txt", "--root", root)
        want = "line 2: image path holds a NUL byte"
    assert res.exit_code == 1 and want in res.output, res.output
    assert "Traceback" not in res.output
