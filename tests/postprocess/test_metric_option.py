"""``--metric`` on every scoring command (issue 29): the issue's example (a label 中文 read as
★★★ is right under the Latin protocol, wrong under exact, with a note on stderr) through
crnn-postprocess, and the metric recorded in the json files of crnn-eval and printed by
crnn-recognize --gt on real IIIT5K crops with the real nano-ocr weights. The Ray path:
tests/pipeline/ray/test_executor.py (test_eval_gt_on_ray_scores_as_the_local_gt)."""
from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from crnn_deploy.pipeline.eval_cli import main as eval_cli
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli
from crnn_deploy.postprocess.cli import main as postprocess_cli
from crnn_deploy.postprocess.metric_option import METRIC_HELP

ALPHABET = "中文★ab"
N = 30


def invoke(cli, *args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def chinese_result(tmp_path, path_logits, text_path):
    """A crnn-infer result folder of two words: label 中文 read as ★★★, label ab read as ab."""
    rd = tmp_path / "result"
    rd.mkdir()
    for i, pred in ((0, "★★★"), (1, "ab")):
        x = path_logits(text_path(pred), ALPHABET, t=10, seed=i)[:, None, :]
        x.astype("<f4").tofile(rd / f"test_{i}_0.bin")
    labels = tmp_path / "label.txt"
    labels.write_text("test_0.bin:中文\ntest_1.bin:ab\n", encoding="utf-8")
    return rd, labels


@pytest.mark.parametrize("metric, line, note", [
    ("latin", "word accuracy (latin): 100.00% (2/2)",
     "note: 1 label has characters outside [0-9a-z], which --metric latin drops; "
     "--metric exact scores them"),
    ("exact", "word accuracy (exact): 50.00% (1/2)", None),
])
def test_postprocess_chinese_label(chinese_result, metric, line, note):
    rd, labels = chinese_result
    res = invoke(postprocess_cli, rd, labels, "--alphabet", ALPHABET, "--metric", metric)
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0] == line
    assert (note in res.stderr) if note else ("note:" not in res.stderr)
    acc = json.loads((rd / "accuracy.json").read_text(encoding="utf-8"))
    assert acc["metric"] == metric
    errors = (rd / "errors.tsv").read_text(encoding="utf-8").splitlines()[1:]
    assert [e.split("\t")[:3] for e in errors] == ([] if metric == "latin"
                                                   else [["test_0.bin", "中文", "★★★"]])


@pytest.fixture
def own_words(assets, tmp_path):
    """N IIIT5K crops (upper-case labels) and one of them listed again labeled 中文."""
    root = assets / "eval_iiit5k_3000"
    lines = (root / "gt.txt").read_text("utf-8").splitlines()[:N]
    (tmp_path / "test").symlink_to(root / "test")
    gt = tmp_path / "gt.txt"
    gt.write_text("\n".join([*lines, lines[0].split("\t")[0] + "\t中文"]) + "\n", "utf-8")
    return gt


def test_eval_records_the_metric(own_words, nano_dynamic_onnx, tmp_path):
    out = {m: tmp_path / m for m in ("latin", "exact")}
    res = {m: invoke(eval_cli, "--gt", own_words, "--engine", nano_dynamic_onnx, "--quiet",
                     "--metric", m, "--output", out[m]) for m in out}
    for m, r in res.items():
        assert r.exit_code == 0, r.output
        acc = json.loads((out[m] / "accuracy.json").read_text())
        assert acc["metric"] == m and json.loads((out[m] / "summary.json").read_text())[
            "metric"] == m
        assert f"word accuracy ({m}): " in r.stdout
        with (out[m] / "predictions.tsv").open(encoding="utf-8", newline="") as f:
            preds = [row[2] for row in list(csv.reader(f, delimiter="\t"))[1:]]
        labels = [line.split("\t")[1] for line in own_words.read_text("utf-8").splitlines()]
        norm = (lambda s: "".join(c for c in s.lower() if c.isascii() and c.isalnum())) \
            if m == "latin" else (lambda s: s)
        assert acc["correct"] == sum(norm(p) == norm(g) for p, g in zip(preds, labels))
    # IIIT5K labels are upper case, the model reads lower case: only the 中文 line drops characters
    assert "note: 1 label has characters outside [0-9a-z], which --metric latin drops" \
        in res["latin"].stderr
    assert "note:" not in res["exact"].stderr
    latin, exact = (json.loads((out[m] / "accuracy.json").read_text()) for m in ("latin", "exact"))
    assert exact["correct"] < latin["correct"]  # upper-case labels vs lower-case readings


def test_recognize_gt_prints_the_metric(own_words, nano_dynamic_onnx):
    res = invoke(recognize_cli, "--gt", own_words, "--engine", nano_dynamic_onnx, "--quiet",
                 "--metric", "case-insensitive")
    assert res.exit_code == 0, res.output
    assert "word accuracy (case-insensitive): " in res.stderr and "note:" not in res.stderr


def test_help_defines_every_metric():
    text = invoke(postprocess_cli, "--help").output
    for name in ("latin", "exact", "exact-nospace", "case-insensitive"):
        assert name in METRIC_HELP and name in text
    assert "ignore_space" in METRIC_HELP
