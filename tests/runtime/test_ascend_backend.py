"""Ascend backend: registry mapping, gear padding and output reshaping (pure numpy), the error
without ais_bench; build + infer on an NPU where CANN and ais_bench exist (skipped otherwise)."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import get_spec, write_sidecar
from crnn_deploy.runtime.ascend_backend import AscendBackend, pick_gear, to_tbc, unavailable_reason
from crnn_deploy.runtime.registry import backend_class, backend_for, open_backend


def test_om_suffix_maps_to_ascend():
    assert backend_for("build/nano-ocr_bs16.om") == "ascend"
    assert backend_class("ascend") is AscendBackend


def test_pick_gear():
    gears = [1, 4, 8, 16]
    assert [pick_gear(n, gears) for n in (1, 2, 4, 5, 16)] == [1, 4, 4, 8, 16]
    with pytest.raises(UserError, match="above the largest batch gear 16"):
        pick_gear(17, gears)


def test_to_tbc_takes_the_gear_buffer_and_drops_padding():
    t, gear, c, n = 3, 4, 5, 2
    y = np.arange(t * gear * c, dtype=np.float32).reshape(t, gear, c)
    buffer = np.concatenate([y.reshape(-1), np.full(100, -1, np.float32)])  # max-gear buffer
    got = to_tbc(buffer, t, gear, c, n)
    assert got.shape == (3, 2, 5) and got.dtype == np.float32
    assert np.array_equal(got, y[:, :n])
    with pytest.raises(UserError, match="expected 60"):
        to_tbc(np.zeros(59, np.float32), t, gear, c, n)


@pytest.mark.skipif(unavailable_reason() is None, reason="ais_bench is available here")
def test_without_ais_bench(tmp_path):
    assert AscendBackend.is_available() is False
    om = tmp_path / "m.om"
    om.write_bytes(b"not an om")
    write_sidecar(om, get_spec("crnn"), batch_size=16)
    with pytest.raises(UserError, match="cannot run here: ais_bench is not importable.*CANN"):
        open_backend(om).load()


@pytest.mark.skipif(unavailable_reason() is not None,
                    reason=f"Ascend inference: {unavailable_reason()}")
def test_om_matches_onnx_runtime(tmp_path, nano_dynamic_onnx):
    import shutil

    from crnn_deploy.converter.om import build_om
    from crnn_deploy.converter.parity import check_inputs, ort_run

    if shutil.which("atc") is None:
        pytest.skip("atc (CANN toolkit) not on PATH")
    spec = get_spec("nano-ocr")
    build_om(nano_dynamic_onnx, tmp_path / "n.om", dynamic_batch="1,4,8,16")
    with open_backend(tmp_path / "n.om") as b:
        assert b.batch_size is None
        for n in (1, 3, 16):
            x = check_inputs(spec, n)
            y = b.infer(x)
            assert y.shape == (33, n, 66)
            assert np.max(np.abs(y - ort_run(nano_dynamic_onnx, x, spec))) <= 0.1
        with pytest.raises(UserError, match="largest batch gear"):
            b.infer(check_inputs(spec, 17))


class _FakeInferSession:
    """ais_bench's InferSession as the runtime uses it, for a width-gear OM of batch 16 (input
    (16, 3, -1, -1), as atc --dynamic_image_size writes it): records each call's mode and shape
    and returns one flat buffer sized for the largest gear, filled with T * 1000 + step."""

    calls: list = []

    def __init__(self, device_id, path):
        self.classes = 7

    def get_inputs(self):
        return [type("Desc", (), {"shape": [16, 3, -1, -1]})()]

    def infer(self, inputs, mode="static"):
        x = inputs[0]
        _FakeInferSession.calls.append((mode, x.shape))
        t = x.shape[3] // 8
        y = np.zeros((3200 // 8, x.shape[0], self.classes), np.float32)  # the largest gear's buffer
        y[:t] = (t * 1000 + np.arange(t, dtype=np.float32))[:, None, None]
        y[:t, :, 0] += 1e6  # the blank wins every step
        return [np.concatenate([y[:t].reshape(-1), np.full(y[t:].size, np.nan, np.float32)])]

    def free_resource(self):
        pass


@pytest.fixture
def fake_ais_bench(monkeypatch):
    import sys
    import types

    for name in ("ais_bench", "ais_bench.infer"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    interface = types.ModuleType("ais_bench.infer.interface")
    interface.InferSession = _FakeInferSession
    monkeypatch.setitem(sys.modules, "ais_bench.infer.interface", interface)
    _FakeInferSession.calls = []
    unavailable_reason.cache_clear()
    yield _FakeInferSession
    unavailable_reason.cache_clear()


def test_width_gears_run_each_batch_at_the_smallest_gear_that_fits(fake_ais_bench, tmp_path):
    """The runtime side of atc's width gears (no NPU: ais_bench faked): the sidecar's width -> T
    map gives the backend its widths, the fused path pads every batch to the smallest gear that
    fits, the OM runs in ais_bench's 'dymhw' mode and its (T_gear, 16, C) output is cut from the
    buffer of the largest gear."""
    from crnn_deploy.pipeline.fused import infer_decoded

    spec = get_spec("nano-ocr").with_changes(
        name="dyn", input_shape=(3, 48, 320), channels="BGR", resize_mode="keep-ratio",
        width_max=3200, seq_len=40, alphabet="abcdef", input_name="x")
    om = tmp_path / "p.om"
    om.write_bytes(b"fake om")
    write_sidecar(om, spec, batch_size=16, widths={"320": 40, "480": 60, "3200": 400})
    with open_backend(om) as be:
        assert be.widths == (320, 480, 3200) and be.batch_size == 16
        images = [np.zeros((3, 48, w), np.float32) for w in (320, 400, 320, 480, 1000)]
        (meta, texts, confs), = list(infer_decoded(be, [("group", images)], 16))
        assert meta == "group" and texts == [""] * 5
        assert sorted(fake_ais_bench.calls) == [("dymhw", (16, 3, 48, 320)),
                                                ("dymhw", (16, 3, 48, 480)),
                                                ("dymhw", (16, 3, 48, 3200))]
        y = be.infer(np.zeros((16, 3, 48, 480), np.float32))
        assert y.shape == (60, 16, 7) and np.isfinite(y).all() and y[5, 3, 1] == 60 * 1000 + 5
        with pytest.raises(UserError, match="not one of the engine's widths"):
            be.infer(np.zeros((16, 3, 48, 400), np.float32))
        with pytest.raises(UserError, match="static batch of 16"):
            be.infer(np.zeros((8, 3, 48, 480), np.float32))
