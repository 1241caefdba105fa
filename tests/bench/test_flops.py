"""bench.flops: the FLOP counter on a hand-built ONNX graph (Conv -> LSTM -> MatMul) whose
counts are worked out by hand, at two input widths, and the interpolation between widths."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from crnn_deploy.bench.flops import FlopCounter, graph_flops, interpolated  # noqa: E402

H = 16  # LSTM hidden size


def _graph():
    """x (1, 1, 8, W) -> Conv 4x1x3x3 pad 1 -> (1, 4, 8, W) -> (W, 1, 32) -> bidirectional
    LSTM (W, 2, 1, 16) -> (W, 32) -> MatMul (32, 10) -> (W, 10)."""
    rng = np.random.default_rng(0)
    inits = [numpy_helper.from_array(rng.standard_normal(s).astype(np.float32), n) for n, s in
             [("cw", (4, 1, 3, 3)), ("lw", (2, 4 * H, 32)), ("lr", (2, 4 * H, H)), ("mw", (32, 10))]]
    inits += [numpy_helper.from_array(np.array(v, np.int64), n)
              for n, v in [("s1", [0, 0, -1]), ("s2", [0, -1])]]
    nodes = [helper.make_node("Conv", ["x", "cw"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Transpose", ["c"], ["t"], perm=[3, 0, 1, 2]),
             helper.make_node("Reshape", ["t", "s1"], ["r"]),
             helper.make_node("LSTM", ["r", "lw", "lr"], ["l"], hidden_size=H,
                              direction="bidirectional"),
             helper.make_node("Reshape", ["l", "s2"], ["f"]),
             helper.make_node("MatMul", ["f", "mw"], ["y"])]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 8, "W"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["W", 10])
    g = helper.make_graph(nodes, "g", [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


def expected(w: int) -> dict[str, int]:
    conv = 2 * 4 * 8 * w * 1 * 3 * 3            # 2 x C_out x H x W x C_in x kh x kw
    lstm = 2 * w * 1 * 2 * 4 * H * (32 + H)     # 2 x T x N x dirs x 4 gates x H x (I + H)
    matmul = 2 * w * 10 * 32                    # 2 x M x N x K
    return {"Conv": conv, "LSTM": lstm, "MatMul": matmul, "total": conv + lstm + matmul}


@pytest.mark.parametrize("width", [8, 16])
def test_counts_match_hand_worked_figures(width):
    assert graph_flops(_graph(), (1, 1, 8, width)) == expected(width)


def test_one_counter_many_shapes():
    count = FlopCounter(_graph())
    assert count((1, 1, 8, 8))["total"] == 4608 + 98304 + 5120
    assert count((1, 1, 8, 24)) == expected(24)


def test_wrong_rank_is_refused():
    with pytest.raises(ValueError, match="rank 4"):
        graph_flops(_graph(), (1, 8, 8))


def test_interpolation_is_exact_on_an_affine_count():
    def flops(w):
        return 1000 * w + 7

    f = interpolated(flops, step=32)
    assert f(64) == flops(64) and f(100) == pytest.approx(flops(100))
    assert f(10) == pytest.approx(flops(10))  # below 2 * step: extrapolated
