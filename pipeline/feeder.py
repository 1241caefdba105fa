"""Decode and preprocess images for the fused paths, in order, with bounded memory.

Two feeders, both yielding batches in input order:

* :func:`prepare_batches` (the default of ``crnn-eval`` and ``crnn-recognize``): a thread pool
  in this process. Pillow releases the GIL while it decodes and resizes, so ``threads`` threads
  use that many cores, with no pickling and no process start-up. ``ahead`` batches are
  prepared while the engine runs (``ahead=0``: the next batch is prepared on all threads only
  between two inference calls, so preprocessing never competes with inference threads).
* :func:`preprocess_chunks`: worker processes over LMDB index ranges (the original
  ``crnn-eval --workers N`` path), through :class:`preprocess.parallel.SampleTransformer`, or
  over a GT file's items (``crnn-eval --gt FILE --workers N``), at most ``2 * workers`` chunks
  in flight; ``workers=0`` works in the calling thread. Both feeders report a bad sample
  with its label, so an unreadable labeled image counts against the score either way.
"""
from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import ModelSpec
from crnn_deploy.pipeline.sample_source import load_item
from crnn_deploy.preprocess.lmdb_io import read_source
from crnn_deploy.preprocess.parallel import SampleTransformer, ordered_map
from crnn_deploy.preprocess.transform import ImageError, preprocess_image


@dataclass
class Chunk:
    """Preprocessed samples of one task (process feeder).

    ``images``: float32 (n, C, H, W) of the good samples; ``indices``, ``labels`` and
    ``sources``: theirs (1-based LMDB index or GT sample number, label as stored or None when
    the LMDB is unlabeled, ``path-%09d`` or the image key, or the GT file's relpath); ``bad``:
    ``(key, reason, label, source)`` of the samples that failed (``label`` None when it was not
    read or the input is unlabeled; a labeled one counts against the score).
    """

    indices: list[int]
    labels: list[str | None]
    images: np.ndarray
    bad: list[tuple[str, str, str | None, str | None]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


_STATE: dict = {}


def _init(lmdb_path: str | None, spec: ModelSpec) -> None:
    _STATE.update(path=lmdb_path, spec=spec, samples=None)


def _gt_task(items: list, chunk: Chunk) -> list:
    """A GT file's items (:meth:`pipeline.gt_set.GtSet.groups`): the files read and
    preprocessed here, as the thread feeder does (same reasons for a bad one)."""
    images = []
    for item, (x, why) in zip(items, _transform_slice(items, load_item, _STATE["spec"])):
        if x is None:
            chunk.bad.append((item[2], why, item[1], item[2]))
        else:
            chunk.indices.append(item[0])
            chunk.labels.append(item[1])
            chunk.sources.append(item[2])
            images.append(x)
    return images


def _lmdb_task(bounds: tuple[int, int], chunk: Chunk) -> list:
    if _STATE["samples"] is None:  # opened lazily: an initializer must not raise
        _STATE["samples"] = SampleTransformer(_STATE["path"], _STATE["spec"])
    images, bad = [], []
    for i, label, x, reason in _STATE["samples"].transform(*bounds):
        if reason is not None:
            bad.append((i, x, reason, label))
        else:
            chunk.indices.append(i)
            chunk.labels.append(label)
            images.append(x)
    with _STATE["samples"].env.begin(buffers=False) as txn:
        chunk.sources = [read_source(txn, i) for i in chunk.indices]
        chunk.bad = [(key, reason, label, read_source(txn, i) if label is not None else None)
                     for i, key, reason, label in bad]
    return images


def _task(task: tuple[int, int] | list) -> Chunk:
    chunk = Chunk([], [], np.zeros((0, *_STATE["spec"].input_shape), np.float32))
    images = _gt_task(task, chunk) if isinstance(task, list) else _lmdb_task(task, chunk)
    if images:
        chunk.images = images if _STATE["spec"].dynamic_width else np.stack(images)
    return chunk


def preprocess_chunks(lmdb_path: str | None, spec: ModelSpec, tasks: Iterable[tuple[int, int] | list],
                      workers: int) -> Iterator[Chunk]:
    """Yield one :class:`Chunk` per task, in task order; ``2 * workers`` tasks in flight.

    A task is an index range ``(start, stop)`` of the LMDB ``lmdb_path``, or a list of a GT
    file's items (``lmdb_path`` None; :meth:`pipeline.gt_set.GtSet.groups`), whose files the
    workers read.
    """
    try:
        yield from ordered_map(_task, tasks, workers, workers <= 0, _init,
                               (None if lmdb_path is None else str(lmdb_path), spec),
                               preload="crnn_deploy.pipeline.feeder")
    finally:
        if _STATE.get("samples") is not None:  # inline run
            _STATE["samples"].close()
        _STATE.clear()


# --- thread feeder ---------------------------------------------------------------------------

#: Engine batches per group for a dynamic-width spec: a group is grouped by width into engine
#: batches (``runtime.widths.plan_widths``), so it holds several batches' worth of images.
WIDTH_WINDOW = 8


def group_size(spec: ModelSpec, batch: int) -> int:
    """Images per feeder group: ``batch``, or ``WIDTH_WINDOW * batch`` for a dynamic width."""
    return batch * WIDTH_WINDOW if spec.dynamic_width else batch


@dataclass
class Batch:
    """One prepared batch (thread feeder): ``items`` the good input items in order, ``images``
    their float32 (n, C, H, W) tensors (a dynamic-width spec: a list of (C, H, W_i) arrays, each
    at its bucket width), ``bad`` (item, reason) of those that failed."""

    items: list
    images: np.ndarray | list
    bad: list[tuple[object, str]] = field(default_factory=list)




def _transform_slice(items: list, load: Callable[[object], object], spec: ModelSpec) -> list:
    out = []
    for item in items:
        try:
            data = load(item)
            x = data if isinstance(data, np.ndarray) else preprocess_image(data, spec)
            out.append((x, None))
        except (ImageError, UserError) as exc:
            out.append((None, str(exc)))
        except OSError as exc:
            out.append((None, f"cannot read: {exc.strerror or exc}"))
    return out


def _lower_priority(nice: int) -> None:
    """Pool-thread initializer: raise this thread's nice value by ``nice`` (Linux: per thread).

    A niced preprocessing thread gets a core only when the engine's threads leave it idle, so
    preparing the next batch never slows an inference call down. Where the OS refuses or has
    no per-thread priorities, the thread keeps its priority.
    """
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except (AttributeError, OSError):
        pass


def prepare_batches(groups: Iterable[list], spec: ModelSpec, load: Callable[[object], object],
                    threads: int = 2, ahead: int = 1, nice: int = 0,
                    slice_size: int = 4, weight: Callable[[object], int] | None = None,
                    ) -> Iterator[Batch]:
    """Turn groups of input items into :class:`Batch` es with a pool of ``threads`` threads.

    Args:
        groups: lists of items (at most one engine batch each), pulled lazily in this thread.
        spec: the model spec: the transform of :func:`preprocess.transform.preprocess_image`.
        load: item -> encoded image bytes, a PIL image, or a float32 (C, H, W) tensor; called
            in a pool thread. ``ImageError``, ``UserError`` and ``OSError`` mark the item bad
            (reason = the message); other exceptions propagate.
        threads: pool threads (0: everything is done in the consuming thread, between calls).
        ahead: groups prepared beyond the one being consumed (0: a group is only started when
            the consumer asks for it, i.e. between two inference calls).
        nice: added to the pool threads' nice value (0..19; Linux per-thread priority), so
            that they use only the cycles the engine leaves idle.
        slice_size: items per pool task. When the consumer needs a group that is not ready,
            it runs the group's tasks no pool thread has started yet itself (at its own
            priority), last first, then waits for the running ones.
        weight: item -> its expected cost (e.g. encoded size); when given, a group's items
            are handed out heaviest first, so the threads finish a group together.

    Yields:
        one Batch per group, in group order (items keep their order inside a group).
    """
    # (a dynamic-width spec's groups are larger than a batch: :func:`group_size`)
    threads, slice_size = max(0, int(threads)), max(1, int(slice_size))
    c, h, w = spec.input_shape

    def submit(pool: ThreadPoolExecutor | None, group: list) -> tuple[list, list]:
        order = list(range(len(group)))
        if weight is not None:
            order.sort(key=lambda k: -weight(group[k]))
        tasks = []
        for s in range(0, len(order), slice_size):
            ks = order[s:s + slice_size]
            sl = [group[k] for k in ks]
            f = pool.submit(_transform_slice, sl, load, spec) if pool is not None else None
            tasks.append((f, sl, ks))
        return group, tasks

    def collect(tasks: list) -> list:
        results: list = [None] * sum(len(ks) for _, _, ks in tasks)
        for f, sl, ks in reversed(tasks):  # not started yet: do it here, last first
            if f is None or f.cancel():
                for k, r in zip(ks, _transform_slice(sl, load, spec)):
                    results[k] = r
        for f, _, ks in tasks:
            if f is not None and not f.cancelled():
                for k, r in zip(ks, f.result()):
                    results[k] = r
        return results

    pool = None
    if threads:
        pool = ThreadPoolExecutor(threads, thread_name_prefix="crnn-prep",
                                  initializer=_lower_priority if nice > 0 else None,
                                  initargs=(nice,) if nice > 0 else ())
    it = iter(groups)
    window: deque = deque()
    try:
        while True:
            while len(window) <= (ahead if pool is not None else 0):
                group = next(it, None)
                if group is None:
                    break
                window.append(submit(pool, group))
            if not window:
                return
            group, tasks = window.popleft()
            results = collect(tasks)
            good = [(item, x) for item, (x, _) in zip(group, results) if x is not None]
            if spec.dynamic_width:  # each at its own bucket width; fused.infer_decoded batches them
                images = [x for _, x in good]
            else:
                images = np.empty((len(good), c, h, w), np.float32)
                for k, (_, x) in enumerate(good):
                    images[k] = x
            yield Batch([item for item, _ in good], images,
                        [(item, why) for item, (x, why) in zip(group, results) if x is None])
    finally:
        for _, tasks in window:
            for f, _, _ in tasks:
                if f is not None:
                    f.cancel()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
