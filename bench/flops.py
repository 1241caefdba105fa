"""Floating-point operations of an ONNX graph at the shapes actually run (the roofline's numerator).

:func:`FlopCounter` runs the graph once at the input shape asked for (ONNX Runtime, every
operand an output, so every shape is the one actually computed) and counts ``2 x multiply-accumulates``
of the operators that hold nearly all of a recognizer's work:

* ``Conv``: ``2 * N * C_out * prod(out spatial) * (C_in / group) * prod(kernel)``;
* ``MatMul``: ``2 * prod(output shape) * K`` (K: the last axis of the first input, NumPy
  broadcasting rules); ``Gemm``: ``2 * M * N * K``;
* ``LSTM`` / ``GRU``: ``2 * T * N * directions * G * H * (I + H)`` with G = 4 gates (LSTM) or 3
  (GRU), I the input size, H the hidden size (the input and recurrent matrix products of every
  step; ONNX operator spec's equations).

Element-wise work (bias, activations, normalization, pooling, softmax) is not counted: it is a
few percent of these models' FLOP and runs far from any FMA peak. The convention ``FLOP = 2 x MAC``
is the one of vendors' peak figures (an FMA counts as two operations), so counted and peak
figures compare. :func:`per_image_flops` memoizes the count per input width, for a model whose
width follows the word.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["FlopCounter", "graph_flops", "per_image_flops", "mean_gflop", "interpolated"]

COUNTED_OPS = ("Conv", "MatMul", "Gemm", "LSTM", "GRU")


def _attr(node, name: str, default=None):
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _node_flops(node, shapes: dict[str, tuple[int, ...]]) -> int:
    """FLOP of one node (0 for an operator not counted)."""
    op = node.op_type
    if op == "Conv":
        w, y = shapes[node.input[1]], shapes[node.output[0]]
        return 2 * int(np.prod(y)) * int(np.prod(w[1:]))
    if op == "MatMul":
        a, y = shapes[node.input[0]], shapes[node.output[0]]
        return 2 * int(np.prod(y)) * a[-1]
    if op == "Gemm":
        a, y = shapes[node.input[0]], shapes[node.output[0]]
        k = a[0] if _attr(node, "transA", 0) else a[-1]
        return 2 * int(np.prod(y)) * k
    if op in ("LSTM", "GRU"):
        x, w = shapes[node.input[0]], shapes[node.input[1]]  # X (T, N, I), W (D, G*H, I)
        layout = _attr(node, "layout", 0)
        t, n = (x[1], x[0]) if layout else (x[0], x[1])
        gates = 4 if op == "LSTM" else 3
        d, gh, i = w
        h = gh // gates
        return 2 * t * n * d * gates * h * (i + h)
    return 0


class FlopCounter:
    """Counts the FLOP of ``model`` (an ``onnx.ModelProto``, or a path) at given input shapes.

    The operand shapes of the counted nodes are read by running the graph once on zeros of the
    shape asked for, in ONNX Runtime (one session, graph optimizations off, every operand made a
    graph output): exact for any graph, where ONNX shape inference stops at shapes computed at
    run time (PP-OCRv4's SVTR neck). Raises ValueError when the graph has not exactly one
    non-initializer input."""

    def __init__(self, model):
        import onnx
        import onnxruntime as ort

        if isinstance(model, (str, Path)):
            model = onnx.load(str(model), load_external_data=False)
        copy = onnx.ModelProto()
        copy.CopyFrom(model)
        model = copy
        inits = {t.name for t in model.graph.initializer}
        inputs = [i for i in model.graph.input if i.name not in inits]
        if len(inputs) != 1:
            raise ValueError(f"expected one graph input, found {len(inputs)}")
        self.input = inputs[0]
        self.init_shapes = {t.name: tuple(t.dims) for t in model.graph.initializer}
        self.nodes = [n for n in model.graph.node if n.op_type in COUNTED_OPS]
        wanted = {name for n in self.nodes for name in (*n.input[:2], n.output[0]) if name} - inits
        types = {vi.name: vi.type.tensor_type.elem_type for vi in
                 onnx.shape_inference.infer_shapes(model).graph.value_info}
        have = {o.name for o in model.graph.output}
        for name in sorted(wanted - have):
            model.graph.output.append(onnx.helper.make_tensor_value_info(
                name, types.get(name, onnx.TensorProto.FLOAT), None))
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        opts.intra_op_num_threads = 1
        self.session = ort.InferenceSession(model.SerializeToString(), opts,
                                            providers=["CPUExecutionProvider"])
        self.names = [o.name for o in self.session.get_outputs()]

    def __call__(self, input_shape: Sequence[int]) -> dict[str, int]:
        """FLOP per operator type at one input of ``input_shape`` (e.g. ``(1, 3, 48, 320)``:
        NCHW), keys of :data:`COUNTED_OPS` with a nonzero count, plus ``"total"``.

        Raises:
            ValueError: ``input_shape`` has the wrong rank."""
        rank = len(self.input.type.tensor_type.shape.dim)
        if rank != len(input_shape):
            raise ValueError(f"input {self.input.name} has rank {rank}, "
                             f"got shape {tuple(input_shape)}")
        x = np.zeros(tuple(int(v) for v in input_shape), np.float32)
        values = self.session.run(self.names, {self.input.name: x})
        shapes = {**self.init_shapes, **{n: v.shape for n, v in zip(self.names, values)}}
        counts: dict[str, int] = {}
        for node in self.nodes:
            counts[node.op_type] = counts.get(node.op_type, 0) + _node_flops(node, shapes)
        counts["total"] = sum(counts.values())
        return counts


def graph_flops(model, input_shape: Sequence[int]) -> dict[str, int]:
    """FLOP per operator type of ``model`` (``onnx.ModelProto`` or path) at one input of
    ``input_shape`` (:class:`FlopCounter`; build one counter to count several shapes)."""
    return FlopCounter(model)(input_shape)


def per_image_flops(onnx_path: str | Path, chw: Sequence[int]):
    """A function ``width -> FLOP of one image`` (batch 1, input (1, C, H, width)) for the graph
    at ``onnx_path``, memoized per width (one run of the graph per distinct width)."""
    counter = FlopCounter(onnx_path)
    c, h = int(chw[0]), int(chw[1])

    @lru_cache(maxsize=None)
    def flops(width: int) -> int:
        return counter((1, c, h, int(width)))["total"]

    return flops


def mean_gflop(flops, widths: Sequence[int]) -> float:
    """Mean GFLOP per image over images run at ``widths`` (``flops``: :func:`per_image_flops`)."""
    return sum(flops(w) for w in widths) / max(1, len(widths)) / 1e9


def interpolated(flops, step: int = 32):
    """``width -> FLOP`` by linear interpolation between exact counts at multiples of ``step``
    (at least ``2 * step``; below, extrapolated from the first two points): for widths no engine
    runs at (each word's own width, hundreds of distinct values), where one exact count per
    width would cost a run of the graph each. Conv and LSTM work is affine in the width between
    the points; the error is that of the stride rounding and of attention's quadratic term."""
    def f(width: int) -> float:
        lo = max(2 * step, (int(width) // step) * step)
        hi = lo + step
        a, b = flops(lo), flops(hi)
        return a + (b - a) * (int(width) - lo) / step

    return f
