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
