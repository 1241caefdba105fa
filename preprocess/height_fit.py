"""Fit a word image to a fixed height, keeping its aspect ratio: the steps of EasyOCR's recognizer.

EasyOCR 1.7.2 ``Reader.recognize`` on a whole image (``easyocr/utils.py`` ``reformat_input``,
``get_image_list``, ``compute_ratio_and_resize``; ``easyocr/recognition.py`` ``AlignCollate``,
``NormalizePAD``, ``adjust_contrast_grey``), one step per function here, in this order:

1. ``cv2.imread(path, IMREAD_GRAYSCALE)`` (OpenCV's own grey conversion; for JPEG, libjpeg
   decodes straight to grey): ``preprocess.transform.open_image_opencv`` (``cv2.imdecode``).
2. :func:`resize_to_height`: ``cv2.resize`` to (int(H * w / h), H); an image taller than wide
   takes the vertical branch, (H, int(H * h / w)). EasyOCR passes
   ``interpolation=Image.Resampling.LANCZOS``: PIL's constant 1, which OpenCV reads as
   ``INTER_LINEAR`` (OpenCV's Lanczos is 4), so the resize is bilinear.
3. (second pass only) :func:`stretch_contrast`.
4. :func:`squeeze_to_width`: PIL ``BICUBIC`` to (min(ceil(H * w / h), W_pad), H). A no-op for an
   image of height H (PIL returns a copy at the same size); it narrows the vertical branch's
   (H, H * h / w) image to about H * w / h columns.
5. :func:`padded_width` and ``pad_last_column``: normalize ``(p / 255 - 0.5) / 0.5`` (ToTensor,
   then ``sub_(0.5).div_(0.5)``), then pad on the right to ceil(max(w/h, h/w, 1)) * H columns by
   repeating the last column. The padded width comes from the original aspect ratio, not from the
   resized width: a 1.01:1 crop is resized to 64 columns and padded to 128.

Everything is uint8 (rows, columns) grey until the normalization; no torch.
"""
from __future__ import annotations

import math

import numpy as np
from PIL import Image

#: ``cv2.INTER_LINEAR``: what ``cv2.resize`` does with EasyOCR's ``Image.Resampling.LANCZOS`` (1).
INTER_LINEAR = 1


def _cv2():
    try:
        import cv2
    except ImportError:
        raise ImportError("OpenCV is needed for this model's transform: "
                          "pip install opencv-python-headless") from None
    return cv2


def aspect_ratio(width: int, height: int) -> float:
    """max(w/h, h/w): how many times longer the long side is (EasyOCR ``calculate_ratio``)."""
    ratio = width / height
    return 1.0 / ratio if ratio < 1.0 else ratio


def padded_width(width: int, height: int, target_height: int) -> int:
    """Columns the model input is padded to: ceil(max(w/h, h/w, 1)) * H (EasyOCR
    ``get_image_list``: ``max_width = ceil(max_ratio) * model_height``, one box per call)."""
    return math.ceil(max(aspect_ratio(width, height), 1.0)) * target_height


#: Longest side :func:`resize_to_height` resizes to when no ``max_side`` is given (columns or
#: rows): models.spec_record.MAX_WIDTH, the largest width any spec may declare.
MAX_SIDE = 8192


def resize_to_height(grey: np.ndarray, height: int, max_side: int | None = None) -> np.ndarray:
    """``cv2.resize`` (bilinear) keeping the aspect ratio: uint8 (h, w) -> (H, int(H * w / h)),
    or for h > w (vertical branch) (int(H * h / w), H) rows x columns.

    The long side is capped at ``max_side`` (default :data:`MAX_SIDE`) **before** resizing, so
    memory is bounded by the model's width whatever the image's aspect ratio (a 200000x1 image
    would otherwise become 64 x 12,800,000 pixels). Within the cap the result is EasyOCR's."""
    h, w = grey.shape
    cap = max(height, max_side or MAX_SIDE)
    ratio = w / h
    if ratio < 1.0:
        size = (height, min(cap, int(height * aspect_ratio(w, h))))  # cv2 sizes are (columns, rows)
    else:
        size = (min(cap, int(height * ratio)), height)
    return _cv2().resize(grey, size, interpolation=INTER_LINEAR)


def squeeze_to_width(grey: np.ndarray, height: int, max_width: int) -> np.ndarray:
    """PIL ``BICUBIC`` resize to (min(ceil(H * w / h), max_width), H); unchanged when that is
    the image's own size (every output of :func:`resize_to_height` but the vertical branch)."""
    h, w = grey.shape
    width = min(math.ceil(height * (w / float(h))), max_width)
    if (h, w) == (height, width):
        return grey
    return np.asarray(Image.fromarray(grey, "L").resize((width, height), Image.Resampling.BICUBIC))


def stretch_contrast(grey: np.ndarray, target: float = 0.5) -> np.ndarray:
    """Contrast stretch of a low-contrast uint8 grey image (EasyOCR ``adjust_contrast_grey``).

    With ``high``/``low`` the 90th/10th percentiles (``np.percentile``, linear) and contrast
    ``(high - low) / max(10, high + low)``: when the contrast is below ``target``, every pixel
    becomes ``(p - low + 25) * 200 / max(10, high - low)`` clipped to [0, 255] and truncated to
    uint8; otherwise the image is returned unchanged.
    """
    high, low = np.percentile(grey, 90), np.percentile(grey, 10)
    if (high - low) / np.maximum(10, high + low) >= target:
        return grey
    stretched = (grey.astype(int) - low + 25) * (200.0 / np.maximum(10, high - low))
    return np.clip(stretched, 0, 255).astype(np.uint8)


def fit_height(grey: np.ndarray, height: int, contrast_target: float | None = None,
               mean: float = 0.5, std: float = 0.5, pad: str = "last-column",
               max_width: int | None = None) -> np.ndarray:
    """Steps 2-5 on one uint8 (h, w) grey image -> float32 (1, H, W_pad), C-contiguous.

    ``contrast_target``: apply :func:`stretch_contrast` with it (EasyOCR's second pass: 0.5).
    Values are ``(p / 255 - mean) / std`` in float32, padded on the right to
    ``padded_width(w, h, H)`` columns (at most ``max_width``, which also caps the resized width)
    by repeating the last column (``pad="last-column"``) or with zeros (``pad="zeros"``).
    """
    h, w = grey.shape
    width = min(padded_width(w, h, height), max_width or MAX_SIDE)
    resized = resize_to_height(grey, height, width)
    if contrast_target is not None:
        resized = stretch_contrast(resized, contrast_target)
    resized = squeeze_to_width(resized, height, width)
    x = resized.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(mean)) / np.float32(std)
    x = np.pad(x, ((0, 0), (0, width - x.shape[1])), mode="edge" if pad == "last-column" else "constant")
    return np.ascontiguousarray(x[None], dtype=np.float32)
