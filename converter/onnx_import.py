"""A CTC recognizer's ONNX from anywhere + a spec -> our ONNX (``crnn-convert import``).

What the written file holds, so that every later stage (engines, crnn-infer, crnn-eval,
crnn-recognize, Recognizer, Ray) takes it like an ONNX of ``crnn-convert onnx``:

* the spec (:mod:`models.spec_schema`, resolved: alphabet inline, T measured) in
  ``metadata_props`` under :data:`models.specs.METADATA_KEY`;
* input dims N (``batch``) and, for a dynamic-width spec, W (``width``) symbolic; C and H fixed
  to the spec's;
* output (T, N, C) with the blank at class 0: a ``Transpose`` appended for a (N, T, C) model,
  a ``Gather`` over the classes for a blank elsewhere (the spec written says ``TBC``, blank 0);
* onnxsim's graph only when its outputs equal the unsimplified graph's (bit for bit, at every
  check shape), else the original graph;
* parity: ONNX Runtime on the written file against ONNX Runtime on the source file (its
  output transposed / re-ordered in numpy), batches 1 and 3, at the smallest width and (dynamic
  width) a wider one; the tolerance is 1e-5 (float32 rounding only: same runtime, same ops).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs import temp_file
from crnn_deploy.converter.common import simplified_if_equal, stamp_imported
from crnn_deploy.converter.import_checks import check_outputs, keep_output, white_input
from crnn_deploy.converter.outputs import prepare_outputs, publish_outputs
from crnn_deploy.models.page_presets import PAGE_PRESETS
from crnn_deploy.models.presets import PRESETS
from crnn_deploy.models.spec_checks import shown
from crnn_deploy.models.spec_record import ModelSpec
from crnn_deploy.models.spec_schema import load_spec_file, spec_from_schema
from crnn_deploy.models.specs import load_onnx_spec

#: max abs diff allowed between the source model and the written one (same runtime)
IMPORT_ATOL = 1e-5


@dataclass
class ImportResult:
    """What :func:`import_onnx` wrote: the spec, whether onnxsim's graph was kept (and why
    not), and the max abs diff against the source model."""

    spec: ModelSpec
    simplified: bool
    max_diff: float
    note: str = ""
    warnings: list[str] = field(default_factory=list)


def load_model(path: Path) -> onnx.ModelProto:
    """Read an ONNX file (:func:`models.onnx_file.load_onnx_spec`: bounded, no external
    data). Raises UserError naming the file when it is missing, a folder, empty, too large,
    unreadable or keeps its weights in external files."""
    return load_onnx_spec(path)[0]


def read_spec_arg(spec: str | Path) -> tuple[dict, Path | None]:
    """A preset name or a spec file path -> (schema dict, folder for relative file paths)."""
    if str(spec) in PRESETS or str(spec) in PAGE_PRESETS:
        return {**PRESETS, **PAGE_PRESETS}[str(spec)], None
    path = Path(spec)
    if not os.path.lexists(path):
        raise UserError(f"--spec {shown(str(spec))}: neither a preset "
                        f"({', '.join([*PRESETS, *PAGE_PRESETS])}) nor a file")
    return load_spec_file(path), path.parent


def _dims(value_info) -> list:
    return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in value_info.type.tensor_type.shape.dim]


def _set_dim(value_info, axis: int, value) -> None:
    dim = value_info.type.tensor_type.shape.dim[axis]
    if isinstance(value, int):
        dim.dim_value = value
    else:
        dim.dim_param = value


def _io(model: onnx.ModelProto, path: Path, d: dict):
    init = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in init]
    outputs = list(model.graph.output)
    want_in = d.get("input", {}).get("name") if isinstance(d.get("input"), dict) else None
    want_out = d.get("output", {}).get("name") if isinstance(d.get("output"), dict) else None
    pick_in = [i for i in inputs if want_in in (None, i.name)]
    pick_out = [o for o in outputs if want_out in (None, o.name)]
    if len(pick_in) != 1:
        raise UserError(f"{path}: spec input.name {shown(want_in)} does not pick one of the model's "
                        f"inputs {[i.name for i in inputs]}")
    if len(pick_out) != 1:
        raise UserError(f"{path}: spec output.name {shown(want_out)} does not pick one of the model's "
                        f"outputs {[o.name for o in outputs]}")
    return pick_in[0], pick_out[0]


def _check_input(spec: ModelSpec, dims: list, path: Path) -> None:
    if len(dims) != 4:
        raise UserError(f"{path}: the model's input {spec.input_name!r} has rank {len(dims)} "
                        f"{dims}; the spec's input is NCHW (rank 4)")
    for axis, name, want in ((1, "channels", spec.input_shape[0]), (2, "height", spec.input_shape[1])):
        if isinstance(dims[axis], int) and dims[axis] > 0 and dims[axis] != want:
            raise UserError(f"{path}: spec input.{name} is {want}, but the model's input has "
                            f"{dims[axis]} on axis {axis} ({dims})")
    w = dims[3]
    if isinstance(w, int) and w > 0 and (spec.dynamic_width or w != spec.input_shape[2]):
        raise UserError(f"{path}: spec input.width {'is dynamic' if spec.dynamic_width else spec.input_shape[2]}"
                        f", but the model's input width is fixed to {w}")


def _normalize_output(model: onnx.ModelProto, spec: ModelSpec, name: str) -> str:
    """Append Transpose (BTC -> TBC) and Gather (blank -> class 0) after output ``name``;
    returns the name of the graph's output."""
    nodes = []
    if spec.output_layout == "BTC":
        nodes.append(onnx.helper.make_node("Transpose", [name], [name + "_tbc"], perm=[1, 0, 2]))
        name += "_tbc"
    if spec.blank != 0:
        order = [spec.blank] + [k for k in range(spec.num_classes) if k != spec.blank]
        idx = name + "_blank_first_index"
        model.graph.initializer.append(onnx.numpy_helper.from_array(np.array(order, np.int64), idx))
        nodes.append(onnx.helper.make_node("Gather", [name, idx], [name + "_blank0"], axis=2))
        name += "_blank0"
    if nodes:
        model.graph.node.extend(nodes)
        new = onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, ["T", "batch", spec.num_classes])
        del model.graph.output[:]
        model.graph.output.append(new)
    return name


def to_engine_layout(y: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """A source model's output in the layout of the written one: (T, N, C), blank at 0."""
    if spec.output_layout == "BTC":
        y = y.transpose(1, 0, 2)
    if spec.blank != 0:
        y = np.concatenate([y[:, :, spec.blank:spec.blank + 1], np.delete(y, spec.blank, axis=2)], axis=2)
    return y


def check_shapes(spec: ModelSpec) -> list[tuple[int, int]]:
    """(batch, width) of the parity checks: batches 1 and 3 at the smallest width; a dynamic
    width also at about twice it (rounded to the multiple, within the maximum)."""
    w = spec.input_shape[2]
    shapes = [(1, w), (3, w)]
    if spec.dynamic_width:
        m = spec.width_multiple
        shapes.append((2, min(spec.width_max, -(-(2 * w + 3) // m) * m)))
    return shapes


def _outputs(path_or_model, spec: ModelSpec, input_name: str, shapes, output_name: str,
             extra: np.ndarray | None = None) -> list[np.ndarray]:
    """Output ``output_name`` (by name: never another output) of ONNX Runtime on random
    (N, C, H, W) inputs in [-1, 1] (seed 0) for each (N, W) of ``shapes``, then on ``extra``."""
    from crnn_deploy.runtime.ort_backend import open_session

    sess = open_session(path_or_model)
    c, h, _ = spec.input_shape
    rng = np.random.default_rng(0)
    xs = [rng.uniform(-1, 1, (n, c, h, w)).astype(np.float32) for n, w in shapes]
    try:
        return [sess.run([output_name], {input_name: x})[0]
                for x in xs + ([] if extra is None else [extra])]
    except Exception as exc:  # onnxruntime's Fail / InvalidArgument on a shape it cannot run
        raise UserError(f"{path_or_model if not isinstance(path_or_model, bytes) else 'the model'}: "
                        f"ONNX Runtime failed on a probe input: {str(exc).splitlines()[0][:300]}") from None


def import_onnx(source: str | Path, spec_arg: str | Path, output: str | Path,
                simplify: bool = True, overwrite: bool = False) -> ImportResult:
    """Write ``output``: the model of ``source`` with the spec ``spec_arg`` (a preset name or a
    spec file) embedded, in the layout every engine of crnn-deploy runs (module docstring).

    Raises:
        UserError: the output may not be written (an input, a foreign file, a folder); the
            model or the spec cannot be read; a spec field contradicts the model (input rank,
            channels, height, width, the number of classes against the alphabet, T); the
            written model differs from the source by more than :data:`IMPORT_ATOL`.
    """
    source, output = Path(source), Path(output)
    if output.suffix.lower() != ".onnx":
        raise UserError(f"--output {output}: the imported model is an ONNX file: give a name "
                        "ending in .onnx")
    spec_dict, base = read_spec_arg(spec_arg)
    inputs = {"MODEL": source, "--spec": None if base is None else Path(spec_arg)}
    prepare_outputs([output], inputs, overwrite)
    if spec_dict.get("kind", "recognizer") != "recognizer":  # converter.import_page_models
        from crnn_deploy.converter.import_page_models import import_page_model

        return import_page_model(source, spec_dict, output, simplify, overwrite)
    spec_dict = {k: v for k, v in spec_dict.items() if k != "kind"}
    model = load_model(source)
    metadata = {p.key: p.value for p in model.metadata_props}
    inp, out = _io(model, source, spec_dict)
    steps = spec_dict.get("output", {}).get("time_steps") if isinstance(spec_dict.get("output"), dict) else None
    spec = spec_from_schema(spec_dict, base, metadata, inp.name, out.name, steps or 1)
    _check_input(spec, _dims(inp), source)
    c, h, w = spec.input_shape
    shapes = check_shapes(spec)
    *raw, white = _outputs(source, spec, inp.name, shapes, out.name, white_input(spec))
    t, warnings = check_outputs(spec, dict(zip(shapes, raw)), white, source)
    if steps and steps != t:
        raise UserError(f"{source}: spec output.time_steps is {steps}, the model gives T = {t} "
                        f"at width {w}")
    spec = spec.with_changes(seq_len=t)
    out_name = out.name
    keep_output(model, out_name)  # the named output only: the runtime reads it by name
    _set_dim(inp, 0, "batch")
    for axis, v in ((1, c), (2, h), (3, "width" if spec.dynamic_width else w)):
        _set_dim(inp, axis, v)
    final = spec.with_changes(output_name=_normalize_output(model, spec, out_name), output_layout="TBC", blank=0)
    reference = [to_engine_layout(r, spec) for r in raw]
    note, simplified = "", False
    if simplify:
        model, simplified, note = simplified_if_equal(
            model, lambda m: _outputs(m, final, final.input_name, shapes, final.output_name))
    stamp_imported(model, metadata, final, source, output)
    with temp_file(output, ".onnx") as tmp:
        onnx.save(model, str(tmp))
        got = _outputs(tmp, final, final.input_name, shapes, final.output_name)
        if any(a.shape != b.shape or not np.isfinite(b).all() for a, b in zip(reference, got)):
            raise UserError(f"import of {source}: the written model's output differs from the "
                            "source's in shape or holds NaN/infinity; nothing was written")
        diff = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(reference, got))
        if not diff <= IMPORT_ATOL:
            raise UserError(f"import of {source}: the written model differs from the source by "
                            f"{diff:.3g} (> {IMPORT_ATOL:g}); nothing was written")
        publish_outputs(output, [(tmp, output)], overwrite)
    return ImportResult(final, simplified, diff, note, warnings)


