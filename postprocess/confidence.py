"""Word confidences from greedy CTC steps, and the choice between two readings; numpy only.

:func:`product_confidence` is EasyOCR's (1.7.2 ``easyocr/recognition.py``, ``custom_mean`` in
``recognizer_predict``): over the steps whose best class is not the blank (repeats included,
unlike the emitted characters), the product of the best probabilities raised to 2 / sqrt(n).
:func:`keep_more_confident` is how its ``get_text`` chooses between a first and a second reading.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

BLANK = 0


def product_confidence(paths: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """``prod(p) ** (2 / sqrt(n))`` over each row's non-blank steps; 0.0 for a row with none.

    Args:
        paths: int (N, T) best class per step (class 0 the blank).
        probs: float (N, T) probability of that class (after any renormalization).

    Returns:
        float64 (N,) in [0, 1]. Computed as ``exp(2 / sqrt(n) * sum(log p))``; EasyOCR takes the
        float32 product, which agrees to about 1e-6 relative.
    """
    paths = np.asarray(paths)
    probs = np.asarray(probs, dtype=np.float64)
    steps = paths != BLANK
    n = steps.sum(axis=1)
    with np.errstate(divide="ignore"):
        logs = np.where(steps, np.log(np.where(steps, probs, 1.0)), 0.0).sum(axis=1)
    exponent = np.divide(2.0, np.sqrt(n), out=np.zeros(len(n)), where=n > 0)
    return np.where(n > 0, np.exp(exponent * logs), 0.0)


def keep_more_confident(first: Sequence[tuple[str, float]], second: Sequence[tuple[str, float]]
                        ) -> list[tuple[str, float]]:
    """Per row, the (text, confidence) of ``first`` if it is strictly more confident than
    ``second``, else ``second`` (EasyOCR ``get_text``: ``pred1 if pred1[1] > pred2[1] else
    pred2``). Raises ValueError when the lengths differ."""
    if len(first) != len(second):
        raise ValueError(f"{len(first)} first readings but {len(second)} second readings")
    return [a if a[1] > b[1] else b for a, b in zip(first, second)]
