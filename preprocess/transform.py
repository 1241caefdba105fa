"""The single-image transform of the CRNN models: encoded bytes -> float32 (C, H, W) tensor.

This is the training transform of every supported spec (see ``docs/DESIGN.md``)::

    img = Image.open(...).convert("L")                      # grey, uint8
    img = img.resize((W, H), Image.BILINEAR)                 # BICUBIC for ``crnn-modelzoo``
    x = np.asarray(img, np.float32) / 255                    # [0, 1]
    x = (x - mean) / std                                     # [-1, 1] for mean = std = 0.5

:func:`preprocess_image` is the public entry point; the fused evaluation path reuses it.
Decoding is guarded: zero-sized images and images above :data:`MAX_PIXELS` are rejected before
their pixels are decoded, and every decoding failure becomes an :class:`ImageError`.
"""
from __future__ import annotations

import io
import math
import warnings

import numpy as np
from PIL import Image

from crnn_deploy.models.specs import ModelSpec
from crnn_deploy.preprocess.height_fit import fit_height, stretch_contrast

#: Largest accepted image, in pixels (width * height). Word crops are tiny; IIIT5K's largest
#: is 2576x772 (2 Mpixel). Anything above this is treated as a decompression bomb.
MAX_PIXELS = 50_000_000

_RESAMPLE = {"nearest": Image.Resampling.NEAREST, "bilinear": Image.Resampling.BILINEAR,
             "bicubic": Image.Resampling.BICUBIC, "lanczos": Image.Resampling.LANCZOS,
             "box": Image.Resampling.BOX, "hamming": Image.Resampling.HAMMING}
#: OpenCV interpolation flags by spec name (cv2.INTER_NEAREST/LINEAR/CUBIC/LANCZOS4/AREA)
_CV2_INTER = {"nearest": 0, "bilinear": 1, "bicubic": 2, "area": 3, "lanczos": 4}


class ImageError(ValueError):
    """An image that cannot be used (undecodable, zero-sized, too large, unsupported mode)."""


def open_image(data: bytes | Image.Image, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``data`` (encoded image bytes, any format Pillow reads) and load its pixels.

    A :class:`PIL.Image.Image` is checked and returned as is. Raises :class:`ImageError` when the
    bytes do not decode, the image has a zero width or height, or ``width * height`` exceeds
    ``max_pixels`` (checked from the header, before decoding; Pillow's own
    DecompressionBombWarning/Error are caught too).
    """
    if isinstance(data, Image.Image):
        _check_size(data.size, max_pixels)
        return data
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected bytes or PIL.Image, got {type(data).__name__}")
    if len(data) == 0:
        raise ImageError("empty image data (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            _check_size(img.size, max_pixels)
            img.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image too large (decompression bomb guard): {exc}") from None
    except Image.UnidentifiedImageError:
        # the file's own bytes are never quoted: a GT line naming a text file must not copy
        # its content into errors.tsv / misreads.html
        raise ImageError(f"cannot identify image format ({len(data)} bytes; corrupt header, "
                         "zero size or not an image file)") from None
    except Exception as exc:  # noqa: BLE001 - any decoder failure on untrusted bytes
        raise ImageError(f"cannot decode image ({len(data)} bytes): "
                         f"{type(exc).__name__}: {exc}") from None
    return img


def _check_size(size: tuple[int, int], max_pixels: int) -> None:
    w, h = size
    if w <= 0 or h <= 0:
        raise ImageError(f"zero-sized image ({w}x{h})")
    if w * h > max_pixels:
        raise ImageError(f"image too large: {w}x{h} = {w * h / 1e6:.1f} Mpixel > "
                         f"{max_pixels / 1e6:g} Mpixel limit (decompression bomb guard)")


def _integer_grey(img: Image.Image) -> Image.Image:
    """Mode ``L`` of a 16/32-bit integer or float grey image (``I``, ``I;16*``, ``F``).

    Pillow's own rule (``convert('L')``: values kept, clipped to [0, 255]) when every value
    already fits 8 bits, as 8-bit pixels stored in a 16-bit PNG or a mode ``I`` array do: the
    result is then what training's ``convert('L')`` gives. A full-range image (a value above
    255) would clip to white and read as empty text, so it is scaled to 8 bits instead, as
    ``round(v / 257)`` clipped to [0, 255] (65535 -> 255)."""
    if img.mode != "F" and int(np.asarray(img).max(initial=0)) > 255:
        a = np.clip(np.rint(np.asarray(img).astype(np.float64) / 257.0), 0, 255)
        return Image.fromarray(a.astype(np.uint8), mode="L")
    return img.convert("L")


def to_grey(img: Image.Image) -> Image.Image:
    """Mode ``L`` (8-bit grey) version of ``img``, as ``img.convert('L')`` in training.

    Alpha is ignored (as ``convert('L')`` does), so RGBA/LA/PA give the grey of their colour
    channels. Modes that ``convert('L')`` cannot handle or handles badly are routed first:
    palette images with transparency go through RGBA (same grey values, no Pillow warning);
    ``La`` goes through ``LA``; 16/32-bit integer and float grey (``I;16*``, ``I``, ``F``) as
    :func:`_integer_grey` (Pillow's rule for 8-bit values, scaled for full-range ones); other
    modes fall back to RGB. Raises :class:`ImageError` for a mode Pillow cannot convert.
    """
    mode = img.mode
    if mode == "L":
        return img
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _integer_grey(img)
    if mode == "P" and "transparency" in img.info:
        return img.convert("RGBA").convert("L")
    if mode == "La":
        return img.convert("LA").convert("L")
    try:
        return img.convert("L")
    except ValueError:
        pass
    try:
        return img.convert("RGB").convert("L")
    except ValueError as exc:
        raise ImageError(f"unsupported image mode {mode!r}: {exc}") from None


def to_rgb(img: Image.Image) -> Image.Image:
    """Mode ``RGB`` version of ``img`` (alpha dropped, as ``cv2.imread(path)`` drops it; grey
    replicated to three channels). 16/32-bit grey goes through :func:`to_grey` first."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode.startswith("I;16") or mode in ("I", "F", "La"):
        return to_grey(img).convert("RGB")
    if mode == "P" and "transparency" in img.info:
        return img.convert("RGBA").convert("RGB")
    try:
        return img.convert("RGB")
    except ValueError as exc:
        raise ImageError(f"unsupported image mode {mode!r}: {exc}") from None


def open_image_opencv(data: bytes | Image.Image, channels: str = "gray",
                      max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode ``data`` as ``cv2.imread`` does (``cv2.imdecode``): ``IMREAD_GRAYSCALE`` for a
    ``gray`` spec (OpenCV's own grey conversion, which rounds differently from Pillow's
    ``convert('L')``; for JPEG, libjpeg decodes straight to grey), else ``IMREAD_COLOR``. Returned
    as a mode ``L`` or ``RGB`` PIL image. A PIL image given instead of bytes is converted as
    ``cv2.cvtColor`` would (RGB -> grey with OpenCV's weights).

    The size is read from the header with Pillow first (no pixels decoded), so a zero-sized or
    oversized image is refused before OpenCV allocates it. Raises :class:`ImageError`.
    """
    import cv2  # opencv-python-headless; only specs that ask for OpenCV need it

    grey = channels == "gray"
    if isinstance(data, Image.Image):
        _check_size(data.size, max_pixels)
        a = np.asarray(to_rgb(data) if data.mode != "L" else data)
        if grey and a.ndim == 3:
            a = cv2.cvtColor(np.ascontiguousarray(a), cv2.COLOR_RGB2GRAY)
        return Image.fromarray(a, "L") if a.ndim == 2 else Image.fromarray(a, "RGB")
    if len(data) == 0:
        raise ImageError("empty image data (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as header:
            _check_size(header.size, max_pixels)
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - unidentified format, truncated header, bomb guard
        raise ImageError(f"cannot identify image format ({len(data)} bytes): "
                         f"{type(exc).__name__}: {exc}") from None
    a = cv2.imdecode(np.frombuffer(data, np.uint8),
                     cv2.IMREAD_GRAYSCALE if grey else cv2.IMREAD_COLOR)
    if a is None or a.size == 0:
        raise ImageError(f"OpenCV cannot decode the image ({len(data)} bytes)")
    return Image.fromarray(a, "L") if grey else Image.fromarray(a[:, :, ::-1], "RGB")


def keep_ratio_widths(size: tuple[int, int], spec: ModelSpec, batch_width: int | None = None
                      ) -> tuple[int, int]:
    """``(resized, bucket)`` widths of an image of ``size`` = (w, h) pixels under a keep-ratio
    ``spec`` of height H, smallest width Wmin (fixed width: Wmin = Wmax = W).

    As PaddleOCR's ``resize_norm_img`` (RapidOCR ``ch_ppocr_rec/text_recognize.py``) on one
    image: the image's own width is ``Wown = int(H * max(Wmin / H, w / h))`` held within
    [Wmin, Wmax]; it is resized to ``min(ceil(H * w / h), Wown)`` columns (at least 1) and
    padded on the right to ``bucket`` = Wown rounded up to ``spec.width_multiple`` (at most
    Wmax). A batch pads every row further to its widest bucket.

    ``batch_width``: the width of the batch the image is read in, as PaddleOCR computes it for
    a batch (:func:`runtime.widths.ratio_batches`): the image is resized to
    ``min(ceil(H * w / h), batch_width)`` columns and padded to ``batch_width`` (for an image
    narrower than the batch's widest, ceil instead of the single image's int: RapidOCR's
    ``resize_norm_img`` with the batch's ``max_wh_ratio``).
    """
    w, h = size
    _, height, wmin = spec.input_shape
    wmax = spec.width_max or wmin
    ratio = w / float(h)
    if batch_width is not None:
        return max(1, min(math.ceil(height * ratio), batch_width)), batch_width
    own = min(max(int(height * max(wmin / height, ratio)), wmin), wmax)
    resized = max(1, min(math.ceil(height * ratio), own))
    m = spec.width_multiple
    return resized, min(-(-own // m) * m, wmax)


def pad_width(x: np.ndarray, width: int, pad: str) -> np.ndarray:
    """Pad float32 (..., W) on the right to ``width`` columns: ``zeros`` or ``last-column``
    (copies of the last column). No copy when W == width."""
    w = x.shape[-1]
    if w == width:
        return x
    if w > width:
        raise ValueError(f"{w} columns do not fit width {width}")
    widths = [(0, 0)] * (x.ndim - 1) + [(0, width - w)]
    return np.pad(x, widths, mode="edge" if pad == "last-column" else "constant")


def _resize(img: Image.Image, size: tuple[int, int], spec: ModelSpec) -> np.ndarray:
    """Channel-converted, resized uint8 pixels of ``img``: (H, W) grey or (H, W, 3) in the
    spec's channel order."""
    img = to_grey(img) if spec.channels == "gray" else to_rgb(img)
    if spec.resize_library == "pil":
        a = np.asarray(img.resize(size, _RESAMPLE[spec.resize]))
    else:
        import cv2  # opencv-python-headless; only specs that ask for OpenCV need it

        a = np.asarray(img)
        if spec.channels == "BGR":
            a = a[:, :, ::-1]
        return cv2.resize(np.ascontiguousarray(a), size, interpolation=_CV2_INTER[spec.resize])
    return a[:, :, ::-1] if spec.channels == "BGR" else a


def preprocess_image(data: bytes | Image.Image, spec: ModelSpec, width: int | None = None,
                     contrast: float | None = None, batch_width: int | None = None) -> np.ndarray:
    """One image -> the model input of ``spec``: float32 (C, H, W) array.

    The transform: channels as ``spec.channels`` (grey as ``convert('L')`` in training; RGB or
    BGR as ``cv2.imread`` gives them), resize with ``spec.resize_library`` (``pil``:
    ``Image.resize((W, H), filter)``; ``opencv``: ``cv2.resize``) and interpolation
    ``spec.resize``, then ``(p / 255 - mean) / std`` per channel, then (keep-ratio) padding on
    the right with ``spec.pad``. ``stretch`` resizes to (W, H) of ``spec.input_shape``;
    ``keep-ratio`` keeps the aspect ratio (:func:`keep_ratio_widths`).

    Args:
        data: encoded image bytes (PNG, JPEG, ...) or an already opened PIL image.
        spec: the model spec.
        width: keep-ratio only: pad to this width (at least the image's bucket width) instead
            of the image's own bucket width.
        batch_width: keep-ratio only: resize within and pad to the width of the batch the
            image is read in (:func:`keep_ratio_widths`; PaddleOCR's batching).
        contrast: grey only: stretch the resized image's contrast to this target
            (:func:`preprocess.height_fit.stretch_contrast`; the ``decoding.second_pass_*``
            reading).

    ``spec.decoder`` ``opencv`` decodes with :func:`open_image_opencv`; ``spec.width_rule``
    ``aspect`` fits the height as :func:`preprocess.height_fit.fit_height` does.

    Returns:
        ``np.ndarray`` float32, C-contiguous, shape (C, H, W): W is the spec's width
        (stretch), else ``width`` or the bucket width. Add the batch axis with ``x[None]``.

    Raises:
        ImageError: the image does not decode, is zero-sized or too large, or has a mode that
            cannot be converted.
    """
    c, h, w = spec.input_shape
    if contrast is not None and c != 1:
        raise ValueError(f"spec {spec.name!r}: the contrast stretch is for grey inputs only")
    img = open_image_opencv(data, spec.channels) if spec.decoder == "opencv" else open_image(data)
    if spec.width_rule == "aspect":
        x = fit_height(np.asarray(to_grey(img)), h, contrast, spec.mean[0], spec.std[0], spec.pad,
                       spec.width_max or None)
        return np.ascontiguousarray(pad_width(x, max(x.shape[-1], width or 0), spec.pad))
    if spec.resize_mode == "stretch":
        resized, bucket = w, w
    else:
        resized, bucket = keep_ratio_widths(img.size, spec, batch_width)
    a = _resize(img, (resized, h), spec)
    a = (a if contrast is None else stretch_contrast(a, contrast)).astype(np.float32)
    x = (a.reshape(h, resized, -1).transpose(2, 0, 1) if c == 3 else a.reshape(1, h, resized))
    x = x / np.float32(255.0)
    x = (x - np.asarray(spec.mean, np.float32).reshape(c, 1, 1)) / \
        np.asarray(spec.std, np.float32).reshape(c, 1, 1)
    x = pad_width(x, max(bucket, width or 0), spec.pad)
    return np.ascontiguousarray(x, dtype=np.float32)
