"""Engine options shared by the CLIs that open a backend (``crnn-infer``, ``crnn-eval``)."""
from __future__ import annotations

from pathlib import Path

import click

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
    click.option("--precision", type=click.Choice(["f32", "bf16", "f16"], case_sensitive=False),
                 default=None, help="OpenVINO INFERENCE_PRECISION_HINT (default f32)."),
]


def engine_options(func):
    """Add --engine/--model, --backend, --device, --threads, --hint, --precision to a command."""
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


def backend_options(threads: int | None, hint: str | None, precision: str | None) -> dict:
    """The backend keyword options given on the command line (unset ones left out)."""
    given = (("threads", threads), ("hint", hint and hint.upper()),
             ("precision", precision and precision.lower()))
    return {k: v for k, v in given if v is not None}
