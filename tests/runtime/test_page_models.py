"""Detector and classifier engines through the runtime: open_backend reads their specs, a
detector runs a new page height and width on every call (ONNX Runtime and OpenVINO), shapes
outside the spec are refused, recognizer specs keep their checks."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.page_presets import get_page_spec
from crnn_deploy.models.specs import get_spec
from crnn_deploy.runtime.engine_spec import check_dims
from crnn_deploy.runtime.registry import open_backend

SIZES = [(736, 992), (384, 832), (1056, 736), (64, 64), (736, 736)]


def _page(h: int, w: int, seed: int) -> np.ndarray:
    x = np.full((1, 3, h, w), 1.0, np.float32)  # white, normalized
    rng = np.random.default_rng(seed)
    for _ in range(6):  # dark bars, text-like strokes
        y0, x0 = int(rng.integers(0, h - 16)), int(rng.integers(0, w // 2))
        x[:, :, y0:y0 + 12, x0:x0 + w // 3:3] = -1.0
    return x


@pytest.mark.parametrize("backend", [None, "openvino"])
def test_detector_runs_a_new_height_and_width_per_call(ppocr_det_onnx, ppocr_det_xml, backend):
    engine = ppocr_det_xml if backend else ppocr_det_onnx
    with open_backend(engine) as b:
        assert b.spec.kind == "detector" and b.batch_size is None
        outs = [b.infer(_page(h, w, k)) for k, (h, w) in enumerate(SIZES)]
        assert [o.shape for o in outs] == [(1, 1, h, w) for h, w in SIZES]
        assert all(0 <= o.min() and o.max() <= 1 for o in outs)
        assert b.infer(np.concatenate([_page(320, 256, 0)] * 2)).shape == (2, 1, 320, 256)
        for bad in [(1, 3, 100, 96), (1, 3, 4128, 64), (1, 1, 64, 64)]:
            with pytest.raises(UserError, match="multiples of 32 up to 4096"):
                b.infer(np.zeros(bad, np.float32))


def test_openvino_infer_many_keeps_order_across_sizes(ppocr_det_onnx, ppocr_det_xml):
    xs = [_page(h, w, k) for k, (h, w) in enumerate(SIZES[:3])]
    with open_backend(ppocr_det_onnx) as ref, open_backend(ppocr_det_xml, hint="THROUGHPUT") as ov:
        outs = list(ov.infer_many(xs))
        assert [y.shape[2:] for y in outs] == [x.shape[2:] for x in xs]
        for x, y in zip(xs, outs):  # THROUGHPUT's kernels round differently: 1.7e-4 measured
            assert np.abs(ref.infer(x) - y).max() < 1e-3


def test_engine_dims_are_checked_by_kind():
    det, cls = get_page_spec("ppocrv4-det"), get_page_spec("ppocr-cls")
    assert check_dims(det, ["batch", 3, "height", "width"], "d.onnx") is None
    assert check_dims(cls, [6, 3, 48, 192], "c.onnx") == 6
    with pytest.raises(UserError, match="static height or width"):
        check_dims(det, ["batch", 3, 736, "width"], "d.onnx")
    with pytest.raises(UserError, match=r"is not \(N, 3, 48, 192\) of classifier"):
        check_dims(cls, ["batch", 3, 32, 192], "c.onnx")
    nano = get_spec("nano-ocr")
    assert nano.kind == "recognizer" and check_dims(nano, [16, 1, 32, 128], "n.onnx") == 16
    with pytest.raises(UserError, match="does not match"):
        check_dims(nano, [16, 1, 32, 100], "n.onnx")


def test_a_recognizer_command_refuses_a_page_engine(ppocr_det_onnx, ppocr_cls_onnx):
    from click.testing import CliRunner

    from crnn_deploy.models.specs import spec_from_arg
    from crnn_deploy.runtime.cli import main as infer_cli

    res = CliRunner().invoke(infer_cli, ["--engine", str(ppocr_det_onnx), "--loop", "1"])
    assert res.exit_code == 1 and "holds a detector ('ppocrv4-det'); a recognizer is needed" in res.output
    with pytest.raises(UserError, match="holds a classifier"):
        open_backend(ppocr_cls_onnx, kind="detector").load()
    with open_backend(ppocr_cls_onnx, kind="classifier") as b:
        assert b.spec.kind == "classifier"
    with pytest.raises(UserError, match="is a detector; a width set is for a recognizer"):
        open_backend(ppocr_det_onnx, backend="openvino", widths="auto").load()
    with pytest.raises(UserError, match="is a detector .* not a recognizer"):
        spec_from_arg(ppocr_det_onnx)
