"""PyTorch checkpoint -> ONNX (static or dynamic batch), simplified, checked, spec embedded.

Follows the ModelZoo ``pth2onnx.py`` flow: input ``actual_input_1`` (B, C, H, W) float32,
output ``output1`` time-major (T, B, C); for a dynamic export axis 0 of the input and axis 1
of the output are named ``batch``.

Uses the ``torch.export``-based exporter (``dynamo=True``; the TorchScript one is deprecated since
PyTorch 2.9). Measured against the TorchScript exporter on the three specs (PyTorch 2.13,
onnxscript 0.7.2, opset 17, after onnxsim; random weights for crnn / crnn-modelzoo, the real
nano-ocr weights): the same max abs diff to PyTorch at batches 1, 16, 3, 33 (crnn 4.5e-08,
crnn-modelzoo 4.8e-07, nano-ocr 1.1e-05), the same op types (Conv, Relu, MaxPool, LSTM, Gemm,
...; crnn-modelzoo 45 nodes instead of 41: Reshape/Transpose in place of Squeeze), the same
input/output names and dynamic ``batch`` axis, onnxsim and ``onnx.checker`` clean.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Mapping

import onnx

from crnn_deploy.common.errors import TORCH_INSTALL, UserError
from crnn_deploy.common.outputs import temp_file
from crnn_deploy.converter.common import SOURCE_KEY, source_record
from crnn_deploy.converter.outputs import prepare_outputs, publish_outputs
from crnn_deploy.converter.parity import TorchRunner, compare, onnx_runner
from crnn_deploy.models.specs import METADATA_KEY, ModelSpec

DEFAULT_OPSET = 17
#: Upper bound of the dynamic batch axis declared to torch.export (a range, not a buffer size).
MAX_DYNAMIC_BATCH = 4096


def embed_spec(model: onnx.ModelProto, spec: ModelSpec, source: dict | None = None) -> None:
    """Store the spec in ``metadata_props``: the full JSON plus readable single fields, and
    ``source`` (:func:`converter.common.source_record`) under ``crnn_deploy.source``."""
    fields = {
        METADATA_KEY: spec.to_json(),
        "spec_name": spec.name,
        "alphabet": spec.alphabet,
        "input_shape": "x".join(str(d) for d in spec.input_shape),
        "normalize": f"(x/255-{spec.mean})/{spec.std}",
        "output_layout": f"TBC, T={spec.seq_len}, C={spec.num_classes}, {spec.output}",
        **({SOURCE_KEY: json.dumps(source, sort_keys=True)} if source else {}),
    }
    del model.metadata_props[:]
    for key, value in fields.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def _export_raw(torch_model, spec: ModelSpec, batch: int, dynamic: bool,
                opset: int) -> onnx.ModelProto:
    """The graph of ``torch.onnx.export`` with the torch.export-based exporter (``dynamo=True``),
    taken in memory (``ONNXProgram.model_proto``: no file, no external ``.data`` beside it).

    A dynamic batch is a ``torch.export.Dim`` traced at batch 2 (torch.export specializes a
    size-1 dim to the constant 1). The exporter names the batch axis ``batch`` in the input
    and the output.
    """
    import torch

    if spec.dynamic_width:
        return _export_torchscript(torch_model, spec, opset)
    kwargs = {}
    if dynamic:
        batch = 2
        kwargs["dynamic_shapes"] = ({0: torch.export.Dim("batch", min=1, max=MAX_DYNAMIC_BATCH)},)
    dummy = torch.zeros(batch, *spec.input_shape)
    # The exporter logs and prints its progress (and, for opset 17, that it builds opset 18 and
    # converts down with the onnx version converter): quiet unless it fails.
    chatter = io.StringIO()
    logging.disable(logging.WARNING)
    try:
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(chatter):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(torch_model, (dummy,), input_names=[spec.input_name],
                                        output_names=[spec.output_name], opset_version=opset,
                                        dynamo=True, verbose=False, **kwargs)
    except ImportError as exc:  # onnxscript: the dynamo exporter's dependency
        raise UserError(f"the ONNX exporter needs {exc.name}: {TORCH_INSTALL}") from None
    finally:
        logging.disable(logging.NOTSET)
    return program.model_proto


def _export_torchscript(torch_model, spec: ModelSpec, opset: int) -> onnx.ModelProto:
    """A dynamic-width graph (axes ``batch`` and ``width`` of the input, ``time`` and ``batch``
    of the output) from the TorchScript exporter (``dynamo=False``).

    torch.export specializes an ``nn.LSTM``'s sequence length to the traced width (measured with
    PyTorch 2.13 on ``english_g2``: guard ``(width // 4 - 1) // 63 == 1``, and the dynamo
    exporter's graph has a fixed T = 63), so the TorchScript exporter traces it instead; it keeps
    the LSTM's sequence axis symbolic. Traced at batch 2 and 4 * the smallest width.
    """
    import torch

    c, h, w = spec.input_shape
    dummy = torch.zeros(2, c, h, 4 * w)
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice
        torch.onnx.export(torch_model, (dummy,), buf, input_names=[spec.input_name],
                          output_names=[spec.output_name], opset_version=opset, dynamo=False,
                          dynamic_axes={spec.input_name: {0: "batch", 3: "width"},
                                        spec.output_name: {0: "time", 1: "batch"}})
    return onnx.load_from_string(buf.getvalue())


def _lowest_ir_version(model: onnx.ModelProto) -> None:
    """Lower ``ir_version`` to the one of the default-domain opset, when no newer IR feature
    (local functions) is used: the dynamo exporter writes IR 10 for opset 17, which needs
    ONNX Runtime >= 1.20 (and may be refused by older atc / TensorRT parsers); the
    TorchScript exporter wrote IR 8, the IR of opset 17 (``onnx.helper.VERSION_TABLE``)."""
    opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=0)
    irs = [row[1] for row in onnx.helper.VERSION_TABLE if row[2] == opset]
    if irs and not model.functions and model.ir_version > min(irs):
        model.ir_version = min(irs)


def export_onnx(torch_model, spec: ModelSpec, output: str | Path, batch_size: int | None = 16,
                dynamic: bool = False, opset: int = DEFAULT_OPSET, simplify: bool = True,
                check_batches: tuple[int, ...] | None = None, overwrite: bool = False,
                inputs: Mapping[str, str | Path | None] | None = None,
                checkpoint: str | Path | None = None) -> float:
    """Export ``torch_model`` to ``output`` and return the max abs diff ORT vs PyTorch.

    Args:
        torch_model: an eval-mode model of ``spec`` (see ``models.checkpoint.load_model``).
        batch_size: the static batch N, or for ``dynamic`` the main check size.
        dynamic: keep the batch axis symbolic (``batch``), also through onnxsim. A
            dynamic-width spec (``spec.dynamic_width``) always has symbolic batch and width
            axes (:func:`_export_torchscript`), checked at :func:`converter.parity.check_widths`.
        check_batches: batch sizes of the parity check; default N for a static graph,
            and 1, N, 3 and 2N+1 for a dynamic one.
        overwrite: replace an existing ``output`` written by this tool.
        inputs: option name -> path the output must not be (e.g. the checkpoint).
        checkpoint: the checkpoint file (default ``inputs["--checkpoint"]``): its name and
            sha256 are recorded in the ONNX (``crnn_deploy.source``, crnn-convert inspect).

    Raises:
        UserError: the output may not be written (:func:`converter.outputs.prepare_outputs`),
            onnxsim or ``onnx.checker`` fails, or ORT differs from PyTorch by more than 1e-4
            (nothing is written then).
    """
    output = Path(output)
    prepare_outputs([output], inputs or {}, overwrite)
    n = batch_size or 16
    dynamic = dynamic or spec.dynamic_width
    if check_batches is None:  # a static graph accepts only its own batch
        check_batches = tuple(dict.fromkeys((1, n, 3, 2 * n + 1))) if dynamic else (n,)
    with temp_file(output, ".onnx") as tmp:
        model = _export_raw(torch_model, spec, n, dynamic, opset)
        if simplify:
            import onnxsim

            model, ok = onnxsim.simplify(model)
            if not ok:
                raise UserError(f"onnxsim could not validate the simplified model for {output}")
        checkpoint = checkpoint or (inputs or {}).get("--checkpoint")
        embed_spec(model, spec, source_record("checkpoint", checkpoint) if checkpoint else None)
        _lowest_ir_version(model)
        try:
            onnx.checker.check_model(model)
        except onnx.checker.ValidationError as exc:
            raise UserError(f"onnx.checker rejected the export for {output}: {exc}") from None
        onnx.save(model, str(tmp))
        with onnx_runner(tmp) as ort_model:
            diff = compare(f"ONNX Runtime vs PyTorch for {output}", spec, check_batches,
                           TorchRunner(torch_model), ort_model)
        publish_outputs(output, [(tmp, output)], overwrite)
    return diff
