"""The page loop: decode and prepare pages in threads while the detector runs; classify and
recognize the crops of several pages together.

    pages ──(pool: decode, resize, normalize)──> detector (this thread, one page per call)
          ──(pool: DB postprocess, crops)──> groups of ``group_pages`` pages
          ──> angle classifier (batches sorted by aspect ratio) ──> recognizer (batched by width)

Rows come out in input order, one per page, with the page's :class:`stages.PageWork` or the
reason it could not be used.
"""
from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.pages.stages import (
    PageParams,
    PageWork,
    StageTimes,
    boxes_and_crops,
    classify,
)
from crnn_deploy.preprocess.page import DetInputParams, prepare_page
from crnn_deploy.preprocess.sources import read_image_file
from crnn_deploy.preprocess.transform import ImageError, open_image


def load_page(obj, channel_order: str = "rgb"):
    """One page input -> a PIL image or a uint8 array: a path (read bounded, decoded with
    Pillow's guards: :func:`preprocess.transform.open_image`), encoded bytes, a PIL image, or
    a uint8 array (H, W) / (H, W, 1|3|4) in ``channel_order`` (returned as is).

    Raises:
        ImageError: undecodable, zero-sized or too large image; an array of another dtype/shape.
        OSError: an unreadable path.
        TypeError: any other type.
    """
    from PIL import Image

    if isinstance(obj, (str, os.PathLike)):
        return open_image(read_image_file(obj))
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return open_image(bytes(obj))
    if isinstance(obj, Image.Image):
        return open_image(obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype != np.uint8:
            raise ImageError(f"array of dtype {obj.dtype}, expected uint8")
        if not (obj.ndim == 2 or (obj.ndim == 3 and obj.shape[2] in (1, 3, 4))) or 0 in obj.shape:
            raise ImageError(f"array of shape {obj.shape}, expected (H, W), (H, W, 1), "
                             "(H, W, 3) or (H, W, 4)")
        return obj
    raise TypeError(f"expected a path, bytes, PIL image or uint8 array, got {type(obj).__name__}")


@dataclass
class PageEngines:
    """What the loop runs: ``det(x)`` float32 (1, 3, H, W) -> (1, 1, H, W) probabilities;
    ``cls(x)`` float32 (N, C, H, W) -> (N, classes) probabilities, or None (no classifier);
    ``rec(crops)`` BGR uint8 crops -> [(text, confidence)] in order; ``rec_per_page``: rec
    is called once per page (its batching is a page's, as RapidOCR's), not once per group."""

    det: Callable[[np.ndarray], np.ndarray]
    cls: Callable[[np.ndarray], np.ndarray] | None
    rec: Callable[[list[np.ndarray]], list[tuple[str, float]]]
    rec_per_page: bool = False


def _prepare(item, load, det_params: DetInputParams, channel_order: str):
    start = time.perf_counter()
    try:
        page = prepare_page(load(item), det_params, channel_order)
        return page, None, time.perf_counter() - start
    except (ImageError, UserError, ValueError) as exc:
        return None, str(exc), time.perf_counter() - start
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or exc}", time.perf_counter() - start


def _read_group(group: list, engines: PageEngines, params: PageParams, times: StageTimes) -> None:
    """Classify and recognize the crops of a group of pages (``(k, item, PageWork | None,
    error)``), filling each PageWork's angles, texts and confidences."""
    works = [w for _, _, w, _ in group if w is not None]
    crops = [c for w in works for c in w.crops]
    angles = [0] * len(crops)
    if crops and engines.cls is not None:
        start = time.perf_counter()
        crops, angles = classify(crops, engines.cls, params.cls)
        times.classifier += time.perf_counter() - start
    start = time.perf_counter()
    if engines.rec_per_page:
        read, at = [], 0
        for w in works:
            read += engines.rec(crops[at:at + len(w.crops)]) if w.crops else []
            at += len(w.crops)
    else:
        read = engines.rec(crops) if crops else []
    times.recognizer += time.perf_counter() - start
    at = 0
    for w in works:
        n = len(w.crops)
        w.angles = angles[at:at + n]
        w.texts = [t for t, _ in read[at:at + n]]
        w.confidences = [c for _, c in read[at:at + n]]
        w.crops = []  # the pixels are no longer needed
        at += n


def ocr_stream(items: Iterable, engines: PageEngines, params: PageParams = PageParams(),
               det_params: DetInputParams = DetInputParams(), load: Callable = load_page,
               channel_order: str = "rgb", threads: int | None = None, group_pages: int = 4,
               ahead: int = 2, times: StageTimes | None = None,
               ) -> Iterator[tuple[int, object, PageWork | None, str | None]]:
    """Run the pages ``items`` through ``engines``; yield ``(position, item, work, error)`` in
    input order (``work`` None and ``error`` the reason for a page that could not be used).

    ``load(item)`` (default :func:`load_page`) and the page preparation
    (:func:`preprocess.page.prepare_page`) run in ``threads`` pool threads (default: CPU
    count), up to ``group_pages + ahead`` pages ahead of the detector; the DB postprocess and
    the crops of a page run in the pool while the detector runs the next one; every
    ``group_pages`` pages, their crops are classified and recognized together. ``times``
    (a :class:`stages.StageTimes`) accumulates each stage's seconds.
    """
    times = times if times is not None else StageTimes()
    pool = ThreadPoolExecutor(max(1, threads or os.cpu_count() or 1), thread_name_prefix="crnn-page")
    it = enumerate(items)
    prepared: deque[tuple[int, object, Future]] = deque()
    posted: deque[tuple[int, object, Future | None, str | None]] = deque()
    window = max(1, group_pages) + max(0, ahead)
    # classifier + recognizer of one group run in this thread while the detector runs the next
    reader = ThreadPoolExecutor(1, thread_name_prefix="crnn-read")
    reading: deque[tuple[list, Future]] = deque()

    def refill() -> None:
        while len(prepared) < window:
            nxt = next(it, None)
            if nxt is None:
                return
            k, item = nxt
            prepared.append((k, item, pool.submit(_prepare, item, load, det_params, channel_order)))

    def finish(last: bool = False) -> Iterator:
        if posted:
            group = []
            while posted and len(group) < group_pages:
                k, item, fut, why = posted.popleft()
                work = None if fut is None else fut.result()
                if work is not None:
                    times.postprocess += work.times.postprocess
                    times.crops += work.times.crops
                group.append((k, item, work, why))
            reading.append((group, reader.submit(_read_group, group, engines, params, times)))
        while reading and (last or len(reading) > 1):
            group, fut = reading.popleft()
            fut.result()
            yield from group

    try:
        refill()
        while prepared:
            k, item, fut = prepared.popleft()
            page, why, spent = fut.result()
            times.decode += spent
            refill()
            if page is None:
                posted.append((k, item, None, why))
            else:
                start = time.perf_counter()
                prob = engines.det(page.det_input)
                times.detector += time.perf_counter() - start
                posted.append((k, item, pool.submit(boxes_and_crops, page, prob, params.db), None))
            if len(posted) >= group_pages:
                yield from finish()
        while posted or reading:
            yield from finish(last=True)
    finally:
        for _, _, f in prepared:
            f.cancel()
        reader.shutdown(wait=True, cancel_futures=True)
        pool.shutdown(wait=True, cancel_futures=True)
