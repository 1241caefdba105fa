"""``crnn-convert all``: checkpoint -> every engine this machine can build, and a summary table.

Builds under ``outdir`` (DESIGN.md, "Engines"), for model M and batch N:

==================  =========================================================================
``M_dynamic.onnx``  batch axis dynamic; checked against PyTorch (batches 1, N, 3, 2N+1)
``M_bsN.onnx``      static batch N, onnxsim-simplified; checked against PyTorch
``M_bsN.xml/.bin``  OpenVINO IR from ``M_bsN.onnx``, FP32 weights; checked against ONNX Runtime
``M_bsN.engine``    TensorRT from ``M_dynamic.onnx``, profile 1/N/N, FP32; checked against ORT
``M_bsN.om``        atc from ``M_bsN.onnx`` (ModelZoo command); checked where ais_bench runs
``M_bsN_int8.xml``  OpenVINO INT8 IR (NNCF PTQ), with ``calib_gt``; checked against FP32
``M_bsN_int8.onnx`` INT8 QDQ ONNX (onnxruntime.quantization), with ``calib_gt``; likewise
==================  =========================================================================

The INT8 rows need calibration images (``calib_gt``, a gt.txt of another data set than the one
scored: ``make convert`` passes IC03); their check is the greedy-decode agreement with the FP32
ONNX on the calibration images (``diff`` column: max abs logit diff).

An engine whose SDK is absent is *skipped* (with the reason); one whose build or check fails is
*failed*: the table is printed anyway, the errors after it, and the command exits 1.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from crnn_deploy.common.errors import UserError


@dataclass
class Row:
    """One line of the summary: ``status`` is ``built``, ``skipped: why`` or ``failed``."""

    engine: str
    file: Path
    status: str
    diff: float | None = None
    reference: str = ""
    error: str = ""
    note: str = ""

    @property
    def size_mb(self) -> str:
        """Size in MB (10**6 bytes) of the file (with the .bin for an IR), or ``-``."""
        if not self.status.startswith("built") or not self.file.is_file():
            return "-"
        size = self.file.stat().st_size
        if self.file.suffix == ".xml" and self.file.with_suffix(".bin").is_file():
            size += self.file.with_suffix(".bin").stat().st_size
        return f"{size / 1e6:.1f}"


def format_table(rows: list[Row]) -> str:
    """The rows as an aligned text table (engine, file, size (MB), status, max abs diff, check)."""
    head = ("engine", "file", "size (MB)", "status", "max abs diff", "check")

    def diff(r: Row) -> str:
        if r.diff is None:
            return "not checked" if r.status == "built" else "-"
        return f"{r.diff:.2e} vs {r.reference}"

    body = [(r.engine, r.file.name, r.size_mb, r.status, diff(r), r.note) for r in rows]
    widths = [max(len(str(x[i])) for x in [head, *body]) for i in range(len(head))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*head), fmt.format(*("-" * w for w in widths))]
    return "\n".join(line.rstrip() for line in [*lines, *(fmt.format(*map(str, b)) for b in body)])


def _attempt(rows: list[Row], engine: str, file: Path, reference: str,
             fn: Callable[[], tuple[float | None, str]], log: Callable[[str], None]) -> bool:
    log(f"building {engine}: {file} ...")
    try:
        diff, note = fn()
    except UserError as exc:
        rows.append(Row(engine, file, "failed", error=exc.format_message()))
        return False
    except Exception as exc:  # an SDK crash: report it in the table, keep going
        rows.append(Row(engine, file, "failed", error=f"{type(exc).__name__}: {exc}"))
        return False
    rows.append(Row(engine, file, "built", diff, reference, note=note))
    return True


def build_all(model_name: str, checkpoint: str | Path, batch_size: int = 16,
              outdir: str | Path = "build", soc_version: str | None = None,
              atc: str | Path | None = None, calib_gt: str | Path | None = None,
              overwrite: bool = False, log: Callable[[str], None] = lambda s: None) -> list[Row]:
    """Build every engine (see module doc); return the rows.

    Every output that will be attempted is checked before anything is built
    (:func:`converter.outputs.prepare_outputs`, with ``overwrite``).

    Raises:
        UserError: a bad checkpoint, or an output that may not be written.
    """
    from crnn_deploy.converter.int8 import ROUTES
    from crnn_deploy.converter.om import build_om, find_atc
    from crnn_deploy.converter.onnx_export import export_onnx
    from crnn_deploy.converter.outputs import prepare_outputs
    from crnn_deploy.models.checkpoint import load_model
    from crnn_deploy.models.specs import get_spec, sidecar_path
    from crnn_deploy.runtime.tensorrt_backend import unavailable_reason as trt_reason

    spec = get_spec(model_name)
    out = Path(outdir)
    stem = f"{model_name}_bs{batch_size}"
    dyn, static = out / f"{model_name}_dynamic.onnx", out / f"{stem}.onnx"
    xml, plan, om = out / f"{stem}.xml", out / f"{stem}.engine", out / f"{stem}.om"
    int8 = [(f"{r.name.replace('onnxruntime', 'onnx')} int8", out / f"{stem}_int8{r.suffix}", r)
            for r in ROUTES.values()]
    have_ov = importlib.util.find_spec("openvino") is not None
    trt_why, atc_exe = trt_reason(), find_atc(atc)
    inputs = {"--checkpoint": checkpoint, "--calib-gt": calib_gt}
    planned = [(dyn, []), (static, [])]
    planned += [(xml, [xml.with_suffix(".bin")])] if have_ov else []
    planned += [(plan, [sidecar_path(plan)])] if not trt_why else []
    planned += [(om, [sidecar_path(om)])] if atc_exe else []
    planned += [(t, [t.with_suffix(s) for s in r.companions]) for _, t, r in int8
                if calib_gt is not None and not r.missing_sdk()]
    for path, companions in planned:
        prepare_outputs([path], inputs, overwrite, companions)
    model = load_model(spec, checkpoint)
    rows: list[Row] = []
    dyn_ok = _attempt(rows, "onnx (dynamic)", dyn, "PyTorch", lambda: (
        export_onnx(model, spec, dyn, batch_size=batch_size, dynamic=True, overwrite=overwrite),
        "dynamic batch"), log)
    static_ok = _attempt(rows, f"onnx (bs{batch_size})", static, "PyTorch", lambda: (
        export_onnx(model, spec, static, batch_size=batch_size, overwrite=overwrite),
        f"batch {batch_size}"), log)

    def result(r):
        return r.max_diff, r.note

    if not static_ok:
        rows.append(Row("openvino", xml, "skipped: the static ONNX failed"))
    elif not have_ov:
        rows.append(Row("openvino", xml, "skipped: openvino not installed "
                                         "(pip install 'crnn-deploy[openvino]')"))
    else:
        from crnn_deploy.converter.openvino_convert import convert_openvino

        _attempt(rows, "openvino", xml, "ONNX Runtime", lambda: result(convert_openvino(
            static, xml, batch_size=batch_size, overwrite=overwrite)), log)

    if not dyn_ok:
        rows.append(Row("tensorrt", plan, "skipped: the dynamic ONNX failed"))
    elif trt_why:
        hint = " (pip install 'crnn-deploy[tensorrt]')" if "importable" in trt_why else ""
        rows.append(Row("tensorrt", plan, f"skipped: {trt_why}{hint}"))
    else:
        from crnn_deploy.converter.tensorrt_build import build_tensorrt

        _attempt(rows, "tensorrt", plan, "ONNX Runtime", lambda: result(build_tensorrt(
            dyn, plan, batch_size, min_batch=1, opt_batch=batch_size, max_batch=batch_size,
            overwrite=overwrite)), log)

    if not static_ok:
        rows.append(Row("ascend om", om, "skipped: the static ONNX failed"))
    elif atc_exe is None:
        rows.append(Row("ascend om", om, "skipped: atc (CANN toolkit) not on PATH"))
    else:
        _attempt(rows, "ascend om", om, "ONNX Runtime", lambda: result(build_om(
            static, om, batch_size=batch_size, soc_version=soc_version, atc=atc,
            overwrite=overwrite)), log)
    _int8_rows(rows, static if static_ok else None, int8, batch_size, calib_gt, overwrite, log)
    return rows


def _int8_rows(rows: list[Row], onnx: Path | None, targets: list, batch_size: int,
               calib_gt: str | Path | None, overwrite: bool, log: Callable[[str], None]) -> None:
    from crnn_deploy.converter.int8 import quantize

    def run(target: Path):
        r = quantize(onnx, calib_gt, target, batch_size=batch_size, overwrite=overwrite)
        return r.check.max_diff, f"agreement {r.check.agreement:.1%} on {r.calib_count} images"

    for engine, target, route in targets:
        missing = route.missing_sdk()
        if onnx is None:
            rows.append(Row(engine, target, "skipped: the static ONNX failed"))
        elif calib_gt is None:
            rows.append(Row(engine, target, "skipped: no calibration images (--calib-gt)"))
        elif missing:
            rows.append(Row(engine, target, f"skipped: {missing} not installed "
                                            f"(pip install 'crnn-deploy[{route.extra}]')"))
        else:
            _attempt(rows, engine, target, "FP32 ONNX", lambda t=target: run(t), log)
