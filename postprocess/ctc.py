"""Greedy (best-path) CTC decoding, vectorized over a whole batch; numpy only.

Best-path decoding (Graves, Fernandez, Gomez, Schmidhuber, "Connectionist Temporal
Classification", ICML 2006, section 3.2) takes the most probable class at each time step, then
applies the CTC collapse B: merge runs of the same class, then remove blanks. Two equal
characters in a row therefore need a blank between them: ``[a, a] -> "a"``,
``[a, blank, a] -> "aa"``.

Class convention (``models.specs``): class 0 is the CTC blank, class ``k > 0`` is
``alphabet[k - 1]``, so the number of classes is ``C = len(alphabet) + 1``.

Argmax is unaffected by a monotone transform, so raw logits, log-softmax and softmax outputs all
decode the same; no softmax is computed here.
"""
from __future__ import annotations

import numpy as np

from crnn_deploy.common.errors import UserError

BLANK = 0


def best_path(logits: np.ndarray, batch_axis: int = 1) -> np.ndarray:
    """Argmax class per time step for a batch of CTC outputs.

    Args:
        logits: float array of shape (T, N, C) when ``batch_axis == 1`` (the ONNX/engine layout)
            or (N, T, C) when ``batch_axis == 0``; any real dtype, values are scores per class
            (raw logits, log-probabilities or probabilities).
        batch_axis: 0 or 1, the axis of the N samples.

    Returns:
        int64 array of shape (N, T): the best class id at each step (ties: the lowest id, as
        ``np.argmax``; a NaN counts as the maximum).

    Raises:
        ValueError: ``logits`` is not 3-D or ``batch_axis`` is not 0 or 1.
    """
    logits = np.asarray(logits)
    if logits.ndim != 3:
        raise ValueError(f"logits must be 3-D (T, N, C) or (N, T, C), got shape {logits.shape}")
    if batch_axis not in (0, 1):
        raise ValueError(f"batch_axis must be 0 or 1, got {batch_axis!r}")
    paths = logits.argmax(axis=2).astype(np.int64, copy=False)  # (T, N) or (N, T)
    return paths.T if batch_axis == 1 else paths


def collapse_mask(paths: np.ndarray) -> np.ndarray:
    """The CTC collapse as a mask: True where a step emits a character.

    Args:
        paths: integer array (N, T) of class ids (``best_path`` output).

    Returns:
        bool array (N, T): the step is not blank and differs from the previous step.
    """
    paths = np.asarray(paths)
    keep = paths != BLANK
    keep[:, 1:] &= paths[:, 1:] != paths[:, :-1]
    return keep


def paths_to_text(paths: np.ndarray, alphabet: str) -> list[str]:
    """Collapse best paths (merge repeats, drop blanks) and map class ids to characters.

    Args:
        paths: integer array (N, T) of class ids in ``[0, len(alphabet)]``.
        alphabet: characters of classes 1..K (one code point per class).

    Returns:
        N strings, in the order of the rows.

    Raises:
        ValueError: ``paths`` is not 2-D or holds an id outside ``[0, len(alphabet)]``.
    """
    paths = np.asarray(paths)
    if paths.ndim != 2:
        raise ValueError(f"paths must be 2-D (N, T), got shape {paths.shape}")
    n, t = paths.shape
    if n == 0:
        return []
    if t == 0:
        return [""] * n
    lo, hi = int(paths.min()), int(paths.max())
    if lo < 0 or hi > len(alphabet):
        raise ValueError(f"class ids {lo}..{hi} outside 0..{len(alphabet)} (alphabet size + 1)")
    keep = collapse_mask(paths)
    if "\0" in alphabet:  # the fixed-width trick below uses NUL as padding
        return ["".join(alphabet[k - 1] for k in row[m]) for row, m in zip(paths, keep)]
    # Move the kept ids of each row to its front (stable, so the order is kept), pad with NUL,
    # then read each row of single characters as one fixed-width string: numpy drops the
    # trailing NULs. One pass for the whole batch instead of a Python loop over rows.
    table = np.array(["\0", *alphabet], dtype="<U1")
    order = np.argsort(~keep, axis=1, kind="stable")
    ids = np.take_along_axis(np.where(keep, paths, BLANK), order, axis=1)
    chars = np.ascontiguousarray(table[ids])  # (N, T) of <U1
    return chars.view(f"<U{t}").ravel().tolist()


def greedy_decode(logits: np.ndarray, alphabet: str, batch_axis: int = 1) -> list[str]:
    """Greedy (best-path) CTC decoding of a batch (Graves et al. 2006).

    Args:
        logits: float array (T, N, C) when ``batch_axis == 1`` or (N, T, C) when
            ``batch_axis == 0``, with ``C == len(alphabet) + 1`` (class 0 = blank).
        alphabet: characters of classes 1..C-1.
        batch_axis: 0 or 1, the axis of the N samples.

    Returns:
        N decoded strings (argmax per step, merge repeats, drop blanks).

    Raises:
        UserError: ``C != len(alphabet) + 1`` (the alphabet does not belong to this model).
        ValueError: ``logits`` is not 3-D or ``batch_axis`` is not 0 or 1.
    """
    _check_classes(logits, alphabet)
    return paths_to_text(best_path(logits, batch_axis), alphabet)


def _check_classes(logits: np.ndarray, alphabet: str) -> None:
    """UserError unless a 3-D ``logits`` has ``C == len(alphabet) + 1`` classes."""
    shape = np.shape(logits)
    if len(shape) == 3 and shape[2] != len(alphabet) + 1:
        raise UserError(
            f"alphabet of {len(alphabet)} characters needs C = {len(alphabet) + 1} classes "
            f"(+1 for the CTC blank), but the output has C = {shape[2]}"
        )


def step_max_prob(logits: np.ndarray, batch_axis: int = 1) -> np.ndarray:
    """Softmax probability of the best class at each step, float64 (N, T).

    ``max_k softmax(l)_k = 1 / sum_k exp(l_k - max l)``. Softmax is shift-invariant per step, so
    raw logits and log-softmax (``crnn-modelzoo``, ``nano-ocr-37``) outputs give the same value.
    """
    x = np.asarray(logits, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"logits must be 3-D (T, N, C) or (N, T, C), got shape {x.shape}")
    p = 1.0 / np.exp(x - x.max(axis=2, keepdims=True)).sum(axis=2)
    return p.T if batch_axis == 1 else p


def greedy_decode_with_confidence(logits: np.ndarray, alphabet: str,
                                  batch_axis: int = 1) -> tuple[list[str], list[float]]:
    """Greedy CTC decoding plus a per-word confidence in [0, 1].

    Confidence (the formula of PaddleOCR's ``CTCLabelDecode``): the mean, over the time steps
    that emit a character after the CTC collapse (the first step of each run of a non-blank
    class), of the softmax probability of that step's best class. A word with no character
    gets 0.0. Computed in float64 from the engine output, which may be raw logits or
    log-softmax (the softmax of either is the same).

    Args:
        logits: (T, N, C) when ``batch_axis == 1`` or (N, T, C), ``C == len(alphabet) + 1``.
        alphabet: characters of classes 1..C-1.

    Returns:
        (texts, confidences): N strings and N floats, in row order.

    Raises:
        UserError: ``C != len(alphabet) + 1``.
        ValueError: ``logits`` is not 3-D or ``batch_axis`` is not 0 or 1.
    """
    _check_classes(logits, alphabet)
    paths = best_path(logits, batch_axis)
    texts = paths_to_text(paths, alphabet)
    keep = collapse_mask(paths)
    probs = step_max_prob(logits, batch_axis)
    counts = keep.sum(axis=1)
    sums = np.where(keep, probs, 0.0).sum(axis=1)
    conf = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    return texts, [float(c) for c in conf]
