"""The fused path (crnn-eval) and crnn-recognize against the staged path; bad samples."""
from __future__ import annotations

import csv
import json

import lmdb
import pytest
from click.testing import CliRunner

from crnn_deploy.pipeline.eval_cli import main as eval_cli
from crnn_deploy.pipeline.fused import evaluate
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli
from crnn_deploy.postprocess.cli import main as postprocess_cli
from crnn_deploy.postprocess.metrics import compute_metrics
from crnn_deploy.runtime.cli import main as infer_cli
from crnn_deploy.runtime.registry import open_backend


def _read_tsv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t"))


def test_staged_fused_and_recognize_predictions_are_identical_on_iiit5k(
        tmp_path, assets, iiit5k_lmdb, iiit5k_bin_nano, nano_bs16_onnx):
    input_bin, label_txt = iiit5k_bin_nano
    result = tmp_path / "result"
    res = CliRunner().invoke(infer_cli, ["--engine", str(nano_bs16_onnx), "--input", str(input_bin),
                                         "--output", str(result)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(postprocess_cli, [str(result), str(label_txt)])
    assert res.exit_code == 0, res.output
    staged = json.loads((result / "accuracy.json").read_text())
    staged_errors = (result / "errors.tsv").read_text().splitlines()[1:]
    staged_preds = _read_tsv(result / "predictions.tsv")

    out = tmp_path / "eval"
    res = CliRunner().invoke(eval_cli, ["--lmdb", str(iiit5k_lmdb), "--engine", str(nano_bs16_onnx),
                                        "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "word accuracy (latin): 77.60% (2328/3000)" in res.output
    fused = json.loads((out / "accuracy.json").read_text())
    fused_preds = _read_tsv(out / "predictions.tsv")

    folder = assets / "eval_iiit5k_3000"
    gt = [line.split("\t", 1) for line in (folder / "gt.txt").read_text("utf-8").splitlines()]
    preds = tmp_path / "preds.tsv"
    res = CliRunner().invoke(recognize_cli, ["--engine", str(nano_bs16_onnx), "-o", str(preds),
                                             *[str(folder / rel) for rel, _ in gt]])
    assert res.exit_code == 0, res.output
    recognized = _read_tsv(preds)

    assert staged["correct"] == fused["correct"] == 2328  # 77.60 %, the reference
    assert fused["mean_ned"] == pytest.approx(staged["mean_ned"], abs=1e-12)
    assert (out / "errors.tsv").read_text().splitlines()[1:] == staged_errors
    assert staged_preds[0] == fused_preds[0] == ["file", "source", "text", "confidence"]
    assert recognized[0] == ["path", "text", "confidence"]
    assert len(staged_preds) == len(fused_preds) == len(recognized) == 3001
    for i, (s_row, f_row, r_row, (rel, _)) in enumerate(
            zip(staged_preds[1:], fused_preds[1:], recognized[1:], gt), 1):
        assert s_row[:3] == f_row[:3] == [f"test_{i}.bin", rel, s_row[2]]  # source: path-%09d
        assert r_row[:2] == [str(folder / rel), s_row[2]]
        assert float(f_row[3]) == pytest.approx(float(s_row[3]), abs=1e-5)
        assert float(r_row[2]) == pytest.approx(float(s_row[3]), abs=1e-5)
        assert 0.0 <= float(s_row[3]) <= 1.0
    texts = [row[1] for row in recognized[1:]]
    assert compute_metrics(texts, [label for _, label in gt])["correct"] == 2328


def _copy_lmdb(src, dst, n, corrupt=None, drop_label=None):
    with lmdb.open(str(src), readonly=True, lock=False) as env, env.begin() as txn:
        items = {}
        for i in range(1, n + 1):
            for kind in ("image", "label"):
                items[f"{kind}-{i:09d}"] = txn.get(f"{kind}-{i:09d}".encode())
    if corrupt:
        items[f"image-{corrupt:09d}"] = b"\x89PNG\r\n\x1a\n broken"
    if drop_label:
        del items[f"label-{drop_label:09d}"]
    items["num-samples"] = str(n).encode()
    with lmdb.open(str(dst), map_size=64 << 20) as env, env.begin(write=True) as txn:
        for k, v in items.items():
            txn.put(k.encode(), v)
    return dst


def test_bad_samples_are_skipped_and_named_or_fail_with_strict(tmp_path, iiit5k_lmdb,
                                                               nano_dynamic_onnx):
    db = _copy_lmdb(iiit5k_lmdb, tmp_path / "bad.lmdb", 40, corrupt=7, drop_label=21)
    with open_backend(nano_dynamic_onnx) as be:
        result = evaluate(db, be, batch=16, workers=0)
    assert result.skipped == 2 and result.skipped_keys == ["image-000000007", "label-000000021"]
    assert len(result.samples) == 38
    assert "test_7.bin" not in {s[0] for s in result.samples}
    with open_backend(nano_dynamic_onnx) as be:  # the thread feeder (default) agrees
        threaded = evaluate(db, be, batch=16, threads=3)
    assert threaded.skipped_keys == result.skipped_keys
    assert threaded.predictions == result.predictions
    # the corrupt image is labeled: both feeders score it as wrong (issue 21); the sample
    # without a label is not scored
    assert [u[:2] for u in result.unreadable] == [("image-000000007", result.unreadable[0][1])]
    assert result.unreadable[0][1] and result.unreadable == threaded.unreadable
    assert result.metrics == threaded.metrics and result.metrics["total"] == 39

    out = tmp_path / "out"
    res = CliRunner().invoke(eval_cli, ["--lmdb", str(db), "--engine", str(nano_dynamic_onnx),
                                        "--workers", "1", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert "skipped 2 bad samples: image-000000007, label-000000021" in res.output
    assert "end-to-end:" in res.output and "engine only:" in res.output
    assert "unreadable: 1 labeled image(s) could not be read or decoded" in res.output
    acc = json.loads((out / "accuracy.json").read_text())
    assert (acc["total"], acc["unreadable"], acc["skipped"]) == (39, 1, 2)

    res = CliRunner().invoke(eval_cli, ["--lmdb", str(db), "--engine", str(nano_dynamic_onnx),
                                        "--strict", "--workers", "0"])
    assert res.exit_code == 1
    assert "image-000000007" in res.output and "Traceback" not in res.output


def test_not_an_lmdb_is_a_clear_error(tmp_path, nano_dynamic_onnx):
    res = CliRunner().invoke(eval_cli, ["--lmdb", str(tmp_path / "none.lmdb"),
                                        "--engine", str(nano_dynamic_onnx)])
    assert res.exit_code == 1 and res.output.startswith("Error: ")
    assert "none.lmdb" in res.output
