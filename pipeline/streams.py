"""Engine streams: N copies of one engine, one inference thread each, run on consecutive
batches at the same time (OpenVINO's CPU "streams", for any backend).

Why: a multi-threaded engine (ONNX Runtime ``intra_op_num_threads=2``, OpenVINO with 2
inference threads) splits every operator across its threads and waits for the slowest; when a
preprocessing thread takes one core for a moment, the whole call waits. Single-threaded
streams share nothing: a preempted stream loses only the time taken from it, so decoding the
next batch on the same cores costs about its own CPU time, no more.

    be = open_streams("build/nano-ocr_bs16.onnx", streams=2)   # a Backend
    for y in be.infer_many(batches): ...                        # in order, 4 in flight
"""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.registry import backend_for, open_backend

#: Batches in flight per stream in :meth:`Streams.infer_many`: one running, one queued. With
#: one (the stream that finished waited until the caller had decoded the output before it and
#: read the next batch), PP-OCRv4 bf16 streams sat idle 15 % of a 1,000-word crnn-recognize run;
#: with two, 1.9 of 2 cores stay busy (+4 to +6 % words/s for ONNX Runtime, OpenVINO f32 and
#: bf16, whole processes; AMD EPYC family 25 model 17, 2026-12-08).
DEPTH = 2


class Streams(Backend):
    """``n`` backends of one engine file (each with ``threads=1`` unless given), as one Backend.

    :meth:`infer` runs on the first stream; :meth:`infer_many` hands batch i to stream
    ``i % n`` and keeps up to :data:`DEPTH` ``* n`` batches in flight (each stream running one
    with the next queued), yielding outputs in input order.
    ``busy_s`` is the time during which at least one stream was running.
    """

    def __init__(self, engine: str | Path, streams: int = 2, backend: str | None = None,
                 device: str = "CPU", **options):
        super().__init__(engine, device, **options)
        if streams < 1:
            raise ValueError(f"streams must be >= 1, got {streams}")
        options.setdefault("threads", 1)
        self.members = [open_backend(Path(engine), backend, device=device, **options)
                        for _ in range(streams)]
        self.name = self.members[0].name
        self._pools: list[ThreadPoolExecutor] = []
        self._lock = threading.Lock()
        self._inflight, self._since = 0, 0.0

    def _load(self) -> None:
        for m in self.members:
            if m.name == "openvino":  # else every stream's thread is pinned to the same core
                m.options.setdefault("pinning", False)
            m.load()
        self.spec, self.batch_size = self.members[0].spec, self.members[0].batch_size
        self.widths = self.members[0].widths  # static widths: batches come at one of them
        self._pools = [ThreadPoolExecutor(1, thread_name_prefix=f"crnn-stream{k}")
                       for k in range(len(self.members))]

    def _infer(self, x: np.ndarray) -> np.ndarray:
        return self.members[0].infer(x)

    def batch_rows(self, n: int, batch: int) -> int:
        """The members' :meth:`runtime.base.Backend.batch_rows` (asked of each: OpenVINO notes
        the full batch)."""
        return [m.batch_rows(n, batch) for m in self.members][0]

    def _run(self, member: Backend, x: np.ndarray) -> tuple[np.ndarray, float]:
        with self._lock:
            if self._inflight == 0:
                self._since = time.perf_counter()
            self._inflight += 1
        try:
            y = member.infer(x)
        finally:
            with self._lock:
                self._inflight -= 1
                if self._inflight == 0:
                    self.busy_s += time.perf_counter() - self._since
        return y, member.last_latency_ms

    def infer_many(self, batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Run ``batches`` (float32 (N, C, H, W) each) on the streams; yield (T, N, C) outputs
        in input order; ``last_latency_ms`` is each yielded batch's own call time.

        While the caller holds an output (decodes it, reads the next images), every stream
        still has a batch to run: up to ``DEPTH * n`` are submitted ahead."""
        self.load()
        n = len(self.members)
        depth = DEPTH * n
        window: deque = deque()
        it = iter(batches)
        i = 0
        try:
            while True:
                while len(window) < depth:
                    x = next(it, None)
                    if x is None:
                        break
                    self.check_input(x)
                    k = i % n
                    window.append(self._pools[k].submit(self._run, self.members[k],
                                                        np.ascontiguousarray(x)))
                    i += 1
                if not window:
                    return
                y, self.last_latency_ms = window.popleft().result()
                yield y
        finally:
            for f in window:
                f.cancel()
            for f in window:
                if not f.cancelled():
                    f.exception()  # wait: a member must not outlive its call

    def reset_timing(self) -> None:
        """Zero the timing of the streams and their members."""
        super().reset_timing()
        for m in self.members:
            m.reset_timing()

    def _close(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True)
        self._pools = []
        for m in self.members:
            m.close()


def open_streams(engine: str | Path, streams: int = 2, backend: str | None = None,
                 device: str = "CPU", **options) -> Streams:
    """:class:`Streams` of ``engine`` (not loaded yet; ``load()`` or ``with`` loads it).

    Raises (at load): UserError as :func:`runtime.registry.open_backend` / ``Backend.load``.
    """
    return Streams(engine, streams, backend, device, **options)


#: Streams of the fused paths when none are asked for (``crnn-eval``, ``crnn-recognize``,
#: :class:`pipeline.Recognizer`): 2 measured best on 2 cores (docs/BENCHMARKS.md, "Fused
#: paths: preprocessing schedules").
DEFAULT_STREAMS = 2


def open_engine(engine: str | Path, backend: str | None = None, device: str = "CPU",
                streams: int | None = None, **options) -> tuple[Backend, bool]:
    """The engine of a fused path, not loaded yet, and whether to run it pipelined.

    ``streams``: None = :data:`DEFAULT_STREAMS` on a CPU device when neither ``threads`` nor
    ``hint`` is given (else 1); 1 = one engine with its own threads (pipelined only with
    OpenVINO's ``hint="THROUGHPUT"``); n > 1 = :class:`Streams` (each stream ``threads``
    threads, default 1; always pipelined). ONNX Runtime gets ``spinning=False`` unless given:
    its idle threads would spin-wait on the cores the preprocessing threads need
    (docs/PPOCRV4.md, "Why ONNX Runtime f32 was slower than RapidOCR").

    Raises:
        UserError: ``streams`` < 1, or as :func:`runtime.registry.open_backend`.
    """
    hint = str(options.get("hint") or "").upper()
    if streams is None:
        plain = options.get("threads") or hint or not str(device).upper().startswith("CPU")
        streams = 1 if plain else DEFAULT_STREAMS
    if streams < 1:
        raise UserError(f"--streams must be at least 1, got {streams}")
    if backend_for(engine, backend) == "onnxruntime":
        options.setdefault("spinning", False)
    if streams == 1:
        return open_backend(Path(engine), backend, device=device, **options), hint == "THROUGHPUT"
    return Streams(engine, streams, backend, device, **options), True
