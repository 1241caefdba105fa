"""TensorRT builder: profile shapes and builder flags (no TensorRT needed), the CLI's errors, and
a build + parity test that runs only where TensorRT and a GPU exist. The calibration reader:
test_tensorrt_calib.py."""
from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.converter.tensorrt_build import builder_flags, precision_name, profile_shapes
from crnn_deploy.converter.tensorrt_calib import read_calibration_batches
from crnn_deploy.models.specs import get_spec
from crnn_deploy.runtime.tensorrt_backend import unavailable_reason

NANO, CRNN = get_spec("nano-ocr"), get_spec("crnn")


# -- profile -----------------------------------------------------------------------------------
def test_profile_defaults_are_1_n_n_with_the_spec_shape():
    assert profile_shapes(NANO, 16) == {"min": (1, 1, 32, 128), "opt": (16, 1, 32, 128),
                                        "max": (16, 1, 32, 128)}
    assert profile_shapes(CRNN, 8)["max"] == (8, 1, 32, 100)


def test_profile_explicit_values():
    shapes = profile_shapes(CRNN, 16, min_batch=2, opt_batch=8, max_batch=32)
    assert [shapes[k][0] for k in ("min", "opt", "max")] == [2, 8, 32]
    assert profile_shapes(CRNN, 4, min_batch=4)["min"] == (4, 1, 32, 100)  # min = opt = max


@pytest.mark.parametrize("kw,message", [
    ({"min_batch": 0}, "--min-batch must be >= 1, got 0"),
    ({"max_batch": -3}, "--max-batch must be >= 1, got -3"),
    ({"min_batch": 20}, "--min-batch 20 is above --opt-batch 16 (default: --batch-size)"),
    ({"opt_batch": 32}, "--opt-batch 32 is above --max-batch 16 (default: --batch-size)"),
    ({"max_batch": 8}, "--opt-batch 16 (default: --batch-size) is above --max-batch 8"),
    ({"min_batch": 4, "opt_batch": 2, "max_batch": 8}, "--min-batch 4 is above --opt-batch 2"),
])
def test_profile_bad_options_name_the_value(kw, message):
    with pytest.raises(UserError) as err:
        profile_shapes(CRNN, 16, **kw)
    assert message in str(err.value)


def test_profile_bad_batch_size():
    with pytest.raises(UserError, match="--batch-size must be >= 1, got 0"):
        profile_shapes(CRNN, 0)


# -- flags -------------------------------------------------------------------------------------
def test_builder_flags(tmp_path):
    assert builder_flags() == [] and precision_name([]) == "fp32"
    assert builder_flags(fp16=True) == ["FP16"] and precision_name(["FP16"]) == "fp16"
    assert builder_flags(int8=True, calib=tmp_path) == ["INT8"]
    assert builder_flags(fp16=True, int8=True, calib=tmp_path) == ["FP16", "INT8"]
    assert precision_name(["FP16", "INT8"]) == "int8"


def test_builder_flags_bad_combinations(tmp_path):
    with pytest.raises(UserError, match="--int8 needs --calib"):
        builder_flags(int8=True)
    with pytest.raises(UserError, match="--calib is only used with --int8"):
        builder_flags(calib=tmp_path)


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_option_errors_are_user_errors(crnn_onnx, tmp_path):
    runner = CliRunner()
    res = runner.invoke(convert_cli, ["tensorrt", "--onnx", str(crnn_onnx["dynamic"]), "--output",
                                      str(tmp_path / "x.engine"), "--batch-size", "16",
                                      "--opt-batch", "32"])
    assert res.exit_code == 1 and "Error: --opt-batch 32 is above --max-batch 16" in res.output
    res = runner.invoke(convert_cli, ["tensorrt", "--onnx", str(crnn_onnx["bs16"]), "--output",
                                      str(tmp_path / "x.engine"), "--batch-size", "16"])
    assert res.exit_code == 1 and "static batch of 16" in res.output
    res = runner.invoke(convert_cli, ["tensorrt", "--onnx", str(crnn_onnx["dynamic"]), "--output",
                                      str(tmp_path / "x.trt"), "--batch-size", "16"])
    assert res.exit_code == 1 and "must end in .engine or .plan" in res.output
    assert "Traceback" not in res.output and not list(tmp_path.iterdir())


@pytest.mark.skipif(unavailable_reason() is None, reason="TensorRT is available here")
def test_cli_without_tensorrt_says_why_and_how_to_install(crnn_onnx, tmp_path):
    res = CliRunner().invoke(convert_cli, ["tensorrt", "--onnx", str(crnn_onnx["dynamic"]),
                                           "--output", str(tmp_path / "x.engine"),
                                           "--batch-size", "16"])
    assert res.exit_code == 1
    assert "TensorRT cannot build here" in res.output and "crnn-deploy[tensorrt]" in res.output
    assert not list(tmp_path.iterdir())


def test_the_width_profile_of_a_real_width_that_follows_the_word(ppocrv4_onnx, tmp_path):
    """PP-OCRv4 (W 320..3200): the profile spans the width, opt at the smallest (most words);
    --max-width narrows it and is checked before TensorRT is needed."""
    from crnn_deploy.converter.common import read_onnx_info

    spec = read_onnx_info(ppocrv4_onnx).spec
    assert profile_shapes(spec, 16, max_width=1280) == {
        "min": (1, 3, 48, 320), "opt": (16, 3, 48, 320), "max": (16, 3, 48, 1280)}
    res = CliRunner().invoke(convert_cli, ["tensorrt", "--onnx", str(ppocrv4_onnx), "--output",
                                           str(tmp_path / "p.engine"), "--batch-size", "16",
                                           "--max-width", "100"])
    assert res.exit_code == 1 and "Error: --max-width 100 is outside 320..3200" in res.output
    assert "Traceback" not in res.output and not list(tmp_path.iterdir())


# -- the real build, where TensorRT and a GPU exist --------------------------------------------
@pytest.mark.skipif(unavailable_reason() is not None,
                    reason=f"TensorRT build+infer: {unavailable_reason()}")
@pytest.mark.parametrize("fp16", [False, True])
def test_build_and_run_tensorrt(crnn_onnx, tmp_path, fp16):
    from crnn_deploy.converter.parity import check_inputs, ort_run
    from crnn_deploy.converter.tensorrt_build import FP16_ATOL, build_tensorrt
    from crnn_deploy.runtime.registry import open_backend

    out = tmp_path / "crnn_bs16.engine"
    res = build_tensorrt(crnn_onnx["dynamic"], out, 16, fp16=fp16)
    atol = FP16_ATOL if fp16 else 1e-4
    assert res.max_diff <= atol
    side = json.loads((tmp_path / "crnn_bs16.engine.json").read_text())
    assert side["profile"] == {"min": 1, "opt": 16, "max": 16}
    assert side["precision"] == ("fp16" if fp16 else "fp32")
    with open_backend(out, device="GPU") as b:
        assert b.batch_size is None  # profile 1..16
        for n in (1, 5, 16):
            x = check_inputs(CRNN, n, seed=7)
            y = b.infer(x)
            assert y.shape == (26, n, 37)
            assert np.max(np.abs(y - ort_run(crnn_onnx["dynamic"], x, CRNN))) <= atol
        with pytest.raises(UserError, match="accepts batches 1..16"):
            b.infer(check_inputs(CRNN, 17))


def test_int8_check_plumbing_with_onnx_runtime_runners(crnn_onnx, tmp_path):
    """The INT8 plan check (greedy agreement over the calibration batches, padding dropped) on
    two ONNX Runtime runners of the same graph: full agreement, zero diff; a shifted class
    column breaks the agreement. (TensorRT itself is not available here.)"""
    from crnn_deploy.converter.parity import onnx_runner
    from crnn_deploy.converter.tensorrt_build import _int8_check

    spec = CRNN
    rng = np.random.default_rng(0)
    for i in range(5):
        rng.uniform(-1, 1, (1, *spec.input_shape)).astype("<f4").tofile(tmp_path / f"test_{i}.bin")
    batches, count = read_calibration_batches(tmp_path, spec, 4)
    assert count == 5 and len(batches) == 2
    with onnx_runner(crnn_onnx["dynamic"]) as ref, onnx_runner(crnn_onnx["dynamic"]) as got:
        check = _int8_check(ref, got, spec, batches, count)
        assert check.count == 5 and check.agreement == 1.0 and check.max_diff == 0.0

        class Broken:
            def infer(self, x):
                y = got.infer(x)
                y[:, :, 5] += 100.0  # class 5 ('4') wins every step
                return y

        check = _int8_check(ref, Broken(), spec, batches, count)
        assert check.count == 5 and check.agreement == 0.0 and check.max_diff >= 100.0


def test_profile_spans_the_width_of_a_width_that_follows_the_word():
    from crnn_deploy.common.errors import UserError

    spec = NANO.with_changes(name="dyn", input_shape=(3, 48, 320), channels="BGR",
                             resize_mode="keep-ratio", width_max=3200)
    assert profile_shapes(spec, 8) == {"min": (1, 3, 48, 320), "opt": (8, 3, 48, 320),
                                       "max": (8, 3, 48, 3200)}
    assert profile_shapes(spec, 8, max_width=1280)["max"] == (8, 3, 48, 1280)
    with pytest.raises(UserError, match="--max-width 100"):
        profile_shapes(spec, 8, max_width=100)
