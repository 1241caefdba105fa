"""The benchmarked variants: which backend, which engine file(s), which options.

A :class:`Variant` is a registered backend (:mod:`runtime.registry`) plus its engine files and
options; PyTorch eager is the ``pytorch`` backend on the ``.pth`` checkpoint, like any other.
:func:`build_variants` makes sure the engines exist (through :class:`bench.workspace.Workspace`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crnn_deploy.bench.workspace import Workspace, rel
from crnn_deploy.common.errors import UserError

#: Every variant, in report order.
VARIANT_KEYS = ("pytorch", "ort-f32", "ov-f32-latency", "ov-f32-throughput", "ov-bf16",
                "ov-int8", "ort-int8")
#: Batch of the accuracy runs and of the fused check (the static engines' batch).
EVAL_BATCH = 16


@dataclass
class Variant:
    """One way of running the model (picklable: it is sent to the worker process).

    ``backend`` is a :data:`runtime.registry.BACKENDS` name; ``engines`` maps a batch size to
    its engine file, key 0 being the engine for any other batch (a dynamic-batch engine or a
    checkpoint); ``options`` go to the backend (``threads`` is added per run); ``pipelined``
    runs batches through ``infer_many`` (OpenVINO async requests).
    """

    key: str
    label: str
    backend: str
    engines: dict[int, str]
    engine_desc: str
    options: dict = field(default_factory=dict)
    pipelined: bool = False

    def engine_for(self, batch: int) -> str:
        """The engine file for ``batch``. Raises UserError when there is none."""
        try:
            return self.engines[batch] if batch in self.engines else self.engines[0]
        except KeyError:
            raise UserError(f"variant {self.key}: no engine for batch {batch}") from None

    def open(self, batch: int, threads: int):
        """A loaded backend for ``batch`` with ``threads`` inference threads (in this process)."""
        from crnn_deploy.runtime.registry import open_backend

        return open_backend(Path(self.engine_for(batch)), self.backend, threads=threads,
                            **self.options).load()

    def options_text(self, threads: int) -> str:
        """The backend options as the report shows them (``threads=2, hint=LATENCY, ...``)."""
        opts = {"threads": threads, **self.options}
        text = ", ".join(f"{k}={v}" for k, v in opts.items())
        return text + (", pipelined (AsyncInferQueue)" if self.pipelined else "")


def _ov_f32(key: str, path: Path, desc: str | None = None) -> Variant:
    hint = "THROUGHPUT" if key.endswith("throughput") else "LATENCY"
    prec = "bf16" if key == "ov-bf16" else "f32"
    label = {"ov-f32-latency": "OpenVINO f32, LATENCY",
             "ov-f32-throughput": "OpenVINO f32, THROUGHPUT (async)",
             "ov-bf16": "OpenVINO bf16, LATENCY"}[key]
    return Variant(key, label, "openvino", {0: str(path)}, desc or rel(path),
                   {"hint": hint, "precision": prec}, pipelined=hint == "THROUGHPUT")


def build_variants(ws: Workspace, keys: list[str], batches: list[int],
                   calib_size: int) -> tuple[list[Variant], list[dict]]:
    """The variants ``keys`` (of :data:`VARIANT_KEYS`) with their engines built for
    ``batches`` and :data:`EVAL_BATCH`; plus the INT8 build records (see
    :meth:`Workspace.int8`). Raises UserError for an unknown key or a missing checkpoint."""
    variants, int8 = [], []
    needed = sorted(set(batches) | {EVAL_BATCH})
    for key in keys:
        if key == "pytorch":
            if not ws.checkpoint.is_file():
                raise UserError(f"checkpoint not found: {ws.checkpoint} (run `make weights`)")
            variants.append(Variant(key, "PyTorch eager f32", "pytorch",
                                    {0: str(ws.checkpoint)}, rel(ws.checkpoint),
                                    {"model": ws.model}))
        elif key == "ort-f32":
            p = ws.onnx("dynamic")
            variants.append(Variant(key, "ONNX Runtime f32", "onnxruntime", {0: str(p)}, rel(p)))
        elif key.startswith("ov-f32") or key == "ov-bf16":
            p = ws.ir("dynamic")
            variants.append(_ov_f32(key, p, f"{rel(p)} (dynamic batch, compiled per batch size)"))
        elif key == "ov-int8":
            paths = {}
            for b in needed:
                path, rec = ws.int8("ov", b, calib_size)
                paths[b] = str(path)
                int8.append({"variant": key, **rec})
            stem = rel(paths[needed[0]]).rsplit("_bs", 1)[0]
            desc = f"{stem}_bs{{{','.join(map(str, needed))}}}.xml (static, one per batch)"
            variants.append(Variant(key, "OpenVINO INT8 (NNCF), LATENCY", "openvino", paths, desc,
                                    {"hint": "LATENCY", "precision": "f32"}))
        elif key == "ort-int8":
            p, rec = ws.int8("ort", None, calib_size)
            int8.append({"variant": key, **rec})
            variants.append(Variant(key, "ONNX Runtime INT8 (QDQ)", "onnxruntime", {0: str(p)},
                                    rel(p)))
        else:
            raise UserError(f"unknown variant {key!r}; known: {', '.join(VARIANT_KEYS)}")
    return variants, int8


def fused_variants(ws: Workspace) -> list[tuple[str, Variant]]:
    """(label, variant) of the static batch-16 engines the fused-path check runs."""
    bs16, ir16 = ws.onnx("bs16"), ws.ir("bs16")
    return [("ONNX Runtime", Variant("ort-f32", "ONNX Runtime f32", "onnxruntime",
                                     {0: str(bs16)}, rel(bs16))),
            ("OpenVINO LATENCY", _ov_f32("ov-f32-latency", ir16)),
            ("OpenVINO THROUGHPUT", _ov_f32("ov-f32-throughput", ir16))]


def ov_f32_variant(ir: Path, hint: str) -> Variant:
    """OpenVINO f32 on ``ir`` with ``hint`` (``latency``/``throughput``), for benchmark_app."""
    return _ov_f32(f"ov-f32-{hint.lower()}", ir)
