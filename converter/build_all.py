"""``crnn-convert all``: every engine this machine can build, and a summary table.

From a checkpoint (``--model M --checkpoint W``) or from an ONNX file that carries its spec
(``--onnx X``, e.g. from ``crnn-convert import``; M is then its spec's name and there are no
ONNX rows). Builds under ``outdir`` (docs/DESIGN.md, "Engines"), for model M and batch N:

==================  =========================================================================
``M_dynamic.onnx``  batch axis dynamic; checked against PyTorch (batches 1, N, 3, 2N+1)
``M_bsN.onnx``      static batch N, onnxsim-simplified; checked against PyTorch
``M_bsN.xml/.bin``  OpenVINO IR from ``M_bsN.onnx``, FP32 weights; checked against ONNX Runtime
``M_dynamic.xml``   instead, for a width that follows the word: batch and width dynamic
``M_bsN.engine``    TensorRT from ``M_dynamic.onnx``, profile 1/N/N, FP32; checked against ORT
``M_bsN.om``        atc from ``M_bsN.onnx`` (ModelZoo command); checked where ais_bench runs
``M_bsN_int8.xml``  OpenVINO INT8 IR (NNCF PTQ), with ``calib_gt``; checked against FP32
``M_bsN_int8.onnx`` INT8 QDQ ONNX (onnxruntime.quantization), with ``calib_gt``; likewise
==================  =========================================================================

A model whose width follows the word (english_g2, ppocrv4-rec) has one ONNX, dynamic in batch
and width (``M_dynamic.onnx``, or the ``--onnx`` file): the engines are built from it with a
static batch N and the width left dynamic (TensorRT: a width profile; OM: width gears), except
the OpenVINO IR, ``M_dynamic.xml``, which keeps the batch dynamic too (the runtime compiles it
at power-of-two batch gears, so a short bucket of a width does not run as N rows: english_g2
bf16 ran 108.7 images/s from a batch-16 IR and 176.9 from a dynamic one, issue 28), and
the INT8 models are calibrated and checked with each image at its own width.

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
from crnn_deploy.models.spec_checks import shown


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


def check_inside(outdir: Path, paths: list[Path]) -> None:
    """Refuse (UserError) any of ``paths`` that does not resolve to a file inside ``outdir``
    (symlinks followed): the names come from a model's spec, which a downloaded file carries
    (its rule, :func:`models.spec_checks.check_name`, is the first line of defence)."""
    root = outdir.resolve()
    for path in paths:
        real = path.resolve()
        if real.parent != root and root not in real.parents:
            raise UserError(f"output {shown(str(path))} resolves to {shown(str(real))}, outside "
                            f"--outdir {outdir}; nothing was written")


def build_all(model_name: str | None = None, checkpoint: str | Path | None = None,
              batch_size: int | None = None, outdir: str | Path = "build",
              soc_version: str | None = None, atc: str | Path | None = None,
              calib_gt: str | Path | None = None, overwrite: bool = False,
              log: Callable[[str], None] = lambda s: None, onnx: str | Path | None = None,
              calib_size: int | None = None) -> list[Row]:
    """Build every engine (see module doc); return the rows.

    The source is a checkpoint (``model_name`` + ``checkpoint``: the ONNX rows first) or an
    ONNX file that carries its spec (``onnx``: from ``crnn-convert import`` or ``onnx``; no
    ONNX row, every engine built from it and named after its spec, M = the spec's name).
    ``batch_size``: N (default: the given ONNX's static batch, else 16; a detector 1, a
    classifier its spec's ``batch_size``; neither gets INT8 rows). A model whose width
    follows the word has one ONNX (dynamic batch and width, ``M_dynamic.onnx``) that every
    engine is built from; its ``M_bsN.onnx`` row is skipped. ``calib_size``: INT8 calibration
    images (default :data:`converter.int8.DEFAULT_CALIB_SIZE`).

    Every output that will be attempted is checked before anything is built
    (:func:`converter.outputs.prepare_outputs`, with ``overwrite``).

    Raises:
        UserError: neither or both sources, a bad checkpoint or ONNX, or an output that may
            not be written.
    """
    from crnn_deploy.converter.common import read_onnx_info, require_torch
    from crnn_deploy.converter.int8 import DEFAULT_CALIB_SIZE, ROUTES
    from crnn_deploy.converter.om import find_atc
    from crnn_deploy.converter.outputs import prepare_outputs
    from crnn_deploy.models.specs import get_spec, sidecar_path
    from crnn_deploy.runtime.tensorrt_backend import unavailable_reason as trt_reason

    if (onnx is None) == (model_name is None or checkpoint is None) or (
            onnx is not None and (model_name or checkpoint)):
        raise UserError("give --model and --checkpoint (export first), or --onnx (an ONNX "
                        "file with its spec, e.g. from crnn-convert import), not both")
    if onnx is None:  # the ONNX rows export the checkpoint with PyTorch
        require_torch("crnn-convert all --checkpoint (the export from a PyTorch checkpoint; "
                      "--onnx builds from an ONNX file without it)")
    info = read_onnx_info(onnx) if onnx is not None else None
    spec = info.spec if info is not None else get_spec(model_name)
    page = {"detector": 1, "classifier": getattr(spec, "batch_size", 0)}.get(spec.kind)
    batch_size = batch_size or (info.batch if info is not None else None) or page or 16
    if page:  # INT8 calibrates recognizers on word images (converter.int8)
        calib_gt = None
    name, out = spec.name if info is not None else model_name, Path(outdir)
    stem = f"{name}_bs{batch_size}"
    dyn, static = out / f"{name}_dynamic.onnx", out / f"{stem}.onnx"
    plan, om = out / f"{stem}.engine", out / f"{stem}.om"
    # a width that follows the word: the IR keeps a dynamic batch (unless the given ONNX is static)
    ir_batch = None if (not page and spec.dynamic_width
                        and not (info is not None and info.batch)) else batch_size
    xml = out / (f"{name}_dynamic.xml" if ir_batch is None else f"{stem}.xml")
    int8 = [(f"{r.name.replace('onnxruntime', 'onnx')} int8", out / f"{stem}_int8{r.suffix}", r)
            for r in ROUTES.values()]
    have_ov = importlib.util.find_spec("openvino") is not None
    trt_why, atc_exe = trt_reason(), find_atc(atc)
    inputs = {"--checkpoint": checkpoint, "--onnx": onnx, "--calib-gt": calib_gt}
    planned = [] if info is not None else [(dyn, [])] + ([] if spec.dynamic_width else [(static, [])])
    planned += [(xml, [xml.with_suffix(".bin")])] if have_ov else []
    planned += [(plan, [sidecar_path(plan)])] if not trt_why else []
    planned += [(om, [sidecar_path(om)])] if atc_exe else []
    planned += [(t, [t.with_suffix(s) for s in r.companions]) for _, t, r in int8
                if calib_gt is not None and not r.missing_sdk()]
    check_inside(out, [p for path, companions in planned for p in [path, *companions]])
    for path, companions in planned:
        prepare_outputs([path], inputs, overwrite, companions, within=out)
    rows: list[Row] = []
    if info is not None:
        log(f"engines from {info.path} (spec {spec.name}"
            + (", width following the word" if not page and spec.dynamic_width else "") + ")")
        dyn_src = static_src = info.path
    else:
        dyn_src, static_src = _export_rows(rows, spec, model_name, checkpoint, dyn, static,
                                           batch_size, overwrite, log)

    def result(r):
        return r.max_diff, r.note

    if static_src is None:
        rows.append(Row("openvino", xml, "skipped: the static ONNX failed"))
    elif not have_ov:
        rows.append(Row("openvino", xml, "skipped: openvino not installed "
                                         "(pip install 'crnn-deploy[openvino]')"))
    else:
        from crnn_deploy.converter.openvino_convert import convert_openvino

        _attempt(rows, "openvino", xml, "ONNX Runtime", lambda: result(convert_openvino(
            static_src, xml, batch_size=ir_batch, overwrite=overwrite, check_gt=calib_gt,
            check_size=calib_size or DEFAULT_CALIB_SIZE)), log)

    if dyn_src is None:
        rows.append(Row("tensorrt", plan, "skipped: the dynamic ONNX failed"))
    elif trt_why:
        hint = " (pip install 'crnn-deploy[tensorrt]')" if "importable" in trt_why else ""
        rows.append(Row("tensorrt", plan, f"skipped: {trt_why}{hint}"))
    else:
        from crnn_deploy.converter.tensorrt_build import build_tensorrt

        _attempt(rows, "tensorrt", plan, "ONNX Runtime", lambda: result(build_tensorrt(
            dyn_src, plan, batch_size, min_batch=(info and info.batch) or 1,
            opt_batch=batch_size, max_batch=batch_size, overwrite=overwrite)), log)

    if static_src is None:
        rows.append(Row("ascend om", om, "skipped: the static ONNX failed"))
    elif atc_exe is None:
        rows.append(Row("ascend om", om, "skipped: atc (CANN toolkit) not on PATH"))
    else:
        from crnn_deploy.converter.om import build_om

        _attempt(rows, "ascend om", om, "ONNX Runtime", lambda: result(build_om(
            static_src, om, batch_size=batch_size, soc_version=soc_version, atc=atc,
            overwrite=overwrite)), log)
    if page:
        rows += [Row(engine, t, f"skipped: INT8 is calibrated for recognizers, not a {spec.kind}")
                 for engine, t, _ in int8]
    else:
        _int8_rows(rows, static_src, int8, batch_size, calib_gt,
                   calib_size or DEFAULT_CALIB_SIZE, overwrite, log)
    return rows


def _export_rows(rows: list[Row], spec, model_name: str, checkpoint, dyn: Path, static: Path,
                 batch_size: int, overwrite: bool, log: Callable[[str], None]
                 ) -> tuple[Path | None, Path | None]:
    """Export the checkpoint's ONNX rows; return the sources (dynamic, static) of the engines
    (None where the export failed). A width that follows the word has one ONNX for both."""
    from crnn_deploy.converter.onnx_export import export_onnx
    from crnn_deploy.models.checkpoint import load_model

    model = load_model(spec, checkpoint)
    dyn_ok = _attempt(rows, "onnx (dynamic)", dyn, "PyTorch", lambda: (
        export_onnx(model, spec, dyn, batch_size=batch_size, dynamic=True, overwrite=overwrite,
                    checkpoint=checkpoint),
        "dynamic batch and width" if spec.dynamic_width else "dynamic batch"), log)
    if spec.dynamic_width:
        rows.append(Row(f"onnx (bs{batch_size})", static, f"skipped: {model_name}'s width follows "
                        f"the word: every engine is built from {dyn.name}"))
        return (dyn, dyn) if dyn_ok else (None, None)
    static_ok = _attempt(rows, f"onnx (bs{batch_size})", static, "PyTorch", lambda: (
        export_onnx(model, spec, static, batch_size=batch_size, overwrite=overwrite,
                    checkpoint=checkpoint),
        f"batch {batch_size}"), log)
    return dyn if dyn_ok else None, static if static_ok else None


def _int8_rows(rows: list[Row], onnx: Path | None, targets: list, batch_size: int,
               calib_gt: str | Path | None, calib_size: int, overwrite: bool,
               log: Callable[[str], None]) -> None:
    from crnn_deploy.converter.int8 import quantize

    def run(target: Path):
        r = quantize(onnx, calib_gt, target, calib_size=calib_size, batch_size=batch_size,
                     overwrite=overwrite)
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
