"""What the :class:`pipeline.recognizer.Recognizer` API accepts as one image, and how each
kind is read (:func:`load_input`), weighed for scheduling (:func:`input_weight`) and named in
messages (:func:`describe`)."""
from __future__ import annotations

import io
import os

import numpy as np

from crnn_deploy.common.inputs import MAX_IMAGE_BYTES
from crnn_deploy.common.names import display_name
from crnn_deploy.preprocess.sources import read_image_file
from crnn_deploy.preprocess.transform import ImageError

#: ``channel_order`` values: how the last axis of a (H, W, 3) / (H, W, 4) array is read.
CHANNEL_ORDERS = ("rgb", "bgr")


def load_input(obj, channel_order: str = "rgb") -> object:
    """One API input -> what :func:`preprocess.transform.preprocess_image` takes.

    Accepts a path (str or ``os.PathLike``: the file is read, bounded; a path holding a NUL
    byte is an ImageError), encoded image bytes (``bytes``, ``bytearray``, ``memoryview``), a
    binary file object (``open(p, "rb")``, ``io.BytesIO``: read to its end, bounded by
    :data:`common.inputs.MAX_IMAGE_BYTES`; it is one image, never iterated line by line; a
    text-mode file is an ImageError), a ``PIL.Image.Image`` (any mode), or a uint8
    ``numpy`` array of shape (H, W) (grey), (H, W, 1), (H, W, 3) or (H, W, 4). The channels of
    an array are RGB / RGBA (PIL's order, ``np.asarray(Image.open(p).convert("RGB"))``) unless
    ``channel_order="bgr"``: BGR / BGRA, what ``cv2.imread`` returns.

    Raises:
        ImageError: an array of another dtype or shape.
        OSError: an unreadable path.
        TypeError: any other type.
    """
    from PIL import Image

    if isinstance(obj, (str, os.PathLike)):
        if "\0" in os.fsdecode(obj):
            raise ImageError("the image path holds a NUL byte")
        return read_image_file(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if is_file_object(obj):
        data = obj.read(MAX_IMAGE_BYTES + 1)
        if not isinstance(data, bytes):
            raise ImageError(f"file object {type(obj).__name__} is in text mode; open the image "
                             "with open(path, 'rb')")
        if len(data) > MAX_IMAGE_BYTES:
            raise ImageError(f"file object holds more than {MAX_IMAGE_BYTES} bytes, the limit "
                             "of one image")
        return data
    if isinstance(obj, Image.Image):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype != np.uint8:
            raise ImageError(f"array of dtype {obj.dtype}, expected uint8")
        if obj.ndim == 3 and obj.shape[2] == 1:
            obj = obj[:, :, 0]
        if not (obj.ndim == 2 or (obj.ndim == 3 and obj.shape[2] in (3, 4))):
            raise ImageError(f"array of shape {obj.shape}, expected (H, W), (H, W, 1), (H, W, 3) "
                             "or (H, W, 4); several images go in a list or an (N, H, W, C) array")
        if obj.ndim == 3 and channel_order == "bgr":
            obj = obj[:, :, [2, 1, 0, 3][:obj.shape[2]]]
        return Image.fromarray(np.ascontiguousarray(obj))
    raise TypeError(f"expected a path, bytes, PIL image or uint8 array, got {type(obj).__name__}")


def is_file_object(obj) -> bool:
    """True for an open file object (``io.IOBase``, or anything with ``read`` that is not a
    PIL image): one image, read as bytes."""
    from PIL import Image

    return isinstance(obj, io.IOBase) or (callable(getattr(obj, "read", None))
                                          and not isinstance(obj, Image.Image))


def is_single(images) -> bool:
    """True when ``images`` is one image (a path, encoded bytes, a PIL image, a 2-D or 3-D
    array), False for a collection of them (a list, any other iterable, an (N, H, W, C) array)."""
    from PIL import Image

    if isinstance(images, np.ndarray):
        return images.ndim <= 3
    return (isinstance(images, (str, os.PathLike, bytes, bytearray, memoryview, Image.Image))
            or is_file_object(images))


def input_weight(obj) -> int:
    """Expected preprocessing cost of an input, in bytes: a file's size (0 if it cannot be
    stat'ed), the length of encoded bytes, width * height of a PIL image, an array's size."""
    if isinstance(obj, (str, os.PathLike)):
        try:
            return os.stat(obj).st_size
        except (OSError, ValueError):
            return 0
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return len(obj)
    size = getattr(obj, "size", 0)
    return size[0] * size[1] if isinstance(size, tuple) else int(size or 0)


def describe(obj, position: int) -> str:
    """How an input is named in messages: its path, else ``input #position`` and its type."""
    if isinstance(obj, (str, os.PathLike)):
        return display_name(os.fsdecode(obj))
    return f"input #{position} ({type(obj).__name__})"
