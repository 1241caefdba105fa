"""INT8 route ``.xml``: OpenVINO INT8 IR by NNCF post-training quantization.

Sources: NNCF post-training quantization, "Basic quantization flow" (OpenVINO docs,
https://docs.openvino.ai/ -> Model optimization guide -> Post-training quantization):
``nncf.quantize(model, nncf.Dataset(items), preset=..., subset_size=...)`` inserts
FakeQuantize nodes whose ranges come from statistics over ``subset_size`` calibration items,
then (``fast_bias_correction``) corrects the bias shift of quantized layers. The CPU plugin runs
the FakeQuantize-marked Conv/MatMul in INT8 (VNNI/AMX where the CPU has them).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Sequence

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.common import SOURCE_KEY, OnnxInfo, check_static_batch, source_record
from crnn_deploy.converter.int8.calibration import Calibration, calibration_batches
from crnn_deploy.converter.int8.routes import INT8_KEY, Quantized

PRESETS = ("mixed", "performance")
#: NNCF range estimators for activations: ``minmax`` (min/max over all calibration images) and
#: ``mean_minmax`` (NNCF's default: the mean over images of each image's min/max).
ACTIVATION_RANGES = ("minmax", "mean_minmax")
#: Op types kept in float by default. With its LSTMSequence quantized too, the nano-ocr IR reads
#: nothing right (0 % greedy agreement with FP32 on IC03, OpenVINO 2026.4 CPU) and is not faster:
#: the CPU plugin runs the LSTM with its reference kernel either way (``ref_any_f32``, ~8.6 of
#: ~13.9 ms per batch of 16 on 2 cores), while INT8 makes the convolutions ~12x faster.
DEFAULT_IGNORED_TYPES = ("LSTMSequence",)
#: Static batch of the IR when neither the ONNX nor the caller fixes one (the project's BS=16).
#: The IR always gets a static batch: OpenVINO 2026.4's CPU plugin computes the NNCF INT8 graph
#: of nano-ocr wrongly when it is compiled with a dynamic batch (the second convolution; 55 %
#: greedy agreement with FP32 instead of 97 % for the same IR reshaped to a static batch).
DEFAULT_BATCH = 16


def quantize_openvino(info: OnnxInfo, calib: Calibration, workdir: Path, *,
                      batch_size: int | None = None, preset: str = "mixed",
                      fast_bias_correction: bool = True,
                      ignored_types: Sequence[str] = DEFAULT_IGNORED_TYPES,
                      activation_range: str = "minmax") -> Quantized:
    """Quantize the FP32 ONNX ``info`` with NNCF; save ``workdir/model.xml`` + ``.bin``.

    Args:
        info: the FP32 ONNX (spec in ``metadata_props``).
        calib: the calibration images (all become NNCF's ``subset_size``).
        workdir: folder for the saved IR.
        batch_size: static batch N of the IR; None: the ONNX's static batch, else
            :data:`DEFAULT_BATCH` (16). The IR is never written with a dynamic batch; a width
            that follows the word stays dynamic (input (N, C, H, -1), calibrated in batches
            of N images of one width).
        preset: ``mixed`` (symmetric weights, asymmetric activations; NNCF's recommendation
            for models with non-ReLU activations) or ``performance`` (symmetric both).
        fast_bias_correction: NNCF's fast bias correction (False: the slower full one).
        ignored_types: OpenVINO op types left in float, through
            ``nncf.IgnoredScope(types=...)``; default ``LSTMSequence`` (see
            :data:`DEFAULT_IGNORED_TYPES`); ``()`` quantizes everything NNCF can.
        activation_range: ``minmax`` (default: the range over all calibration images) or
            ``mean_minmax`` (NNCF's default, the mean of per-image ranges; it clips the input
            of word crops with uneven contrast, e.g. [-1, 1] -> [-0.64, 0.54] on IC03).

    Raises:
        UserError: an unknown preset / range, a batch conflicting with a static ONNX, or an
            NNCF failure.
    """
    import nncf
    import openvino as ov
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    from crnn_deploy.runtime.openvino_backend import RT_INFO_PATH

    if activation_range not in ACTIVATION_RANGES:
        raise UserError(f"unknown activation range {activation_range!r}; "
                        f"use one of {', '.join(ACTIVATION_RANGES)}")
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
    spec = info.spec
    if batch_size is not None:
        check_static_batch(info, batch_size, "the INT8 IR")
    batch = batch_size or info.batch or DEFAULT_BATCH

    model = ov.Core().read_model(str(info.path))
    if info.batch is None:  # a width that follows the word stays dynamic (-1)
        c, h, w = spec.input_shape
        model.reshape({model.input(0): ov.PartialShape([batch, c, h, -1 if spec.dynamic_width
                                                        else w])})
    items = calibration_batches(calib.images, batch)  # grouped by width
    scope = nncf.IgnoredScope(types=list(ignored_types), validate=False) if ignored_types else None
    advanced = AdvancedQuantizationParameters(
        activations_range_estimator_params=getattr(RangeEstimatorParametersSet,
                                                   activation_range.upper()))
    nncf.set_log_level(logging.WARNING)  # its INFO lines list every skipped node
    try:
        qmodel = nncf.quantize(
            model, nncf.Dataset(items), preset=nncf.QuantizationPreset(preset),
            target_device=nncf.TargetDevice.CPU, subset_size=len(items),
            fast_bias_correction=fast_bias_correction, ignored_scope=scope,
            advanced_parameters=advanced)
    except Exception as exc:  # nncf.ValidationError, RuntimeError from OpenVINO, ...
        raise UserError(f"NNCF quantization of {info.path} failed: "
                        f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}") from None
    settings = {"tool": f"nncf {nncf.__version__}", "preset": preset,
                "fast_bias_correction": fast_bias_correction,
                "ignored_types": list(ignored_types), "activation_range": activation_range,
                "calib_gt": str(calib.gt), "calib_count": len(calib.files),
                "batch": batch, "source": info.path.name}
    qmodel.set_rt_info(spec.to_json(), RT_INFO_PATH)
    qmodel.set_rt_info(json.dumps(source_record("onnx", info.path, info.source), sort_keys=True),
                       SOURCE_KEY.split("."))
    qmodel.set_rt_info(json.dumps(settings, sort_keys=True), INT8_KEY.split("."))
    xml = workdir / "model.xml"
    ov.save_model(qmodel, str(xml), compress_to_fp16=False)
    note = (f"static batch {batch}{', dynamic width' if spec.dynamic_width else ''}, NNCF PTQ preset {preset}, {activation_range} activation "
            f"ranges, fast_bias_correction={fast_bias_correction}"
            + (f", float ops: {', '.join(ignored_types)}" if ignored_types else ""))
    return Quantized(model=xml, files=[(xml.with_suffix(".bin"), ".bin"), (xml, ".xml")],
                     batch=batch, note=note)
