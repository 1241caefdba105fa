"""The single-image transform of the CRNN models: encoded bytes -> float32 (C, H, W) tensor.

This is the training transform of every supported spec (see ``shared/docs/DESIGN.md``)::

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
import warnings

import numpy as np
from PIL import Image

from crnn_deploy.models.specs import ModelSpec

#: Largest accepted image, in pixels (width * height). Word crops are tiny; IIIT5K's largest
#: is 2576x772 (2 Mpixel). Anything above this is treated as a decompression bomb.
MAX_PIXELS = 50_000_000

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


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
        raise ImageError(f"cannot identify image format ({len(data)} bytes; corrupt header, "
                         f"zero size or unsupported format; starts {bytes(data[:12])!r})") from None
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


def to_grey(img: Image.Image) -> Image.Image:
    """Mode ``L`` (8-bit grey) version of ``img``, as ``img.convert('L')`` in training.

    Alpha is ignored (as ``convert('L')`` does), so RGBA/LA/PA give the grey of their colour
    channels. Modes that ``convert('L')`` cannot handle or handles badly are routed first:
    palette images with transparency go through RGBA (same grey values, no Pillow warning);
    ``La`` goes through ``LA``; 16/32-bit integer grey (``I;16*``, ``I``) is scaled to 8 bits as
    ``round(v / 257)`` clipped to [0, 255] (Pillow would clip every value above 255 to white);
    other modes fall back to RGB.
    """
    mode = img.mode
    if mode == "L":
        return img
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(img).astype(np.float64)
        a = np.clip(np.rint(a / 257.0), 0, 255).astype(np.uint8)
        return Image.fromarray(a, mode="L")
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


def preprocess_image(data: bytes | Image.Image, spec: ModelSpec) -> np.ndarray:
    """One image -> the model input of ``spec``: float32 array of shape ``spec.input_shape``.

    Args:
        data: encoded image bytes (PNG, JPEG, ...) or an already opened PIL image.
        spec: the model spec; uses ``input_shape`` (C, H, W) with C = 1, ``resize``
            (``bilinear`` or ``bicubic``, PIL filters), ``mean`` and ``std``.

    Returns:
        ``np.ndarray`` of dtype float32, shape (C, H, W) = (1, H, W), C-contiguous, values
        ``(p / 255 - mean) / std`` for the 8-bit grey pixel p after ``resize((W, H))``
        (so in [-1, 1] for mean = std = 0.5). Add the batch axis with ``x[None]``.

    Raises:
        ImageError: the image does not decode, is zero-sized or too large, or has a mode that
            cannot be made grey.
        ValueError: the spec asks for something this transform does not do (C != 1, unknown
            resize filter).
    """
    c, h, w = spec.input_shape
    if c != 1:
        raise ValueError(f"spec {spec.name!r}: only 1-channel (grey) inputs are supported, got C={c}")
    try:
        resample = _RESAMPLE[spec.resize]
    except KeyError:
        raise ValueError(f"spec {spec.name!r}: unknown resize {spec.resize!r}") from None
    img = to_grey(open_image(data))
    img = img.resize((w, h), resample)
    x = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    x = (x - np.float32(spec.mean)) / np.float32(spec.std)
    return np.ascontiguousarray(x.reshape(c, h, w), dtype=np.float32)
