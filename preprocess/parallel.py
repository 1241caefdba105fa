"""Parallel, ordered, memory-bounded preprocessing of LMDB index ranges.

Shared by ``crnn-preprocess lmdb-to-bin`` (workers write .bin files) and the fused
``crnn-eval`` path (workers return arrays). A task is an index range [start, stop) of the LMDB;
at most ``2 * workers`` tasks are in flight, so memory does not depend on the LMDB size, and
each worker reopens its read-only LMDB handle every :data:`REMAP_BYTES` so the pages it touched
are unmapped (otherwise its resident memory grows with the LMDB).
"""
from __future__ import annotations

import multiprocessing as mp
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from crnn_deploy.models.specs import ModelSpec
from crnn_deploy.preprocess.lmdb_io import SampleError, image_key, open_lmdb, read_sample
from crnn_deploy.preprocess.transform import ImageError, preprocess_image

if TYPE_CHECKING:
    import numpy as np

#: A worker reopens the LMDB after reading this many image bytes.
REMAP_BYTES = 64 << 20

# (index, label, tensor (C, H, W) float32, None) of a good sample, or (index, label or None,
# key, reason) of a bad one (the label when it was read: an undecodable image of a labeled LMDB)
Sample = tuple[int, "str | None", "np.ndarray | str", "str | None"]


class SampleTransformer:
    """Per-process reader: LMDB samples -> the spec's input tensors (training transform;
    ``contrast``: contrast-stretched to that target, the spec's second pass,
    :func:`preprocess.transform.preprocess_image`)."""

    def __init__(self, lmdb_path: str, spec: ModelSpec, contrast: float | None = None):
        self.lmdb_path, self.spec, self.contrast = lmdb_path, spec, contrast
        self.env = open_lmdb(lmdb_path)
        self.read = 0

    def transform(self, start: int, stop: int) -> Iterator[Sample]:
        """Yield ``(i, label, x, None)`` for good samples (x float32 (C, H, W)) and
        ``(i, label, key, reason)`` for bad ones (missing key, bad label: ``label`` None;
        undecodable image: the sample's label, None in an unlabeled LMDB)."""
        return self.transform_at(range(start, stop))

    def transform_at(self, indices: Iterable[int]) -> Iterator[Sample]:
        """:meth:`transform` of the samples ``indices`` (from 1), in that order."""
        if self.read > REMAP_BYTES:
            self.env.close()
            self.env, self.read = open_lmdb(self.lmdb_path), 0
        with self.env.begin(buffers=False) as txn:
            for i in indices:
                try:
                    data, label = read_sample(txn, i)
                except SampleError as err:
                    yield i, None, err.key, err.reason
                    continue
                self.read += len(data)
                try:
                    x = preprocess_image(data, self.spec, contrast=self.contrast)
                except ImageError as err:
                    yield i, label, image_key(i), str(err)
                    continue
                yield i, label, x, None

    def close(self) -> None:
        self.env.close()


def ordered_map(task: Callable, tasks: Iterable, workers: int, inline: bool,
                initializer: Callable, initargs: tuple, preload: str | None = None) -> Iterator:
    """``task(t)`` for each of ``tasks``, results in order.

    ``inline``: run in the calling process (``initializer`` called once there). Otherwise a
    pool of ``workers`` processes (forkserver where available, ``preload`` imported by it) with
    at most ``2 * workers`` tasks in flight. ``initializer`` must not raise: a failing pool
    initializer makes multiprocessing respawn workers forever; keep the error for ``task``.
    """
    if inline:
        initializer(*initargs)
        yield from map(task, tasks)
        return
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver" and preload:
        ctx.set_forkserver_preload([preload])
    with ctx.Pool(workers, initializer=initializer, initargs=initargs) as pool:
        it = iter(tasks)
        window = deque(pool.apply_async(task, (t,)) for _, t in zip(range(2 * workers), it))
        while window:
            result = window.popleft().get()
            for t in it:
                window.append(pool.apply_async(task, (t,)))
                break
            yield result
