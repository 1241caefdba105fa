"""How the page pipeline batches its crops for the recognizer (``crnn-ocr --rec-batching``).

* ``width`` (default): the crops of ``group_pages`` pages go through :class:`pipeline.
  recognizer.Recognizer`, grouped by their own width (``bucket``: each crop read at its own
  width, as RapidOCR's TextRecognizer reads one crop alone, ``rec_batch_num=1``).
* ``rapidocr``: RapidOCR 1.4.4's own recognizer batching, per page (``TextRecognizer.__call__``,
  ``rec_batch_num`` 6): the page's crops sorted by aspect ratio, cut into batches of 6, each
  crop resized within and padded to its batch's width ``int(48 * max(320 / 48, largest w /
  h))`` (:func:`runtime.widths.ratio_batches`). The padding changes a few readings (a space
  dropped, a letter changed); this option gives RapidOCR()'s own texts, at its defaults.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.api_inputs import load_input
from crnn_deploy.pipeline.fused import infer_decoded
from crnn_deploy.pipeline.recognizer import Recognizer
from crnn_deploy.preprocess.transform import ImageError, preprocess_image
from crnn_deploy.runtime.widths import ratio_batches

#: ``--rec-batching`` values.
REC_BATCHINGS = ("width", "rapidocr")

#: RapidOCR 1.4.4 ``config.yaml`` ``Rec.rec_batch_num``.
RAPIDOCR_REC_BATCH = 6


def check_rapidocr_spec(spec) -> None:
    """RapidOCR's batching is PaddleOCR's ``resize_norm_img``: a keep-ratio recognizer of
    dynamic width, resized by the plain ratio rule. Raises UserError otherwise."""
    if (not getattr(spec, "dynamic_width", False) or spec.resize_mode != "keep-ratio"
            or spec.width_rule == "aspect" or spec.decoding.second_pass_below):
        raise UserError(f"--rec-batching rapidocr: recognizer {spec.name!r} is not read as "
                        "PaddleOCR reads crops (a keep-ratio spec of dynamic width, e.g. "
                        "ppocrv4-rec); use --rec-batching width")


def rapidocr_reader(recognizer: Recognizer, batch: int = RAPIDOCR_REC_BATCH
                    ) -> Callable[[list[np.ndarray]], list[tuple[str, float]]]:
    """``read(crops)``: one page's BGR uint8 crops -> ``[(text, confidence)]`` in input order,
    batched as RapidOCR's TextRecognizer batches them (module docstring), through
    ``recognizer``'s engine and greedy decoder (:func:`pipeline.fused.infer_decoded`; the
    batches are already of one width each, so its ``widest`` plan keeps them whole).
    A crop that cannot be prepared reads as ``("", 0.0)``. ``recognizer`` must be the
    caller's own (the page pipeline's, behind :class:`pipeline.pages.ocr.OCR`'s lock).

    Raises:
        UserError: a recognizer whose spec does not read crops as PaddleOCR does.
    """
    spec = recognizer.spec
    check_rapidocr_spec(spec)
    _, height, wmin = spec.input_shape

    def prepare(crops, pos, width):
        rows, xs = [], []
        for k in pos:
            try:
                xs.append(preprocess_image(load_input(crops[k], "bgr"), spec, batch_width=width))
                rows.append(k)
            except ImageError:
                pass
        return rows, xs

    def read(crops: list[np.ndarray]) -> list[tuple[str, float]]:
        out = [("", 0.0)] * len(crops)
        sizes = [(c.shape[1], c.shape[0]) for c in crops]
        pairs = (prepare(crops, pos, width)
                 for pos, width in ratio_batches(sizes, batch, height, wmin, spec.width_max))
        for rows, texts, confs in infer_decoded(recognizer.backend, pairs, batch,
                                                recognizer.pipelined, "widest"):
            for k, text, conf in zip(rows, texts, confs):
                out[k] = (text, conf)
        return out

    return read
