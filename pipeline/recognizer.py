"""Images in, text out: the Python API (:class:`Recognizer`) behind ``crnn-recognize``.

No LMDB and no file in between: each input is read and decoded in a thread pool
(:func:`pipeline.feeder.prepare_batches`, the next batch prepared while the engine runs),
transformed with the engine's spec (:func:`preprocess.transform.preprocess_image`), run in
batches and greedy-CTC decoded with a confidence (:func:`postprocess.ctc.
greedy_decode_with_confidence`). Results come back in input order.

    from crnn_deploy.pipeline import Recognizer
    with Recognizer("build/nano-ocr_bs16.xml") as r:
        for text, confidence in r.recognize(["word.png", open("b.jpg", "rb").read()]):
            print(text, confidence)
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.feeder import prepare_batches
from crnn_deploy.pipeline.fused import infer_decoded
from crnn_deploy.pipeline.streams import open_engine
from crnn_deploy.preprocess.sources import read_image_file
from crnn_deploy.preprocess.transform import ImageError
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.runner import resolve_batch, warm_up


def load_input(obj) -> object:
    """One API input -> what :func:`preprocess.transform.preprocess_image` takes.

    Accepts a path (str or ``os.PathLike``: the file is read, bounded), encoded image bytes
    (``bytes``, ``bytearray``, ``memoryview``), a ``PIL.Image.Image`` (any mode), or a uint8
    ``numpy`` array of shape (H, W) (grey), (H, W, 3) (RGB) or (H, W, 4) (RGBA).

    Raises:
        ImageError: an array of another dtype or shape.
        OSError: an unreadable path.
        TypeError: any other type.
    """
    from PIL import Image

    if isinstance(obj, (str, os.PathLike)):
        return read_image_file(obj)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, Image.Image):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype != np.uint8:
            raise ImageError(f"array of dtype {obj.dtype}, expected uint8")
        if obj.ndim == 3 and obj.shape[2] == 1:
            obj = obj[:, :, 0]
        if not (obj.ndim == 2 or (obj.ndim == 3 and obj.shape[2] in (3, 4))):
            raise ImageError(f"array of shape {obj.shape}, expected (H, W), (H, W, 3) or (H, W, 4)")
        return Image.fromarray(np.ascontiguousarray(obj))
    raise TypeError(f"expected a path, bytes, PIL image or uint8 array, got {type(obj).__name__}")


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
        return str(obj)
    return f"input #{position} ({type(obj).__name__})"


def _groups(items: Iterable, size: int) -> Iterator[list[tuple[int, object]]]:
    it = enumerate(items)
    while group := list(islice(it, size)):
        yield group


def recognize_stream(backend: Backend, items: Iterable, batch: int,
                     load: Callable[[object], object] = load_input, threads: int | None = None,
                     ahead: int = 1, pipelined: bool = False, nice: int = 0,
                     slice_size: int = 4, balance: bool = True,
                     ) -> Iterator[tuple[int, object, str | None, float | None, str | None]]:
    """Recognize ``items`` with a loaded ``backend``, in batches of ``batch``, in input order.

    Yields one ``(position, item, text, confidence, error)`` per item (position 0-based):
    ``error`` is None for a recognized image, else the reason it could not be used (then
    text and confidence are None). ``load(item)`` gives what the transform takes (default
    :func:`load_input`); it runs in ``threads`` pool threads (default: CPU count), ``ahead``
    batches ahead of the engine, their nice value raised by ``nice``, ``slice_size`` items per
    task, largest inputs first with ``balance`` (:func:`input_weight`;
    :func:`pipeline.feeder.prepare_batches`).
    """
    spec = backend.spec
    prepared = prepare_batches(_groups(items, batch), spec, lambda kv: load(kv[1]),
                               threads or os.cpu_count() or 1, ahead, nice, slice_size,
                               (lambda kv: input_weight(kv[1])) if balance else None)
    pairs = ((b, b.images) for b in prepared)
    for b, texts, confs in infer_decoded(backend, pairs, batch, pipelined):
        rows = [(k, obj, text, conf, None) for (k, obj), text, conf in zip(b.items, texts, confs)]
        rows += [(k, obj, None, None, why) for (k, obj), why in b.bad]
        yield from sorted(rows, key=lambda r: r[0])


class Recognizer:
    """Word images -> (text, confidence) with any engine crnn-convert builds.

    Args:
        engine: engine file (.onnx, .xml, .engine, .om); its spec gives the transform,
            the alphabet and the input shape.
        batch_size: batch for a dynamic-batch engine (default 16; a static engine's own).
        threads: preprocessing threads (default: CPU count).
        ahead: batches preprocessed while the engine runs (0: only between inference calls).
        streams: n > 1: n engine copies, one thread each, run consecutive batches at once
            (:func:`pipeline.streams.open_engine`; default: 2 on CPU unless ``engine_threads``
            or ``hint`` is given; 1: one engine with its own threads).
        backend, device, **options: as for ``crnn-infer`` (e.g. ``hint="THROUGHPUT"``,
            ``threads`` is ``engine_threads`` here).

    Raises:
        UserError: missing or unreadable engine, backend not installed.
    """

    def __init__(self, engine: str | os.PathLike, batch_size: int | None = None,
                 threads: int | None = None, backend: str | None = None, device: str = "CPU",
                 engine_threads: int | None = None, ahead: int = 1, streams: int | None = None,
                 **options):
        if engine_threads:
            options["threads"] = engine_threads
        be, self.pipelined = open_engine(Path(engine), backend, device, streams, **options)
        self.backend = be.load()
        self.spec = self.backend.spec
        self.batch_size = resolve_batch(self.backend, batch_size)
        self.threads, self.ahead = threads, ahead
        warm_up(self.backend, self.batch_size, 1, self.pipelined)

    def recognize(self, images: Iterable, errors: str = "raise") -> list[tuple[str, float]]:
        """Recognize ``images`` (paths, bytes, PIL images or uint8 arrays, see
        :func:`load_input`; mixed types allowed) and return ``(text, confidence)`` per image,
        in input order. ``text`` is the raw greedy CTC decode; ``confidence`` in [0, 1] is the
        mean softmax probability of the emitted steps (PaddleOCR's formula, 0.0 for "").

        ``errors="raise"``: a bad image raises UserError naming it (path or position);
        ``errors="ignore"``: it gets ``("", 0.0)``.
        """
        if errors not in ("raise", "ignore"):
            raise ValueError(f"errors must be 'raise' or 'ignore', got {errors!r}")
        out = []
        for k, obj, text, conf, why in self.iter(images):
            if why is not None:
                if errors == "raise":
                    raise UserError(f"{describe(obj, k)}: {why}")
                text, conf = "", 0.0
            out.append((text, conf))
        return out

    def iter(self, images: Iterable) -> Iterator[tuple[int, object, str | None, float | None,
                                                       str | None]]:
        """Stream :func:`recognize_stream` rows ``(position, input, text, confidence,
        error)`` for any iterable of inputs (memory bounded: a few batches in flight).

        Raises TypeError for a single input (a path, bytes, a PIL image or one array) given
        instead of a sequence of them.
        """
        from PIL import Image

        single = (str, os.PathLike, bytes, bytearray, memoryview, Image.Image)
        if isinstance(images, single) or (isinstance(images, np.ndarray) and images.ndim < 3):
            raise TypeError(f"expected a sequence of images, got one {type(images).__name__}; "
                            "wrap it in a list")
        return recognize_stream(self.backend, images, self.batch_size, load_input, self.threads,
                                self.ahead, self.pipelined)

    def close(self) -> None:
        """Free the engine."""
        self.backend.close()

    def __enter__(self) -> Recognizer:  # noqa: PYI034 (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc) -> None:
        self.close()
