"""Engine streams (pipeline.streams): same outputs as one engine, in order; open_engine's choice."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.fused import evaluate
from crnn_deploy.pipeline.streams import DEFAULT_STREAMS, DEPTH, Streams, open_engine
from crnn_deploy.runtime.registry import open_backend


def test_streams_give_the_single_engine_predictions_in_order(iiit5k_lmdb, nano_bs16_onnx):
    with open_backend(nano_bs16_onnx) as be:
        one = evaluate(iiit5k_lmdb, be, limit=200)
    with Streams(nano_bs16_onnx, 3) as st:
        assert [m.options["threads"] for m in st.members] == [1, 1, 1]
        three = evaluate(iiit5k_lmdb, st, limit=200, pipelined=True, threads=1, ahead=0)
        x = np.random.default_rng(0).standard_normal((5, 16, 1, 32, 128)).astype(np.float32)
        ys = list(st.infer_many(iter(x)))
        assert st.busy_s > 0 and st.last_latency_ms > 0
    assert [p[:3] for p in three.predictions] == [p[:3] for p in one.predictions]
    assert np.allclose([p[3] for p in three.predictions], [p[3] for p in one.predictions],
                       atol=1e-6)
    assert three.summary["streams"] == 3 and one.summary["streams"] == 1
    with open_backend(nano_bs16_onnx) as be:
        for xi, y in zip(x, ys):
            assert np.allclose(be.infer(xi), y, atol=1e-5)


def test_streams_refuse_a_bad_batch_and_close(nano_bs16_onnx):
    with Streams(nano_bs16_onnx, 2) as st:
        with pytest.raises(UserError, match="static batch of 16"):
            list(st.infer_many([np.zeros((3, 1, 32, 128), np.float32)]))
    assert not any(m._loaded for m in st.members)


def test_open_engine_chooses_streams_only_by_default_on_cpu(nano_bs16_onnx):
    be, piped = open_engine(nano_bs16_onnx)
    assert isinstance(be, Streams) == (DEFAULT_STREAMS > 1) and piped == (DEFAULT_STREAMS > 1)
    for kwargs in ({"threads": 2}, {"streams": 1}, {"hint": "LATENCY"}):
        be, piped = open_engine(nano_bs16_onnx, **kwargs)
        assert not isinstance(be, Streams) and not piped
    be, piped = open_engine(nano_bs16_onnx, backend="openvino", hint="THROUGHPUT")
    assert not isinstance(be, Streams) and piped
    be, piped = open_engine(nano_bs16_onnx, streams=2, threads=2)
    assert isinstance(be, Streams) and piped and be.members[0].options["threads"] == 2
    with pytest.raises(UserError, match="at least 1"):
        open_engine(nano_bs16_onnx, streams=0)


def test_every_stream_has_a_batch_queued_while_the_caller_holds_an_output(nano_bs16_onnx):
    """The streams must not wait for the caller: when it gets output i, batches up to
    i + DEPTH * n have been taken from its iterator and handed to the streams."""
    x = np.random.default_rng(1).standard_normal((9, 16, 1, 32, 128)).astype(np.float32)
    taken = []

    def batches():
        for k, xi in enumerate(x):
            taken.append(k)
            yield xi

    with Streams(nano_bs16_onnx, 2) as st:
        seen = [len(taken) for _ in st.infer_many(batches())]
    assert seen[:5] == [DEPTH * 2, DEPTH * 2 + 1, DEPTH * 2 + 2, DEPTH * 2 + 3, DEPTH * 2 + 4]
    assert seen[5:] == [9] * 4 and DEPTH >= 2
