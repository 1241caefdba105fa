"""OpenVINO backend: OpenVINO IR (``.xml`` + ``.bin``) or ``.onnx`` read directly.

Options:

* ``hint``: ``PERFORMANCE_HINT``, ``LATENCY`` (default) or ``THROUGHPUT``. With ``THROUGHPUT``
  use :meth:`OpenVINOBackend.infer_many`, which keeps ``OPTIMAL_NUMBER_OF_INFER_REQUESTS``
  requests in flight with an ``AsyncInferQueue``.
* ``precision``: ``INFERENCE_PRECISION_HINT``, ``f32`` (default) or ``bf16`` / ``f16``.
  f32 is set explicitly because on CPUs with bf16 support OpenVINO otherwise runs bf16
  silently (nano-ocr logits then move by ~0.1 against ONNX Runtime). ``auto``: bf16 when
  this CPU runs it natively and the IR's recorded bf16 check lost at most 0.1 points, else
  f32 (:func:`runtime.precision.choose_precision`); ``self.precision`` is the one used and
  ``self.precision_note`` what the summary line says about it.
* ``threads``: ``INFERENCE_NUM_THREADS``; ``nireq``: number of async requests (overrides the
  compiled model's optimum).
* ``pinning``: ``ENABLE_CPU_PINNING`` (bool) of the CPU plugin; unset (None) keeps OpenVINO's
  default (on for Linux). ``False`` when several processes share one machine's cores (the Ray
  engine actors): pinned, each process's threads would be bound to the same first cores.
  Applied only when the device is the CPU (other plugins do not know the property).
* ``widths``: a width that follows the word (dynamic-width spec): ``None`` (default) compiles
  one model of dynamic width; ``"auto"``, ``"320,480,720"`` or a list of ints compiles one
  static-shape model per width instead (the read model reshaped to (N, C, H, w), compiled on
  first use, cached), and every batch must come at one of them (``self.widths``; the fused and
  staged paths pad each batch to the smallest that fits: :func:`runtime.widths.fit_width`).
  Parsed by :func:`runtime.widths.engine_widths`.

The spec is read from ``rt_info["crnn_deploy"]["spec"]`` (IR written by crnn-convert), else
from the ONNX ``metadata_props`` (``.onnx``), else from a sidecar JSON. A model with a dynamic
batch axis is reshaped to each batch size actually used and compiled once per size (cached);
with ``widths``, once per (batch size, width). Short batches of the fused and staged paths run
as their own rows on one model compiled with a dynamic batch (:meth:`OpenVINOBackend.batch_rows`:
5 images -> 5 rows, not 16; full batches on the model compiled for that batch).
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Iterable, Iterator

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import METADATA_KEY
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.engine_spec import (
    check_dims,
    first_line,
    onnx_spec_text,
    output_index,
    spec_from_text,
)
from crnn_deploy.runtime.precision import PRECISIONS, read_record
from crnn_deploy.runtime.widths import engine_widths

#: Where an IR written by crnn-convert keeps the spec JSON in its rt_info: the ONNX metadata key
#: ``crnn_deploy.spec`` split at the dot, i.e. ``rt_info["crnn_deploy"]["spec"]`` (the one
#: definition; ``converter`` writes it from here).
RT_INFO_PATH = METADATA_KEY.split(".")
HINTS = ("LATENCY", "THROUGHPUT")
#: Smallest full batch given its own static-batch model: PP-OCRv4 (3 x 48 x 320, one thread, Zen
#: 4, quiet) runs batch 2 / 4 / 8 in 17.38 / 33.22 / 65.51 ms static against 17.30 / 33.36 / 66.40
#: dynamic, where batch 16 gained 12 % (docs/PERFORMANCE.md); below 8 the compile (0.1 s per
#: engine copy) buys nothing.
STATIC_FULL_BATCH = 8


class OpenVINOBackend(Backend):
    """Runs a model with ``openvino.Core`` (float32 NCHW -> float32 (T, N, C))."""

    name = "openvino"
    extra = "openvino"
    sdk = ("openvino",)

    def _config(self) -> dict:
        hint = str(self.options.get("hint") or "LATENCY").upper()
        precision = str(self.options.get("precision") or "f32").lower()
        if hint not in HINTS:
            raise UserError(f"openvino: unknown hint {hint!r}; use one of {', '.join(HINTS)}")
        if precision not in PRECISIONS:
            raise UserError(f"openvino: unknown precision {precision!r}; "
                            f"use one of {', '.join(PRECISIONS)}")
        config = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": precision}
        if self.options.get("threads"):
            config["INFERENCE_NUM_THREADS"] = int(self.options["threads"])
        pinning = self.options.get("pinning")
        if pinning is not None and str(self.device).upper().startswith("CPU"):
            if not isinstance(pinning, bool):
                raise UserError(f"openvino: pinning must be True or False, got {pinning!r}")
            config["ENABLE_CPU_PINNING"] = pinning
        return config

    def _load(self) -> None:
        import openvino as ov

        self.config = self._config()
        onnx_text = self._precheck()
        self.core = ov.Core()
        try:
            self.model = self.core.read_model(str(self.engine))
        except Exception as exc:
            raise UserError(f"cannot read {self.engine} with openvino: {first_line(exc)}") from None
        if self.model.has_rt_info(RT_INFO_PATH):
            text = self.model.get_rt_info(RT_INFO_PATH).astype(str)
        else:
            text = onnx_text
        self.spec = spec_from_text(text, self.engine)
        self._resolve_precision()
        if len(self.model.inputs) != 1 or not self.model.outputs:
            raise UserError(f"engine {self.engine}: expected 1 input and 1 output, got "
                            f"{len(self.model.inputs)} and {len(self.model.outputs)}")
        #: the output the spec names (engine_spec.output_index): read by index, never outputs[0]
        self.output_index = output_index([o.get_names() for o in self.model.outputs], self.spec,
                                         self.engine)
        pshape = self.model.input(0).get_partial_shape()
        dims = [d.get_length() if d.is_static else "?" for d in pshape]
        self.batch_size = check_dims(self.spec, dims, self.engine)
        self._dims = list(pshape)                # the read model's (N, C, H, W), before reshapes
        self.widths = engine_widths(self.spec, self.options.get("widths"))
        if self.widths and dims[3] != "?":
            raise UserError(f"openvino: widths {list(self.widths)} need an engine of dynamic "
                            f"width; {self.engine} has a static width of {dims[3]}")
        self._compiled: dict[tuple, object] = {}   # (batch size, width or None) -> CompiledModel
        self._requests: dict[tuple, object] = {}   # same keys -> InferRequest
        self._queues: dict[tuple, object] = {}     # same keys -> AsyncInferQueue
        self.jobs = 0                            # requests of the last AsyncInferQueue used
        self._full = None                        # the full batch of batch_rows' callers

    def _resolve_precision(self) -> None:
        from crnn_deploy.runtime.precision import choose_precision, native_bf16, precision_note

        record = read_record(self.model)
        native = native_bf16() if str(self.device).upper().startswith("CPU") else None
        asked = self.config["INFERENCE_PRECISION_HINT"]
        self.precision, why = (choose_precision(native, record) if asked == "auto"
                               else (asked, ""))
        self.config["INFERENCE_PRECISION_HINT"] = self.precision
        note = precision_note(self.precision, record, native)
        self.precision_note = (f"--precision auto: {self.precision} ({why})"
                               + (f"; {note}" if note else "")) if asked == "auto" else note

    def _precheck(self) -> str | None:
        """Refuse files OpenVINO would hand to every frontend in turn (noisy C++ logs).

        Returns the spec JSON of an ONNX file's metadata (None otherwise).
        """
        suffix = self.engine.suffix.lower()
        if suffix == ".onnx":
            return onnx_spec_text(self.engine)  # raises UserError for a non-ONNX file
        if suffix == ".xml":
            with open(self.engine, "rb") as fh:
                head = fh.read(1024)
            if b"<net" not in head:
                raise UserError(f"{self.engine} is not an OpenVINO IR (.xml) file")
            weights = self.engine.with_suffix(".bin")
            if not weights.is_file():
                raise UserError(f"OpenVINO IR {self.engine} needs its weights file {weights}")
        return None

    def batch_rows(self, n: int, batch: int) -> int:
        """Rows for ``n`` images: the static batch; with ``widths`` (static shapes) the smallest
        power of two >= ``n`` (at most ``batch``); else ``n`` itself. A full batch (``n ==
        batch``) runs on a model compiled for that batch; a short one on one model compiled with
        the batch left dynamic (one compile, no zero rows: a lone wide word is 1 row; issue 28
        measured this against power-of-two batch gears, docs/PERFORMANCE.md). A batch below
        :data:`STATIC_FULL_BATCH` runs every batch on the dynamic model (one compile fewer)."""
        if self.batch_size is not None:
            return self.batch_size
        if self.widths:  # static shapes asked for: power-of-two batch gears, each compiled once
            return min(batch, 1 << (max(1, n) - 1).bit_length())
        self._full = batch if batch >= STATIC_FULL_BATCH else None
        return max(1, n)

    def _key(self, shape: tuple) -> tuple[int | None, int | None]:
        """(batch, width) of an input ``shape`` (N, C, H, W): the compiled model it runs on
        (batch None: the model of dynamic batch, for short batches; width None: the
        dynamic-width model)."""
        static = self.batch_size is not None or self.widths or shape[0] == self._full
        n = shape[0] if static else None
        return n, (shape[3] if self.widths else None)

    def compiled(self, n: int | None, width: int | None = None):
        """The model compiled for batch ``n`` (None: dynamic) and (``width`` given) that static
        width; the read model is reshaped first when its batch axis is dynamic or a width is
        given."""
        key = (n, width)
        if key not in self._compiled:
            import openvino as ov

            model = self.model
            if self.batch_size is None or width is not None:
                dims = [self._dims[0] if n is None else n, *self._dims[1:3],
                        width if width is not None else self._dims[3]]
                model.reshape({0: ov.PartialShape(dims)})
            try:
                self._compiled[key] = self.core.compile_model(model, self.device, self.config)
            except Exception as exc:
                raise UserError(f"openvino cannot compile {self.engine} for device {self.device!r} "
                                f"with {self.config}: {first_line(exc)}") from None
        return self._compiled[key]

    def _infer(self, x: np.ndarray) -> np.ndarray:
        key = self._key(x.shape)
        if key not in self._requests:
            self._requests[key] = self.compiled(*key).create_infer_request()
        request = self._requests[key]
        request.infer({0: x}, share_inputs=True)
        return request.get_output_tensor(self.output_index).data.copy()

    def _queue(self, key: tuple[int, int | None]):
        if key not in self._queues:
            import openvino as ov

            compiled = self.compiled(*key)
            jobs = int(self.options.get("nireq") or
                       compiled.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
            self._queues[key] = ov.AsyncInferQueue(compiled, max(1, jobs))
            self.jobs = len(self._queues[key])
        return self._queues[key]

    def infer_many(self, batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Pipelined :meth:`Backend.infer_many` with an ``AsyncInferQueue`` per batch size
        (and width, with ``widths``).

        Outputs come back in input order. ``last_latency_ms`` after each yield is that batch's
        submit-to-completion time (ms, includes waiting for a free request when all are busy);
        ``busy_s`` grows by the time at least one request was in flight.
        """
        self.load()
        done: dict[int, tuple[np.ndarray, float]] = {}
        pending: deque[tuple[int, np.ndarray]] = deque()  # keeps shared inputs alive
        cond = threading.Condition()
        state = {"inflight": 0, "since": 0.0}

        def callback(request, userdata):
            index, started = userdata
            try:
                out = request.get_output_tensor(self.output_index).data.copy()
            except Exception as exc:  # surfaced by _pop in the consumer's thread
                out = exc
            now = time.perf_counter()
            with cond:
                done[index] = (out, (now - started) * 1000.0)
                state["inflight"] -= 1
                if state["inflight"] == 0:
                    self.busy_s += now - state["since"]
                cond.notify_all()

        queue = None
        try:
            for index, x in enumerate(batches):
                self.check_input(x)
                x = np.ascontiguousarray(x)
                nxt = self._queue(self._key(x.shape))
                if nxt is not queue:
                    if queue is not None:
                        queue.wait_all()  # finish one batch shape before switching
                    nxt.set_callback(callback)
                    queue = nxt
                now = time.perf_counter()
                with cond:
                    if state["inflight"] == 0:
                        state["since"] = now
                    state["inflight"] += 1
                pending.append((index, x))
                try:
                    queue.start_async({0: x}, (index, now), share_inputs=True)
                except Exception as exc:
                    raise UserError(f"openvino inference failed: {first_line(exc)}") from None
                while pending and pending[0][0] in done:
                    yield self._pop(done, pending, cond)
            while pending:
                yield self._pop(done, pending, cond)
        finally:
            if queue is not None:
                queue.wait_all()

    def _pop(self, done: dict, pending: deque, cond: threading.Condition) -> np.ndarray:
        """Wait for the oldest pending batch and return its output."""
        index, _ = pending[0]
        with cond:
            cond.wait_for(lambda: index in done)
            out, self.last_latency_ms = done.pop(index)
        pending.popleft()
        if isinstance(out, Exception):
            raise UserError(f"openvino inference failed: {first_line(out)}")
        return out

    def _close(self) -> None:
        for queue in self._queues.values():
            queue.wait_all()
        self._queues.clear()
        self._requests.clear()
        self._compiled.clear()
        self.model = self.core = None
