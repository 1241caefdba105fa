"""Engine options shared by the CLIs that open a backend (``crnn-infer``, ``crnn-eval``)."""
from __future__ import annotations

from pathlib import Path

import click

from crnn_deploy.runtime.precision import PRECISIONS
from crnn_deploy.runtime.registry import BACKENDS

_OPTIONS = [
    click.option("--engine", "--model", "engine", required=True, type=click.Path(path_type=Path),
                 help="Engine file: .onnx, .xml (OpenVINO IR), .engine/.plan (TensorRT), .om (Ascend)."),
    click.option("--backend", type=click.Choice(sorted(BACKENDS)), default=None,
                 help="Override the backend chosen from the engine suffix (e.g. openvino for .onnx)."),
    click.option("--device", default="CPU", show_default=True,
                 help="CPU or GPU (onnxruntime); any OpenVINO device name (openvino)."),
    click.option("--threads", type=click.IntRange(min=1), default=None,
                 help="Inference threads (onnxruntime intra_op_num_threads / "
                      "OpenVINO INFERENCE_NUM_THREADS)."),
    click.option("--hint", type=click.Choice(["LATENCY", "THROUGHPUT"], case_sensitive=False),
                 default=None,
                 help="OpenVINO PERFORMANCE_HINT; THROUGHPUT also pipelines batches (async requests)."),
    click.option("--precision", type=click.Choice(PRECISIONS, case_sensitive=False),
                 default=None, help="OpenVINO INFERENCE_PRECISION_HINT (default f32); auto: bf16 "
                                    "where this CPU runs it natively and the IR's recorded bf16 "
                                    "check lost at most 0.1 points, else f32."),
    click.option("--widths", default=None, metavar="W1,W2,...|auto",
                 help="OpenVINO, a width that follows the word: compile one static-shape model "
                      "per width (e.g. 320,480,720; 'auto': the spec's small geometric set) and "
                      "pad each batch to the smallest that fits [default: one model of dynamic "
                      "width]."),
]


def engine_options(func):
    """Add --engine/--model, --backend, --device, --threads, --hint, --precision, --widths to a
    command."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def backend_options(threads: int | None, hint: str | None, precision: str | None,
                    widths: str | None = None, min_width: int | None = None,
                    kind: str | None = None) -> dict:
    """The backend keyword options given on the command line (unset ones left out; ``widths``
    is checked when the backend loads: :func:`runtime.widths.engine_widths`; ``min_width``:
    :func:`runtime.padding.padded_spec`); ``kind``: the spec kind the engine must hold
    (:attr:`runtime.base.Backend.expect_kind`; None: any)."""
    given = (("threads", threads), ("hint", hint and hint.upper()),
             ("precision", precision and precision.lower()), ("widths", widths),
             ("min_width", min_width), ("kind", kind))
    return {k: v for k, v in given if v is not None}
