"""Text boxes of a page -> upright crops, and the angle classifier's input.

A crop is cut by a perspective transform of its four corners to a rectangle (as PaddleOCR's and
RapidOCR 1.4.4's ``get_rotate_crop_image``: width = the longer of the top and bottom edges,
height = the longer of the left and right edges, both truncated to int, ``cv2.warpPerspective``
with ``INTER_CUBIC`` and ``BORDER_REPLICATE``); a crop at least 1.5 times as high as wide is a
vertical line and is turned 90 degrees counter-clockwise (``np.rot90``).

The classifier input is PaddleOCR's ``resize_norm_img`` of the angle classifier: the crop
resized (``cv2.resize``, bilinear) to the input height keeping its aspect ratio, width
``ceil(H * w / h)`` capped at the input width, ``(x / 255 - 0.5) / 0.5``, zero-padded on the
right: float32 (C, H, W), channels as the crop's (BGR).
"""
from __future__ import annotations

import math

import numpy as np

#: height / width from which a crop is turned (RapidOCR, PaddleOCR)
TALL_RATIO = 1.5


def crop_box(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Cut the quadrilateral ``box`` (float32 (4, 2), clockwise from the top-left, pixels of
    ``image``) out of ``image`` (uint8 (H, W, C)) as an upright uint8 (h, w, C) crop (see the
    module docstring; turned when tall). Raises ValueError for a box with a zero side."""
    import cv2

    pts = np.asarray(box, np.float32)
    w = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    h = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    if w <= 0 or h <= 0:
        raise ValueError(f"box {pts.tolist()} has a side of 0 pixels")
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    matrix = cv2.getPerspectiveTransform(pts, target)
    crop = cv2.warpPerspective(image, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE,
                               flags=cv2.INTER_CUBIC)
    if crop.shape[0] / crop.shape[1] >= TALL_RATIO:
        crop = np.rot90(crop)
    return crop


def crop_boxes(image: np.ndarray, boxes) -> list[np.ndarray]:
    """:func:`crop_box` of each box, in order."""
    return [crop_box(image, b) for b in boxes]


def cls_input(crop: np.ndarray, shape: tuple[int, int, int] = (3, 48, 192),
              mean=0.5, std=0.5, channels: str = "BGR") -> np.ndarray:
    """One crop (BGR uint8 (h, w, 3)) -> the angle classifier's float32 ``shape`` (C, H, W)
    input (module docstring), channels in ``channels`` order, ``mean``/``std`` a number or one
    per channel. ``shape`` default: RapidOCR's ``cls_image_shape`` [3, 48, 192]."""
    import cv2

    c, h, w = shape
    ratio = crop.shape[1] / float(crop.shape[0])
    rw = min(w, int(math.ceil(h * ratio)))
    x = cv2.resize(crop, (rw, h)).astype(np.float32)
    if x.ndim == 3 and channels.upper() == "RGB":
        x = x[:, :, ::-1]
    x = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)
    m = np.asarray(mean, np.float32).reshape(-1, 1, 1)
    s = np.asarray(std, np.float32).reshape(-1, 1, 1)
    out = np.zeros((c, h, w), np.float32)
    out[:, :, :rw] = (x / 255 - m) / s
    return out
