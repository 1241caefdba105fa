"""EasyOCR's second pass (english_g2: words read below 0.1 are read again contrast-stretched)
gives the same readings in every path: crnn-recognize, crnn-eval and Recognizer (local), both
Ray inputs (LMDB rows and image-list rows, re-read in the engine actor) and the staged path
(crnn-postprocess -> second_pass.json -> lmdb-to-bin --second-pass -> crnn-infer ->
crnn-postprocess --second-pass).

The words are the first 350 of IIIT5K: 12 of them read below 0.1 the first time, and 5 of those
read another text the second time (IIIT5K line 45 "'OF ," -> "OF"), so a path without the
second pass differs from the others.
"""
from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from crnn_deploy.common.names import unescape_name

WORDS = 350


def _invoke(main, args) -> str:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res.output


def _fails(main, args) -> str:
    res = CliRunner().invoke(main, [str(a) for a in args])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    return res.output


def _tsv(path) -> list[list[str]]:
    """The rows after the header of a predictions TSV (fields escaped: common.names)."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [[unescape_name(f).decode("utf-8") for f in line.split("\t")] for line in lines]


def _same(got: list[tuple[str, float]], want: list[tuple[str, float]]) -> None:
    assert len(got) == len(want) == WORDS
    assert [t for t, _ in got] == [t for t, _ in want]
    assert max(abs(a[1] - b[1]) for a, b in zip(got, want)) < 1e-5


@pytest.fixture(scope="module")
def words(assets, tmp_path_factory):
    """(folder, gt.txt of the first WORDS IIIT5K words, their LMDB). The gt paths are relative
    (``test/...``, through a symlink to the assets' folder): GT paths may not leave their root."""
    from crnn_deploy.preprocess.cli import main as preprocess_main

    folder = tmp_path_factory.mktemp("second_pass_paths")
    src = assets / "eval_iiit5k_3000" / "gt.txt"
    lines = src.read_text(encoding="utf-8").splitlines()[:WORDS]
    gt = folder / "gt.txt"
    (folder / "test").symlink_to(src.parent / "test", target_is_directory=True)
    gt.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    _invoke(preprocess_main, ["build-lmdb", "--gt", gt, "--output", folder / "words.lmdb"])
    return folder, gt, folder / "words.lmdb"


@pytest.fixture(scope="module")
def reference(words, english_g2_onnx):
    """Recognizer's (text, confidence) per word, in gt order."""
    from crnn_deploy import Recognizer

    folder, gt, _ = words
    paths = [folder / line.split("\t")[0] for line in gt.read_text(encoding="utf-8").splitlines()]
    with Recognizer(english_g2_onnx, threads=2) as r:
        return r.recognize(paths)


@pytest.fixture(scope="module")
def staged(words, english_g2_onnx):
    """The staged path run by hand: first readings, the list, and the merged readings."""
    from crnn_deploy.postprocess.cli import main as post
    from crnn_deploy.preprocess.cli import main as pre
    from crnn_deploy.runtime.cli import main as infer

    folder, _, lmdb = words
    engine = english_g2_onnx
    _invoke(pre, ["lmdb-to-bin", "--lmdb", lmdb, "--model", engine, "--workers", 1,
                  "--output", folder / "in1", "--labels", folder / "label.txt"])
    _invoke(infer, ["--engine", engine, "--threads", 2, "--input", folder / "in1",
                    "--output", folder / "res1"])
    first_out = _invoke(post, [folder / "res1", folder / "label.txt"])
    first = _tsv(folder / "res1" / "predictions.tsv")
    listed = json.loads((folder / "res1" / "second_pass.json").read_text(encoding="utf-8"))
    _invoke(pre, ["lmdb-to-bin", "--lmdb", lmdb, "--model", engine, "--workers", 1,
                  "--output", folder / "in2", "--second-pass", folder / "res1" / "second_pass.json"])
    _invoke(infer, ["--engine", engine, "--threads", 2, "--input", folder / "in2",
                    "--output", folder / "res2"])
    merged_out = _invoke(post, [folder / "res1", folder / "label.txt", "--second-pass",
                                folder / "res2"])
    return {"first": first, "listed": listed, "final": _tsv(folder / "res1" / "predictions.tsv"),
            "first_out": first_out, "merged_out": merged_out}


def test_the_second_pass_changes_readings_and_the_staged_path_applies_it(staged, reference):
    first = [(t, float(c)) for _, _, t, c in staged["first"]]
    final = [(t, float(c)) for _, _, t, c in staged["final"]]
    low = [k for k, (_, c) in enumerate(first) if c < 0.1]
    assert staged["listed"]["files"] == [staged["first"][k][0] for k in low]
    assert len(low) >= 5 and "12 word(s) below 0.1 listed" in staged["first_out"]
    changed = [k for k in range(WORDS) if first[k][0] != final[k][0]]
    assert changed and set(changed) <= set(low)  # only low words change, and some do
    assert first[44] == ("'OF ,", pytest.approx(0.028193, abs=1e-6)) and final[44][0] == "OF"
    assert f"{len(changed)} other text" in staged["merged_out"]
    _same(final, reference)


def test_crnn_recognize_and_crnn_eval_read_as_recognizer(words, english_g2_onnx, reference):
    from crnn_deploy.pipeline.eval_cli import main as eval_main
    from crnn_deploy.pipeline.recognize_cli import main as recognize_main

    folder, gt, lmdb = words
    _invoke(recognize_main, ["--engine", english_g2_onnx, "--threads", 2, "--gt", gt,
                             "--output", folder / "recognize.tsv"])
    _same([(t, float(c)) for _, t, c in _tsv(folder / "recognize.tsv")], reference)
    _invoke(eval_main, ["--lmdb", lmdb, "--engine", english_g2_onnx, "--threads", 2,
                        "--output", folder / "eval"])
    _same([(t, float(c)) for _, _, t, c in _tsv(folder / "eval" / "predictions.tsv")], reference)


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray", reason="needs the [ray] extra")
    ray.shutdown()  # a Ray an earlier test left initialized would be joined instead
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False,
             logging_level="ERROR")
    yield
    ray.shutdown()


def test_ray_reads_lmdb_rows_and_image_files_again(local_ray, words, english_g2_onnx, reference):
    import pyarrow.parquet as pq

    from crnn_deploy.pipeline.eval_cli import main as eval_main
    from crnn_deploy.pipeline.recognize_cli import main as recognize_main

    folder, gt, lmdb = words
    ray_args = ["--executor", "ray", "--actors", 1, "--cpus-per-actor", 1.5, "--quiet"]
    _invoke(eval_main, ["--lmdb", lmdb, "--engine", english_g2_onnx, *ray_args,
                        "--output", folder / "ray_eval"])
    table = pq.read_table(folder / "ray_eval" / "predictions").sort_by("index").to_pydict()
    _same(list(zip(table["text"], table["confidence"])), reference)
    _invoke(recognize_main, ["--engine", english_g2_onnx, *ray_args, "--gt", gt,
                             "--output", folder / "ray_recognize.tsv"])
    _same([(t, float(c)) for _, t, c in _tsv(folder / "ray_recognize.tsv")], reference)


def test_staged_second_pass_refuses_what_does_not_fit(words, staged):
    from crnn_deploy.postprocess.cli import main as post
    from crnn_deploy.preprocess.cli import main as pre

    folder, _, lmdb = words
    listed = folder / "res1" / "second_pass.json"
    out = _fails(pre, ["lmdb-to-bin", "--lmdb", lmdb, "--model", "nano-ocr", "--output",
                       folder / "x", "--second-pass", listed])
    assert "has no second pass" in out
    other = folder / "other.lmdb"  # one word fewer: other keys (listed indices all fit)
    lines = (folder / "gt.txt").read_text(encoding="utf-8").splitlines()[:-1]
    (folder / "fewer.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    _invoke(pre, ["build-lmdb", "--gt", folder / "fewer.txt", "--output", other])
    out = _fails(pre, ["lmdb-to-bin", "--lmdb", other, "--model", "english_g2",
                       "--output", folder / "x", "--second-pass", listed])
    assert "another LMDB" in out
    out = _fails(post, [folder / "res1", folder / "label.txt", "--second-pass", folder / "res1"])
    assert "not contrast-stretched" in out  # res1's inputs are the first pass's
    partial = folder / "res2_partial"
    shutil.copytree(folder / "res2", partial)
    stem = staged["listed"]["files"][0][:-4]  # test_25
    for f in partial.glob(f"{stem}_0.*"):
        f.unlink()
    out = _fails(post, [folder / "res1", folder / "label.txt", "--second-pass", partial])
    assert f"has no {stem}_0.bin/.npy" in out
    assert _tsv(folder / "res1" / "predictions.tsv") == staged["final"]  # nothing written
    # an english_g2 input folder (.npy files) is ours: --overwrite replaces it
    _invoke(pre, ["lmdb-to-bin", "--lmdb", lmdb, "--model", "english_g2", "--workers", 1,
                  "--output", folder / "in2", "--second-pass", listed, "--overwrite"])
