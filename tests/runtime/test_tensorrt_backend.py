"""TensorRT backend: registry mapping, availability and its errors here; build + infer parity
where TensorRT and a CUDA GPU exist (skipped with the reason otherwise)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import get_spec, write_sidecar
from crnn_deploy.runtime.registry import backend_class, backend_for, open_backend
from crnn_deploy.runtime.tensorrt_backend import TensorRTBackend, unavailable_reason


@pytest.mark.parametrize("name", ["x.engine", "x.plan", "DIR/X_BS16.ENGINE"])
def test_engine_suffix_maps_to_tensorrt(name):
    assert backend_for(name) == "tensorrt"
    assert backend_class("tensorrt") is TensorRTBackend
    assert isinstance(open_backend(name), TensorRTBackend)


def test_backend_modules_import_neither_torch_nor_the_sdks():
    code = ("import sys, runtime.tensorrt_backend, runtime.ascend_backend; "
            "print(sorted(m for m in ('torch', 'tensorrt', 'ais_bench') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unavailable_without_the_sdk(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError
    unavailable_reason.cache_clear()
    try:
        assert unavailable_reason() == "tensorrt is not importable"
        assert TensorRTBackend.is_available() is False
    finally:
        unavailable_reason.cache_clear()


@pytest.mark.skipif(unavailable_reason() is None, reason="TensorRT is available here")
def test_loading_a_plan_here_says_why_and_how_to_install(tmp_path):
    plan = tmp_path / "m.engine"
    plan.write_bytes(b"not a plan")
    write_sidecar(plan, get_spec("crnn"))
    with pytest.raises(UserError, match=r"cannot run here: .*crnn-deploy\[tensorrt\]"):
        open_backend(plan).load()


def test_missing_engine_is_reported_first(tmp_path):
    with pytest.raises(UserError, match="engine not found"):
        open_backend(tmp_path / "absent.engine").load()


@pytest.mark.skipif(unavailable_reason() is not None,
                    reason=f"TensorRT build+infer: {unavailable_reason()}")
def test_static_plan_and_missing_sidecar(tmp_path):
    """A plan built with min = opt = max has a static batch; a plan without sidecar is refused."""
    import torch

    from crnn_deploy.converter.onnx_export import export_onnx
    from crnn_deploy.converter.parity import check_inputs, ort_run
    from crnn_deploy.converter.tensorrt_build import build_tensorrt
    from crnn_deploy.models.arch import build_model

    spec = get_spec("crnn")
    torch.manual_seed(1)
    onnx_path = tmp_path / "crnn_bs4.onnx"
    export_onnx(build_model(spec).eval(), spec, onnx_path, batch_size=4)
    plan = tmp_path / "crnn_bs4.engine"
    build_tensorrt(onnx_path, plan, 4, min_batch=4)
    with open_backend(plan) as b:
        assert b.batch_size == 4
        x = check_inputs(spec, 4)
        assert np.max(np.abs(b.infer(x) - ort_run(onnx_path, x, spec))) <= 1e-4
        with pytest.raises(UserError, match="static batch of 4"):
            b.infer(check_inputs(spec, 2))
    (tmp_path / "crnn_bs4.engine.json").unlink()
    with pytest.raises(UserError, match="no spec for engine"):
        open_backend(plan).load()
