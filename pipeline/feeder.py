"""Decode and preprocess LMDB samples in worker processes, in order, with bounded memory.

Each task is an index range [start, stop) of the LMDB; a worker turns it into a :class:`Chunk`
through :class:`preprocess.parallel.SampleTransformer` (the training transform, an LMDB handle
reopened as it reads) and :func:`preprocess.parallel.ordered_map` keeps at most
``2 * workers`` chunks in flight. ``workers=0`` does the work in the calling thread.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from models.specs import ModelSpec
from preprocess.parallel import SampleTransformer, ordered_map


@dataclass
class Chunk:
    """Preprocessed samples of one index range.

    ``images``: float32 (n, C, H, W) of the good samples; ``indices`` and ``labels``: theirs
    (1-based LMDB index, label as stored); ``bad``: (key, reason) of skipped samples.
    """

    indices: list[int]
    labels: list[str]
    images: np.ndarray
    bad: list[tuple[str, str]] = field(default_factory=list)


_STATE: dict = {}


def _init(lmdb_path: str, spec: ModelSpec) -> None:
    _STATE.update(path=lmdb_path, spec=spec, samples=None)


def _task(bounds: tuple[int, int]) -> Chunk:
    if _STATE["samples"] is None:  # opened lazily: an initializer must not raise
        _STATE["samples"] = SampleTransformer(_STATE["path"], _STATE["spec"])
    chunk = Chunk([], [], np.zeros((0, *_STATE["spec"].input_shape), np.float32))
    images = []
    for i, label, x, reason in _STATE["samples"].transform(*bounds):
        if label is None:
            chunk.bad.append((x, reason))
        else:
            chunk.indices.append(i)
            chunk.labels.append(label)
            images.append(x)
    if images:
        chunk.images = np.stack(images)
    return chunk


def preprocess_chunks(lmdb_path: str, spec: ModelSpec, tasks: Iterable[tuple[int, int]],
                      workers: int) -> Iterator[Chunk]:
    """Yield one :class:`Chunk` per task, in task order; ``2 * workers`` tasks in flight."""
    try:
        yield from ordered_map(_task, tasks, workers, workers <= 0, _init, (str(lmdb_path), spec),
                               preload="pipeline.feeder")
    finally:
        if _STATE.get("samples") is not None:  # inline run
            _STATE["samples"].close()
        _STATE.clear()
