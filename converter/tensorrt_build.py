"""ONNX -> TensorRT plan (``.engine``) with the TensorRT 10 Python API, checked, with sidecar.

Flow (as ``trtexec --onnx=X --saveEngine=Y --minShapes/--optShapes/--maxShapes`` or Polygraphy's
``NetworkFromOnnxPath`` + ``CreateConfig`` + ``EngineFromNetwork``): ``trt.Builder`` ->
``create_network(0)`` (explicit batch is the only mode in TensorRT 10) -> ``trt.OnnxParser``
(every parser error reported) -> builder config with one optimization profile on the batch
axis, ``set_memory_pool_limit(WORKSPACE, MiB << 20)``, FP16/INT8 flags (INT8 with an entropy
calibrator over ``input_bin/``) -> ``build_serialized_network``. The plan is checked against
ONNX Runtime, then written with its sidecar ``Y.engine.json`` (spec, profile, precision,
TensorRT version, GPU) to hidden temporaries and published sidecar first, plan last, neither
over a file it may not replace (:func:`converter.outputs.publish_outputs`).

Checks (stated, not tuned; FP16/INT8 are not measured on a GPU in this repository's CI):
  * FP32: max abs diff of the (T, N, C) output <= 1e-4 at batches min, opt and max;
  * FP16: max abs diff <= :data:`FP16_ATOL` (0.1 on logits of magnitude ~10-20);
  * INT8: greedy-CTC decodes agree with ONNX Runtime's on >= :data:`INT8_MIN_AGREEMENT`
    (95 %) of the calibration samples (max abs diff reported, not gated).

The pure parts (:func:`profile_shapes`, :func:`builder_flags`) need no TensorRT.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs import temp_file
from crnn_deploy.converter.common import BuildResult, read_onnx_info, source_record
from crnn_deploy.converter.outputs import prepare_outputs, publish_outputs
from crnn_deploy.converter.page_parity import compare_page, page_profile
from crnn_deploy.converter.parity import (
    FP32_ATOL,
    compare,
    enforce_agreement,
    greedy_agreement,
    onnx_runner,
    run_batches,
)
from crnn_deploy.models.specs import ModelSpec, sidecar_path, write_sidecar

FP16_ATOL = 0.1
INT8_MIN_AGREEMENT = 0.95
DEFAULT_WORKSPACE_MIB = 1024


def profile_shapes(spec: ModelSpec, batch_size: int, min_batch: int | None = None,
                   opt_batch: int | None = None, max_batch: int | None = None,
                   max_width: int | None = None) -> dict[str, tuple[int, int, int, int]]:
    """The optimization profile: ``{"min", "opt", "max"}`` -> (N, C, H, W) of the spec.

    Defaults: min 1, opt ``batch_size``, max ``batch_size`` (the docs/DESIGN.md profile 1/16/16).
    A detector's or classifier's profile: :func:`converter.page_parity.page_profile`
    (``max_width``: the detector's largest side). A dynamic-width spec's profile also spans the width (TensorRT ``IOptimizationProfile.
    set_shape`` takes any dims): W from the spec's smallest (min and opt) to ``max_width``
    (default the spec's largest); the plan's sidecar spec then says ``width_max = max_width``.

    Raises:
        UserError: a value below 1, or not min <= opt <= max (the message names the option
            and value at fault).
    """
    values = {"--batch-size": batch_size, "--min-batch": 1 if min_batch is None else min_batch,
              "--opt-batch": batch_size if opt_batch is None else opt_batch,
              "--max-batch": batch_size if max_batch is None else max_batch}
    for name, value in values.items():
        if value is None or int(value) < 1:
            raise UserError(f"{name} must be >= 1, got {value}")
    lo, opt, hi = values["--min-batch"], values["--opt-batch"], values["--max-batch"]
    opt_src = "" if opt_batch is not None else " (default: --batch-size)"
    max_src = "" if max_batch is not None else " (default: --batch-size)"
    if lo > opt:
        raise UserError(f"--min-batch {lo} is above --opt-batch {opt}{opt_src}; "
                        "need min <= opt <= max")
    if opt > hi:
        raise UserError(f"--opt-batch {opt}{opt_src} is above --max-batch {hi}{max_src}; "
                        "need min <= opt <= max")
    if spec.kind != "recognizer":  # a detector spans H and W (converter.page_parity)
        return page_profile(spec, lo, opt, hi, max_width)
    if spec.dynamic_width:  # the profile spans the width too: min..max, opt at the smallest
        c, h, w = spec.input_shape
        top = max_width or spec.width_max
        if not w <= top <= spec.width_max:
            raise UserError(f"--max-width {top} is outside {w}..{spec.width_max} of {spec.name}")
        return {"min": (int(lo), c, h, w), "opt": (int(opt), c, h, w), "max": (int(hi), c, h, top)}
    return {k: (int(n), *spec.input_shape) for k, n in (("min", lo), ("opt", opt), ("max", hi))}


def builder_flags(fp16: bool = False, int8: bool = False, calib: str | Path | None = None
                  ) -> list[str]:
    """Names of the ``trt.BuilderFlag`` members to set (``[]`` = FP32).

    INT8 keeps FP16 if asked too (layers without INT8 kernels then fall back to FP16).

    Raises:
        UserError: ``--int8`` without ``--calib`` or ``--calib`` without ``--int8``.
    """
    if int8 and calib is None:
        raise UserError("--int8 needs --calib input_bin/ (preprocessed samples, crnn-preprocess) "
                        "to calibrate the INT8 ranges")
    if calib is not None and not int8:
        raise UserError("--calib is only used with --int8")
    return (["FP16"] if fp16 else []) + (["INT8"] if int8 else [])


def precision_name(flags: list[str]) -> str:
    """``int8`` / ``fp16`` / ``fp32``: the lowest precision the flags allow."""
    return "int8" if "INT8" in flags else "fp16" if "FP16" in flags else "fp32"


def _parse(trt, network, logger, onnx_path: Path):
    """Parse into ``network``; return the parser, which owns the weights: keep it alive until
    the build is done (as Polygraphy's NetworkFromOnnxPath returns it with the network)."""
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise UserError(f"TensorRT's ONNX parser rejected {onnx_path} ({len(errors)} errors):\n  "
                        + "\n  ".join(errors or ["(no error recorded)"]))
    return parser


def _build_plan(onnx_path: Path, spec: ModelSpec, shapes: dict, flags: list[str],
                workspace_mib: int, calibrator=None) -> bytes:
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    network = builder.create_network(
        0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    parser = _parse(trt, network, logger, onnx_path)  # noqa: F841 (kept alive, see _parse)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    profile = builder.create_optimization_profile()
    profile.set_shape(spec.input_name, shapes["min"], shapes["opt"], shapes["max"])
    config.add_optimization_profile(profile)
    for flag in flags:
        config.set_flag(getattr(trt.BuilderFlag, flag))
    if calibrator is not None:
        config.int8_calibrator = calibrator
        config.set_calibration_profile(profile)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise UserError(f"TensorRT could not build an engine from {onnx_path} with profile "
                        f"{shapes} and flags {flags or ['FP32']} (see the TensorRT log above)")
    return bytes(plan)


def _int8_check(reference, candidate, spec: ModelSpec, batches: list[np.ndarray], count: int):
    """Greedy-decode agreement and max abs diff of ``candidate`` (the INT8 plan) against
    ``reference`` (ONNX Runtime) on the first ``count`` calibration samples."""
    x = np.concatenate(batches)
    n = len(batches[0])
    ref = run_batches(reference, x, n)[:, :count]
    got = run_batches(candidate, x, n)[:, :count]
    return greedy_agreement(spec, ref, got)


def _gpu_name() -> str:
    try:
        from crnn_deploy.runtime.tensorrt_backend import cuda_call, cudart

        name = cuda_call(cudart().cudaGetDeviceProperties(0)).name
        return name.decode(errors="replace").rstrip("\0") if isinstance(name, bytes) else str(name)
    except Exception:  # informative only
        return "unknown"


def build_tensorrt(onnx_path: str | Path, output: str | Path, batch_size: int,
                   min_batch: int | None = None, opt_batch: int | None = None,
                   max_batch: int | None = None, fp16: bool = False, int8: bool = False,
                   calib: str | Path | None = None,
                   workspace_mib: int = DEFAULT_WORKSPACE_MIB,
                   overwrite: bool = False, max_width: int | None = None) -> BuildResult:
    """Build, check and write the plan ``output`` and its sidecar ``output.json``.

    Args:
        onnx_path: ONNX file of ``crnn-convert onnx`` (dynamic batch for a batch range).
        output: the plan file to write (``.engine`` or ``.plan``).
        batch_size, min_batch, opt_batch, max_batch: the profile (see :func:`profile_shapes`).
        fp16, int8, calib: precision (see :func:`builder_flags`); ``calib`` is an input_bin/.
        workspace_mib: builder workspace limit in MiB.
        overwrite: replace an existing plan written by this tool (with its sidecar).

    Raises:
        UserError: bad options, an output that may not be written
            (:func:`converter.outputs.prepare_outputs`), TensorRT/GPU unavailable (with the install hint), a static ONNX
            batch outside the profile, parser or build failure, or a failed check (nothing
            is written then).
    """
    from crnn_deploy.runtime.tensorrt_backend import INSTALL_HINT, TrtSession, unavailable_reason

    output = Path(output)
    if output.suffix.lower() not in (".engine", ".plan"):
        raise UserError(f"TensorRT output must end in .engine or .plan, got {output}")
    flags = builder_flags(fp16, int8, calib)
    prepare_outputs([output], {"--onnx": onnx_path, "--calib": calib}, overwrite,
                    companions=[sidecar_path(output)])
    info = read_onnx_info(onnx_path)
    spec = info.spec
    shapes = profile_shapes(spec, batch_size, min_batch, opt_batch, max_batch, max_width)
    if spec.kind != "recognizer" and int8:
        raise UserError("--int8 calibrates a recognizer on input_bin/ samples; build the "
                        f"{spec.kind} {spec.name} in FP32 or FP16")
    if spec.kind == "detector":  # the plan runs sides up to its profile's max
        spec = spec.with_changes(input=replace(spec.input, max_side=shapes["max"][3]))
    elif spec.kind == "recognizer" and spec.dynamic_width:  # widths up to the profile's max
        spec = spec.with_changes(width_max=shapes["max"][3])
    batches = tuple(dict.fromkeys(shapes[k][0] for k in ("min", "opt", "max")))
    if info.batch is not None and batches != (info.batch,):
        raise UserError(f"{info.path} has a static batch of {info.batch}, the profile asks for "
                        f"batches {shapes['min'][0]}..{shapes['max'][0]}: use the dynamic-batch "
                        "ONNX (crnn-convert onnx --dynamic), or min = opt = max = "
                        f"{info.batch}")
    calib_data = None
    if int8:
        from crnn_deploy.converter.tensorrt_calib import read_calibration_batches

        calib_data = read_calibration_batches(calib, spec, shapes["opt"][0])
    reason = unavailable_reason()
    if reason:
        raise UserError(f"TensorRT cannot build here: {reason}; install with: {INSTALL_HINT}")
    calibrator = None
    if calib_data is not None:
        from crnn_deploy.converter.tensorrt_calib import make_calibrator

        calibrator = make_calibrator(calib_data[0], spec.input_name)
    try:
        plan = _build_plan(info.path, spec, shapes, flags, workspace_mib, calibrator)
    finally:
        if calibrator is not None:
            calibrator.buffer.free()
    prec = precision_name(flags)
    session = TrtSession(plan, label=f"the plan built for {output}")
    extra: dict = {}
    try:
        with onnx_runner(info.path) as reference:
            if prec == "int8":
                check = _int8_check(reference, session, spec, *calib_data)
                diff = check.max_diff
                extra["int8_decode_agreement"] = check.agreement
                enforce_agreement(check, INT8_MIN_AGREEMENT, f"INT8 engine for {output}",
                                  "ONNX Runtime")
                atol = None
            elif spec.kind != "recognizer":  # page-like inputs (converter.page_parity)
                atol = FP16_ATOL if prec == "fp16" else FP32_ATOL
                diff = compare_page(f"TensorRT ({prec}) vs ONNX Runtime for {output}", spec,
                                    reference, session, atol=atol)
            else:
                atol = FP16_ATOL if prec == "fp16" else FP32_ATOL
                diff = compare(f"TensorRT ({prec}) vs ONNX Runtime for {output}", spec, batches,
                               reference, session, atol=atol)
    finally:
        session.close()
    import tensorrt as trt

    profile = {k: v[0] for k, v in shapes.items()}
    side = sidecar_path(output)
    with temp_file(output) as tmp, temp_file(side) as tmp_side:
        tmp.write_bytes(plan)
        write_sidecar(output, spec, path=tmp_side, profile=profile, precision=prec,
                      tensorrt=trt.__version__, gpu=_gpu_name(), onnx=str(info.path),
                      source=source_record("onnx", info.path, info.source),
                      max_abs_diff=diff, **extra)
        publish_outputs(output, [(tmp_side, side), (tmp, output)], overwrite)  # sidecar first
    note = f"profile {profile['min']}/{profile['opt']}/{profile['max']}, {prec}"
    if "int8_decode_agreement" in extra:
        note += f", decode agreement {extra['int8_decode_agreement']:.1%}"
    return BuildResult(path=output, max_diff=diff, atol=atol, note=note,
                       files=[output, sidecar_path(output)])
