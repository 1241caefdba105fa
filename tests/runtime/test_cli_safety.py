"""crnn-infer / crnn-postprocess / crnn-eval: one run per result folder, never an input,
only our files replaced, bounded batches (issue 11). Real IIIT5K samples, real nano-ocr weights."""
from __future__ import annotations

import json
import os
import shutil

import pytest
from click.testing import CliRunner

from crnn_deploy.common import outputs
from crnn_deploy.postprocess.cli import main as postprocess
from crnn_deploy.runtime.cli import main as infer

N = 40


def invoke(cmd, *args):
    return CliRunner().invoke(cmd, [str(a) for a in args])


@pytest.fixture(scope="module")
def two_sets(assets, iiit_bins, tmp_path_factory):
    """Two input folders with the SAME file names (test_1..N.bin) holding different words:
    IIIT5K samples 1..N and N+1..2N, each with its label.txt."""
    lines = (assets / "eval_iiit5k_3000" / "gt.txt").read_text().splitlines()
    base = tmp_path_factory.mktemp("sets")
    sets = []
    for k in range(2):
        folder, labels = base / f"set{k}" / "input_bin", base / f"set{k}" / "label.txt"
        folder.mkdir(parents=True)
        rows = []
        for i in range(1, N + 1):
            shutil.copy(iiit_bins / f"test_{k * N + i}.bin", folder / f"test_{i}.bin")
            rows.append(f"test_{i}.bin:{lines[k * N + i - 1].split(chr(9), 1)[1]}")
        shutil.copy(iiit_bins / "meta.json", folder)
        labels.write_text("\n".join(rows) + "\n")
        sets.append((folder, labels))
    return sets


def accuracy(result, labels) -> dict:
    res = invoke(postprocess, result, labels)
    assert res.exit_code == 0, res.output
    return json.loads((result / "accuracy.json").read_text())


def test_result_folder_holds_exactly_one_run(two_sets, nano_dynamic_onnx, tmp_path):
    (in0, lab0), (in1, lab1) = two_sets
    out = tmp_path / "result"
    assert invoke(infer, "--engine", nano_dynamic_onnx, "--input", in0, "--output", out).exit_code == 0
    acc0 = accuracy(out, lab0)["word_accuracy"]
    # an earlier run is never mixed with a new one: refused without --overwrite ...
    res = invoke(infer, "--engine", nano_dynamic_onnx, "--input", in1, "--output", out)
    assert res.exit_code == 1 and "pass --overwrite" in res.output
    assert accuracy(out, lab0)["word_accuracy"] == acc0
    # ... and replaced whole with it (here by a run over fewer files: no stale file is kept)
    few = tmp_path / "few"
    shutil.copytree(in1, few)
    for i in range(11, N + 1):
        (few / f"test_{i}.bin").unlink()
    res = invoke(infer, "--engine", nano_dynamic_onnx, "--input", few, "--output", out, "--overwrite")
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in out.glob("*_0.bin")) == sorted(f"test_{i}_0.bin" for i in range(1, 11))
    assert not (out / "accuracy.json").exists()
    res = invoke(postprocess, out, lab1)
    assert res.exit_code == 1 and f"listed in {lab1} are missing" in res.output
    assert sorted(os.listdir(tmp_path)) == ["few", "result"]  # no temporaries left


@pytest.mark.parametrize("where", ["input", "inside", "parent", "symlink", "dotdot"])
def test_infer_output_never_around_its_input(two_sets, nano_dynamic_onnx, tmp_path, where):
    (in0, _), _ = two_sets
    src = tmp_path / "input_bin"
    shutil.copytree(in0, src)
    (tmp_path / "alias").symlink_to(src)
    out = {"input": src, "inside": src / "result", "parent": tmp_path,
           "symlink": tmp_path / "alias", "dotdot": src / ".." / "input_bin"}[where]
    before = sorted(os.listdir(src))
    res = invoke(infer, "--engine", nano_dynamic_onnx, "--input", src, "--output", out, "--overwrite")
    assert res.exit_code == 1 and res.output.startswith("Error: --output ") and "--input" in res.output
    assert sorted(os.listdir(src)) == before


def test_infer_output_next_to_the_engine_is_refused(nano_dynamic_onnx, iiit_bins_37, tmp_path):
    engine = tmp_path / "nano.onnx"
    shutil.copy(nano_dynamic_onnx, engine)
    res = invoke(infer, "--engine", engine, "--input", iiit_bins_37, "--output", tmp_path, "--overwrite")
    assert res.exit_code == 1 and "contains the engine file" in res.output
    assert engine.read_bytes() == nano_dynamic_onnx.read_bytes()


def test_infer_refuses_a_foreign_folder_even_with_overwrite(nano_dynamic_onnx, iiit_bins_37, tmp_path):
    out = tmp_path / "result"
    out.mkdir()
    (out / "test_1_0.bin").write_bytes(b"ais_bench output of another tool")
    res = invoke(infer, "--engine", nano_dynamic_onnx, "--input", iiit_bins_37, "--output", out,
                 "--overwrite")
    assert res.exit_code == 1 and "no .crnn-deploy.json marker" in res.output
    assert os.listdir(out) == ["test_1_0.bin"]
    # loop mode's --output follows the same rule
    res = invoke(infer, "--engine", nano_dynamic_onnx, "--loop", 1, "--output", out, "--overwrite")
    assert res.exit_code == 1 and os.listdir(out) == ["test_1_0.bin"]


def test_huge_batch_is_a_message_and_leaves_nothing(nano_dynamic_onnx, iiit_bins_37, tmp_path):
    out = tmp_path / "result"
    res = invoke(infer, "--engine", nano_dynamic_onnx, "--input", iiit_bins_37, "--output", out,
                 "--batchsize", 100000)
    assert res.exit_code == 1
    assert res.output.startswith("Error: --batchsize 100000 is above the limit of 1024")
    assert os.listdir(tmp_path) == []
    res = invoke(infer, "--engine", nano_dynamic_onnx, "--loop", 1, "--batchsize", 1025)
    assert res.exit_code == 1 and "limit of 1024" in res.output


def test_postprocess_replaces_only_its_own_reports(two_sets, nano_dynamic_onnx, tmp_path):
    (in0, lab0), _ = two_sets
    out = tmp_path / "result"
    assert invoke(infer, "--engine", nano_dynamic_onnx, "--input", in0, "--output", out).exit_code == 0
    first = accuracy(out, lab0)
    assert accuracy(out, lab0) == first  # its own report is replaced (derived data)
    # a label file that IS one of the outputs
    shutil.copy(lab0, out / "errors.tsv")
    res = invoke(postprocess, out, out / "errors.tsv")
    assert res.exit_code == 1 and "is the same path as the label file" in res.output
    # a hard link to the label file at the report's name
    (out / "errors.tsv").unlink()
    os.link(lab0, out / "errors.tsv")
    res = invoke(postprocess, out, lab0)
    assert res.exit_code == 1 and "label file" in res.output
    assert lab0.read_text().startswith("test_1.bin:")
    # a folder of another tool (no marker): an accuracy.json that is not ours stays
    (out / "errors.tsv").unlink()
    foreign = tmp_path / "ais_bench_result"
    shutil.copytree(out, foreign)
    (foreign / outputs.MARKER).unlink()
    (foreign / "accuracy.json").write_text('{"my": "numbers"}\n')
    res = invoke(postprocess, foreign, lab0)
    assert res.exit_code == 1 and "this tool did not write it" in res.output
    assert (foreign / "accuracy.json").read_text() == '{"my": "numbers"}\n'
    (foreign / "accuracy.json").unlink()
    assert accuracy(foreign, lab0)["word_accuracy"] == first["word_accuracy"]
    assert accuracy(foreign, lab0) == accuracy(foreign, lab0)  # recognized by its content


def test_postprocess_detects_a_folder_replaced_while_reading(two_sets, nano_dynamic_onnx,
                                                             tmp_path, monkeypatch):
    (in0, lab0), (in1, _) = two_sets
    out = tmp_path / "result"
    assert invoke(infer, "--engine", nano_dynamic_onnx, "--input", in0, "--output", out).exit_code == 0
    import crnn_deploy.postprocess.cli as pp_cli

    real = pp_cli.decode_result_dir

    def decode_then_replace(*args, **kwargs):  # another run publishes in the middle
        decoded = real(*args, **kwargs)
        res = invoke(infer, "--engine", nano_dynamic_onnx, "--input", in1, "--output", out,
                     "--overwrite")
        assert res.exit_code == 0, res.output
        return decoded

    monkeypatch.setattr(pp_cli, "decode_result_dir", decode_then_replace)
    res = invoke(postprocess, out, lab0)
    assert res.exit_code == 1 and "was replaced by another run while it was being read" in res.output
    assert not (out / "accuracy.json").exists()


def test_eval_output_follows_the_rules(iiit5k_lmdb, nano_dynamic_onnx, tmp_path):
    from crnn_deploy.pipeline.eval_cli import main as evaluate

    args = ["--lmdb", iiit5k_lmdb, "--engine", nano_dynamic_onnx, "--workers", 0, "--limit", 32]
    res = invoke(evaluate, *args, "--output", iiit5k_lmdb.parent, "--overwrite")
    assert res.exit_code == 1 and "contains the --lmdb" in res.output
    out = tmp_path / "eval"
    res = invoke(evaluate, *args, "--output", out)
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir(out)) == [outputs.MARKER, "accuracy.json", "errors.tsv", "predictions.tsv",
                                   "summary.json"]
    res = invoke(evaluate, *args, "--output", out)
    assert res.exit_code == 1 and "pass --overwrite" in res.output
    assert invoke(evaluate, *args, "--output", out, "--overwrite").exit_code == 0
    assert os.listdir(tmp_path) == ["eval"]


@pytest.mark.parametrize("target", ["dangling", "folder"])
def test_infer_and_eval_refuse_a_symlinked_output(iiit5k_lmdb, nano_dynamic_onnx, iiit_bins_37,
                                                  tmp_path, target):
    """A symlink at --output (dangling: its folders would be created and written where it
    points; or to an empty folder elsewhere) is refused, nothing created at the target."""
    from crnn_deploy.pipeline.eval_cli import main as evaluate

    elsewhere = tmp_path / "elsewhere"
    if target == "folder":
        elsewhere.mkdir()
    runs = {"infer": (infer, "--engine", nano_dynamic_onnx, "--input", iiit_bins_37),
            "eval": (evaluate, "--lmdb", iiit5k_lmdb, "--engine", nano_dynamic_onnx,
                     "--workers", 0, "--limit", 8)}
    for name, (cmd, *args) in runs.items():
        link = tmp_path / f"{name}-link"
        link.symlink_to(elsewhere / "deep" / "result" if target == "dangling" else elsewhere)
        res = invoke(cmd, *args, "--output", link)
        assert res.exit_code == 1, res.output
        assert res.output.startswith("Error: --output ") and "symbolic link" in res.output
        assert link.is_symlink()
        assert (sorted(os.listdir(elsewhere)) == [] if target == "folder"
                else not elsewhere.exists())


def test_postprocess_refuses_a_dangling_report_link(two_sets, nano_dynamic_onnx, tmp_path):
    (in0, lab0), _ = two_sets
    out = tmp_path / "result"
    assert invoke(infer, "--engine", nano_dynamic_onnx, "--input", in0, "--output", out).exit_code == 0
    (out / "errors.tsv").symlink_to(tmp_path / "elsewhere" / "errors.tsv")
    res = invoke(postprocess, out, lab0)
    assert res.exit_code == 1 and "dangling symbolic link" in res.output
    assert not (tmp_path / "elsewhere").exists()


def test_infer_names_every_input_it_cannot_read(two_sets, nano_dynamic_onnx, tmp_path):
    """40 inputs; one replaced by a folder, one by a FIFO (crnn-infer used to report "38
    images" and exit 0): each is named on stderr, the other 38 are run and written, exit 1."""
    (in0, _), _ = two_sets
    src = tmp_path / "input_bin"
    shutil.copytree(in0, src)
    (src / "test_3.bin").unlink()
    (src / "test_3.bin").mkdir()
    (src / "test_7.bin").unlink()
    os.mkfifo(src / "test_7.bin")
    out = tmp_path / "result"
    res = CliRunner().invoke(infer, ["--engine", str(nano_dynamic_onnx), "--input", str(src),
                                     "--output", str(out)])
    assert res.exit_code == 1, res.output
    for n in ("test_3.bin", "test_7.bin"):
        assert f"skipped {n}: not a regular file" in res.stderr
    assert "Error: 2 of 40 inputs" in res.stderr
    assert len(list(out.glob("*_0.bin"))) == 38
    assert json.loads((out / "summary.json").read_text())["skipped"] == ["test_3.bin",
                                                                          "test_7.bin"]
