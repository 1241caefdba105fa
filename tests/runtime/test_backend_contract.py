"""The Backend contract, held by every registered backend that can run here and by a fake one.

Each test runs once per backend of ``runtime.registry.BACKENDS`` plus ``fake`` (the SDK-free
:class:`FakeBackend` of conftest.py); a backend that cannot run here is skipped with its
``unavailable_reason()``. Real backends run the nano-ocr engines exported from the real weights
on real IIIT5K inputs. The contract (runtime/base.py, docs/DESIGN.md "Inference output"):

* ``load()`` reads the spec and the batch: ``batch_size`` is 16 for a static engine, None for a
  dynamic one;
* ``infer`` takes float32 (N, C, H, W) and returns float32 (T, N, C); a wrong dtype, shape or
  (static) batch is a UserError; outputs do not depend on the batch (within the backend's
  float tolerance) nor on the input's memory order;
* ``infer_many`` yields one output per batch, in input order, equal to ``infer``'s;
* ``last_latency_ms`` (ms) is set per batch, ``busy_s`` (s) grows with inference time, is at
  most the sum of the batch latencies and the wall time, and ``reset_timing`` zeroes both.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.runtime.registry import BACKENDS, SUFFIXES, backend_class, open_backend

NAMES = [*sorted(BACKENDS), "fake"]

#: max abs difference allowed between two runs of the same sample (batch / memory order)
ATOL = {"fake": 1e-6, "onnxruntime": 1e-5, "openvino": 1e-4, "tensorrt": 1e-3, "pytorch": 1e-4,
        "ascend": 0.1}


@pytest.fixture(scope="session")
def openvino_irs(nano_dynamic_onnx, nano_bs16_onnx, tmp_path_factory) -> dict[bool, Path]:
    """{dynamic: IR}: the nano-ocr OpenVINO IRs converted by crnn-convert's converter."""
    from crnn_deploy.converter.openvino_convert import convert_openvino

    folder = tmp_path_factory.mktemp("ir")
    convert_openvino(nano_dynamic_onnx, folder / "nano-ocr_dynamic.xml")
    convert_openvino(nano_bs16_onnx, folder / "nano-ocr_bs16.xml", batch_size=16)
    return {True: folder / "nano-ocr_dynamic.xml", False: folder / "nano-ocr_bs16.xml"}


@pytest.fixture(params=NAMES)
def make_backend(request, fake_engine, fake_backend, tmp_path):
    """``make(dynamic) -> Backend`` (not loaded) of the parametrized backend, on nano-ocr."""
    name = request.param
    if name == "fake":
        return lambda dynamic: fake_backend(fake_engine(None if dynamic else 16))
    reason = backend_class(name).unavailable_reason()
    if reason is not None:
        pytest.skip(f"backend {name} cannot run here: {reason}")
    onnx = {True: request.getfixturevalue("nano_dynamic_onnx"),
            False: request.getfixturevalue("nano_bs16_onnx")}
    if name == "onnxruntime":
        return lambda dynamic: open_backend(onnx[dynamic], threads=1)
    if name == "openvino":
        irs = request.getfixturevalue("openvino_irs")
        # THROUGHPUT with 3 requests: infer_many really has several batches in flight
        return lambda dynamic: open_backend(irs[dynamic], threads=1, hint="THROUGHPUT", nireq=3)
    if name == "tensorrt":  # written against converter.tensorrt_build; not run here (no GPU)
        from crnn_deploy.converter.tensorrt_build import build_tensorrt

        def make_trt(dynamic: bool):
            plan = tmp_path / f"nano_{'dynamic' if dynamic else 'bs16'}.engine"
            build_tensorrt(onnx[dynamic], plan, 16, min_batch=1 if dynamic else 16)
            return open_backend(plan)
        return make_trt
    if name == "ascend":  # written against converter.om; not run here (no CANN)
        import shutil

        from crnn_deploy.converter.om import build_om

        if shutil.which("atc") is None:
            pytest.skip("backend ascend: atc (CANN toolkit) not on PATH")

        def make_om(dynamic: bool):
            om = tmp_path / f"nano_{'dynamic' if dynamic else 'bs16'}.om"
            if dynamic:
                build_om(onnx[True], om, dynamic_batch="1,2,4,8,16")
            else:
                build_om(onnx[False], om, batch_size=16)
            return open_backend(om)
        return make_om
    if name == "pytorch":  # eager PyTorch on the checkpoint: always a dynamic batch
        weights = request.getfixturevalue("nano_weights")

        def make_torch(dynamic: bool):
            if not dynamic:
                pytest.skip("pytorch: eager mode has no static batch")
            return open_backend(weights, backend="pytorch", threads=1, model="nano-ocr")
        return make_torch
    pytest.fail(f"no engine recipe for the registered backend {name!r}: add one to make_backend")


def atol(backend) -> float:
    return ATOL.get(backend.name, 1e-4)


@pytest.mark.parametrize("dynamic", [True, False], ids=["dynamic", "static"])
def test_load_reads_spec_and_batch(make_backend, nano_spec, dynamic):
    backend = make_backend(dynamic)
    with backend as b:
        assert b is backend and b.load() is b  # loading twice is a no-op
        assert b.spec == nano_spec
        assert b.batch_size == (None if dynamic else 16)
    backend.close()  # idempotent
    with backend as b:  # and loadable again after close
        assert b.spec == nano_spec


def test_dynamic_output_shape_dtype_and_batch_independence(make_backend, real_batch_of, nano_spec):
    t, c = nano_spec.output_shape
    x = real_batch_of(0, 16)
    with make_backend(True) as b:
        outs = {n: b.infer(x[:n]) for n in (1, 3, 16)}
        for n, y in outs.items():
            assert isinstance(y, np.ndarray) and y.dtype == np.float32
            assert y.shape == (t, n, c), n
        assert np.abs(outs[3] - outs[16][:, :3]).max() <= atol(b)
        assert np.abs(outs[1] - outs[16][:, :1]).max() <= atol(b)
        assert np.abs(outs[16][:, 0] - outs[16][:, 1]).max() > 0.1  # different words differ


def test_static_batch_is_enforced(make_backend, real_batch_of, nano_spec):
    t, c = nano_spec.output_shape
    with make_backend(False) as b:
        y = b.infer(real_batch_of(0, 16))
        assert y.shape == (t, 16, c) and y.dtype == np.float32
        with pytest.raises(UserError, match="static batch of 16"):
            b.infer(real_batch_of(0, 8))


def test_input_dtype_and_shape_are_checked(make_backend, real_batch_of, nano_spec):
    x = real_batch_of(0, 16)
    with make_backend(True) as b:
        with pytest.raises(UserError, match="float32"):
            b.infer(x.astype(np.float64))
        with pytest.raises(UserError, match="float32"):
            b.infer(x.tolist())
        with pytest.raises(UserError, match=r"does not match \(N, 1, 32, 128\) of nano-ocr"):
            b.infer(np.zeros((16, 1, 32, 100), np.float32))
        with pytest.raises(UserError, match="does not match"):
            b.infer(x[0])  # (C, H, W) without the batch axis
        # memory order does not matter: a Fortran-ordered copy gives the same output
        fortran = np.asfortranarray(x)
        assert not fortran.flags.c_contiguous
        assert np.abs(b.infer(fortran) - b.infer(x)).max() <= atol(b)


@pytest.mark.parametrize("dynamic", [True, False], ids=["dynamic", "static"])
def test_infer_many_yields_in_input_order(make_backend, real_batch_of, dynamic):
    sizes = [4, 4, 2, 4, 1, 4] if dynamic else [16, 16, 16, 16]
    starts = np.cumsum([0, *sizes[:-1]])
    batches = [real_batch_of(int(s), n) for s, n in zip(starts, sizes)]
    with make_backend(dynamic) as b:
        expected = [b.infer(x) for x in batches]
        got = list(b.infer_many(iter(batches)))
        assert len(got) == len(batches)
        for i, (y, want) in enumerate(zip(got, expected)):
            assert y.shape == want.shape and y.dtype == np.float32, i
            assert np.abs(y - want).max() <= atol(b), i
        with pytest.raises(UserError, match="float32"):
            list(b.infer_many([batches[0], batches[1].astype(np.float64)]))


def test_timing_fields(make_backend, real_batch_of):
    x = real_batch_of(0, 16)
    with make_backend(True) as b:
        b.infer(x)  # warm-up
        b.reset_timing()
        assert b.busy_s == 0.0 and b.last_latency_ms == 0.0
        b.infer(x)
        assert b.last_latency_ms > 0.0
        assert b.busy_s == pytest.approx(b.last_latency_ms / 1000.0, rel=1e-6)

        b.reset_timing()
        latencies = []
        start = time.perf_counter()
        for _ in b.infer_many(x[i:i + 4] for i in range(0, 16, 4)):
            latencies.append(b.last_latency_ms)
        wall = time.perf_counter() - start
        assert len(latencies) == 4 and min(latencies) > 0.0
        # busy time is the span with >= 1 batch in flight: within the sum of the batch
        # latencies (equal when sequential) and the wall time
        assert 0.0 < b.busy_s <= sum(latencies) / 1000.0 + 1e-6
        assert b.busy_s <= wall + 1e-6


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_missing_engine_is_reported_first(name, tmp_path):
    """Before any SDK check: even a backend that cannot run here names the missing file."""
    suffix = next((s for s, n in SUFFIXES.items() if n == name), ".pth")
    with pytest.raises(UserError, match="engine not found"):
        open_backend(tmp_path / f"absent{suffix}", backend=name).load()


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_availability_is_explained(name):
    """Every backend says whether it runs here, why not, how to install it, and its version."""
    cls = backend_class(name)
    reason = cls.unavailable_reason()
    assert reason is None or (isinstance(reason, str) and reason.strip())
    assert cls.is_available() is (reason is None)
    hint = cls.install_hint()
    assert isinstance(hint, str) and ("pip install" in hint or "CANN" in hint)
    version = cls.version()
    if reason is None and cls.sdk:
        assert isinstance(version, str) and version[0].isdigit()
    assert version is None or isinstance(version, str)
