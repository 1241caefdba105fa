"""The low-confidence second reading of a spec's decoding (``decoding.second_pass_below``).

EasyOCR 1.7.2's ``get_text`` (``easyocr/recognition.py``): the words whose confidence is below
``contrast_ths`` (0.1) are read again from the contrast-stretched image (``adjust_contrast``
0.5: :func:`preprocess.height_fit.stretch_contrast`), and the more confident reading is kept
(:func:`postprocess.confidence.keep_more_confident`). A spec whose ``second_pass_below`` is 0
passes through untouched.

:func:`reread_low_confidence` wraps a stream of decoded groups (``pipeline.fused.infer_decoded``)
and needs two callables from the path: how to get the raw inputs of some rows of a group again
(file bytes, LMDB bytes, an array), and how to run a list of prepared images (the same engine,
batched by width). It is generic in both, so every path that runs an engine shares it: the
local ones (Recognizer, crnn-recognize, crnn-eval) and the Ray engine actor
(:mod:`pipeline.ray.engine`). The staged path, whose stages only pass files, does the same
in three more commands (:mod:`postprocess.second_pass`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from crnn_deploy.models.specs import ModelSpec
from crnn_deploy.pipeline.gt_set import GtSet
from crnn_deploy.postprocess.confidence import keep_more_confident
from crnn_deploy.preprocess.lmdb_io import open_lmdb, read_sample
from crnn_deploy.preprocess.sources import read_image_file
from crnn_deploy.preprocess.transform import ImageError, preprocess_image

#: meta of a group, positions of its low-confidence rows -> their raw inputs (bytes or images)
Raw = Callable[[object, Sequence[int]], Sequence[object]]
#: prepared float32 (C, H, W_i) images -> (texts, confidences) in the same order
Reread = Callable[[list], tuple[list[str], list[float]]]


def reread_low_confidence(decoded: Iterable[tuple[object, list[str], list[float]]],
                          spec: ModelSpec, raw: Raw, reread: Reread
                          ) -> Iterator[tuple[object, list[str], list[float]]]:
    """Yield ``decoded``'s ``(meta, texts, confidences)`` groups, rows below the spec's
    ``second_pass_below`` replaced by their more confident reading (see the module docstring).

    A row whose raw input no longer decodes keeps its first reading (it decoded the first time,
    so this only happens if the input changed in between).
    """
    below = spec.decoding.second_pass_below
    for meta, texts, confs in decoded:
        low = [k for k, c in enumerate(confs) if c < below] if below else []
        if low:
            texts, confs = list(texts), list(confs)
            images, rows = [], []
            for k, data in zip(low, raw(meta, low)):
                try:
                    images.append(preprocess_image(data, spec,
                                                   contrast=spec.decoding.second_pass_contrast))
                    rows.append(k)
                except ImageError:
                    continue
            if rows:
                second = list(zip(*reread(images)))
                first = [(texts[k], confs[k]) for k in rows]
                for k, (text, conf) in zip(rows, keep_more_confident(first, second)):
                    texts[k], confs[k] = text, conf
        yield meta, texts, confs


def reread_with(infer_decoded: Callable, backend, batch: int) -> Reread:
    """A :data:`Reread` running ``infer_decoded(backend, pairs, batch)`` (not pipelined) over
    the images, ``batch`` at a time for a fixed-width spec (stacked) or as one width-grouped
    list for a dynamic-width one."""
    def run(images: list) -> tuple[list[str], list[float]]:
        if backend.spec.dynamic_width:
            pairs = [(None, images)]
        else:
            pairs = [(None, np.stack(images[s:s + batch])) for s in range(0, len(images), batch)]
        texts, confs = [], []
        for _, t, c in infer_decoded(backend, pairs, batch):
            texts += t
            confs += c
        return texts, confs

    return run


def sample_bytes(source: str | Path | GtSet, indices: Sequence[int]) -> list[bytes]:
    """The encoded images of fused-path samples ``indices`` (from 1) read again: from the
    clovaai LMDB at ``source`` (not open in this process: py-lmdb opens an environment once per
    process; the worker-process feeder's case), or the files of a :class:`pipeline.gt_set.GtSet` (bounded read).
    Raises ImageError/OSError/SampleError as the first read did."""
    if isinstance(source, GtSet):
        return [read_image_file(Path(source.root, source.samples[i - 1][1])) for i in indices]
    env = open_lmdb(source)
    try:
        with env.begin(buffers=False) as txn:
            return [read_sample(txn, i)[0] for i in indices]
    finally:
        env.close()
