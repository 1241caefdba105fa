"""The engine stage of the Ray path: a callable class for ``Dataset.map_batches``.

Ray Data constructs :class:`EngineActor` once per actor (the backend is loaded once there, not
per batch) and calls it with blocks of preprocessed rows (:mod:`pipeline.ray.read`). Each call
runs the good rows through the engine in batches of the engine's batch size (the last one
zero-padded, padding outputs dropped), decodes them with greedy CTC plus confidence
(:func:`postprocess.ctc.decode_batch`, the spec's confidence formula) right there, so
the (T, N, C) logits never leave the actor, and returns the prediction rows as a
``pyarrow.Table`` of :data:`SCHEMA`.

A spec with a second pass (``decoding.second_pass_below``: EasyOCR's english_g2) is read as
the local paths read it (:func:`pipeline.second_pass.reread_low_confidence`): the rows below the
threshold run again in the actor, contrast-stretched, on the same engine, and the more
confident reading is kept. Their images are read again from the shard (by index) or the file
(by path) (:func:`pipeline.ray.read.raw_samples`) rather than carried in every block: only
the low rows need them (107 of the 3000 IIIT5K words with english_g2), while carrying them
would add each row's encoded image to every block sent through the object store (IIIT5K: about
10.6 KB per word beside its 49 KB english_g2 input, +22 %), and the inputs are already on
storage every node reads (the read tasks run anywhere). A spec without a second pass reads
nothing again.

Threads are set explicitly to the actor's CPUs, because the engines do not follow Ray's
``OMP_NUM_THREADS``: ONNX Runtime takes ``intra_op_num_threads`` (default: one per physical core
of the node), OpenVINO ``INFERENCE_NUM_THREADS``. With several actors on one node OpenVINO's CPU
pinning (``ENABLE_CPU_PINNING``, on by default on Linux) would bind every actor's threads to the
same cores, so the actor opens OpenVINO with its ``pinning=False`` option
(:mod:`runtime.openvino_backend`; on the CPU device only).
"""
from __future__ import annotations

import math

import numpy as np

from crnn_deploy.pipeline.feeder import group_size
from crnn_deploy.pipeline.fused import infer_decoded
from crnn_deploy.pipeline.ray.read import raw_samples
from crnn_deploy.pipeline.second_pass import reread_low_confidence, reread_with
from crnn_deploy.runtime.registry import backend_for, open_backend
from crnn_deploy.runtime.runner import resolve_batch, warm_up

#: Columns of the predictions, in order (pyarrow types built lazily in :func:`schema`).
FIELDS = (("shard", "string"), ("index", "int64"), ("source", "string"), ("label", "string"),
          ("text", "string"), ("confidence", "float64"), ("error", "string"), ("node", "string"))


def schema():
    """The pyarrow schema of the predictions Parquet files (every column nullable).

    ``text``/``confidence`` are null for a skipped sample (``error`` set); ``label`` is null
    when the input has none; ``node`` is the Ray node id that ran the engine on the row.
    """
    import pyarrow as pa

    return pa.schema([pa.field(name, getattr(pa, kind)()) for name, kind in FIELDS])


def actor_threads(cpus: float | None) -> int | None:
    """Engine threads for an actor reserving ``cpus`` logical CPUs: ``ceil(cpus)``, at least 1."""
    return None if cpus is None else max(1, math.ceil(cpus))


def actor_options(engine: str, backend: str | None, options: dict | None,
                  cpus: float | None) -> dict:
    """The backend options of one engine actor: ``threads`` from ``cpus`` (unless given), and
    for OpenVINO ``pinning=False`` (unless given): see the module docstring.

    Raises:
        UserError: unknown backend name or engine suffix (:func:`runtime.registry.backend_for`).
    """
    options = dict(options or {})
    threads = options.pop("threads", None) or actor_threads(cpus)
    if threads:
        options["threads"] = threads
    if backend_for(engine, backend) == "openvino":
        options.setdefault("pinning", False)
    return options


class EngineActor:
    """Ray Data callable class: preprocessed block -> prediction rows (``pyarrow.Table``).

    Args:
        engine: engine file (any backend of :mod:`runtime.registry`), on every node's storage.
        backend: backend name or None (from the suffix).
        device: ``CPU``, ``GPU`` (ORT CUDA / TensorRT; Ray sets ``CUDA_VISIBLE_DEVICES`` to the
            actor's GPUs, so device 0 is the actor's own), ``NPU`` for Ascend.
        options: backend options (``hint``, ``precision``, ...); ``threads`` overrides
            ``cpus`` for the thread count.
        batch: batch for a dynamic engine (default: :func:`runtime.batch_default.
                default_batch`); must match a static engine's batch.
        cpus: CPUs reserved by the actor (sets the engine threads, :func:`actor_threads`).

    Raises:
        UserError: the engine cannot be loaded, or the batch contradicts it (in the actor;
            Ray Data reports it on the driver).
    """

    def __init__(self, engine: str, backend: str | None = None, device: str = "CPU",
                 options: dict | None = None, batch: int | None = None,
                 cpus: float | None = 1.0):
        options = actor_options(engine, backend, options, cpus)
        self.backend = open_backend(engine, backend, device=device, **options)
        self.backend.load()
        self.batch = resolve_batch(self.backend, batch)
        warm_up(self.backend, self.batch, 1)
        self.node = _node_id()

    def __call__(self, block: dict[str, np.ndarray]):
        import pyarrow as pa

        n = len(block["index"])
        error = _strings(block["error"])
        good = np.array([e is None for e in error], dtype=bool)
        texts = np.full(n, None, dtype=object)
        conf = np.full(n, np.nan)
        rows = np.flatnonzero(good)
        spec = self.backend.spec
        if spec.dynamic_width:  # lists of (C, H, W_i) rows, batched by width in infer_decoded
            c, h, _ = spec.input_shape
            images = [np.frombuffer(b, np.float32).reshape(c, h, w)
                      for b, w in zip(block["image_bytes"], block["width"])]
            step = group_size(spec, self.batch)
            chunks = (rows[s:s + step] for s in range(0, len(rows), step))
            pairs = ((take, [images[k] for k in take]) for take in chunks)
        else:
            images = block["image"]
            chunks = (rows[s:s + self.batch] for s in range(0, len(rows), self.batch))
            pairs = ((take, np.ascontiguousarray(images[take], dtype=np.float32)) for take in chunks)
        decoded = reread_low_confidence(  # the spec's second pass, if it has one
            infer_decoded(self.backend, pairs, self.batch), spec,
            lambda take, low: raw_samples(block, take[low]),
            reread_with(infer_decoded, self.backend, self.batch))
        for take, t, c in decoded:
            texts[take] = t
            conf[take] = c
        columns = {"shard": _strings(block["shard"]), "index": block["index"].astype(np.int64),
                   "source": _strings(block["source"]), "label": _strings(block["label"]),
                   "text": list(texts), "confidence": conf, "error": error,
                   "node": [self.node] * n}
        return pa.table({k: pa.array(v, type=f.type, from_pandas=True)
                         for (k, v), f in zip(columns.items(), schema())})


def _strings(column: np.ndarray) -> list:
    """A string column as Ray Data hands it over -> list of str / None.

    A column whose values are all None reaches the actor as a float array of NaN (Arrow's null
    type converted to numpy); NaN and None both mean "no value".
    """
    if column.dtype.kind in "fc":
        return [None] * len(column)
    return [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in column]


def _node_id() -> str:
    try:
        import ray

        return ray.get_runtime_context().get_node_id()
    except Exception:  # noqa: BLE001 - outside Ray (unit tests): no node
        return ""


def check_engine_file(engine) -> None:
    """Raise UserError unless ``engine`` is a file (checked on the driver before Ray starts)."""
    from crnn_deploy.runtime.engine_spec import check_engine_path

    check_engine_path(engine)
