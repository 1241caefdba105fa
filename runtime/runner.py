"""Run a backend over input files or in a loop, and summarize the timings.

Both modes time only the bare inference calls (``Backend.busy_s``); warm-up runs are excluded.
With ``pipelined=True`` batches go through :meth:`Backend.infer_many` (OpenVINO's
AsyncInferQueue keeps several requests in flight), otherwise one :meth:`Backend.infer` at a time.
"""
from __future__ import annotations

import contextlib
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from crnn_deploy.common.engine_output import EngineOutputError, check_engine_output
from crnn_deploy.common.errors import UserError
from crnn_deploy.runtime import batching, widths
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.batch_default import default_batch
from crnn_deploy.runtime.stats import latency_summary, throughput


def resolve_batch(backend: Backend, requested: int | None) -> int:
    """The batch to run: the engine's static batch, else ``requested``, else
    :func:`runtime.batch_default.default_batch` of the spec's input on the backend's device
    (CPU: the batch whose input fits in half of a core's L2, e.g. 2 for PP-OCRv4 and 16 for
    english_g2 and nano-ocr on a 1 MiB L2; 16 on a GPU).

    Raises:
        UserError: ``requested`` contradicts the engine's static batch, or exceeds
            :data:`runtime.batching.MAX_BATCH` (a memory bound) on a dynamic engine.
    """
    if requested is not None and requested > batching.MAX_BATCH:
        raise UserError(f"--batchsize {requested} is above the limit of {batching.MAX_BATCH} "
                        "(about 1 MB of engine memory per image; larger batches do not run "
                        "faster on CPU): use a smaller batch")
    backend.load()
    if backend.batch_size is not None:
        if requested is not None and requested != backend.batch_size:
            raise UserError(f"engine {backend.engine} has a static batch of {backend.batch_size}; "
                            f"--batchsize {requested} contradicts it (omit --batchsize)")
        return backend.batch_size
    return requested or default_batch(backend.spec.input_shape, backend.device)


def expected_output(backend: Backend, n: int) -> tuple[int | None, ...]:
    """The (T, N, C) shape ``backend`` must return for a batch of ``n`` (from its spec; T is
    not fixed (None) for a dynamic-width spec: its ``seq_len`` is 0 or T at the smallest width)."""
    spec = backend.spec
    return (None if spec.dynamic_width else spec.seq_len or None, n, spec.num_classes)


def run_batches(backend: Backend, batches: Iterable[np.ndarray], pipelined: bool = False,
                what: str = "batch") -> Iterator[np.ndarray]:
    """Outputs of ``batches`` in order: ``backend.infer`` one by one, or (``pipelined``)
    ``backend.infer_many`` (OpenVINO async requests, engine streams).

    Every output is checked before it is yielded (:func:`common.engine_output.
    check_engine_output`: (T, N, C) of the spec, finite values), so no path decodes or writes
    an engine's NaN, inf or wrong shape.

    Raises:
        EngineOutputError: naming the engine and ``what`` k (k = 1, 2, ... in this call).
    """
    sizes: deque[int] = deque()

    def counted() -> Iterator[np.ndarray]:
        for x in batches:
            sizes.append(len(x))
            yield x

    outs = backend.infer_many(counted()) if pipelined else (backend.infer(x) for x in counted())
    for k, y in enumerate(outs, 1):
        n = sizes.popleft()
        try:
            check_engine_output(y, expected_output(backend, n), f"{backend.engine}: {what} {k}")
        except EngineOutputError as exc:
            exc.batch = k
            raise
        yield y


def warm_up(backend: Backend, batch: int, runs: int, pipelined: bool = False) -> None:
    """Run ``runs`` zero batches (compiles per-shape engines, fills caches), then reset timing.
    An engine of static widths (``backend.widths``) warms up at the smallest of them. Engine
    streams (:class:`pipeline.streams.Streams`) run at least one batch each, and where a short
    batch runs fewer rows (``batch_rows(1, batch) < batch``) one short batch each as well, so
    no model is compiled inside the timed run (OpenVINO: 1 to 2 s per compile, issue 28)."""
    backend.batch_rows(batch, batch)  # the full batch (OpenVINO compiles it at a static batch)
    if runs > 0:
        c, h, w = backend.spec.input_shape
        x = np.zeros((batch, c, h, min(backend.widths) if backend.widths else w), dtype=np.float32)
        rows = backend.batch_rows(1, batch)
        # pipeline.streams: each copy's first calls one after another, so that no two copies
        # compile a shape at the same time (a concurrent first call of two OpenVINO copies hung
        # once in a bf16 english_g2 run, issue 28); then the pipelined runs
        for member in getattr(backend, "members", ()):
            member.infer(x)
            if rows < batch:  # a short batch's model too (OpenVINO: the dynamic-batch one)
                member.infer(x[:rows])
        xs = [x] * runs + ([x[:rows]] if rows < batch else [])
        for _ in run_batches(backend, iter(xs), pipelined, "warm-up batch"):
            pass
    backend.reset_timing()


def _summary(backend: Backend, batch: int, count: int, latencies: list[float],
             wall_s: float, **extra) -> dict:
    return {
        "backend": backend.name,
        "device": backend.device,
        "engine": str(backend.engine),
        "batch_size": batch,
        "count": count,
        "batches": len(latencies),
        "throughput": throughput(count, backend.busy_s),
        "latency_ms": latency_summary(latencies),
        "compute_s": round(backend.busy_s, 6),
        "wall_s": round(wall_s, 6),
        "options": {k: v for k, v in backend.options.items() if v is not None},
        **({"nireq": backend.jobs} if extra.get("pipelined") and getattr(backend, "jobs", 0) else {}),
        **extra,
    }


def _write_outputs(group: Sequence[Path], y: np.ndarray, outdir: Path, outfmt: str,
                   axis: int) -> None:
    for f, out in zip(group, batching.split_outputs(y, len(group), axis)):
        batching.write_array(batching.output_path(outdir, f.stem, outfmt), out, outfmt)


def run_files(backend: Backend, files: Sequence[Path], batch: int, outdir: Path,
              outfmt: str = "BIN", axis: int = 1, pipelined: bool = False, warmup: int = 1,
              progress: Callable[[int], None] | None = None) -> dict:
    """Infer ``files`` (validated float32 (1, C, H, W) .bin) in batches of ``batch``.

    ``.npy`` files (a dynamic-width spec: (1, C, H, W_i) each) run in batches of one width
    (:func:`runtime.widths.plan_widths`, ``bucket``); their outputs are (T_i, 1, C).

    Writes ``outdir/{stem}_0.bin|.npy`` per file (float32 (T, 1, C) for ``axis=1``,
    (1, T, C) for ``axis=0``); a short batch is zero-padded to ``batch`` rows (unless the
    engine runs any batch as it is: :meth:`runtime.base.Backend.batch_rows`) and its padding
    outputs dropped.
    ``progress(n)`` is called with the number of images done per batch. Reading (one batch
    ahead) and writing (a writer thread) overlap with inference.

    Returns:
        the summary dict (``count`` = number of files; throughput in images/s over the bare
        inference time; per-batch latency in ms; ``wall_s`` covers reading, inference, writing).
    """
    spec = backend.spec
    rows = backend.batch_rows  # zero rows up to the batch only where the engine needs them
    if files and files[0].suffix == ".npy":  # dynamic width: batches of one width each
        fitted = [widths.fit_width(w, backend.widths) for w in widths.check_npy(files, spec)]
        plans = widths.plan_widths(fitted, batch, "bucket")
        groups = [[files[k] for k in pos] for pos, _ in plans]
        batches = (widths.read_npy_batch(g, w, rows(len(g), batch), spec)
                   for g, (_, w) in zip(groups, plans))
    else:
        groups = batching.chunk(list(files), batch)
        batches = (batching.read_batch(g, spec, rows(len(g), batch)) for g in groups)
    outdir.mkdir(parents=True, exist_ok=True)
    warm_up(backend, batch, warmup, pipelined)
    latencies: list[float] = []
    writes: deque[Future] = deque()
    start = time.perf_counter()
    reads = batching.prefetch(batches)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="crnn-write") as writer, \
            _naming(groups):
        for group, y in zip(groups, run_batches(backend, reads, pipelined)):
            latencies.append(backend.last_latency_ms)
            writes.append(writer.submit(_write_outputs, group, y, outdir, outfmt, axis))
            while writes and (writes[0].done() or len(writes) > 8):
                writes.popleft().result()  # re-raises a failed write
            if progress:
                progress(len(group))
        for w in writes:
            w.result()
    wall = time.perf_counter() - start
    padded = sum(rows(len(g), batch) for g in groups) - len(files)
    return _summary(backend, batch, len(files), latencies, wall, mode="files", warmup=warmup,
                    padded=padded, pipelined=pipelined)


@contextlib.contextmanager
def _naming(groups: Sequence[Sequence[Path]]):
    """Add the input files of the batch to an EngineOutputError (batch k = groups[k - 1])."""
    try:
        yield
    except EngineOutputError as exc:
        k = exc.batch or 0
        group = groups[k - 1] if 0 < k <= len(groups) else []
        named = [group[r].name for r in exc.rows if r < len(group)][:5]
        files = f" (input {', '.join(named)})" if named else \
            (f" (inputs {group[0].name} .. {group[-1].name})" if group else "")
        raise EngineOutputError(exc.message + files + "; no output written", exc.rows) from None


def loop_data(spec_shape: tuple, batch: int, kind: str = "zero", seed: int = 0) -> np.ndarray:
    """The loop-mode input: float32 (batch, C, H, W) zeros or uniform [-1, 1] (``random``)."""
    if kind == "zero":
        return np.zeros((batch, *spec_shape), dtype=np.float32)
    if kind == "random":
        rng = np.random.default_rng(seed)
        return rng.uniform(-1.0, 1.0, size=(batch, *spec_shape)).astype(np.float32)
    raise UserError(f"unknown pure data type {kind!r}; use zero or random")


def run_loop(backend: Backend, loops: int, batch: int, warmup: int = 1, data: str = "zero",
             pipelined: bool = False, progress: Callable[[int], None] | None = None) -> dict:
    """ais_bench's pure-throughput mode: ``loops`` runs of one batch, after ``warmup`` runs.

    Returns the same summary as :func:`run_files` with ``count = loops * batch``.
    """
    x = loop_data(backend.spec.input_shape, batch, data)
    warm_up(backend, batch, warmup, pipelined)
    latencies: list[float] = []
    start = time.perf_counter()
    for _ in run_batches(backend, (x for _ in range(loops)), pipelined):
        latencies.append(backend.last_latency_ms)
        if progress:
            progress(batch)
    wall = time.perf_counter() - start
    return _summary(backend, batch, loops * batch, latencies, wall, mode="loop", warmup=warmup,
                    pure_data_type=data, pipelined=pipelined)
