"""Decode and preprocess LMDB samples in worker processes, in order, with bounded memory.

Each task is an index range [start, stop) of the LMDB; a worker reads those samples (its own
read-only LMDB handle), applies :func:`preprocess.transform.preprocess_image` and returns a
:class:`Chunk`: the good samples stacked as float32 (n, C, H, W) plus the bad ones with the
LMDB key and reason. At most ``2 * workers`` chunks are in flight, so memory does not depend on
the LMDB size. ``workers=0`` does the work in the calling thread.
"""
from __future__ import annotations

import multiprocessing as mp
from collections import deque
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from models.specs import ModelSpec
from preprocess.lmdb_io import SampleError, image_key, open_lmdb, read_sample
from preprocess.transform import ImageError, preprocess_image


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
    _STATE.update(env=None, path=lmdb_path, spec=spec)


def _task(bounds: tuple[int, int]) -> Chunk:
    if _STATE["env"] is None:
        _STATE["env"] = open_lmdb(_STATE["path"])
    spec: ModelSpec = _STATE["spec"]
    indices, labels, images, bad = [], [], [], []
    with _STATE["env"].begin(buffers=False) as txn:
        for i in range(*bounds):
            try:
                data, label = read_sample(txn, i)
                images.append(preprocess_image(data, spec))
            except SampleError as err:
                bad.append((err.key, err.reason))
                continue
            except ImageError as err:
                bad.append((image_key(i), str(err)))
                continue
            indices.append(i)
            labels.append(label)
    array = np.stack(images) if images else np.zeros((0, *spec.input_shape), np.float32)
    return Chunk(indices, labels, array, bad)


def preprocess_chunks(lmdb_path: str, spec: ModelSpec, tasks: Iterable[tuple[int, int]],
                      workers: int) -> Iterator[Chunk]:
    """Yield one :class:`Chunk` per task, in task order; ``2 * workers`` tasks in flight."""
    if workers <= 0:
        _init(lmdb_path, spec)
        try:
            yield from map(_task, tasks)
        finally:
            if _STATE.get("env") is not None:
                _STATE["env"].close()
            _STATE.clear()
        return
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    with ctx.Pool(workers, initializer=_init, initargs=(str(lmdb_path), spec)) as pool:
        it = iter(tasks)
        window = deque(pool.apply_async(_task, (t,)) for _, t in zip(range(2 * workers), it))
        while window:
            chunk = window.popleft().get()
            for t in it:
                window.append(pool.apply_async(_task, (t,)))
                break
            yield chunk
