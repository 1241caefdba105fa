"""Parity of a detector's or classifier's engine against ONNX Runtime (the page kinds' ``compare``).

The recognizers' :func:`converter.parity.compare` feeds uniform noise at fixed (C, H, W); a
detector's input has a height and width that follow the page, and noise gives a DB map near 0
everywhere. Here both runners get the page-like inputs of :func:`converter.page_inputs.
check_inputs_of` (a detector: two page sizes and a batch of 2; a classifier: 6 upright and
turned text-line crops and one alone) and the max abs diff of the outputs ((N, 1, H, W) maps,
(N, len(labels)) probabilities) is held to the tolerance.
"""
from __future__ import annotations

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.page_inputs import check_inputs_of
from crnn_deploy.converter.parity import FP32_ATOL, Runner, max_abs_diff


def engine_dims(spec, batch: int | None) -> list[int]:
    """The (N, C, H, W) an engine is reshaped to: ``batch`` (-1: dynamic) and, for a detector,
    a dynamic H and W (-1), for a classifier its fixed (3, height, width)."""
    n = -1 if batch is None else int(batch)
    return [n, 3, -1, -1] if spec.kind == "detector" else [n, *spec.input_shape]


def fit_batch(x: np.ndarray, batch: int | None) -> np.ndarray:
    """``x`` cut or repeated to ``batch`` rows (unchanged when ``batch`` is None)."""
    if batch is None or len(x) == batch:
        return x
    reps = -(-batch // len(x))
    return np.ascontiguousarray(np.concatenate([x] * reps)[:batch])


def compare_page(what: str, spec, reference: Runner, candidate: Runner, atol: float = FP32_ATOL,
                 batch: int | None = None) -> float:
    """Max abs diff of ``candidate`` against ``reference`` on the spec's check inputs (each cut
    or repeated to ``batch`` rows for a static-batch engine).

    Raises:
        UserError: an output shape differs, or the diff (NaN included) exceeds ``atol``.
    """
    worst = 0.0
    for x in check_inputs_of(spec):
        x = fit_batch(x, batch)
        at = f"input {tuple(x.shape)}"
        diff = max_abs_diff(np.asarray(reference.infer(x)), candidate.infer(x), f"{what} at {at}")
        if not diff <= atol:
            raise UserError(f"{what}: max abs diff {diff:.3g} at {at} exceeds the tolerance "
                            f"{atol:.3g}; nothing was written")
        worst = max(worst, diff)
    return worst


def page_profile(spec, lo: int, opt: int, hi: int, max_side: int | None = None
                 ) -> dict[str, tuple[int, int, int, int]]:
    """A TensorRT optimization profile (``{"min", "opt", "max"}`` -> (N, C, H, W)) of a page
    model for batches ``lo`` <= ``opt`` <= ``hi``.

    A detector's profile spans H and W: min ``multiple`` x ``multiple`` (32 x 32), opt
    ``limit_side_len`` rounded to the multiple, square (736 x 736: the short side of most pages
    under ``limit_type`` min), max ``max_side`` (default the spec's ``input.max_side``, 4096)
    square. A classifier's (3, height, width) is fixed.

    Raises:
        UserError: ``max_side`` outside multiple..``input.max_side`` or not a multiple.
    """
    if spec.kind != "detector":
        return {k: (int(n), *spec.input_shape) for k, n in (("min", lo), ("opt", opt), ("max", hi))}
    m, top = spec.input.multiple, max_side or spec.input.max_side
    if not (m <= top <= spec.input.max_side and top % m == 0):
        raise UserError(f"--max-width {top} (the detector's largest side) must be a multiple of "
                        f"{m} in {m}..{spec.input.max_side} of {spec.name}")
    side = min(top, max(m, int(round(spec.input.limit_side_len / m)) * m))
    return {"min": (int(lo), 3, m, m), "opt": (int(opt), 3, side, side), "max": (int(hi), 3, top, top)}
