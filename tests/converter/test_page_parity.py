"""OpenVINO IRs of the real detector and classifier: checked at conversion, and equal to ONNX
Runtime on real pages composed of IIIT5K words at two sizes; the TensorRT profile and the
engines' reshape dims of the page kinds (no TensorRT needed)."""
from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.converter.page_inputs import det_tensor
from crnn_deploy.converter.page_parity import compare_page, engine_dims, fit_batch, page_profile
from crnn_deploy.converter.tensorrt_build import profile_shapes
from crnn_deploy.models.page_presets import get_page_spec
from crnn_deploy.runtime.registry import open_backend

DET, CLS = get_page_spec("ppocrv4-det"), get_page_spec("ppocr-cls")


def test_det_ir_equals_onnx_runtime_on_real_pages_at_two_sizes(ppocr_det_onnx, ppocr_det_xml,
                                                              iiit5k_page):
    page, used = iiit5k_page(seed=11)
    assert len(used) >= 6
    with open_backend(ppocr_det_onnx) as ort, open_backend(ppocr_det_xml, precision="f32") as ov:
        for size in (None, (512, 416)):  # the preset's own size (1056 x 736 here), and smaller
            x = det_tensor(DET, page, size)
            a, b = ort.infer(x), ov.infer(x)
            assert a.shape == b.shape == (1, 1, *x.shape[2:])
            assert np.abs(a - b).max() < 1e-4
            text = a > DET.postprocess.thresh
            assert 0.01 < text.mean() < 0.5  # the words are found, the white page is not
            assert (text == (b > DET.postprocess.thresh)).mean() > 0.9999


def test_cls_ir_static_batch_from_the_cli(ppocr_cls_onnx, tmp_path):
    out = tmp_path / "cls_bs6.xml"
    res = CliRunner().invoke(convert_cli, ["openvino", "--onnx", str(ppocr_cls_onnx), "--output",
                                           str(out), "--batch-size", "6"])
    assert res.exit_code == 0, res.output
    assert "batch 6, FP32 weights; max abs diff vs ONNX Runtime" in res.output
    with open_backend(out) as b:
        assert b.spec.kind == "classifier" and b.batch_size == 6
        assert b.infer(np.zeros((6, 3, 48, 192), np.float32)).shape == (6, 2)
        with pytest.raises(UserError, match=r"does not match \(N, 3, 48, 192\)"):
            b.infer(np.zeros((6, 3, 48, 100), np.float32))


class _Off:
    """A runner whose map is shifted by ``delta`` (a broken engine)."""

    def __init__(self, runner, delta):
        self.runner, self.delta = runner, delta

    def infer(self, x):
        return self.runner.infer(x) + self.delta


def test_compare_page_refuses_a_shifted_output(ppocr_cls_onnx):
    with open_backend(ppocr_cls_onnx) as ref:
        assert compare_page("same", CLS, ref, ref) == 0.0
        with pytest.raises(UserError, match="max abs diff 0.001 .* exceeds the tolerance 0.0001"):
            compare_page("shifted", CLS, ref, _Off(ref, 1e-3))


def test_page_engine_dims_and_batches():
    assert engine_dims(DET, None) == [-1, 3, -1, -1] and engine_dims(DET, 1) == [1, 3, -1, -1]
    assert engine_dims(CLS, 6) == [6, 3, 48, 192]
    x = np.arange(2 * 3).reshape(2, 3)
    assert fit_batch(x, 5).tolist() == [[0, 1, 2], [3, 4, 5], [0, 1, 2], [3, 4, 5], [0, 1, 2]]
    assert fit_batch(x, 1).shape == (1, 3) and fit_batch(x, None) is x


def test_tensorrt_profile_spans_the_detectors_height_and_width():
    assert profile_shapes(DET, 1) == {"min": (1, 3, 32, 32), "opt": (1, 3, 736, 736),
                                      "max": (1, 3, 4096, 4096)}
    assert profile_shapes(DET, 2, max_batch=4, max_width=2048)["max"] == (4, 3, 2048, 2048)
    assert profile_shapes(CLS, 6) == {"min": (1, 3, 48, 192), "opt": (6, 3, 48, 192),
                                      "max": (6, 3, 48, 192)}
    for bad in (2000, 8192):
        with pytest.raises(UserError, match="--max-width"):
            page_profile(DET, 1, 1, 1, bad)
