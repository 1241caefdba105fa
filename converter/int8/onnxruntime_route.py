"""INT8 route ``.onnx``: INT8 QDQ ONNX by ONNX Runtime static quantization.

Sources: ONNX Runtime, "Quantize ONNX models"
(https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html):
``quant_pre_process`` (symbolic shape inference + graph optimization) first, then
``quantize_static(model, out, CalibrationDataReader, quant_format=QuantFormat.QDQ,
per_channel=True, ...)``: QuantizeLinear/DequantizeLinear pairs around the quantizable ops
(Conv, Gemm, MatMul, ...) whose activation ranges come from running the calibration reader;
ONNX Runtime's CPU provider fuses them into QLinearConv / integer matmuls at session creation.
The LSTM op has no static QDQ quantizer and stays float. The ``metadata_props`` (the model spec)
are copied from the source file. A model below opset 13 is converted to opset 13 first
(per-channel DequantizeLinear needs its ``axis``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.common import SOURCE_KEY, OnnxInfo, check_static_batch, source_record
from crnn_deploy.converter.int8.calibration import Calibration, calibration_batches
from crnn_deploy.converter.int8.routes import INT8_KEY, Quantized

#: Smallest opset whose DequantizeLinear takes ``axis`` (per-channel weights). An older model
#: (PaddleOCR's exports are opset 12) is converted up first with ``onnx.version_converter``;
#: without it the quantizer writes per-channel nodes that ONNX Runtime refuses to load.
PER_CHANNEL_OPSET = 13
CALIBRATE_METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
ACTIVATION_TYPES = ("int8", "uint8")


def quantize_onnx(info: OnnxInfo, calib: Calibration, workdir: Path, *,
                  batch_size: int | None = None, per_channel: bool = True,
                  activation_type: str = "uint8", calibrate_method: str = "minmax",
                  ignored_types: Sequence[str] = ()) -> Quantized:
    """Quantize the FP32 ONNX ``info`` to INT8 QDQ; save ``workdir/final.onnx``.

    Args:
        info: the FP32 ONNX (spec in ``metadata_props``, copied to the result).
        calib: the calibration images.
        workdir: folder for intermediate and final files.
        batch_size: static batch N to fix on a dynamic-batch ONNX; None keeps its batch axis.
        per_channel: per-output-channel weight scales (Conv, Gemm).
        activation_type: ``uint8`` (asymmetric activations; ONNX Runtime's fast x86 path
            U8S8) or ``int8``; weights are always int8.
        calibrate_method: ``minmax``, ``entropy`` or ``percentile`` (activation ranges).
        ignored_types: ONNX op types left in float (e.g. ``Gemm``), via ``nodes_to_exclude``.

    Raises:
        UserError: an unknown option, a batch conflicting with a static ONNX, or a failure of
            ``quant_pre_process`` / ``quantize_static``.
    """
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if calibrate_method not in CALIBRATE_METHODS:
        raise UserError(f"unknown calibrate method {calibrate_method!r}; "
                        f"use one of {', '.join(CALIBRATE_METHODS)}")
    if activation_type not in ACTIVATION_TYPES:
        raise UserError(f"unknown activation type {activation_type!r}; "
                        f"use one of {', '.join(ACTIVATION_TYPES)}")
    spec = info.spec
    if batch_size is not None and info.batch is not None:
        check_static_batch(info, batch_size, "the INT8 ONNX")
    batch = batch_size or info.batch

    source = onnx.load(str(info.path))
    props = [(p.key, p.value) for p in source.metadata_props if p.key not in (INT8_KEY, SOURCE_KEY)]
    props.append((SOURCE_KEY, json.dumps(source_record("onnx", info.path, info.source),
                                         sort_keys=True)))
    fixed = workdir / "fixed.onnx"
    if batch_size is not None and info.batch is None:
        _fix_batch(source, batch_size)
    opset = _opset(source)
    if per_channel and opset < PER_CHANNEL_OPSET:  # DequantizeLinear's axis needs opset 13
        from onnx import version_converter

        try:
            source = version_converter.convert_version(source, PER_CHANNEL_OPSET)
        except Exception as exc:  # an op the converter cannot carry over
            raise UserError(f"{info.path} has opset {opset}; per-channel INT8 needs opset "
                            f"{PER_CHANNEL_OPSET} and onnx's version converter failed: "
                            f"{type(exc).__name__}: {exc}") from None
    onnx.save(source, str(fixed))
    pre = workdir / "pre.onnx"
    try:
        quant_pre_process(str(fixed), str(pre))
    except Exception as exc:  # pragma: no cover - shape inference on odd graphs
        raise UserError(f"quant_pre_process of {info.path} failed: "
                        f"{type(exc).__name__}: {exc}") from None
    items = calibration_batches(calib.images, batch)  # one image or one width per item

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(items)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {spec.input_name: x}

        def rewind(self):
            self.it = iter(items)

    exclude = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type in set(ignored_types)]
    qtmp = workdir / "int8.onnx"
    try:
        quantize_static(
            str(pre), str(qtmp), Reader(), quant_format=QuantFormat.QDQ, per_channel=per_channel,
            activation_type=QuantType.QUInt8 if activation_type == "uint8" else QuantType.QInt8,
            weight_type=QuantType.QInt8, nodes_to_exclude=exclude or None,
            calibrate_method=getattr(CalibrationMethod, CALIBRATE_METHODS[calibrate_method]),
            extra_options={"CalibTensorRangeSymmetric": False})
    except Exception as exc:
        raise UserError(f"onnxruntime quantize_static of {info.path} failed: "
                        f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}") from None
    qmodel = onnx.load(str(qtmp))
    settings = {"tool": f"onnxruntime {ort.__version__} quantize_static QDQ",
                "per_channel": per_channel, "activation_type": activation_type,
                "weight_type": "int8", "calibrate_method": calibrate_method,
                "ignored_types": list(ignored_types), "calib_gt": str(calib.gt),
                "calib_count": len(calib.files), "source": info.path.name,
                "opset": max(opset, PER_CHANNEL_OPSET) if per_channel else opset}
    del qmodel.metadata_props[:]
    for key, value in props:
        qmodel.metadata_props.add(key=key, value=value)
    qmodel.metadata_props.add(key=INT8_KEY, value=json.dumps(settings, sort_keys=True))
    final = workdir / "final.onnx"
    onnx.save(qmodel, str(final))
    note = (f"ONNX Runtime QDQ, {'per-channel' if per_channel else 'per-tensor'} int8 weights, "
            f"{activation_type} activations, {calibrate_method} calibration"
            + (f", float ops: {', '.join(ignored_types)}" if ignored_types else ""))
    return Quantized(model=final, files=[(final, ".onnx")], batch=batch, note=note)


def _fix_batch(model, batch: int) -> None:
    """Fix the symbolic batch dim of the input (axis 0) and output (axis 1 of (T, N, C))."""
    for value, axis in ((model.graph.input[0], 0), (model.graph.output[0], 1)):
        dims = value.type.tensor_type.shape.dim
        if len(dims) > axis and not dims[axis].HasField("dim_value"):
            dims[axis].dim_value = batch


def _opset(model) -> int:
    """The default-domain opset of ``model`` (``ai.onnx``)."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
