"""PP-OCRv4 (RapidOCR's bundled recognizer, imported with the ppocrv4-rec preset) against
RapidOCR's own TextRecognizer as the oracle, and the same texts on every local path."""
from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from crnn_deploy import Recognizer

N = 200
ROOT = Path(__file__).resolve().parents[2]


def _script():
    """scripts/compare_rapidocr.py (its RapidOCR set-up is the one the full comparison uses)."""
    spec = importlib.util.spec_from_file_location("compare_rapidocr", ROOT / "scripts" / "compare_rapidocr.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def words(assets):
    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    rows = [line.split("\t") for line in gt.read_text(encoding="utf-8").splitlines()[:N]]
    return [(gt.parent / rel, label) for rel, label in rows]


@pytest.fixture(scope="module")
def ours(ppocrv4_onnx, words):
    with Recognizer(ppocrv4_onnx, threads=2) as r:
        return r.recognize([str(p) for p, _ in words])


def test_same_text_and_confidence_as_rapidocr_one_image_per_call(words, ours):
    cv2 = pytest.importorskip("cv2")
    pytest.importorskip("rapidocr_onnxruntime", reason="the test extra: rapidocr-onnxruntime==1.4.4")
    rec = _script().rapidocr_recognizer(threads=2)
    theirs = [rec(cv2.imread(str(p)))[0][0] for p, _ in words]
    assert [t for t, _ in ours] == [t for t, _ in theirs]
    worst = max(abs(a[1] - float(b[1])) for a, b in zip(ours, theirs))
    assert worst <= 1e-4
    from crnn_deploy.postprocess.metrics import normalize_standard as norm

    right = sum(norm(t) == norm(label) for (t, _), (_, label) in zip(ours, words))
    assert right >= 0.9 * N  # the issue measured 284/300 on the first 300


def test_crnn_eval_gives_the_recognizer_texts(ppocrv4_onnx, iiit5k_lmdb, ours, tmp_path):
    from crnn_deploy.pipeline.eval_cli import main as eval_cli

    res = CliRunner().invoke(eval_cli, ["--lmdb", str(iiit5k_lmdb), "--engine", str(ppocrv4_onnx),
                                        "--limit", str(N), "--output", str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    rows = list(csv.reader((tmp_path / "ev" / "predictions.tsv").open(encoding="utf-8"), delimiter="\t"))
    assert [r[2] for r in rows[1:]] == [t for t, _ in ours]
