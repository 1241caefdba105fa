"""Engine outputs are untrusted input: one check of their shape and values for every path.

The numbers an engine returns are as untrusted as the files it reads: a broken conversion, an
FP16 overflow or a faulty device gives NaN or inf, and a wrong graph gives another rank or
shape. Decoded as is, NaN becomes an empty word with confidence 0 and inf a random word with
confidence NaN, silently. Every path checks each batch once, here, before decoding or
writing it: the staged path (``runtime.runner.run_batches``, so crnn-infer writes nothing
wrong), the fused paths (crnn-eval local and Ray, crnn-recognize, ``Recognizer``: the same
runner) and crnn-postprocess reading result files (``postprocess.results``).

Cost: one ``np.isfinite(y).all()`` per batch (a (33, 16, 66) float32 batch: ~35 k values,
microseconds), and a shape comparison.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crnn_deploy.common.errors import UserError


class EngineOutputError(UserError):
    """An engine output of the wrong rank/shape/dtype, or holding NaN or inf.

    ``rows``: the positions along the batch axis of the non-finite samples (empty for a shape
    problem), so a caller that knows the samples can name them; ``batch``: the 1-based batch
    number when the caller counts batches (else None).
    """

    def __init__(self, message: str, rows: Sequence[int] = (), batch: int | None = None):
        super().__init__(message)
        self.rows, self.batch = list(rows), batch


def shape_problem(y, expected: Sequence[int | None]) -> str | None:
    """None when ``y`` is a real-valued numpy array of ``expected`` shape (None: any size
    >= 1 on that axis), else what is wrong (for a message)."""
    if not isinstance(y, np.ndarray):
        return f"a {type(y).__name__}, not a numpy array"
    if y.dtype.kind != "f":
        return f"dtype {y.dtype}, not floating point"
    want = "(" + ", ".join("?" if d is None else str(d) for d in expected) + ")"
    if y.ndim != len(expected):
        return f"rank {y.ndim} (shape {y.shape}), expected rank {len(expected)} {want}"
    if any(d is not None and d != s for d, s in zip(expected, y.shape)) or 0 in y.shape:
        return f"shape {y.shape}, expected {want}"
    return None


def nonfinite_rows(y: np.ndarray, batch_axis: int) -> np.ndarray:
    """Positions along ``batch_axis`` of the samples holding NaN or inf (int64, sorted)."""
    if np.isfinite(y).all():  # the common case: one vectorized pass, no allocation per row
        return np.zeros(0, dtype=np.int64)
    axes = tuple(a for a in range(y.ndim) if a != batch_axis)
    return np.flatnonzero(~np.isfinite(y).all(axis=axes))


def check_engine_output(y, expected: Sequence[int | None], where: str,
                        batch_axis: int = 1) -> np.ndarray:
    """Return ``y`` when it is a float array of shape ``expected`` with finite values only.

    Args:
        y: an engine output, e.g. (T, N, C) logits with ``batch_axis=1``.
        expected: the shape it must have (None for an axis of any size).
        where: what it is, for the message (e.g. ``"m.onnx: batch 3"``).
        batch_axis: the axis of the samples (to say which ones hold NaN/inf).

    Raises:
        EngineOutputError: naming ``where``, what came back and what was expected; for NaN/inf
            the samples of the batch that hold them (``rows``).
    """
    problem = shape_problem(y, expected)
    if problem is not None:
        raise EngineOutputError(f"{where}: the engine returned {problem}; nothing decoded from "
                                "it (a model of another spec, or a broken engine)")
    bad = nonfinite_rows(y, batch_axis)
    if len(bad):
        kinds = " and ".join(k for k, f in (("NaN", np.isnan), ("inf", np.isinf)) if f(y).any())
        first = ", ".join(str(int(r) + 1) for r in bad[:5]) + (", ..." if len(bad) > 5 else "")
        raise EngineOutputError(
            f"{where}: the engine returned {kinds} for {len(bad)} of {y.shape[batch_axis]} "
            f"samples (sample {first} of the batch); their text would be meaningless, so "
            "nothing is decoded: check the engine (precision, conversion, device)", bad)
    return y
