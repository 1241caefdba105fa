"""ONNX -> OpenVINO INT8 IR by NNCF post-training quantization (`crnn-convert int8`, .xml).

Sources: NNCF post-training quantization, "Basic quantization flow" (OpenVINO docs,
https://docs.openvino.ai/ -> Model optimization guide -> Post-training quantization):
``nncf.quantize(model, nncf.Dataset(items, transform), preset=..., subset_size=...)`` inserts
FakeQuantize nodes whose ranges come from statistics over ``subset_size`` calibration items,
then (``fast_bias_correction``) corrects the bias shift of quantized layers. The CPU plugin runs
the FakeQuantize-marked Conv/MatMul in INT8 (VNNI/AMX where the CPU has them).
"""
from __future__ import annotations

import logging

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Sequence

from converter.common import check_static_batch, read_onnx_info
from converter.quantize import (DEFAULT_CALIB_SIZE, DEFAULT_MIN_AGREEMENT, QuantizeResult,
                                calibration_batches, check_agreement, enforce_floor,
                                fp32_reference, read_calibration, run_batched)
from common.errors import UserError

RT_INFO_PATH = ["crnn_deploy", "spec"]
#: Where the quantization settings are recorded in the IR's rt_info (JSON).
RT_INFO_INT8 = ["crnn_deploy", "int8"]
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


def quantize_openvino(onnx_path: str | Path, calib_gt: str | Path, output: str | Path, *,
                      calib_root: str | Path | None = None,
                      calib_size: int = DEFAULT_CALIB_SIZE,
                      batch_size: int | None = None,
                      preset: str = "mixed",
                      fast_bias_correction: bool = True,
                      ignored_types: Sequence[str] = DEFAULT_IGNORED_TYPES,
                      activation_range: str = "minmax",
                      min_agreement: float = DEFAULT_MIN_AGREEMENT) -> QuantizeResult:
    """Quantize an FP32 CRNN ONNX file to an OpenVINO INT8 IR (``output`` .xml + .bin).

    Args:
        onnx_path: ONNX written by ``crnn-convert onnx`` (input (N, C, H, W) float32, output
            (T, N, C) logits, the spec in ``metadata_props``).
        calib_gt: ``gt.txt`` of the calibration images (``relpath<TAB>label``); use another
            dataset than the scored one.
        output: the ``.xml`` to write (the ``.bin`` goes beside it).
        calib_root: folder of the images (default: the folder of ``calib_gt``).
        calib_size: number of calibration images (all become NNCF's ``subset_size``).
        batch_size: static batch N of the IR; None: the ONNX's static batch, else
            :data:`DEFAULT_BATCH` (16). The IR is never written with a dynamic batch.
        preset: ``mixed`` (symmetric weights, asymmetric activations; NNCF's recommendation
            for models with non-ReLU activations) or ``performance`` (symmetric both).
        fast_bias_correction: NNCF's fast bias correction (False: the slower full one).
        ignored_types: OpenVINO op types left in float, through
            ``nncf.IgnoredScope(types=...)``; default ``LSTMSequence`` (see
            :data:`DEFAULT_IGNORED_TYPES`); ``()`` quantizes everything NNCF can.
        activation_range: ``minmax`` (default: the range over all calibration images) or
            ``mean_minmax`` (NNCF's default, the mean of per-image ranges; it clips the input
            of word crops with uneven contrast, e.g. [-1, 1] -> [-0.64, 0.54] on IC03).
        min_agreement: floor in [0, 1] of the greedy-decode agreement with FP32 on the
            calibration images.

    Returns:
        :class:`converter.quantize.QuantizeResult`; ``check.max_diff`` in logit units.

    Raises:
        UserError: unreadable ONNX / calibration list, no readable image, a batch conflict,
            an unknown preset, NNCF failure, or agreement below ``min_agreement`` (then no
            file is written).
    """
    try:
        import nncf
        import openvino as ov
        from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
        from nncf.quantization.range_estimator import RangeEstimatorParametersSet
    except ImportError as exc:
        raise UserError(f"{exc.name} is not installed; install it with: "
                        "pip install 'crnn-deploy[openvino,quant]'") from None

    onnx_path, output = Path(onnx_path), Path(output)
    if output.suffix.lower() != ".xml":
        raise UserError(f"{output}: an OpenVINO IR needs a .xml suffix")
    if activation_range not in ACTIVATION_RANGES:
        raise UserError(f"unknown activation range {activation_range!r}; "
                        f"use one of {', '.join(ACTIVATION_RANGES)}")
    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; use one of {', '.join(PRESETS)}")
    info = read_onnx_info(onnx_path)
    spec = info.spec
    if batch_size is not None:
        check_static_batch(info, batch_size, "the INT8 IR")
    batch = batch_size or info.batch or DEFAULT_BATCH
    calib = read_calibration(calib_gt, spec, calib_size, calib_root)

    core = ov.Core()
    model = core.read_model(str(onnx_path))
    if info.batch is None:
        model.reshape({model.input(0): ov.PartialShape([batch, *spec.input_shape])})
    items = calibration_batches(calib.x, batch)
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
        raise UserError(f"NNCF quantization of {onnx_path} failed: "
                        f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}") from None
    settings = {"tool": f"nncf {nncf.__version__}", "preset": preset,
                "fast_bias_correction": fast_bias_correction,
                "ignored_types": list(ignored_types), "activation_range": activation_range,
                "calib_gt": str(calib.gt), "calib_count": len(calib.files),
                "batch": batch, "source": onnx_path.name}
    qmodel.set_rt_info(spec.to_json(), RT_INFO_PATH)
    qmodel.set_rt_info(json.dumps(settings, sort_keys=True), RT_INFO_INT8)

    output.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        tmp_xml = tmpdir / "model.xml"
        ov.save_model(qmodel, str(tmp_xml), compress_to_fp16=False)
        # Check what was written: the saved IR, compiled in f32 as the runtime does by default.
        compiled = core.compile_model(core.read_model(str(tmp_xml)), "CPU",
                                      {"INFERENCE_PRECISION_HINT": "f32"})
        request = compiled.create_infer_request()

        def run(x):
            request.infer({0: x})
            return request.get_output_tensor(0).data.copy()

        got = run_batched(run, calib.x, batch)
        ref = fp32_reference(onnx_path, spec, calib.x, info.batch)
        check = check_agreement(spec, ref, got, calib.files)
        enforce_floor(check, min_agreement, f"INT8 IR {output}")
        files = [output.with_suffix(".bin"), output]
        for tmp, final in zip((tmpdir / "model.bin", tmp_xml), files):
            os.chmod(tmp, 0o644)
            os.replace(tmp, final)  # .bin first: a present .xml means a complete IR
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    note = (f"static batch {batch}, NNCF PTQ preset {preset}, {activation_range} activation "
            f"ranges, fast_bias_correction={fast_bias_correction}"
            + (f", float ops: {', '.join(ignored_types)}" if ignored_types else ""))
    return QuantizeResult(path=output, files=files, check=check, calib_gt=calib.gt,
                          calib_count=len(calib.files), calib_skipped=len(calib.skipped),
                          note=note)
