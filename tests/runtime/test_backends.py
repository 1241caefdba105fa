"""Backends on the real nano-ocr engines and IIIT5K inputs: spec, batch, numerics."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.runtime import batching
from crnn_deploy.runtime.registry import open_backend

needs_openvino = pytest.mark.skipif(importlib.util.find_spec("openvino") is None,
                                    reason="openvino not installed (pip install 'crnn-deploy[openvino]')")


def infer_all(backend, folder, batch: int) -> np.ndarray:
    """All samples of ``folder`` through ``backend`` in padded batches: (T, N, C)."""
    files = batching.list_inputs(folder)
    outs = []
    for group in batching.chunk(files, batch):
        y = backend.infer(batching.read_batch(group, backend.spec, batch))
        outs.append(y[:, :len(group)])
    return np.concatenate(outs, axis=1)


def test_ort_reads_spec_and_batch(nano_dynamic_onnx, nano_bs16_onnx, nano_spec):
    with open_backend(nano_dynamic_onnx) as dyn, open_backend(nano_bs16_onnx) as static:
        assert dyn.name == "onnxruntime" and dyn.spec == nano_spec and dyn.batch_size is None
        assert static.spec == nano_spec and static.batch_size == 16


def test_outputs_do_not_depend_on_batch(nano_dynamic_onnx, iiit_bins, ort_reference):
    with open_backend(nano_dynamic_onnx, threads=2) as be:
        for batch in (1, 4, 16, 64):
            y = infer_all(be, iiit_bins, batch)
            assert y.shape == ort_reference.shape and y.dtype == np.float32
            assert np.abs(y - ort_reference).max() < 1e-5, batch


def test_infer_checks_shape_dtype_and_static_batch(nano_bs16_onnx, nano_spec):
    with open_backend(nano_bs16_onnx) as be:
        with pytest.raises(UserError, match="static batch of 16"):
            be.infer(np.zeros((8, *nano_spec.input_shape), np.float32))
        with pytest.raises(UserError, match="float32"):
            be.infer(np.zeros((16, *nano_spec.input_shape), np.float64))
        with pytest.raises(UserError, match="does not match"):
            be.infer(np.zeros((16, 1, 32, 100), np.float32))


def test_onnx_without_spec_is_refused_unless_sidecar(nano_dynamic_onnx, nano_spec, tmp_path):
    import onnx

    model = onnx.load(str(nano_dynamic_onnx))
    del model.metadata_props[:]
    bare = tmp_path / "bare.onnx"
    onnx.save(model, str(bare))
    with pytest.raises(UserError, match=r"carries no model spec .*crnn-convert import .*bare.onnx "
                       r"--spec PRESET\|spec.json --output bare-spec.onnx"):
        open_backend(bare).load()
    from crnn_deploy.models.specs import write_sidecar

    write_sidecar(bare, nano_spec)
    with open_backend(bare) as be:
        assert be.spec == nano_spec


@needs_openvino
def test_openvino_f32_matches_ort(nano_dynamic_onnx, iiit_bins, ort_reference):
    with open_backend(nano_dynamic_onnx, backend="openvino") as be:
        assert be.batch_size is None and be.spec.name == "nano-ocr"
        y = infer_all(be, iiit_bins, 16)
    assert np.abs(y - ort_reference).max() < 1e-4


@needs_openvino
def test_openvino_bf16_differs_so_f32_must_be_explicit(nano_dynamic_onnx, iiit_bins, ort_reference):
    import openvino as ov

    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        pytest.skip("this CPU has no bf16: OpenVINO's default precision is f32 here")
    with open_backend(nano_dynamic_onnx, backend="openvino", precision="bf16") as be:
        y = infer_all(be, iiit_bins, 16)
    assert np.abs(y - ort_reference).max() > 1e-3


@needs_openvino
def test_openvino_throughput_pipeline_keeps_order(nano_dynamic_onnx, iiit_bins, ort_reference):
    files = batching.list_inputs(iiit_bins)
    groups = batching.chunk(files, 8)
    with open_backend(nano_dynamic_onnx, backend="openvino", hint="THROUGHPUT") as be:
        batches = (batching.read_batch(g, be.spec, 8) for g in groups)
        outs = [y[:, :len(g)] for g, y in zip(groups, be.infer_many(batches))]
        assert be.busy_s > 0 and be.last_latency_ms > 0
    assert np.abs(np.concatenate(outs, axis=1) - ort_reference).max() < 1e-4


@needs_openvino
def test_openvino_ir_spec_from_rt_info(nano_bs16_onnx, nano_spec, tmp_path):
    """An IR as crnn-convert writes it: spec in rt_info ["crnn_deploy", "spec"], static batch."""
    import openvino as ov

    model = ov.Core().read_model(str(nano_bs16_onnx))
    model.set_rt_info(nano_spec.to_json(), ["crnn_deploy", "spec"])
    ov.save_model(model, str(tmp_path / "m.xml"))
    with open_backend(tmp_path / "m.xml") as be:
        assert be.name == "openvino" and be.spec == nano_spec and be.batch_size == 16
        y = be.infer(np.zeros((16, *nano_spec.input_shape), np.float32))
        assert y.shape == (33, 16, 66)
    bare = ov.Core().read_model(str(nano_bs16_onnx))
    ov.save_model(bare, str(tmp_path / "bare.xml"))
    with pytest.raises(UserError, match="carries no model spec"):
        open_backend(tmp_path / "bare.xml").load()


def test_batching_helpers(tmp_path):
    names = ["test_10.bin", "test_2.bin", "test_1.bin"]
    for n in names:
        (tmp_path / n).write_bytes(b"")
    assert [p.name for p in batching.list_inputs(tmp_path)] == ["test_1.bin", "test_2.bin", "test_10.bin"]
    y = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)  # (T, B, C)
    per = batching.split_outputs(y, 2, axis=1)
    assert len(per) == 2 and per[1].shape == (2, 1, 4) and np.array_equal(per[1][:, 0], y[:, 1])
    assert batching.split_outputs(y, 3, axis=0)[2].shape == (1, 2, 4)
    padded = batching.pad_batch(np.ones((3, 1, 2, 2), np.float32), 5)
    assert padded.shape == (5, 1, 2, 2) and padded[3:].sum() == 0
