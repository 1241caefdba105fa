"""The fused evaluation path: LMDB -> preprocess (workers) -> engine -> greedy CTC -> metrics.

Same transform, engine runner, decoder and metrics as the staged path (``crnn-preprocess
lmdb-to-bin`` + ``crnn-infer`` + ``crnn-postprocess``), so the predictions are the same, but no
file is written in between and preprocessing of the next batches overlaps with inference.
"""
from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from common.errors import UserError
from pipeline.feeder import Chunk, preprocess_chunks
from postprocess.ctc import greedy_decode
from postprocess.metrics import score_samples
from preprocess.lmdb_io import open_lmdb, read_num_samples
from runtime.base import Backend
from runtime.batching import pad_batch
from runtime.runner import resolve_batch, warm_up
from runtime.stats import latency_summary, throughput

#: Bad samples listed one by one in the result.
MAX_REPORTED = 20


@dataclass
class EvalResult:
    """What :func:`evaluate` measured.

    ``samples``: (name ``test_{i}.bin``, label, prediction) per good sample, in LMDB order;
    ``metrics``: :func:`postprocess.metrics.compute_metrics` of them; ``errors``: the wrong
    ones; ``skipped`` / ``skipped_keys``: bad samples; ``wall_s``: seconds from the first read
    to the last decode (backend loading and warm-up excluded); ``summary``: the engine timing
    (ms per batch, engine-only images/s) as in crnn-infer's summary.json.
    """

    samples: list[tuple[str, str, str]]
    metrics: dict
    errors: list[tuple[str, str, str]]
    skipped: int
    skipped_keys: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    summary: dict = field(default_factory=dict)

    @property
    def images_per_s(self) -> float:
        """End-to-end throughput: scored images per wall-clock second (decode to metrics)."""
        return len(self.samples) / self.wall_s if self.wall_s > 0 else 0.0


def _count(lmdb_path: str | Path) -> int:
    env = open_lmdb(lmdb_path)
    try:
        return read_num_samples(env, lmdb_path)
    finally:
        env.close()


def evaluate(lmdb_path: str | Path, backend: Backend, batch: int | None = None,
             workers: int | None = None, limit: int | None = None, strict: bool = False,
             pipelined: bool = False, warmup: int = 1,
             progress: Callable[[int], None] | None = None) -> EvalResult:
    """Score ``backend`` on a clovaai LMDB without intermediate files.

    Args:
        lmdb_path: LMDB with ``num-samples``, ``image-%09d``, ``label-%09d`` (1-based).
        backend: an engine runner (loaded here if needed); its spec gives the transform.
        batch: batch size (a static engine's own batch; default 16 for a dynamic one).
        workers: preprocessing processes (default: CPU count - 1, at least 1; 0 = inline).
        limit: score only the first ``limit`` samples.
        strict: fail on the first bad sample instead of skipping it.
        pipelined: run batches through ``backend.infer_many`` (OpenVINO async requests).
        progress: called with the number of images done after each batch.

    Raises:
        UserError: not an LMDB, a bad sample with ``strict``, or no good sample at all.
    """
    batch = resolve_batch(backend, batch)
    spec = backend.spec
    n = _count(lmdb_path)
    if limit is not None:
        n = min(n, limit)
    if workers is None:
        workers = max(1, (os.cpu_count() or 2) - 1)
    warm_up(backend, batch, warmup, pipelined)

    pending: deque[Chunk] = deque()
    skipped, skipped_keys = 0, []
    samples: list[tuple[str, str, str]] = []
    latencies: list[float] = []

    def batches() -> Iterator[np.ndarray]:
        nonlocal skipped
        tasks = ((s, min(s + batch, n + 1)) for s in range(1, n + 1, batch))
        for chunk in preprocess_chunks(str(lmdb_path), spec, tasks, workers):
            if chunk.bad:
                if strict:
                    key, reason = chunk.bad[0]
                    raise UserError(f"{lmdb_path}: {key}: {reason}")
                skipped += len(chunk.bad)
                skipped_keys.extend(k for k, _ in chunk.bad[:MAX_REPORTED - len(skipped_keys)])
            if chunk.indices:
                pending.append(chunk)
                yield pad_batch(chunk.images, batch)

    run = backend.infer_many if pipelined else lambda xs: (backend.infer(x) for x in xs)
    start = time.perf_counter()
    for y in run(batches()):
        chunk = pending.popleft()
        latencies.append(backend.last_latency_ms)
        texts = greedy_decode(y[:, :len(chunk.indices)], spec.alphabet, batch_axis=1)
        samples.extend((f"test_{i}.bin", label, text)
                       for i, label, text in zip(chunk.indices, chunk.labels, texts))
        if progress:
            progress(len(chunk.indices))
    wall = time.perf_counter() - start
    if not samples:
        raise UserError(f"{lmdb_path}: no sample could be scored ({skipped} bad)")
    metrics, errors = score_samples(samples)
    summary = {"backend": backend.name, "engine": str(backend.engine), "batch_size": batch,
               "count": len(samples), "throughput": throughput(len(samples), backend.busy_s),
               "latency_ms": latency_summary(latencies), "compute_s": round(backend.busy_s, 6),
               "wall_s": round(wall, 6), "workers": workers, "pipelined": pipelined}
    return EvalResult(samples, metrics, errors, skipped, skipped_keys, wall, summary)
