"""Numerical checks shared by the converters: same inputs, max abs diff, a clear failure.

The check inputs are uniform in [-1, 1], the range of the normalized images
((x/255 - 0.5) / 0.5), drawn from a fixed seed so a failure is reproducible.
"""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from common.errors import UserError
from models.specs import ModelSpec

#: Default tolerance (max abs diff of the (T, B, C) outputs) for an FP32 conversion.
FP32_ATOL = 1e-4


def check_inputs(spec: ModelSpec, batch: int, seed: int = 0) -> np.ndarray:
    """float32 (batch, C, H, W) array, uniform in [-1, 1], reproducible from ``seed``."""
    rng = np.random.default_rng(seed + batch)
    return rng.uniform(-1.0, 1.0, size=(batch, *spec.input_shape)).astype(np.float32)


def ort_run(onnx_path: str, x: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """Run an ONNX file once on the CPU with ONNX Runtime: (B, C, H, W) -> float32 (T, B, C)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    return sess.run(None, {spec.input_name: x})[0]


def compare(what: str, batches: Iterable[int], spec: ModelSpec,
            reference: Callable[[np.ndarray], np.ndarray],
            candidate: Callable[[np.ndarray], np.ndarray],
            atol: float = FP32_ATOL) -> float:
    """Run both callables on the same inputs for each batch size; return the max abs diff.

    Raises:
        UserError: a shape differs, or the max abs diff exceeds ``atol`` (the message gives
            the diff, the tolerance and the batch size).
    """
    worst = 0.0
    for batch in batches:
        x = check_inputs(spec, batch)
        ref, got = np.asarray(reference(x)), np.asarray(candidate(x))
        if ref.shape != got.shape:
            raise UserError(f"{what}: output shape {got.shape} != reference {ref.shape} "
                            f"at batch {batch}")
        diff = float(np.max(np.abs(ref.astype(np.float64) - got.astype(np.float64))))
        if not diff <= atol:  # also catches NaN
            raise UserError(f"{what}: max abs diff {diff:.3g} at batch {batch} exceeds the "
                            f"tolerance {atol:g}; nothing was written")
        worst = max(worst, diff)
    return worst
