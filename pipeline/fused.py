"""The fused path: LMDB -> preprocess -> engine -> greedy CTC -> predictions (+ metrics).

Same transform, engine runner and decoder as the staged path (``crnn-preprocess lmdb-to-bin``
+ ``crnn-infer`` + ``crnn-postprocess``), so the predictions are the same, but no file is
written in between and preprocessing of the next batch overlaps with inference. Labels are
optional: an unlabeled LMDB (no ``label-%09d`` key) gives predictions and no metrics.
"""
from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.feeder import group_size, prepare_batches, preprocess_chunks
from crnn_deploy.pipeline.gt_set import GtSet
from crnn_deploy.pipeline.sample_source import item_size, lmdb_groups, lmdb_info, load_item
from crnn_deploy.pipeline.second_pass import reread_low_confidence, reread_with, sample_bytes
from crnn_deploy.postprocess.ctc import decode_batch
from crnn_deploy.postprocess.metrics import score_samples
from crnn_deploy.preprocess.lmdb_io import (
    image_key,
)
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.batching import pad_batch
from crnn_deploy.runtime.runner import resolve_batch, run_batches, warm_up
from crnn_deploy.runtime.stats import latency_summary, throughput
from crnn_deploy.runtime.widths import fit_columns, fit_width, plan_widths

#: Bad samples listed one by one in the result.
MAX_REPORTED = 20


@dataclass
class EvalResult:
    """What :func:`evaluate` measured.

    ``predictions``: (file ``test_{i}.bin``, source, text, confidence) per good sample, in LMDB
    order (source: ``path-%09d``, else the key ``image-%09d``; a GT file's relpath;
    confidence in [0, 1]); ``samples``: (source, label, text, confidence) per good sample when
    the input is labeled, else empty; ``unreadable``: (source, label, reason) of the labeled
    samples whose image could not be read or decoded (scored as wrong);
    ``metrics``: :func:`postprocess.metrics.score_samples` of both (None when unlabeled);
    ``errors``: the rows of errors.tsv; ``skipped`` / ``skipped_keys``: bad samples; ``wall_s``:
    seconds from the first read to the last decode (backend loading and warm-up excluded);
    ``summary``: the engine timing (ms per batch, engine-only images/s) as in crnn-infer's
    summary.json.
    """

    samples: list[tuple[str, str, str]]
    metrics: dict | None
    errors: list[tuple[str, str, str]]
    skipped: int
    skipped_keys: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    summary: dict = field(default_factory=dict)
    predictions: list[tuple[str, str, str, float]] = field(default_factory=list)
    unreadable: list[tuple[str, str, str]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # ms per batch (engine call)

    @property
    def labeled(self) -> bool:
        """True when the LMDB had labels (then ``metrics`` is set)."""
        return self.metrics is not None

    @property
    def images_per_s(self) -> float:
        """End-to-end throughput: decoded images per wall-clock second."""
        return len(self.predictions) / self.wall_s if self.wall_s > 0 else 0.0


def _sub_batches(images, batch: int, policy: str, pad: str, widths=None, rows=None
                 ) -> list[tuple[list[int], np.ndarray]]:
    """``(positions, float32 (R, C, H, W))`` engine batches of one feeder group: the group
    as is (fixed width), or grouped by width (:func:`runtime.widths.plan_widths`), each row
    padded on the right with the spec's ``pad`` to its batch's width (to the smallest of the
    engine's ``widths`` that fits, for an engine of static widths). R = ``rows(n, batch)`` for
    n images (:meth:`runtime.base.Backend.batch_rows`; default ``batch``): zero rows below them."""
    rows = rows or (lambda n, b: b)
    if not isinstance(images, list):
        return ([(list(range(len(images))), pad_batch(images, rows(len(images), batch)))]
                if len(images) else [])
    out = []
    for pos, width in plan_widths([fit_width(x.shape[-1], widths) for x in images], batch, policy):
        x = np.zeros((rows(len(pos), batch), *images[pos[0]].shape[:-1], width), np.float32)
        for row, k in enumerate(pos):
            x[row] = fit_columns(images[k], width, pad)
        out.append((pos, x))
    return out


def infer_decoded(backend: Backend, batches: Iterable[tuple[object, np.ndarray | list]], batch: int,
                  pipelined: bool = False, policy: str = "bucket",
                  ) -> Iterator[tuple[object, list[str], list[float]]]:
    """Run ``(meta, images)`` pairs through ``backend`` and greedy-decode them.

    ``images``: float32 (n, C, H, W) with 0 <= n <= ``batch`` (zero-padded to ``batch``
    here unless the engine runs any batch as it is: :meth:`runtime.base.Backend.batch_rows`;
    padding outputs dropped; n = 0 is not run and yields empty lists), or, for a
    dynamic-width spec, a list of (C, H, W_i) arrays of any length, run in engine batches of
    ``batch`` grouped by width (``policy``: :func:`runtime.widths.plan_widths`). Yields
    ``(meta, texts, confidences)`` per pair, rows in the pair's order
    (:func:`postprocess.ctc.decode_batch`: raw greedy text, confidence in [0, 1]).
    ``pipelined`` runs through ``backend.infer_many`` (OpenVINO async requests).
    """
    spec = backend.spec
    pending: deque = deque()  # (meta, sub-batch positions, [texts, confidences, sub-batches done])

    def padded() -> Iterator[np.ndarray]:
        for meta, images in batches:
            subs = _sub_batches(images, batch, policy, spec.pad, backend.widths, backend.batch_rows)
            pending.append((meta, [pos for pos, _ in subs], [[""] * len(images), [0.0] * len(images), 0]))
            for _, x in subs:
                yield x

    for y in run_batches(backend, padded(), pipelined):
        while not pending[0][1]:
            yield pending.popleft()[0], [], []
        meta, subs, done = pending[0]
        pos = subs[done[2]]
        texts, confs = decode_batch(y[:, :len(pos)], spec, 1)
        for p, text, conf in zip(pos, texts, confs):
            done[0][p], done[1][p] = text, conf
        done[2] += 1
        if done[2] == len(subs):
            pending.popleft()
            yield meta, done[0], done[1]
    while pending:  # empty batches after the last real one
        yield pending.popleft()[0], [], []


def evaluate(lmdb_path: str | Path, backend: Backend, batch: int | None = None,
             workers: int | None = None, limit: int | None = None, strict: bool = False,
             pipelined: bool = False, warmup: int = 1,
             progress: Callable[[int], None] | None = None, threads: int | None = None,
             ahead: int = 1, nice: int = 0, slice_size: int = 4,
             balance: bool = True, metric: str = "latin") -> EvalResult:
    """Run ``backend`` on a clovaai LMDB without intermediate files; score it if labeled.

    Args:
        lmdb_path: LMDB with ``num-samples``, ``image-%09d`` and optionally ``label-%09d``
            (none at all: unlabeled, no metrics) and ``path-%09d`` (the source column); or a
            :class:`pipeline.gt_set.GtSet` (a GT file's images, labeled). Either feeder
            counts a labeled sample whose image cannot be read or decoded as wrong.
        backend: an engine runner (loaded here if needed); its spec gives the transform.
        batch: batch size (a static engine's own batch; default for a dynamic one:
            :func:`runtime.batch_default.default_batch`).
        workers: None (default): preprocess with a thread pool of ``threads`` threads in this
            process (:func:`pipeline.feeder.prepare_batches`); an int: worker processes
            instead (0 = inline, the original feeder).
        limit: only the first ``limit`` samples.
        strict: fail on the first bad sample instead of skipping it.
        pipelined: run batches through ``backend.infer_many`` (OpenVINO async requests).
        progress: called with the number of images done after each batch.
        threads: preprocessing threads (default: CPU count).
        ahead: batches prepared while the engine runs (thread feeder; 0 = only between calls).
        nice, slice_size: thread feeder: added to the pool threads' nice value; items per
            pool task (:func:`pipeline.feeder.prepare_batches`).
        balance: thread feeder: hand out a batch's images largest encoded size first.
        metric: how labels are compared (:data:`postprocess.metrics.METRICS`).

    Raises:
        UserError: not an LMDB, a bad sample with ``strict``, or no good sample at all.
    """
    batch = resolve_batch(backend, batch)
    spec = backend.spec
    gt = lmdb_path if isinstance(lmdb_path, GtSet) else None
    n, labeled = (len(gt), True) if gt is not None else lmdb_info(lmdb_path)
    if limit is not None:
        n = min(n, limit)
    threads = threads or os.cpu_count() or 1
    warm_up(backend, batch, warmup, pipelined)

    skipped, skipped_keys = 0, []
    predictions: list[tuple[str, str, str, float]] = []
    unreadable: list[tuple[str, str, str]] = []
    labels: list[str | None] = []
    latencies: list[float] = []

    def bad(key: str, reason: str) -> None:
        nonlocal skipped
        if strict:
            raise UserError(f"{lmdb_path}: {key}: {reason}")
        skipped += 1
        if len(skipped_keys) < MAX_REPORTED:
            skipped_keys.append(key)

    def thread_batches() -> Iterator[tuple[list, np.ndarray]]:
        size = group_size(spec, batch)
        groups = gt.groups(n, size) if gt is not None else lmdb_groups(lmdb_path, n, size)
        try:
            for b in prepare_batches(groups, spec, load_item, threads, ahead, nice,
                                     slice_size, item_size if balance else None):
                for item, why in b.bad:
                    bad(item[4] or (item[2] if gt is not None else image_key(item[0])),
                        item[5] or why)
                    if item[1] is not None:  # labeled: counts against the score
                        unreadable.append((item[2] or image_key(item[0]), item[1],
                                           item[5] or why))
                if b.items:  # the item itself last: the second pass reads it again
                    yield [(it[0], it[1], it[2], it) for it in b.items], b.images
        finally:
            groups.close()  # closes the LMDB now, also when the engine failed

    def process_batches() -> Iterator[tuple[list, np.ndarray]]:
        step = group_size(spec, batch)
        tasks = (gt.groups(n, step) if gt is not None else
                 ((s, min(s + step, n + 1)) for s in range(1, n + 1, step)))
        for chunk in preprocess_chunks(None if gt is not None else str(lmdb_path), spec, tasks,
                                       workers):
            for key, reason, label, src in chunk.bad:
                bad(key, reason)
                if label is not None:  # labeled: counts against the score
                    unreadable.append((src, label, reason))
            rows = list(zip(chunk.indices, chunk.labels, chunk.sources))
            if gt is not None:  # the item last, as in thread_batches: the second pass reads it
                rows = [(i, lab, src, (i, lab, src, Path(gt.root, src), None, None))
                        for i, lab, src in rows]
            if rows:
                yield rows, chunk.images

    source = thread_batches() if workers is None else process_batches()
    start = time.perf_counter()
    try:
        decoded = reread_low_confidence(  # the spec's second pass, if it has one
            infer_decoded(backend, source, batch, pipelined), spec,
            lambda meta, rows: ([load_item(meta[k][3]) for k in rows]
                                if workers is None or gt is not None else
                                sample_bytes(lmdb_path, [meta[k][0] for k in rows])),
            reread_with(infer_decoded, backend, batch))
        for meta, texts, confs in decoded:
            latencies.append(backend.last_latency_ms)
            for (i, label, src, *_), text, conf in zip(meta, texts, confs):
                predictions.append((f"test_{i}.bin", src, text, conf))
                labels.append(label)
            if progress:
                progress(len(meta))
    finally:
        source.close()
    wall = time.perf_counter() - start
    if not predictions:
        raise UserError(f"{lmdb_path}: no sample could be decoded ({skipped} bad"
                        + (f"; first: {skipped_keys[0]}" if skipped_keys else "") + ")")
    samples, metrics, errors = [], None, []
    if labeled:
        samples = [(src, label, text, conf)
                   for (_, src, text, conf), label in zip(predictions, labels)]
        metrics, errors = score_samples(samples, unreadable, metric)
    summary = {"backend": backend.name, "engine": str(backend.engine), "batch_size": batch,
               "count": len(predictions), "throughput": throughput(len(predictions), backend.busy_s),
               "latency_ms": latency_summary(latencies), "compute_s": round(backend.busy_s, 6),
               "wall_s": round(wall, 6), "labeled": labeled, "pipelined": pipelined,
               "streams": len(getattr(backend, "members", ())) or 1,
               "feeder": "threads" if workers is None else "processes",
               "workers": threads if workers is None else workers,
               **({"ahead": ahead, "nice": nice, "slice_size": slice_size, "balance": balance}
                  if workers is None else {})}
    return EvalResult(samples, metrics, errors, skipped, skipped_keys, wall, summary, predictions,
                      unreadable, latencies)
