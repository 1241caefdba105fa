"""crnn-convert import of the real PP-OCRv4 detector and angle classifier: what is written, what
is refused (naming why), and the classifier reading real IIIT5K crops upright and turned."""
from __future__ import annotations

import json

import cv2
import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.converter.page_inputs import cls_tensor, det_tensor
from crnn_deploy.models.page_presets import PAGE_PRESETS, get_page_spec
from crnn_deploy.models.specs import METADATA_KEY
from crnn_deploy.runtime.registry import open_backend
from tests.conftest import PAGE_WEIGHTS


def _dims(v) -> list:
    return [d.dim_value or d.dim_param for d in v.type.tensor_type.shape.dim]


def test_imported_files_carry_their_spec_and_dynamic_dims(ppocr_det_onnx, ppocr_cls_onnx):
    det, cls = onnx.load(str(ppocr_det_onnx)), onnx.load(str(ppocr_cls_onnx))
    assert _dims(det.graph.input[0]) == ["batch", 3, "height", "width"]
    assert _dims(cls.graph.input[0]) == ["batch", 3, 48, 192]
    spec = json.loads({p.key: p.value for p in det.metadata_props}[METADATA_KEY])
    assert spec["kind"] == "detector" and spec["input"]["name"] == "x"
    assert spec["output"]["name"] == "sigmoid_0.tmp_0" and spec["postprocess"]["unclip_ratio"] == 1.6
    with open_backend(ppocr_cls_onnx) as b:
        assert b.spec.kind == "classifier" and b.spec.labels == ("0", "180") and b.batch_size is None


def test_the_import_command_writes_a_page_model(tmp_path):
    """`make pages` ended in AttributeError: the CLI printed import warnings of recognizers only."""
    if not PAGE_WEIGHTS["ppocr-cls"].is_file():
        pytest.skip("page weights not found (run `make weights`)")
    out = tmp_path / "cls.onnx"
    res = CliRunner().invoke(convert_cli, ["import", str(PAGE_WEIGHTS["ppocr-cls"]), "--spec", "ppocr-cls",
                                           "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"wrote {out}") and out.is_file()


def test_a_spec_that_contradicts_the_model_is_refused(tmp_path):
    if not all(p.is_file() for p in PAGE_WEIGHTS.values()):
        pytest.skip("page weights not found (run `make weights`)")
    runner = CliRunner()
    cases = [(PAGE_WEIGHTS["ppocr-cls"], "ppocrv4-det", "a detector's probability map is (N, 1, H, W)"),
             (PAGE_WEIGHTS["ppocrv4-det"], "ppocr-cls", "ONNX Runtime cannot run input (6, 3, 48, 192) of the classifier")]
    wrong = dict(PAGE_PRESETS["ppocr-cls"], labels=["0", "90", "180"])
    (tmp_path / "cls3.json").write_text(json.dumps(wrong))
    cases.append((PAGE_WEIGHTS["ppocr-cls"], str(tmp_path / "cls3.json"), "expected (N, len(labels)) = (6, 3)"))
    bad = json.loads(json.dumps(PAGE_PRESETS["ppocrv4-det"]))
    bad["postprocess"]["score_mode"] = "exact"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    cases.append((PAGE_WEIGHTS["ppocrv4-det"], str(tmp_path / "bad.json"), "spec postprocess.score_mode"))
    for model, spec, message in cases:
        out = tmp_path / "out.onnx"
        res = runner.invoke(convert_cli, ["import", str(model), "--spec", spec, "--output", str(out)])
        assert res.exit_code == 1 and res.output.startswith("Error:"), res.output
        assert message in res.output, res.output
        assert not out.exists()


def test_det_input_is_rapidocr_det_preprocess_on_a_real_page(iiit5k_page):
    utils = pytest.importorskip("rapidocr_onnxruntime.ch_ppocr_det.utils")
    spec = get_page_spec("ppocrv4-det")
    page, _ = iiit5k_page(seed=5)
    oracle = utils.DetPreProcess(736, "min", [0.5] * 3, [0.5] * 3)(page)
    ours = det_tensor(spec, page)
    assert ours.shape == oracle.shape and np.abs(ours - oracle).max() < 1e-6


def test_classifier_reads_upright_crops_as_0_and_turned_ones_as_180(ppocr_cls_onnx, assets):
    spec = get_page_spec("ppocr-cls")
    lines = (assets / "eval_iiit5k_3000" / "gt.txt").read_text().splitlines()[:40:4]
    crops = [cv2.imread(str(assets / "eval_iiit5k_3000" / ln.split("\t")[0])) for ln in lines]
    x = cls_tensor(spec, crops + [cv2.rotate(c, cv2.ROTATE_180) for c in crops])
    with open_backend(ppocr_cls_onnx) as b:
        probs = b.infer(x)
    labels = np.array(spec.labels)[probs.argmax(axis=1)]
    n = len(crops)
    assert probs.shape == (2 * n, 2) and np.allclose(probs.sum(axis=1), 1, atol=1e-4)
    assert (labels[:n] == "0").mean() >= 0.9, probs[:n]
    assert (labels[n:] == "180").mean() >= 0.9, probs[n:]
    assert labels[0] == "0" and labels[n] == "180"
