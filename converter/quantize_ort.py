"""ONNX -> INT8 QDQ ONNX by ONNX Runtime static quantization (`crnn-convert int8`, .onnx).

Sources: ONNX Runtime, "Quantize ONNX models"
(https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html):
``quant_pre_process`` (symbolic shape inference + graph optimization) first, then
``quantize_static(model, out, CalibrationDataReader, quant_format=QuantFormat.QDQ,
per_channel=True, ...)``: QuantizeLinear/DequantizeLinear pairs around the quantizable ops
(Conv, Gemm, MatMul, ...) whose activation ranges come from running the calibration reader;
ONNX Runtime's CPU provider fuses them into QLinearConv / integer matmuls at session creation.
The LSTM op has no static QDQ quantizer and stays float. The ``metadata_props`` (the model spec)
are copied from the source file.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from converter.common import check_static_batch, publish, read_onnx_info
from converter.quantize import (DEFAULT_CALIB_SIZE, DEFAULT_MIN_AGREEMENT, QuantizeResult,
                                calibration_batches, check_agreement, enforce_floor,
                                fp32_reference, read_calibration, run_batched)
from common.errors import UserError

#: metadata_props key recording the quantization settings (JSON).
INT8_KEY = "crnn_deploy.int8"
CALIBRATE_METHODS = ("minmax", "entropy", "percentile")
ACTIVATION_TYPES = ("int8", "uint8")


def quantize_onnx(onnx_path: str | Path, calib_gt: str | Path, output: str | Path, *,
                  calib_root: str | Path | None = None,
                  calib_size: int = DEFAULT_CALIB_SIZE,
                  batch_size: int | None = None,
                  per_channel: bool = True,
                  activation_type: str = "uint8",
                  calibrate_method: str = "minmax",
                  ignored_types: Sequence[str] = (),
                  min_agreement: float = DEFAULT_MIN_AGREEMENT) -> QuantizeResult:
    """Quantize an FP32 CRNN ONNX file to an INT8 QDQ ONNX file for ONNX Runtime.

    Args:
        onnx_path: ONNX written by ``crnn-convert onnx`` (input (N, C, H, W) float32, output
            (T, N, C) logits, the spec in ``metadata_props``).
        calib_gt: ``gt.txt`` of the calibration images (``relpath<TAB>label``); use another
            dataset than the scored one.
        output: the ``.onnx`` to write; it keeps the source's ``metadata_props``.
        calib_root: folder of the images (default: the folder of ``calib_gt``).
        calib_size: number of calibration images.
        batch_size: static batch N to fix on a dynamic-batch ONNX; None keeps its batch axis.
        per_channel: per-output-channel weight scales (Conv, Gemm).
        activation_type: ``uint8`` (asymmetric activations; ONNX Runtime's fast x86 path
            U8S8) or ``int8``; weights are always int8.
        calibrate_method: ``minmax``, ``entropy`` or ``percentile`` (activation ranges).
        ignored_types: ONNX op types left in float (e.g. ``Gemm``), via ``nodes_to_exclude``.
        min_agreement: floor in [0, 1] of the greedy-decode agreement with FP32 on the
            calibration images.

    Returns:
        :class:`converter.quantize.QuantizeResult`; ``check.max_diff`` in logit units.

    Raises:
        UserError: unreadable ONNX / calibration list, no readable image, a batch conflict,
            an unknown option, quantization failure, or agreement below ``min_agreement``
            (then no file is written).
    """
    import onnx
    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    onnx_path, output = Path(onnx_path), Path(output)
    if output.suffix.lower() != ".onnx":
        raise UserError(f"{output}: an INT8 ONNX file needs a .onnx suffix")
    if calibrate_method not in CALIBRATE_METHODS:
        raise UserError(f"unknown calibrate method {calibrate_method!r}; "
                        f"use one of {', '.join(CALIBRATE_METHODS)}")
    if activation_type not in ACTIVATION_TYPES:
        raise UserError(f"unknown activation type {activation_type!r}; "
                        f"use one of {', '.join(ACTIVATION_TYPES)}")
    info = read_onnx_info(onnx_path)
    spec = info.spec
    if batch_size is not None and info.batch is not None:
        check_static_batch(info, batch_size, "the INT8 ONNX")
    batch = batch_size or info.batch
    calib = read_calibration(calib_gt, spec, calib_size, calib_root)

    source = onnx.load(str(onnx_path))
    output.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        fixed = tmpdir / "fixed.onnx"
        if batch_size is not None and info.batch is None:
            _fix_batch(source, batch_size)
        onnx.save(source, str(fixed))
        pre = tmpdir / "pre.onnx"
        try:
            quant_pre_process(str(fixed), str(pre))
        except Exception as exc:  # pragma: no cover - shape inference on odd graphs
            raise UserError(f"quant_pre_process of {onnx_path} failed: "
                            f"{type(exc).__name__}: {exc}") from None
        items = calibration_batches(calib.x, batch)

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.it = iter(items)

            def get_next(self):
                x = next(self.it, None)
                return None if x is None else {spec.input_name: x}

            def rewind(self):
                self.it = iter(items)

        pre_model = onnx.load(str(pre))
        exclude = [n.name for n in pre_model.graph.node if n.op_type in set(ignored_types)]
        qtmp = tmpdir / "int8.onnx"
        try:
            quantize_static(
                str(pre), str(qtmp), Reader(), quant_format=QuantFormat.QDQ,
                per_channel=per_channel,
                activation_type=QuantType.QUInt8 if activation_type == "uint8" else QuantType.QInt8,
                weight_type=QuantType.QInt8, nodes_to_exclude=exclude or None,
                calibrate_method=getattr(CalibrationMethod,
                                         {"minmax": "MinMax", "entropy": "Entropy",
                                          "percentile": "Percentile"}[calibrate_method]),
                extra_options={"CalibTensorRangeSymmetric": False})
        except Exception as exc:
            raise UserError(f"onnxruntime quantize_static of {onnx_path} failed: "
                            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}") from None
        qmodel = onnx.load(str(qtmp))
        settings = {"tool": f"onnxruntime {ort.__version__} quantize_static QDQ",
                    "per_channel": per_channel, "activation_type": activation_type,
                    "weight_type": "int8", "calibrate_method": calibrate_method,
                    "ignored_types": list(ignored_types), "calib_gt": str(calib.gt),
                    "calib_count": len(calib.files), "source": onnx_path.name}
        del qmodel.metadata_props[:]
        for prop in source.metadata_props:
            if prop.key != INT8_KEY:
                qmodel.metadata_props.add(key=prop.key, value=prop.value)
        qmodel.metadata_props.add(key=INT8_KEY, value=json.dumps(settings, sort_keys=True))
        final_tmp = tmpdir / "final.onnx"
        onnx.save(qmodel, str(final_tmp))

        so = ort.SessionOptions()
        so.log_severity_level = 3
        sess = ort.InferenceSession(str(final_tmp), so, providers=["CPUExecutionProvider"])
        got = run_batched(lambda b: sess.run(None, {spec.input_name: b})[0], calib.x, batch)
        ref = fp32_reference(onnx_path, spec, calib.x, info.batch)
        check = check_agreement(spec, ref, got, calib.files)
        enforce_floor(check, min_agreement, f"INT8 ONNX {output}")
        publish(final_tmp, output)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    note = (f"ONNX Runtime QDQ, {'per-channel' if per_channel else 'per-tensor'} int8 weights, "
            f"{activation_type} activations, {calibrate_method} calibration"
            + (f", float ops: {', '.join(ignored_types)}" if ignored_types else ""))
    return QuantizeResult(path=output, files=[output], check=check, calib_gt=calib.gt,
                          calib_count=len(calib.files), calib_skipped=len(calib.skipped),
                          note=note)


def _fix_batch(model, batch: int) -> None:
    """Fix the symbolic batch dim of the input (axis 0) and output (axis 1 of (T, N, C))."""
    for value, axis in ((model.graph.input[0], 0), (model.graph.output[0], 1)):
        dims = value.type.tensor_type.shape.dim
        if len(dims) > axis and not dims[axis].HasField("dim_value"):
            dims[axis].dim_value = batch
