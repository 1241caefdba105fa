"""ONNX -> OpenVINO IR (``.xml`` + ``.bin``), checked against ONNX Runtime, spec in ``rt_info``.

``openvino.convert_model`` reads the ONNX graph; ``Model.reshape`` fixes the batch when asked;
``openvino.save_model(model, xml, compress_to_fp16=...)`` writes the IR. Note its default:
``compress_to_fp16=True`` stores the weights as FP16 (half the ``.bin``), silently. We pass
``False`` unless ``fp16=True`` is asked. The spec JSON goes to ``rt_info["crnn_deploy"]["spec"]``,
where ``runtime.openvino_backend`` reads it.

The check compiles the written IR on the CPU with ``INFERENCE_PRECISION_HINT=f32`` (so FP16
weights are decompressed and bf16/fp16 CPU kernels are not used) and compares it with ONNX
Runtime on the same inputs (``converter.parity``). Tolerances, max abs diff of the (T, N, C)
output: 1e-4 + 1e-5 * max|output| for FP32 weights (:data:`FP32_RTOL`); :data:`FP16_ATOL`
(5e-2) for FP16 weights, whose rounding (relative 2**-11 per weight) goes through 7 convs and
2 LSTM layers. A detector or angle classifier (``models.page_specs``) is checked on page-like
inputs (:func:`converter.page_parity.compare_page`; a detector keeps a dynamic H and W), to
1e-4 (FP32) or 5e-2 (FP16) on outputs in [0, 1]. The checked IR is published ``.bin`` first, ``.xml`` last, with an ownership
record listing both (:func:`converter.outputs.publish_outputs`).
"""
from __future__ import annotations

import json
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs import temp_file
from crnn_deploy.converter.common import (
    SOURCE_KEY,
    BuildResult,
    check_static_batch,
    import_hint,
    read_onnx_info,
    source_record,
)
from crnn_deploy.converter.outputs import prepare_outputs, publish_outputs
from crnn_deploy.converter.page_parity import compare_page, engine_dims
from crnn_deploy.converter.parity import FP32_ATOL, compare, onnx_runner

#: Tolerance of the parity check for an IR with FP16-compressed weights (stated, not tuned).
FP16_ATOL = 5e-2
#: Relative part of the FP32 tolerance (times the largest reference logit): oneDNN's kernels
#: round differently from ONNX Runtime's; on ``english_g2``, whose logits reach 50, the FP32 IR
#: differs from ORT by up to 2.5e-4 on IIIT5K (5e-6 relative), above the bare 1e-4.
FP32_RTOL = 1e-5


def _import_openvino():
    try:
        import openvino
    except ImportError:
        raise import_hint("OpenVINO", "openvino") from None
    return openvino


def convert_openvino(onnx_path: str | Path, output: str | Path, batch_size: int | None = None,
                     fp16: bool = False, overwrite: bool = False,
                     check_gt: str | Path | None = None, check_size: int = 300) -> BuildResult:
    """Convert ``onnx_path`` to the IR ``output`` (``.xml``; the ``.bin`` goes beside it).

    Args:
        onnx_path: ONNX file of ``crnn-convert onnx`` (spec in metadata_props).
        output: the ``.xml`` path to write.
        batch_size: reshape the input to (N, C, H, W) for a static IR; None keeps the ONNX
            batch (dynamic stays dynamic).
        fp16: store weights as FP16 (``compress_to_fp16=True``); checked with :data:`FP16_ATOL`.
        overwrite: replace an existing IR written by this tool.
        check_gt: a gt.txt of labelled words (not the scored set): the IR is run at f32 and
            bf16 on ``check_size`` of them and the accuracy change is recorded in its rt_info
            (:mod:`converter.precision_check`; read by ``--precision auto``).

    Returns:
        BuildResult with the max abs diff against ONNX Runtime (batch N for a static IR;
        batches 1, 3 and 16 for a dynamic one).

    Raises:
        UserError: OpenVINO missing, output not ``.xml`` or not writable
            (:func:`converter.outputs.prepare_outputs`), batch conflicting with a static
            ONNX, conversion failure, or a diff above the tolerance (nothing is written then).
    """
    from crnn_deploy.runtime.openvino_backend import RT_INFO_PATH, OpenVINOBackend

    ov = _import_openvino()
    output = Path(output)
    if output.suffix.lower() != ".xml":
        raise UserError(f"OpenVINO IR output must end in .xml, got {output}")
    bin_final = output.with_suffix(".bin")
    prepare_outputs([output], {"--onnx": onnx_path}, overwrite, companions=[bin_final])
    info = read_onnx_info(onnx_path)
    spec = info.spec
    if batch_size is not None:
        check_static_batch(info, batch_size, "this IR")
    try:
        model = ov.convert_model(str(info.path))
        if batch_size is not None and spec.kind != "recognizer":  # converter.page_parity
            model.reshape({spec.input_name: engine_dims(spec, batch_size)})
        elif batch_size is not None:  # a dynamic width stays dynamic (-1)
            c, h, w = spec.input_shape
            model.reshape({spec.input_name: [batch_size, c, h, -1 if spec.dynamic_width else w]})
    except Exception as exc:  # OpConversionFailure, RuntimeError ...
        raise UserError(f"OpenVINO could not convert {info.path}: {exc}") from None
    model.set_rt_info(spec.to_json(), RT_INFO_PATH)
    model.set_rt_info(json.dumps(source_record("onnx", info.path, info.source), sort_keys=True),
                      SOURCE_KEY.split("."))
    static = batch_size or info.batch
    batches = (static,) if static else (1, 3, 16)
    atol = FP16_ATOL if fp16 else FP32_ATOL
    with temp_file(output, ".xml") as tmp_xml:
        ov.save_model(model, str(tmp_xml), compress_to_fp16=fp16)
        # the written IR, compiled as the runtime does: f32 inference precision on the CPU
        with onnx_runner(info.path) as reference, \
                OpenVINOBackend(tmp_xml, precision="f32") as candidate:
            what = f"OpenVINO IR vs ONNX Runtime for {output}"
            if spec.kind != "recognizer":  # page-like inputs, outputs in [0, 1]: atol alone
                diff = compare_page(what, spec, reference, candidate, atol, static)
            else:
                diff = compare(what, spec, batches, reference, candidate, atol=atol,
                               rtol=0.0 if fp16 else FP32_RTOL)
        checked = ""
        if check_gt is not None and spec.kind == "recognizer":  # bf16 change into rt_info
            from crnn_deploy.converter.precision_check import (
                measure_precisions,
                record_text,
                summary,
            )
            from crnn_deploy.runtime.precision import RT_INFO_PRECISION

            records = measure_precisions(tmp_xml, check_gt, check_size)
            model.set_rt_info(record_text(records), RT_INFO_PRECISION)
            ov.save_model(model, str(tmp_xml), compress_to_fp16=fp16)
            checked = "; " + summary(records)
        # the .bin before the .xml, the entry (converter.outputs: never a mismatched pair)
        publish_outputs(output, [(tmp_xml.with_suffix(".bin"), bin_final), (tmp_xml, output)],
                        overwrite)
    kind = (f"batch {static}" if static else "dynamic batch") + (
        ", dynamic height and width" if spec.kind == "detector" else
        ", dynamic width" if spec.kind == "recognizer" and spec.dynamic_width else "")
    weights = "FP16 weights" if fp16 else "FP32 weights"
    return BuildResult(path=output, max_diff=diff, atol=atol, note=f"{kind}, {weights}{checked}",
                       files=[output, bin_final],
                       rtol=0.0 if fp16 or spec.kind != "recognizer" else FP32_RTOL)
