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

from functools import lru_cache

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.postprocess.confidence import product_confidence

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
        alphabet: the classes 1..K: a str (one code point per class) or a tuple of strings.

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
    if not isinstance(alphabet, str) or "\0" in alphabet:  # multi-character classes; NUL pads below
        return ["".join(alphabet[k - 1] for k in row[m]) for row, m in zip(paths, keep)]
    # Move the kept ids of each row to its front (stable, so the order is kept), pad with NUL,
    # then read each row of single characters as one fixed-width string: numpy drops the
    # trailing NULs. One pass for the whole batch instead of a Python loop over rows.
    table = _char_table(alphabet)
    order = np.argsort(~keep, axis=1, kind="stable")
    ids = np.take_along_axis(np.where(keep, paths, BLANK), order, axis=1)
    chars = np.ascontiguousarray(table[ids])  # (N, T) of <U1
    return chars.view(f"<U{t}").ravel().tolist()


@lru_cache(maxsize=8)
def _char_table(alphabet: str) -> np.ndarray:
    """``<U1`` array: NUL for the blank, then the alphabet (built once per alphabet: PP-OCRv4's
    6625 characters took 0.2 ms per batch). Read-only."""
    table = np.array(["\0", *alphabet], dtype="<U1")
    table.flags.writeable = False
    return table


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
    conf = _mean_confidence(collapse_mask(paths), step_max_prob(logits, batch_axis))
    return texts, [float(c) for c in conf]


def _mean_confidence(keep: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """PaddleOCR's ``CTCLabelDecode``: mean of the emitted steps' best probabilities (0: none)."""
    counts = keep.sum(axis=1)
    sums = np.where(keep, probs, 0.0).sum(axis=1)
    return np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)


#: ``decoding.confidence`` name -> f(best class (N, T) int, its probability (N, T) float64)
#: -> (N,) float64 in [0, 1]. The names are ``models.spec_record.CONFIDENCES``.
CONFIDENCE_FORMULAS = {
    "mean": lambda paths, probs: _mean_confidence(collapse_mask(paths), probs),
    "product-sqrt": product_confidence,
}


@lru_cache(maxsize=8)
def _ignored_classes(alphabet: str | tuple[str, ...], ignore: str) -> tuple[int, ...]:
    """The class ids (1-based, sorted) of ``alphabet``'s characters in ``ignore``; computed once
    per (alphabet, ignore): a scan of PP-OCRv4's 6625 classes per batch cost 1 ms in the
    thread that feeds the engine."""
    if not ignore:
        return ()
    return tuple(sorted({k for k, ch in enumerate(alphabet, 1) if ch in ignore}))


def _best_steps(y: np.ndarray, spec, batch_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """(best class (N, T) int64, its probability (N, T) float64) under ``spec.output`` (kind)
    with the classes of ``spec.decoding.ignore`` given probability 0 (the rest renormalized)."""
    ignore = list(_ignored_classes(spec.alphabet, spec.decoding.ignore))
    if spec.output != "probabilities":
        if not ignore:
            return best_path(y, batch_axis), step_max_prob(y, batch_axis)
        y = np.array(y, dtype=np.float64)
        y[:, :, ignore] = -np.inf  # exp(-inf) = 0: the softmax of the rest, renormalized
        return best_path(y, batch_axis), step_max_prob(y, batch_axis)
    p = np.asarray(y)
    if ignore:
        p = np.array(p, dtype=np.float64)
        p[:, :, ignore] = 0.0
        total = p.sum(axis=2, keepdims=True)
        p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)
    paths = best_path(p, batch_axis)
    best = p.max(axis=2).astype(np.float64)
    return paths, (best.T if batch_axis == 1 else best)


def decode_batch(y: np.ndarray, spec, batch_axis: int = 1) -> tuple[list[str], list[float]]:
    """Greedy CTC text and confidence of a batch of outputs of the model of ``spec``.

    Every path decodes through this one function, so every path gives the same text and
    confidence. It follows ``spec.output`` (logits and log-probabilities take a softmax per
    step for the confidence; probabilities are used as they are), ``spec.decoding.ignore``
    (those classes never win; the others are renormalized) and ``spec.decoding.confidence``
    (:data:`CONFIDENCE_FORMULAS`). For a spec without ignored characters whose output is logits
    or log-probabilities, the result is :func:`greedy_decode_with_confidence`'s, bit for bit.

    Args:
        y: (T, N, C) when ``batch_axis == 1`` or (N, T, C), ``C == len(spec.alphabet) + 1``,
            class 0 the blank.
        spec: a ``models.spec_record.ModelSpec``.

    Returns:
        (texts, confidences): N strings and N floats in [0, 1], in row order.

    Raises:
        UserError: ``C != len(alphabet) + 1``.
        ValueError: ``y`` is not 3-D or ``batch_axis`` is not 0 or 1.
    """
    _check_classes(y, spec.alphabet)
    paths, probs = _best_steps(y, spec, batch_axis)
    texts = paths_to_text(paths, spec.alphabet)
    conf = CONFIDENCE_FORMULAS[spec.decoding.confidence](paths, probs)
    return texts, [float(c) for c in conf]
