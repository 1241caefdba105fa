"""Detected text boxes: corner order, clipping, reading order, back to original pixels.

What RapidOCR 1.4.4 does with DB's boxes (``TextDetector.filter_tag_det_res`` and
``RapidOCR.sorted_boxes`` / ``_get_origin_points`` in ``rapidocr_onnxruntime``: the oracle of
the tests, never imported): corners put clockwise from the top-left, clipped to the image,
boxes narrower or lower than 4 pixels dropped; then sorted top to bottom, left to right with a
10-pixel line tolerance; finally mapped back through the page's resize and padding.
"""
from __future__ import annotations

import numpy as np

#: Two boxes whose top-left corners differ by less than this many pixels in y are on one line
#: (RapidOCR's ``sorted_boxes``).
LINE_TOLERANCE = 10


def clockwise(points: np.ndarray) -> np.ndarray:
    """Four (x, y) corners as float32 ``[tl, tr, br, bl]``: the two with the smallest x are
    the left side (the upper one top-left), the other two the right side (imutils'
    ``order_points``, as PaddleOCR and RapidOCR use it)."""
    pts = np.asarray(points, np.float32)
    by_x = pts[np.argsort(pts[:, 0], kind="stable")]
    left = by_x[:2][np.argsort(by_x[:2, 1], kind="stable")]
    right = by_x[2:][np.argsort(by_x[2:, 1], kind="stable")]
    return np.array([left[0], right[0], right[1], left[1]], np.float32)


def tidy_boxes(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """DB boxes (n, 4, 2) of an image of ``height`` x ``width`` pixels -> float32 (m, 4, 2):
    each put :func:`clockwise`, its corners truncated to integers inside ``[0, width - 1]`` x
    ``[0, height - 1]``; a box whose top edge or left edge is 3 pixels or shorter (lengths
    truncated to int) is dropped."""
    out = []
    for box in boxes:
        box = clockwise(box)
        box[:, 0] = np.clip(box[:, 0], 0, width - 1).astype(np.int64)
        box[:, 1] = np.clip(box[:, 1], 0, height - 1).astype(np.int64)
        if int(np.linalg.norm(box[0] - box[1])) <= 3 or int(np.linalg.norm(box[0] - box[3])) <= 3:
            continue
        out.append(box)
    return np.array(out, np.float32) if out else np.zeros((0, 4, 2), np.float32)


def reading_order(boxes: np.ndarray) -> list[int]:
    """The indices of ``boxes`` (n, 4, 2; clockwise from the top-left) in reading order.

    Sorted by the top-left corner's (y, x); then one left-to-right pass moves each box back
    over its predecessors while they are on its line (top-left y within
    :data:`LINE_TOLERANCE` pixels) and further right, the insertion pass of RapidOCR's and
    PaddleOCR's ``sorted_boxes``.
    """
    order = sorted(range(len(boxes)), key=lambda k: (boxes[k][0][1], boxes[k][0][0]))
    for i in range(1, len(order)):
        j = i
        while j > 0:
            a, b = boxes[order[j - 1]][0], boxes[order[j]][0]
            if abs(b[1] - a[1]) < LINE_TOLERANCE and b[0] < a[0]:
                order[j - 1], order[j] = order[j], order[j - 1]
                j -= 1
            else:
                break
    return order


def to_original(boxes: np.ndarray, ratio_hw: tuple[float, float], pad_top: int,
                raw_hw: tuple[int, int]) -> np.ndarray:
    """Boxes found on the working image -> float32 pixels of the original image: minus the
    letterbox's ``pad_top`` rows, times the resize ratios ``(ratio_h, ratio_w)`` (original /
    working size), clipped to ``[0, raw_w]`` x ``[0, raw_h]`` (RapidOCR's
    ``_get_origin_points``)."""
    out = np.array(boxes, np.float32).reshape(-1, 4, 2)
    out[:, :, 1] -= pad_top
    out[:, :, 0] *= ratio_hw[1]
    out[:, :, 1] *= ratio_hw[0]
    out = np.maximum(out, 0)
    out[:, :, 0] = np.minimum(out[:, :, 0], raw_hw[1])
    out[:, :, 1] = np.minimum(out[:, :, 1], raw_hw[0])
    return out
