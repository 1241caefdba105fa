"""OpenVINO static-shape widths (option ``widths``) on the real PP-OCRv4 recognizer: one model
per width, compiled on first use, the same numbers as the dynamic-width model at that width."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.preprocess.transform import pad_width, preprocess_image
from crnn_deploy.runtime.registry import open_backend

pytestmark = pytest.mark.skipif(importlib.util.find_spec("openvino") is None,
                                reason="openvino not installed (pip install 'crnn-deploy[openvino]')")


@pytest.fixture(scope="module")
def words(assets, ppocrv4_onnx):
    """The first 8 IIIT5K words preprocessed for PP-OCRv4: float32 (3, 48, W_i), W_i >= 320."""
    with open_backend(ppocrv4_onnx) as be:
        spec = be.spec
    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    rels = [line.split("\t")[0] for line in gt.read_text(encoding="utf-8").splitlines()[:8]]
    return [preprocess_image((gt.parent / rel).read_bytes(), spec) for rel in rels]


def _batch(images, width: int) -> np.ndarray:
    return np.stack([pad_width(x, width, "zeros") for x in images])


def test_each_width_runs_its_own_static_model_with_the_dynamic_models_numbers(ppocrv4_onnx, words):
    x320, x480 = _batch(words[:4], 320), _batch(words[4:], 480)
    with open_backend(ppocrv4_onnx, backend="openvino", threads=2) as dyn:
        want = [dyn.infer(x320), dyn.infer(x480)]
        assert dyn.widths is None
    with open_backend(ppocrv4_onnx, backend="openvino", threads=2, widths="480,320") as be:
        assert be.widths == (320, 480)
        got = [be.infer(x320), be.infer(x480), be.infer(x480)]
        assert sorted(be._compiled) == [(4, 320), (4, 480)]  # compiled once per width
        for key, compiled in be._compiled.items():  # each a static shape, no dynamic dim
            assert compiled.input(0).get_partial_shape().is_static
            assert list(compiled.input(0).get_shape()) == [4, 3, 48, key[1]]
        with pytest.raises(UserError, match="not one of the engine's widths"):
            be.infer(_batch(words[:4], 400))
    assert [y.shape for y in got] == [(40, 4, 6625), (60, 4, 6625), (60, 4, 6625)]
    for y, ref in zip(got, want + want[1:]):
        assert np.abs(y - ref).max() < 1e-4


def test_async_requests_switch_between_widths_in_order(ppocrv4_onnx, words):
    batches = [_batch(words[:4], 320), _batch(words[4:], 480), _batch(words[:4], 320)]
    with open_backend(ppocrv4_onnx, backend="openvino", threads=2, widths="320,480") as be:
        want = [be.infer(x) for x in batches]
    with open_backend(ppocrv4_onnx, backend="openvino", hint="THROUGHPUT", widths="320,480") as be:
        got = list(be.infer_many(batches))
    assert [y.shape for y in got] == [y.shape for y in want]
    assert all(np.abs(a - b).max() < 1e-4 for a, b in zip(got, want))


def test_widths_are_refused_where_they_mean_nothing(ppocrv4_onnx, nano_dynamic_onnx):
    with pytest.raises(UserError, match="fixed width of 128"):
        open_backend(nano_dynamic_onnx, backend="openvino", widths="auto").load()
    with pytest.raises(UserError, match="within 320..3200"):
        open_backend(ppocrv4_onnx, backend="openvino", widths="160,320").load()
    with pytest.raises(UserError, match="--backend openvino"):
        open_backend(ppocrv4_onnx, widths="auto").load()


def test_short_batches_run_their_own_rows_on_one_dynamic_batch_model(ppocrv4_onnx, nano_bs16_onnx,
                                                                     words):
    """A dynamic-batch model: n images run as n rows, short batches on one model compiled with
    the batch dynamic (one compile, no zero rows: issue 28), a full batch on the model compiled
    for it; a static batch is always itself."""
    from crnn_deploy.pipeline.fused import infer_decoded

    with open_backend(ppocrv4_onnx, backend="openvino", threads=2) as be:
        assert [be.batch_rows(n, 16) for n in (1, 2, 3, 5, 8, 9, 16)] == [1, 2, 3, 5, 8, 9, 16]
        (_, texts, _), = list(infer_decoded(be, [("g", words[:5])], 16))
        assert sorted(be._compiled, key=str) == [(None, None)] and len(texts) == 5
        be.infer(np.zeros((16, 3, 48, 320), np.float32))  # a full batch: compiled for 16 rows
        assert (16, None) in be._compiled and len(be._compiled) == 2
        (_, again, _), = list(infer_decoded(be, [("g", words[:3])], 16))
        assert len(be._compiled) == 2 and again == texts[:3]  # rows do not mix
    with open_backend(ppocrv4_onnx, backend="openvino", threads=1) as small:
        assert small.batch_rows(2, 2) == 2  # a full batch of 2: no model of its own
        small.infer(np.zeros((2, 3, 48, 320), np.float32))
        small.infer(np.zeros((1, 3, 48, 320), np.float32))
        assert list(small._compiled) == [(None, None)]
    with open_backend(nano_bs16_onnx, backend="openvino") as static:
        assert static.batch_size == 16 and static.batch_rows(3, 16) == 16
