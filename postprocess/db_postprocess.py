"""DB (Differentiable Binarization) postprocess: a text probability map -> quadrilateral boxes.

The semantics of PaddleOCR's ``DBPostProcess`` (Liao et al., "Real-time Scene Text Detection
with Differentiable Binarization", AAAI 2020), with its parameter names, as RapidOCR 1.4.4 runs
it (``rapidocr_onnxruntime/ch_ppocr_det/utils.py``: the oracle of the tests, never imported):

1. bitmap = ``prob > thresh``, dilated with a 2x2 kernel of ones when ``use_dilation``;
2. the outer and inner contours of the bitmap (``cv2.findContours``, ``RETR_LIST``,
   ``CHAIN_APPROX_SIMPLE``), at most ``max_candidates`` of them, in OpenCV's order;
3. each contour's minimum-area rectangle (``cv2.minAreaRect``); dropped when its short side is
   below ``min_size`` (3);
4. its score: the mean probability inside the rectangle (``score_mode="fast"``) or inside the
   contour polygon (``"slow"``); dropped below ``box_thresh``;
5. unclipped: offset outwards by ``area * unclip_ratio / perimeter`` (pyclipper, round joins),
   then the minimum-area rectangle again, dropped when its short side is below ``min_size + 2``;
6. scaled from the map's size to ``dest`` (the image the map was computed for), rounded
   half to even (``np.round``) and clipped to ``[0, dest_w]`` x ``[0, dest_h]``.

numpy, OpenCV and pyclipper only (the ``pages`` extra).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: ``score_mode`` values
SCORE_MODES = ("fast", "slow")


@dataclass(frozen=True)
class DBParams:
    """PaddleOCR's DBPostProcess parameters; defaults are RapidOCR 1.4.4's ``config.yaml``
    (``Det``: thresh 0.3, box_thresh 0.5, max_candidates 1000, unclip_ratio 1.6,
    use_dilation true, score_mode fast; ``min_size`` 3 is fixed in its code)."""

    thresh: float = 0.3
    box_thresh: float = 0.5
    max_candidates: int = 1000
    unclip_ratio: float = 1.6
    use_dilation: bool = True
    score_mode: str = "fast"
    min_size: int = 3

    def __post_init__(self):
        if self.score_mode not in SCORE_MODES:
            raise ValueError(f"score_mode must be one of {SCORE_MODES}, got {self.score_mode!r}")


def mini_box(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The minimum-area rectangle of ``points`` (int32 or float32 (n, 1, 2) or (n, 2)) as
    float32 (4, 2) corners ``[top-left, top-right, bottom-right, bottom-left]``, and its
    short side.

    Corners: OpenCV's ``boxPoints`` sorted by x (stable); of the two leftmost the upper one is
    top-left unless the second is strictly lower... as PaddleOCR's ``get_mini_boxes`` decides
    (a tie in y takes the second of the pair).
    """
    import cv2

    rect = cv2.minAreaRect(points)
    corners = cv2.boxPoints(rect)
    corners = corners[np.argsort(corners[:, 0], kind="stable")]
    left, right = corners[:2], corners[2:]
    tl, bl = (left[0], left[1]) if left[1][1] > left[0][1] else (left[1], left[0])
    tr, br = (right[0], right[1]) if right[1][1] > right[0][1] else (right[1], right[0])
    return np.array([tl, tr, br, bl], np.float32), float(min(rect[1]))


def _masked_mean(prob: np.ndarray, polygon: np.ndarray) -> float:
    """Mean of ``prob`` over the pixels of ``polygon`` (its coordinates truncated to int, as
    ``cv2.fillPoly`` is given them), computed inside the polygon's bounding box clipped to
    the map."""
    import cv2

    h, w = prob.shape
    x0 = int(np.clip(np.floor(polygon[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(polygon[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(polygon[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(polygon[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), np.uint8)
    shifted = polygon - np.array([x0, y0], polygon.dtype)
    cv2.fillPoly(mask, [shifted.astype(np.int32)], 1)
    return float(cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0])


def unclip(box: np.ndarray, ratio: float) -> np.ndarray:
    """Offset the polygon ``box`` (float (n, 2)) outwards by ``area * ratio / perimeter``
    (DB's unclip: the shrink of the training labels undone) with pyclipper's round joins;
    returns all points of the result as (m, 1, 2) (m = 0 when the offset is empty).
    pyclipper takes integer coordinates: the float corners are truncated, as PaddleOCR
    passes them."""
    import pyclipper

    x, y = box[:, 0].astype(np.float64), box[:, 1].astype(np.float64)
    area = abs(float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))) / 2.0
    perimeter = float(np.hypot(x - np.roll(x, -1), y - np.roll(y, -1)).sum())
    if perimeter == 0:
        return np.zeros((0, 1, 2), np.int64)
    offset = pyclipper.PyclipperOffset()
    offset.AddPath(box, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    paths = offset.Execute(area * ratio / perimeter)
    if not paths:
        return np.zeros((0, 1, 2), np.int64)
    return np.concatenate([np.asarray(p, np.int64) for p in paths]).reshape(-1, 1, 2)


def bitmap_of(prob: np.ndarray, params: DBParams) -> np.ndarray:
    """The uint8 {0, 1} text bitmap: ``prob > thresh``, dilated by a 2x2 kernel of ones with
    ``use_dilation``."""
    import cv2

    bitmap = (prob > params.thresh).astype(np.uint8)
    if params.use_dilation:
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    return bitmap


def db_boxes(prob: np.ndarray, dest_hw: tuple[int, int], params: DBParams = DBParams(),
             ) -> tuple[np.ndarray, list[float]]:
    """DB boxes of one probability map.

    Args:
        prob: float32 (H, W) text probabilities of the detector (a (1, 1, H, W) or (1, H, W)
            output is squeezed), for an input of H x W pixels.
        dest_hw: (height, width) in pixels of the image the boxes are for (the input before
            its resize to H x W).
        params: :class:`DBParams`.

    Returns:
        int32 (n, 4, 2) boxes, corners ``[tl, tr, br, bl]`` as ``(x, y)`` in ``dest_hw``
        pixels, and their n scores (mean probability, see the module docstring), in contour
        order.

    Raises:
        ValueError: ``prob`` is not 2-D after squeezing leading unit axes.
    """
    import cv2

    prob = np.asarray(prob, np.float32)
    while prob.ndim > 2 and prob.shape[0] == 1:
        prob = prob[0]
    if prob.ndim != 2:
        raise ValueError(f"probability map of shape {prob.shape}, expected (H, W)")
    height, width = prob.shape
    dest_h, dest_w = dest_hw
    bitmap = bitmap_of(prob, params)
    contours = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)[-2]
    boxes, scores = [], []
    for contour in contours[:params.max_candidates]:
        box, short = mini_box(contour)
        if short < params.min_size:
            continue
        poly = box if params.score_mode == "fast" else contour.reshape(-1, 2)
        score = _masked_mean(prob, poly)
        if score < params.box_thresh:
            continue
        grown = unclip(box, params.unclip_ratio)
        if len(grown) == 0:
            continue
        box, short = mini_box(grown.astype(np.int32))
        if short < params.min_size + 2:
            continue
        box[:, 0] = np.clip(np.round(box[:, 0] / width * dest_w), 0, dest_w)
        box[:, 1] = np.clip(np.round(box[:, 1] / height * dest_h), 0, dest_h)
        boxes.append(box.astype(np.int32))
        scores.append(score)
    out = np.array(boxes, np.int32) if boxes else np.zeros((0, 4, 2), np.int32)
    return out, scores
