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
import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import OptionError, UserError
from crnn_deploy.pipeline.api_inputs import (  # noqa: F401 (load_input, is_single: public here too)
    CHANNEL_ORDERS,
    describe,
    input_weight,
    is_file_object,
    is_single,
    load_input,
)
from crnn_deploy.pipeline.feeder import group_size, prepare_batches
from crnn_deploy.pipeline.fused import infer_decoded
from crnn_deploy.pipeline.second_pass import reread_low_confidence, reread_with
from crnn_deploy.pipeline.streams import open_engine
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.options import backend_options
from crnn_deploy.runtime.precision import PRECISIONS
from crnn_deploy.runtime.runner import resolve_batch, warm_up


def _groups(items: Iterable, size: int) -> Iterator[list[tuple[int, object]]]:
    it = enumerate(items)
    while group := list(islice(it, size)):
        yield group


def recognize_stream(backend: Backend, items: Iterable, batch: int,
                     load: Callable[[object], object] = load_input, threads: int | None = None,
                     ahead: int = 1, pipelined: bool = False, nice: int = 0,
                     slice_size: int = 4, balance: bool = True, width_policy: str = "bucket",
                     ) -> Iterator[tuple[int, object, str | None, float | None, str | None]]:
    """Recognize ``items`` with a loaded ``backend``, in batches of ``batch``, in input order.

    Yields one ``(position, item, text, confidence, error)`` per item (position 0-based):
    ``error`` is None for a recognized image, else the reason it could not be used (then
    text and confidence are None). ``load(item)`` gives what the transform takes (default
    :func:`load_input`); it runs in ``threads`` pool threads (default: CPU count), ``ahead``
    batches ahead of the engine, their nice value raised by ``nice``, ``slice_size`` items per
    task, largest inputs first with ``balance`` (:func:`input_weight`;
    :func:`pipeline.feeder.prepare_batches`). A dynamic-width spec reads groups of
    :func:`pipeline.feeder.group_size` items and runs them grouped by width
    (``width_policy``: :func:`runtime.widths.plan_widths`).
    """
    spec = backend.spec
    prepared = prepare_batches(_groups(items, group_size(spec, batch)), spec, lambda kv: load(kv[1]),
                               threads or os.cpu_count() or 1, ahead, nice, slice_size,
                               (lambda kv: input_weight(kv[1])) if balance else None)
    pairs = ((b, b.images) for b in prepared)
    decoded = reread_low_confidence(  # the spec's second pass, if it has one
        infer_decoded(backend, pairs, batch, pipelined, width_policy), spec,
        lambda b, rows: [load(b.items[k][1]) for k in rows], reread_with(infer_decoded, backend, batch))
    for b, texts, confs in decoded:
        rows = [(k, obj, text, conf, None) for (k, obj), text, conf in zip(b.items, texts, confs)]
        rows += [(k, obj, None, None, why) for (k, obj), why in b.bad]
        yield from sorted(rows, key=lambda r: r[0])


def _check_int(name: str, value, low: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise OptionError(f"Recognizer: {name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise OptionError(f"Recognizer: {name} must be >= {low}, got {value}")


def check_options(batch_size, threads, prep_threads, ahead, streams, hint, precision,
                  channel_order, unknown: dict) -> None:
    """Validate :class:`Recognizer` options as the CLI's click types do (``--batchsize`` >= 1
    ... ``--ahead`` >= 0, the ``--hint`` / ``--precision`` choices).

    Raises:
        OptionError: a value out of range or of the wrong type.
        TypeError: an unknown keyword, with the accepted names (and the closest one).
    """
    if unknown:
        import difflib

        name = sorted(unknown)[0]
        close = difflib.get_close_matches(name, RECOGNIZER_OPTIONS, 1)
        raise TypeError(f"Recognizer: unknown option {name!r}"
                        + (f" (did you mean {close[0]!r}?)" if close else "")
                        + f"; options: {', '.join(RECOGNIZER_OPTIONS)}")
    for name, value, low in (("batch_size", batch_size, 1), ("threads", threads, 1),
                             ("prep_threads", prep_threads, 1), ("ahead", ahead, 0),
                             ("streams", streams, 1)):
        _check_int(name, value, low)
    for name, value, allowed in (("hint", hint, ("LATENCY", "THROUGHPUT")),
                                 ("precision", precision, PRECISIONS),
                                 ("channel_order", channel_order, CHANNEL_ORDERS)):
        if value is not None and str(value).lower() not in [a.lower() for a in allowed]:
            raise OptionError(f"Recognizer: {name} must be one of {', '.join(allowed)}, "
                              f"got {value!r}")


#: The keyword options of :class:`Recognizer`: the names of the crnn-recognize options.
RECOGNIZER_OPTIONS = ("batch_size", "threads", "prep_threads", "ahead", "streams", "hint",
                      "precision", "widths", "min_width", "backend", "device", "channel_order")


class Recognizer:
    """Word images -> (text, confidence) with any engine crnn-convert builds.

    The options are crnn-recognize's, by the same names (``--batchsize`` is ``batch_size``).

    Args:
        engine: engine file (.onnx, .xml, .engine, .om); its spec gives the transform,
            the alphabet and the input shape.
        batch_size: batch for a dynamic-batch engine (a static engine's own); default:
            :func:`runtime.batch_default.default_batch` (2 for PP-OCRv4, 16 for nano-ocr).
        threads: inference threads (ONNX Runtime ``intra_op_num_threads``, OpenVINO
            ``INFERENCE_NUM_THREADS``); given, one engine with that many threads runs.
        prep_threads: threads reading, decoding and preprocessing images (default: CPU count).
        ahead: batches preprocessed while the engine runs (0: only between inference calls).
        streams: n > 1: n engine copies, one thread each, run consecutive batches at once
            (:func:`pipeline.streams.open_engine`; default: 2 on CPU unless ``threads`` or
            ``hint`` is given; 1: one engine with its own threads).
        hint, precision: OpenVINO ``PERFORMANCE_HINT``, precision (f32, bf16, f16, auto).
        widths: OpenVINO static-shape widths (:func:`runtime.widths.engine_widths`).
        min_width: pad each word to at least this many columns (:mod:`runtime.padding`).
        backend, device: as for ``crnn-infer --backend/--device``.
        channel_order: ``"rgb"`` (default, PIL's order) or ``"bgr"`` (OpenCV's: what
            ``cv2.imread`` returns): how the channels of (H, W, 3) and (H, W, 4) arrays are read.
            Paths, bytes and PIL images carry their own mode.

    Thread safety: one Recognizer may be shared by threads with any options: calls run one at
    a time (a lock; the engine is not re-entrant with streams or async requests). An
    :meth:`iter` stream holds the lock until it is exhausted or closed; starting another call
    of the same Recognizer in the thread that holds it raises RuntimeError instead of
    deadlocking. For parallel engines in one process, use ``streams`` or one Recognizer per
    thread.

    Raises:
        UserError: missing or unreadable engine, backend not installed, a batch size that
            contradicts a static engine.
        OptionError (a UserError and a ValueError): an option out of range.
        TypeError: an unknown keyword.
    """

    def __init__(self, engine: str | os.PathLike, batch_size: int | None = None, *,
                 threads: int | None = None, prep_threads: int | None = None, ahead: int = 1,
                 streams: int | None = None, hint: str | None = None,
                 precision: str | None = None, widths=None, min_width: int | None = None, backend=None,
                 device: str = "CPU", channel_order: str = "rgb", **unknown):
        check_options(batch_size, threads, prep_threads, ahead, streams, hint, precision,
                      channel_order, unknown)
        options = backend_options(threads, hint, precision, widths, min_width, kind="recognizer")
        be, self.pipelined = open_engine(Path(engine), backend, device, streams, **options)
        self.backend = be.load()
        self.spec = self.backend.spec
        self.batch_size = resolve_batch(self.backend, batch_size)
        self.prep_threads, self.ahead = prep_threads, ahead
        self.channel_order = channel_order.lower()
        self._lock = threading.Lock()
        self._owner: int | None = None
        warm_up(self.backend, self.batch_size, 1, self.pipelined)

    def recognize(self, images, errors: str = "raise"):
        """Recognize one image or a collection of them.

        ``images``: one image (a path, encoded bytes, a PIL image, a uint8 (H, W) / (H, W, C)
        array, see :func:`load_input`) -> one ``(text, confidence)``; a list or any iterable
        of them (mixed types allowed), or a uint8 (N, H, W, C) array -> a list of
        ``(text, confidence)``, in input order. ``text`` is the raw greedy CTC decode;
        ``confidence`` in [0, 1] is the mean softmax probability of the emitted steps
        (PaddleOCR's formula, 0.0 for "").

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
        return out[0] if is_single(images) else out

    __call__ = recognize

    def iter(self, images) -> Iterator[tuple[int, object, str | None, float | None,
                                             str | None]]:
        """Stream :func:`recognize_stream` rows ``(position, input, text, confidence,
        error)`` for any iterable of inputs (memory bounded: a few batches in flight); one
        image gives one row."""
        if is_single(images):
            images = [images]
        order = self.channel_order
        return self._locked(recognize_stream(self.backend, images, self.batch_size,
                                             lambda obj: load_input(obj, order),
                                             self.prep_threads, self.ahead, self.pipelined))

    def _locked(self, rows: Iterator) -> Iterator:
        me = threading.get_ident()
        if self._owner == me:
            raise RuntimeError("this Recognizer is already running a call in this thread "
                               "(an unfinished iter()); finish or close it first")
        with self._lock:
            self._owner = me
            try:
                yield from rows
            finally:
                self._owner = None

    def close(self) -> None:
        """Free the engine."""
        self.backend.close()

    def __enter__(self) -> Recognizer:  # noqa: PYI034 (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc) -> None:
        self.close()
