"""ONNX -> OpenVINO IR on the real nano-ocr exports: parity with ONNX Runtime, FP32 weights
(not silently halved), FP16 on request, the spec in rt_info, and the failure paths."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

ov = pytest.importorskip("openvino", reason="openvino not installed (pip install '.[openvino]')")

from crnn_deploy.common.errors import UserError  # noqa: E402
from crnn_deploy.converter.cli import main as convert_cli  # noqa: E402
from crnn_deploy.converter.openvino_convert import FP16_ATOL, convert_openvino  # noqa: E402
from crnn_deploy.converter.parity import check_inputs, ort_run  # noqa: E402
from crnn_deploy.models.specs import ModelSpec, get_spec  # noqa: E402
from crnn_deploy.runtime.openvino_backend import RT_INFO_PATH  # noqa: E402

NANO = get_spec("nano-ocr")


def _weights_bytes(onnx_path) -> int:
    return sum(t.ByteSize() for t in onnx.load(str(onnx_path)).graph.initializer)


def test_static_ir_parity_fp32_weights_and_spec(nano_bs16_onnx, tmp_path):
    out = tmp_path / "nano-ocr_bs16.xml"
    res = convert_openvino(nano_bs16_onnx, out, batch_size=16)
    print(f"OpenVINO FP32 static bs16 vs ONNX Runtime: max abs diff {res.max_diff:.3g}")
    assert res.max_diff <= 1e-4 and res.atol == 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # no temporary; the ownership record
        ".nano-ocr_bs16.xml.crnn-deploy.json", "nano-ocr_bs16.bin", "nano-ocr_bs16.xml"]
    weights, size = _weights_bytes(nano_bs16_onnx), (tmp_path / "nano-ocr_bs16.bin").stat().st_size
    assert 0.97 * weights <= size <= 1.03 * weights, (size, weights)  # FP32, not halved
    model = ov.Core().read_model(str(out))
    assert ModelSpec.from_dict(json.loads(model.get_rt_info(RT_INFO_PATH).astype(str))) == NANO
    assert list(model.input(0).get_partial_shape().to_shape()) == [16, 1, 32, 128]
    assert model.input(0).get_any_name() == "actual_input_1"


def test_dynamic_ir_keeps_the_batch_dynamic(nano_dynamic_onnx, tmp_path):
    out = tmp_path / "nano-ocr_dynamic.xml"
    res = convert_openvino(nano_dynamic_onnx, out)
    print(f"OpenVINO FP32 dynamic vs ONNX Runtime: max abs diff {res.max_diff:.3g}")
    assert res.max_diff <= 1e-4 and "dynamic" in res.note
    model = ov.Core().read_model(str(out))
    assert model.input(0).get_partial_shape()[0].is_dynamic
    compiled = ov.Core().compile_model(model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    x = check_inputs(NANO, 5, seed=3)
    got = compiled({"actual_input_1": x})[compiled.output(0)]
    assert got.shape == (33, 5, 66)
    assert np.max(np.abs(got - ort_run(nano_dynamic_onnx, x, NANO))) <= 1e-4


def test_fp16_halves_the_weights_within_the_stated_tolerance(nano_bs16_onnx, tmp_path):
    out = tmp_path / "nano-ocr_bs16_fp16.xml"
    res = convert_openvino(nano_bs16_onnx, out, batch_size=16, fp16=True)
    print(f"OpenVINO FP16 weights vs ONNX Runtime: max abs diff {res.max_diff:.3g}")
    assert res.max_diff <= FP16_ATOL and res.atol == FP16_ATOL and "FP16" in res.note
    ratio = (tmp_path / "nano-ocr_bs16_fp16.bin").stat().st_size / _weights_bytes(nano_bs16_onnx)
    assert 0.45 <= ratio <= 0.55, ratio


def test_runtime_backend_reads_the_ir(nano_bs16_onnx, tmp_path):
    from crnn_deploy.runtime.registry import open_backend

    out = tmp_path / "nano.xml"
    convert_openvino(nano_bs16_onnx, out, batch_size=16)
    with open_backend(out) as b:
        assert b.spec == NANO and b.batch_size == 16
        x = check_inputs(NANO, 16, seed=5)
        assert np.max(np.abs(b.infer(x) - ort_run(nano_bs16_onnx, x, NANO))) <= 1e-4


def test_cli_prints_files_and_diff(nano_bs16_onnx, tmp_path):
    out = tmp_path / "ir" / "nano.xml"
    res = CliRunner().invoke(convert_cli, ["openvino", "--onnx", str(nano_bs16_onnx),
                                           "--output", str(out), "--batch-size", "16"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0] == f"wrote {out}" and lines[1] == f"wrote {out.with_suffix('.bin')}"
    assert lines[2].startswith("batch 16, FP32 weights; max abs diff vs ONNX Runtime ")
    assert lines[2].endswith("(tolerance 0.0001 + 1e-05 x max |output|)")  # the check it ran


def test_errors(nano_bs16_onnx, tmp_path):
    with pytest.raises(UserError, match="static batch of 16.*batch 8"):
        convert_openvino(nano_bs16_onnx, tmp_path / "a.xml", batch_size=8)
    with pytest.raises(UserError, match="must end in .xml"):
        convert_openvino(nano_bs16_onnx, tmp_path / "a.bin")
    with pytest.raises(UserError, match="ONNX file not found"):
        convert_openvino(tmp_path / "missing.onnx", tmp_path / "a.xml")
    bare = onnx.load(str(nano_bs16_onnx))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    res = CliRunner().invoke(convert_cli, ["openvino", "--onnx", str(tmp_path / "bare.onnx"),
                                           "--output", str(tmp_path / "a.xml")])
    assert res.exit_code == 1 and "carries no model spec" in res.output
    assert "Traceback" not in res.output
    assert not list(tmp_path.glob("a.*")) and not list(tmp_path.glob(".a.*"))
