"""What a library attains on this CPU, now: OpenVINO's GEMM GFLOP/s at a precision.

The roofline's peak is cores x clock x FLOP per cycle (:mod:`bench.peak`), at the clock
measured while the rows run (:mod:`bench.clock`: a VM reports its nominal clock, 2.6 GHz on the
measurement machine, a 2-vCPU AMD EPYC family 25 model 17, whose cores run at 3.65). This
module measures the other side of the roof: how much of that peak the best kernel a library
has reaches here. :func:`gemm_gflops` times a square MatMul in OpenVINO at the row's precision
(``INFERENCE_PRECISION_HINT``; oneDNN's brgemm kernels), with the engines' threading
(``streams`` one-thread streams, one async request each, unpinned), as one more runner of
``crnn-bench peers``' interleaved rounds; the highest round is reported (a slower one is a
moment the machine was slowed). On 2026-12-08 it reached 176-196 GFLOP/s f32 and 393-423 bf16
on that machine: about 0.8 and 0.9 of the peak at 3.65 GHz (234 and 467). Ceilings measured by
kernels: Lo, Williams, Van Straalen, Ligocki, Cordery, Wright, Hall, Oliker, "Roofline Model
Toolkit: A Practical Tool for Architectural and Program Analysis", PMBS 2014.
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

__all__ = ["SIZE", "PRECISIONS", "available", "gemm_gflops", "ceiling_runner"]

#: M = N = K of the product: 17.2 GFLOP per call, ~0.1 s on 2 Zen 4 cores; smaller sizes reach
#: less (1024: 136 f32 / 356 bf16 against 175 / 412 at 2048 in the same run).
SIZE = 2048
#: Precisions measured (OpenVINO's INFERENCE_PRECISION_HINT); int8 needs a quantized graph.
PRECISIONS = ("f32", "bf16")


def available() -> bool:
    """True when OpenVINO (the ``openvino`` extra) can be imported."""
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def _model(size: int):
    import openvino as ov
    from openvino import opset13 as ops

    x = ops.parameter([size, size], np.float32, name="x")
    w = np.random.default_rng(0).standard_normal((size, size)).astype(np.float32) / size
    return ov.Model([ops.matmul(x, ops.constant(w), False, False)], [x], "gemm")


def gemm_gflops(precision: str, streams: int, seconds: float = 1.0, size: int = SIZE) -> float:
    """GFLOP/s (2 x multiply-accumulates per second) of a ``size``-cubed float32-input MatMul run
    by OpenVINO on the CPU at ``precision`` (f32 or bf16), ``streams`` calls at a time: the best
    of 3 windows of ``seconds / 3`` each (at least 2 calls per stream), after one warm-up call
    per stream.

    Raises:
        ValueError: ``precision`` not in :data:`PRECISIONS` or ``streams`` < 1.
        ImportError: OpenVINO is not installed (:func:`available`).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if streams < 1:
        raise ValueError(f"streams must be >= 1, got {streams}")
    import openvino as ov

    compiled = ov.Core().compile_model(_model(size), "CPU", {
        "INFERENCE_PRECISION_HINT": precision, "NUM_STREAMS": streams,
        "INFERENCE_NUM_THREADS": streams, "ENABLE_CPU_PINNING": False})
    queue = ov.AsyncInferQueue(compiled, streams)
    x = np.random.default_rng(1).standard_normal((size, size)).astype(np.float32)
    flop = 2.0 * size ** 3
    for _ in range(streams):
        queue.start_async([x])
    queue.wait_all()
    t = time.perf_counter()
    queue.start_async([x])
    queue.wait_all()
    calls = max(2 * streams, round(seconds / 3 / max(time.perf_counter() - t, 1e-6)) * streams)
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(calls):
            queue.start_async([x])
        queue.wait_all()
        best = max(best, flop * calls / (time.perf_counter() - t) / 1e9)
    return best


def ceiling_runner(precision: str, streams: int, seconds: float = 1.0
                   ) -> Callable[[], dict]:
    """A runner for :func:`bench.rounds.interleave`: ``{"rate": gemm_gflops(...)}`` (GFLOP/s)."""
    return lambda: {"rate": gemm_gflops(precision, streams, seconds)}
