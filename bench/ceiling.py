"""The measured ceiling of a roofline: what a large matrix product reaches on this CPU, now.

The nominal peak (:mod:`bench.peak`) multiplies FLOP per cycle by the clock the CPU reports,
and a VM reports its nominal clock: the measurement machine (2-vCPU AMD EPYC, family 25 model
17, Zen 4) says 2.6 GHz, so 166 GFLOP/s f32 and 332 bf16, while OpenVINO's MatMul of 2048 x
2048 x 2048 ran at 194-202 GFLOP/s f32 and 386-416 bf16 on it (2026-12-08): the cores boost to
about 3.1-3.2 GHz, and a whole-process row reached "99 % of the roofline". A fraction of the
nominal peak is then an over-estimate, by how much depends on the hour.

So ``crnn-bench peers`` also measures the ceiling, the way the Empirical Roofline Toolkit does
(Lo, Williams, Van Straalen, Ligocki, Cordery, Wright, Hall, Oliker, "Roofline Model Toolkit:
A Practical Tool for Architectural and Program Analysis", PMBS 2014: ceilings from kernels run
on the machine, not from its data sheet): :func:`gemm_gflops` times a square MatMul in
OpenVINO at the row's precision (``INFERENCE_PRECISION_HINT``; its oneDNN/brgemm kernels are
the nearest to the FMA peak a library gets), with the engines' threading (``streams``
one-thread streams, one async request each, unpinned), as one more runner of the interleaved
rounds, so that the clock's drift hits rows and ceiling alike. :func:`implied_clock` is the
clock that ceiling needs at the ISA's FLOP per cycle (a lower bound of the real clock).
"""
from __future__ import annotations

import time
from typing import Callable

import numpy as np

from crnn_deploy.bench.peak import flop_per_cycle

__all__ = ["SIZE", "PRECISIONS", "available", "gemm_gflops", "implied_clock", "ceiling_runner"]

#: M = N = K of the product: 17.2 GFLOP per call, ~0.1 s on 2 Zen 4 cores; smaller sizes reach
#: less (1024: 136 f32 / 356 bf16 against 194 / 416 at 2048, same minute).
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


def implied_clock(gflops: float | None, cpu: dict, precision: str) -> float | None:
    """GHz the cores must at least run at for ``gflops`` at ``precision``: gflops / (physical
    cores x FLOP per cycle of :func:`bench.peak.flop_per_cycle`); None when unknown."""
    per_cycle = flop_per_cycle(cpu).get(precision)
    if not gflops or not per_cycle or not cpu.get("cores"):
        return None
    return gflops / (cpu["cores"] * per_cycle)


def ceiling_runner(precision: str, streams: int, seconds: float = 1.0
                   ) -> Callable[[], dict]:
    """A runner for :func:`bench.rounds.interleave`: ``{"rate": gemm_gflops(...)}`` (GFLOP/s)."""
    return lambda: {"rate": gemm_gflops(precision, streams, seconds)}
