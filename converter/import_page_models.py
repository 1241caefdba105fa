"""A detector's or angle classifier's ONNX + its spec -> our ONNX (``crnn-convert import``).

:func:`converter.onnx_import.import_onnx` hands a spec of kind ``detector`` or ``classifier``
(:mod:`models.page_specs`) here. The written file holds:

* the spec, with the model's input and output names filled in, in ``metadata_props`` under
  ``crnn_deploy.spec`` (every later stage reads it: engines, page pipeline);
* input dims: N symbolic (``batch``) for both; a detector's H and W symbolic (``height``,
  ``width``), a classifier's fixed to the spec's (3, height, width);
* the graph unchanged, or onnxsim's graph when its outputs equal the original's bit for bit.

What the spec claims is checked against what the model does, with ONNX Runtime on page-like
inputs (:mod:`converter.page_inputs`): a detector's output is (N, 1, H, W) at the input's H and W
with values in [0, 1], at two page sizes and a batch of 2; a classifier's is (N, len(labels))
with rows of probabilities summing to 1 (within :data:`PROB_SUM_ATOL`). The written model is run
on the same inputs and must equal the source within :data:`IMPORT_ATOL` (1e-5).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import onnx

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs import temp_file
from crnn_deploy.converter.common import simplified_if_equal, stamp_imported
from crnn_deploy.converter.outputs import publish_outputs
from crnn_deploy.converter.page_inputs import check_inputs_of
from crnn_deploy.models.page_specs import page_spec_from_dict
from crnn_deploy.models.specs import load_onnx_spec

#: max abs diff allowed between the source model and the written one (same runtime, as
#: ``converter.onnx_import.IMPORT_ATOL``)
IMPORT_ATOL = 1e-5
#: |sum of a classifier row - 1| allowed (float32 softmax)
PROB_SUM_ATOL = 1e-3
#: detector map values allowed outside [0, 1] by float rounding
MAP_EPS = 1e-6


@dataclass
class PageImportResult:
    """What :func:`import_page_model` wrote (the fields of ``converter.onnx_import.ImportResult``):
    the spec, whether onnxsim's graph was kept (and why not), the max abs diff to the source."""

    spec: object
    simplified: bool
    max_diff: float
    note: str = ""
    warnings: tuple[str, ...] = ()  # as ImportResult's; no page check warns today


def _dims(v) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in v.type.tensor_type.shape.dim]


def _pick(model: onnx.ModelProto, path: Path, spec):
    init = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    found = []
    for what, items, want in (("input", inputs, spec.input.name),
                              ("output", list(model.graph.output), spec.output.name)):
        pick = [v for v in items if want in ("", v.name)]
        if len(pick) != 1:
            raise UserError(f"{path}: spec {what}.name {want!r} does not pick one of the model's "
                            f"{what}s {[v.name for v in items]}")
        found.append(pick[0])
    return found


def _set_dims(value_info, dims: list) -> None:
    for axis, v in enumerate(dims):
        dim = value_info.type.tensor_type.shape.dim[axis]
        if isinstance(v, int):
            dim.dim_value = v
        else:
            dim.dim_param = v


def _run(model, inputs: list[np.ndarray], name: str, where="the model", kind="") -> list[np.ndarray]:
    from crnn_deploy.runtime.engine_spec import first_line
    from crnn_deploy.runtime.ort_backend import open_session

    sess = open_session(model)
    outs = []
    for x in inputs:
        try:
            outs.append(sess.run(None, {name: x})[0])
        except Exception as exc:  # onnxruntime's Fail/InvalidArgument on a shape it cannot run
            raise UserError(f"{where}: ONNX Runtime cannot run input {tuple(x.shape)} of the "
                            f"{kind or 'spec'} ({first_line(exc)}); is it a {kind or 'model'} "
                            "of this spec?") from None
    return outs


def check_outputs(spec, inputs: list[np.ndarray], outputs: list[np.ndarray], where) -> None:
    """Hold the source model's outputs to what its spec claims (module docstring).

    Raises:
        UserError: naming the model, the input shape and what differs.
    """
    for x, y in zip(inputs, outputs):
        at = f"{where}: at input {tuple(x.shape)}"
        if spec.kind == "detector":
            want = (x.shape[0], 1, *x.shape[2:])
            if y.shape != want:
                raise UserError(f"{at} the output is {y.shape}; a detector's probability map "
                                f"is (N, 1, H, W) = {want}")
            if not (np.isfinite(y).all() and y.min() >= -MAP_EPS and y.max() <= 1 + MAP_EPS):
                raise UserError(f"{at} the map has values in [{y.min():.3g}, {y.max():.3g}]; a "
                                "probability map is in [0, 1] (is a sigmoid missing?)")
        else:
            want = (x.shape[0], len(spec.labels))
            if y.shape != want:
                raise UserError(f"{at} the output is {y.shape}, expected (N, len(labels)) = {want} "
                                f"for labels {list(spec.labels)}")
            worst = float(np.abs(y.astype(np.float64).sum(axis=1) - 1).max())
            if not (np.isfinite(y).all() and y.min() >= 0 and worst <= PROB_SUM_ATOL):
                raise UserError(f"{at} the rows are not probabilities (min {y.min():.3g}, "
                                f"|sum - 1| up to {worst:.3g}); output.kind is 'probabilities'")


def import_page_model(source: Path, spec_dict: dict, output: Path, simplify: bool = True,
                      overwrite: bool = False):
    """Write ``output`` from the detector/classifier ``source`` and its spec (module docstring);
    the output was already checked writable by the caller (``prepare_outputs``).

    Returns:
        :class:`PageImportResult` (the spec written, onnxsim kept or why not, the max abs diff
        against the source).

    Raises:
        UserError: an invalid spec (naming the key), the model's input is not rank 4 or has a
            static C other than 3 / a classifier's static H or W other than the spec's, the
            outputs contradict the spec, or the written model differs from the source.
    """
    spec = page_spec_from_dict(spec_dict)
    if not source.is_file():
        raise UserError(f"ONNX file not found: {source}")
    model = load_onnx_spec(source)[0]
    inp, out = _pick(model, source, spec)
    spec = spec.with_changes(input=replace(spec.input, name=inp.name),
                             output=replace(spec.output, name=out.name))
    dims = _dims(inp)
    fixed = (3, "height", "width") if spec.kind == "detector" else spec.input_shape
    if len(dims) != 4 or any(isinstance(d, int) and d > 0 and isinstance(f, int) and d != f
                             for d, f in zip(dims[1:], fixed)):
        raise UserError(f"{source}: the model's input {inp.name!r} is {dims}; the spec "
                        f"({spec.kind} {spec.name}) needs (N, {', '.join(map(str, fixed))})")
    if spec.kind == "detector" and any(isinstance(d, int) and d > 0 for d in dims[2:]):
        raise UserError(f"{source}: the model's input {inp.name!r} is {dims}: a detector needs a "
                        "dynamic height and width (the page decides them)")
    inputs = check_inputs_of(spec)
    reference = _run(str(source), inputs, inp.name, source, spec.kind)
    check_outputs(spec, inputs, reference, source)
    _set_dims(inp, ["batch", *fixed])
    out_dims = ["batch", 1, "height", "width"] if spec.kind == "detector" else ["batch", len(spec.labels)]
    if len(_dims(out)) == len(out_dims):
        _set_dims(out, out_dims)
    note, simplified = "onnxsim skipped", False
    if simplify:
        model, simplified, note = simplified_if_equal(model, lambda m: _run(m, inputs, inp.name))
    metadata = {p.key: p.value for p in model.metadata_props}
    stamp_imported(model, metadata, spec, source, output)
    with temp_file(output, ".onnx") as tmp:
        onnx.save(model, str(tmp))
        got = _run(str(tmp), inputs, inp.name)
        diff = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(reference, got))
        if not diff <= IMPORT_ATOL:
            raise UserError(f"import of {source}: the written model differs from the source by "
                            f"{diff:.3g} (> {IMPORT_ATOL:g}); nothing was written")
        publish_outputs(output, [(tmp, output)], overwrite)
    return PageImportResult(spec, simplified, diff, note)


