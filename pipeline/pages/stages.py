"""The stages of one page, as functions of explicit parameters (no engine inside).

``boxes_and_crops``: the detector's probability map -> DB boxes (:mod:`postprocess.
db_postprocess`) -> clockwise, clipped, in reading order (:mod:`postprocess.text_boxes`) ->
crops of the working image (:mod:`preprocess.crops`) and the boxes in original pixels.
``classify``: crops of any number of pages -> their angle (0 / 180) and the crops turned.
``page_record``: one page's JSONL record (shared/docs/DESIGN.md, "Pages").
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from crnn_deploy.postprocess.db_postprocess import DBParams, db_boxes
from crnn_deploy.postprocess.text_boxes import reading_order, tidy_boxes, to_original
from crnn_deploy.preprocess.crops import cls_input, crop_box
from crnn_deploy.preprocess.page import PreparedPage


@dataclass(frozen=True)
class ClsParams:
    """The angle classifier (RapidOCR 1.4.4 ``config.yaml`` ``Cls``): input ``shape`` (C, H,
    W), ``labels`` (its output classes in order), ``thresh`` (a crop read as ``"180"`` with a
    higher probability is turned), ``batch`` (crops per call; RapidOCR's ``cls_batch_num`` 6)."""

    shape: tuple[int, int, int] = (3, 48, 192)
    labels: tuple[str, ...] = ("0", "180")
    thresh: float = 0.9
    batch: int = 6
    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.5, 0.5, 0.5)
    channels: str = "BGR"


@dataclass(frozen=True)
class PageParams:
    """Everything after the detector: DB's parameters, the classifier's, and ``text_score``
    (RapidOCR's global 0.5: boxes whose recognition confidence is below it are dropped)."""

    db: DBParams = DBParams()
    cls: ClsParams = ClsParams()
    text_score: float = 0.5


@dataclass
class StageTimes:
    """Seconds spent in each stage (summed over pages and threads: stages overlap in time)."""

    decode: float = 0.0
    detector: float = 0.0
    postprocess: float = 0.0
    crops: float = 0.0
    classifier: float = 0.0
    recognizer: float = 0.0

    def add(self, other: StageTimes) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(other, k))

    def summary(self) -> str:
        """``decode 1.2 s, detector 3.4 s, ...``."""
        return ", ".join(f"{k} {v:.2f} s" for k, v in vars(self).items())


@dataclass
class PageWork:
    """One page between the stages: its ``boxes`` (float32 (n, 4, 2), original pixels, reading
    order), ``crops`` (BGR uint8), then ``angles`` and ``texts`` / ``confidences``."""

    boxes: np.ndarray
    crops: list[np.ndarray]
    angles: list[int] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)
    times: StageTimes = field(default_factory=StageTimes)


def boxes_and_crops(page: PreparedPage, prob: np.ndarray, db: DBParams = DBParams()) -> PageWork:
    """The detector output ``prob`` (float32 (1, 1, H, W) or (H, W)) of ``page`` -> a
    :class:`PageWork` with boxes and crops (``times.postprocess`` and ``times.crops`` set)."""
    start = time.perf_counter()
    h, w = page.image.shape[:2]
    boxes, _ = db_boxes(prob, (h, w), db)
    boxes = tidy_boxes(boxes, h, w)
    boxes = boxes[reading_order(boxes)] if len(boxes) else boxes
    mid = time.perf_counter()
    crops = [crop_box(page.image, b) for b in boxes]
    work = PageWork(to_original(boxes, page.ratio_hw, page.pad_top, page.raw_hw), crops)
    work.times.postprocess, work.times.crops = mid - start, time.perf_counter() - mid
    return work


def classify(crops: list[np.ndarray], infer: Callable[[np.ndarray], np.ndarray],
             params: ClsParams = ClsParams()) -> tuple[list[np.ndarray], list[int]]:
    """Angle-classify ``crops`` (BGR uint8, any pages) with ``infer`` (float32 (N, C, H, W) ->
    (N, len(labels)) probabilities), in batches of ``params.batch`` crops sorted by aspect
    ratio (as RapidOCR's ``TextClassifier``). Returns the crops (those read as ``"180"``
    with a probability above ``params.thresh`` turned 180 degrees) and their angles (0 or 180),
    in input order."""
    import cv2

    out, angles = list(crops), [0] * len(crops)
    order = np.argsort(np.array([c.shape[1] / float(c.shape[0]) for c in crops]), kind="stable")
    for s in range(0, len(order), params.batch):
        ks = order[s:s + params.batch]
        x = np.stack([cls_input(crops[k], params.shape, params.mean, params.std, params.channels)
                      for k in ks])
        probs = np.asarray(infer(x), np.float32).reshape(len(ks), -1)
        for k, row in zip(ks, probs):
            best = int(row.argmax())
            if "180" in params.labels[best] and row[best] > params.thresh:
                out[k], angles[k] = cv2.rotate(crops[k], cv2.ROTATE_180), 180
    return out, angles


def page_record(name: str | None, work: PageWork, text_score: float = 0.5) -> dict:
    """One page's result: ``{"page": name, "boxes": [{"points", "text", "confidence",
    "angle"}]}`` (points as [[x, y] x 4] floats rounded to 0.01 pixel, clockwise from the
    top-left; confidence rounded to 1e-6), boxes below ``text_score`` left out."""
    boxes = []
    for box, text, conf, angle in zip(work.boxes, work.texts, work.confidences, work.angles):
        if conf < text_score:
            continue
        boxes.append({"points": [[round(float(x), 2), round(float(y), 2)] for x, y in box],
                      "text": text, "confidence": round(float(conf), 6), "angle": int(angle)})
    return {"page": name, "boxes": boxes}
