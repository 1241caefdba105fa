"""Pages in, boxes and text out: the Python API (:class:`OCR`) behind ``crnn-ocr``.

    from crnn_deploy import OCR
    with OCR(det="build/ppocrv4-det.xml", cls="build/ppocr-cls.xml",
             rec="build/ppocrv4-rec.xml") as ocr:
        page = ocr("page.png")      # {"page": "page.png", "boxes": [{"points", "text", ...}]}
        pages = ocr([open("a.jpg", "rb").read(), pil_image, bgr_array])
"""
from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.pages.engines import open_page_engines
from crnn_deploy.pipeline.pages.run import ocr_stream
from crnn_deploy.pipeline.pages.stages import StageTimes, page_record
from crnn_deploy.pipeline.recognizer import CHANNEL_ORDERS, describe, is_single
from crnn_deploy.runtime.precision import PRECISIONS


class OCR:
    """Page images -> text boxes, with any engines crnn-convert builds for the three roles.

    Args:
        det: the DB text detector's engine (.onnx, .xml, .engine, .om of a ``detector`` spec,
            e.g. ``crnn-convert import ... --spec ppocrv4-det``); its spec gives the resize
            rule, the normalization and DB's postprocess parameters.
        cls: the angle classifier's engine (a ``classifier`` spec, e.g. ``ppocr-cls``), or
            None: every crop is read as it is (angle 0).
        rec: any recognizer engine (ppocrv4-rec, english_g2, nano-ocr, an imported one); its
            crops go through :class:`pipeline.recognizer.Recognizer`.
        threads: threads decoding and preparing pages, running DB's postprocess and cutting
            crops (default: CPU count).
        group_pages: pages whose crops are classified and recognized together (default 4).
        text_score: boxes whose recognition confidence is below it are left out (RapidOCR's
            global ``text_score`` 0.5).
        backend, device: as ``crnn-infer --backend/--device`` (all three engines).
        channel_order: ``"rgb"`` (default, PIL's) or ``"bgr"`` (``cv2.imread``'s): how the
            channels of (H, W, 3) / (H, W, 4) arrays are read.
        rec_batching: ``"width"`` (default: crops of several pages grouped by their own
            width, each read as RapidOCR reads a crop alone) or ``"rapidocr"`` (RapidOCR's
            own batching, per page: sorted by aspect ratio, batches of 6 padded to their
            widest; gives RapidOCR()'s texts at its defaults; :mod:`pipeline.pages.
            rec_batching`).
        engine_threads: inference threads of each of the three engines (OpenVINO
            ``INFERENCE_NUM_THREADS``, ONNX Runtime ``intra_op_num_threads``); None: each
            backend's default (all cores; the recognizer: 2 streams on CPU).
        precision: inference precision of the three engines: ``"f32"`` (default: the
            originating tool's results), ``"bf16"``, ``"f16"`` or ``"auto"`` (OpenVINO's
            ``INFERENCE_PRECISION_HINT``; ONNX Runtime runs f32 only).
        rec_options: keyword options of :class:`Recognizer` (``batch_size``, ``streams``,
            ``hint`` ...).

    A call takes one page (a path, encoded bytes, a PIL image, a uint8 (H, W) / (H, W, C)
    array) and returns one dict ``{"page": path or None, "boxes": [{"points": [[x, y] x 4],
    "text", "confidence", "angle": 0 | 180}]}`` (points in pixels of the original image,
    clockwise from the top-left; boxes in reading order), or a list of them for a list.
    Calls run one at a time (a lock), as for Recognizer.

    Raises:
        UserError: a missing engine, an engine of the wrong kind for its role, a backend that
            cannot run here; a bad page with ``errors="raise"`` (naming it).
    """

    def __init__(self, det: str | os.PathLike, cls: str | os.PathLike | None = None,
                 rec: str | os.PathLike | None = None, *, threads: int | None = None,
                 group_pages: int = 4, text_score: float | None = None,
                 backend: str | None = None, device: str = "CPU", channel_order: str = "rgb",
                 rec_batching: str = "width", engine_threads: int | None = None,
                 precision: str | None = None, **rec_options):
        if rec is None:
            raise UserError("OCR: give a recognizer engine (rec=...)")
        if str(channel_order).lower() not in CHANNEL_ORDERS:
            raise UserError(f"OCR: channel_order must be one of {', '.join(CHANNEL_ORDERS)}, "
                            f"got {channel_order!r}")
        if engine_threads is not None and (not isinstance(engine_threads, int)
                                           or engine_threads < 1):
            raise UserError(f"OCR: engine_threads must be an integer >= 1, got {engine_threads!r}")
        if precision is not None and precision not in PRECISIONS:
            raise UserError(f"OCR: precision must be one of {', '.join(PRECISIONS)}, "
                            f"got {precision!r}")
        if not isinstance(group_pages, int) or group_pages < 1:
            raise UserError(f"OCR: group_pages must be an integer >= 1, got {group_pages!r}")
        self.engines, self.params, self.det_params, self._close = open_page_engines(
            Path(det), None if cls is None else Path(cls), Path(rec), backend=backend,
            device=device, rec_batching=rec_batching, engine_threads=engine_threads,
            precision=precision, **rec_options)
        if text_score is not None:
            from dataclasses import replace

            self.params = replace(self.params, text_score=float(text_score))
        self.threads, self.group_pages = threads, group_pages
        self.channel_order = str(channel_order).lower()
        self.times = StageTimes()
        self._lock = threading.Lock()
        self._live = weakref.WeakSet()  # iter() generators not yet finished (see close)

    def iter(self, pages) -> Iterator[tuple[int, object, dict | None, str | None]]:
        """Stream ``(position, input, record, error)`` rows in input order (``record`` None and
        ``error`` the reason for a page that could not be used); memory bounded."""
        rows = self._rows(pages)
        self._live.add(rows)
        return rows

    def _rows(self, pages) -> Iterator[tuple[int, object, dict | None, str | None]]:
        if is_single(pages):
            pages = [pages]
        with self._lock:
            for k, item, work, why in ocr_stream(
                    pages, self.engines, self.params, self.det_params,
                    channel_order=self.channel_order, threads=self.threads,
                    group_pages=self.group_pages, times=self.times):
                name = str(item) if isinstance(item, (str, os.PathLike)) else None
                rec = None if work is None else page_record(name, work, self.params.text_score)
                yield k, item, rec, why

    def __call__(self, pages, errors: str = "raise"):
        """One page -> one dict; a list (any iterable, or an (N, H, W, C) array) -> a list of
        dicts in input order. ``errors="raise"``: a bad page raises UserError naming it;
        ``"ignore"``: it gets ``{"page": ..., "boxes": [], "error": reason}``."""
        if errors not in ("raise", "ignore"):
            raise ValueError(f"errors must be 'raise' or 'ignore', got {errors!r}")
        out = []
        for k, item, rec, why in self.iter(pages):
            if why is not None:
                if errors == "raise":
                    raise UserError(f"{describe(item, k)}: {why}")
                name = str(item) if isinstance(item, (str, os.PathLike)) else None
                rec = {"page": name, "boxes": [], "error": why}
            out.append(rec)
        return out[0] if is_single(pages) else out

    def close(self) -> None:
        """Free the three engines, after closing any :meth:`iter` left unfinished (its
        classifier and recognizer may still be reading a group in their thread: closing waits
        for it, so no engine is freed while it runs)."""
        for rows in list(self._live):
            try:
                rows.close()
            except ValueError:  # running in another thread: it holds the lock until it yields
                pass
        with self._lock:
            self._close()

    def __enter__(self) -> OCR:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()
