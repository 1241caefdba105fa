"""``crnn-convert inspect ENGINE``: what an engine holds, read from the engine and its spec.

For ``.onnx`` (``metadata_props``), ``.xml`` (OpenVINO ``rt_info``), ``.engine``/``.plan``
(TensorRT) and ``.om`` (Ascend) with their sidecar ``X.json``: the model name, the input and
output tensors (names, shapes, element types; from the graph for ONNX and IR, from the spec and
the sidecar for plans and OM files, which only their SDK can open), layout, kind, blank, class
count and the first characters of the alphabet, widths, precision, and where the engine came
from (:func:`converter.common.source_record`: the checkpoint or imported file and its sha256,
recorded at conversion; "not recorded" for engines written before).

The spec is printed field by field from its record (``to_dict()``), so fields and spec kinds
added later show without code here. Reads are bounded: ONNX through
:func:`models.specs.load_onnx_spec` (2 GiB, no external data), sidecars at
:data:`models.spec_schema.MAX_SPEC_BYTES`; nothing is executed or unpickled.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import click

from crnn_deploy.common.cli import command
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.inputs import read_text_file
from crnn_deploy.converter.common import SOURCE_KEY, read_source
from crnn_deploy.models.spec_schema import MAX_SPEC_BYTES
from crnn_deploy.models.specs import METADATA_KEY, load_onnx_spec, sidecar_path, spec_from_json

FORMATS = {".onnx": "ONNX", ".xml": "OpenVINO IR", ".engine": "TensorRT plan",
           ".plan": "TensorRT plan", ".om": "Ascend OM"}
INT8_KEY = "crnn_deploy.int8"  # converter.int8.routes.INT8_KEY (not imported: no nncf needed)
#: Element type names of ONNX (``TensorProto``) and OpenVINO, as numpy names.
DTYPES = {"float": "float32", "f32": "float32", "float16": "float16", "f16": "float16",
          "double": "float64", "f64": "float64", "i8": "int8", "u8": "uint8", "i64": "int64"}
#: Characters of a long string shown, items of a long list shown.
SHOW_CHARS, SHOW_ITEMS = 40, 8


def _tensor(name: str, dims: list, dtype: str) -> dict:
    return {"name": name, "shape": dims, "dtype": DTYPES.get(dtype, dtype)}


def _onnx(path: Path) -> tuple[str | None, dict, list, list, str]:
    import onnx

    model, text = load_onnx_spec(path)
    meta = {p.key: p.value for p in model.metadata_props}
    init = {t.name for t in model.graph.initializer}

    def tensors(values) -> list:
        out = []
        for v in values:
            t = v.type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
                    for d in t.shape.dim]
            out.append(_tensor(v.name, dims, onnx.TensorProto.DataType.Name(t.elem_type).lower()))
        return out

    consts = [a.t for n in model.graph.node if n.op_type == "Constant" for a in n.attribute
              if a.name == "value"]  # weights as Constant nodes (PaddleOCR's exports)
    weights = Counter(onnx.TensorProto.DataType.Name(t.data_type).lower()
                      for t in [*model.graph.initializer, *consts] if len(t.dims) > 1)
    precision = _int8(meta.get(INT8_KEY)) or _weights(weights)
    return (text, meta, tensors(i for i in model.graph.input if i.name not in init),
            tensors(model.graph.output), precision)


def _openvino(path: Path) -> tuple[str | None, dict, list, list, str]:
    try:
        import openvino as ov
    except ImportError:
        raise UserError(f"reading {path} needs openvino: pip install 'crnn-deploy[openvino]'") from None
    try:
        model = ov.Core().read_model(str(path))
    except Exception as exc:
        raise UserError(f"cannot read {path} with openvino: {str(exc).splitlines()[0][:300]}") from None

    def rt(key: str) -> str | None:
        where = key.split(".")
        return model.get_rt_info(where).astype(str) if model.has_rt_info(where) else None

    def tensors(ports) -> list:
        return [_tensor(p.get_any_name(), [d.get_length() if d.is_static else "?"
                                           for d in p.get_partial_shape()],
                        str(p.get_element_type().get_type_name())) for p in ports]

    weights = Counter(str(op.get_element_type().get_type_name()) for op in model.get_ops()
                      if op.get_type_name() == "Constant" and len(op.get_output_shape(0)) > 1)
    meta = {k: v for k in (SOURCE_KEY, INT8_KEY) if (v := rt(k)) is not None}
    precision = _int8(meta.get(INT8_KEY)) or _weights(weights)
    return rt(METADATA_KEY), meta, tensors(model.inputs), tensors(model.outputs), precision


def _sidecar(path: Path) -> tuple[str | None, dict, list, list, str]:
    side = sidecar_path(path)
    if not side.is_file():
        raise UserError(f"{path}: no sidecar {side} (crnn-convert writes it beside every "
                        "TensorRT plan and OM file; it holds the spec)")
    try:
        data = json.loads(read_text_file(side, MAX_SPEC_BYTES, "sidecar"))
    except ValueError as exc:
        raise UserError(f"sidecar {side}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UserError(f"sidecar {side}: expected a JSON object")
    spec = spec_from_json(json.dumps(data.get("spec", data)), f"sidecar {side}")
    meta = {k: v for k, v in data.items() if k != "spec"}
    batch = meta.get("batch_size") or "batch"
    profile = meta.get("profile")
    if isinstance(profile, dict) and spec.input_name in profile:  # TensorRT: min/opt/max shapes
        batch = "batch"
    shape = tuple(getattr(spec, "input_shape", ()) or ())
    w = "width" if getattr(spec, "dynamic_width", False) else (shape[2] if shape else None)
    inputs = [_tensor(spec.input_name, [batch, *shape[:2], w], "float32")] if shape else []
    outputs = ([_tensor(spec.output_name, [spec.seq_len or "time", batch, spec.num_classes],
                        "float32")] if "alphabet" in spec.to_dict() else [])  # page kinds: none
    precision = str(meta.get("precision") or ("atc precision_mode default (FP16 convolutions)"
                                              if path.suffix == ".om" else "not recorded"))
    return json.dumps(data.get("spec", data)), meta, inputs, outputs, precision


def _int8(text: str | None) -> str | None:
    if not text:
        return None
    try:
        s = json.loads(text)
    except ValueError:
        return "int8"
    return f"int8 ({s.get('tool', 'QDQ')}, calibrated on {s.get('calib_count', '?')} images)"


def _weights(counts: Counter) -> str:
    if not counts:
        return "not recorded"
    kinds = {"float32": "fp32", "float16": "fp16"}
    return " + ".join(f"{kinds.get(DTYPES.get(k, k), k)} weights"
                      for k, _ in counts.most_common())


def inspect_engine(path: str | Path) -> dict:
    """What the engine at ``path`` holds, JSON-ready: ``engine``, ``format``, ``size_bytes``,
    ``inputs``/``outputs`` (``name``, ``shape`` (ints; names of symbolic axes), ``dtype``),
    ``precision``, ``source`` (the record of :func:`converter.common.source_record`, None when
    not recorded), ``spec`` (the spec record, ``to_dict()``), ``derived`` (class count,
    widths) and ``extra`` (other metadata: INT8 settings, TensorRT profile, SoC, ...).

    Raises:
        UserError: a missing file, an unknown suffix, no spec, an unreadable file or sidecar.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(f"{path}: unknown engine type {path.suffix!r}; expected one of "
                        f"{', '.join(FORMATS)}")
    if not path.is_file():
        raise UserError(f"engine {path} not found")
    reader = {".onnx": _onnx, ".xml": _openvino}.get(path.suffix.lower(), _sidecar)
    text, meta, inputs, outputs, precision = reader(path)
    if text is None:
        raise UserError(f"{path} carries no model spec ({METADATA_KEY}); give it one with "
                        f"crnn-convert import {path} --spec PRESET|spec.json --output Y.onnx")
    spec = spec_from_json(text, f"engine {path}")
    record = spec.to_dict() if hasattr(spec, "to_dict") else json.loads(text)
    source = meta.get("source") if isinstance(meta.get("source"), dict) else read_source(
        meta.get(SOURCE_KEY))
    derived = {"kind": record.get("kind", "recognizer")}
    if "alphabet" in record and hasattr(spec, "num_classes"):  # a CTC recognizer
        derived["classes"] = (f"{spec.num_classes} ({len(spec.alphabet)} in the alphabet + the "
                              f"CTC blank, class {spec.blank})")
    if "width_max" in record:
        w = spec.input_shape[2]
        derived["widths"] = (f"{w}..{spec.width_max} (multiple {spec.width_multiple}, the width "
                             "follows the word)" if spec.dynamic_width else f"{w} (fixed)")
    skip = {SOURCE_KEY, METADATA_KEY, "source", "spec_name", "alphabet", "input_shape",
            "normalize", "output_layout", "character"}
    extra = {k: (json.loads(v) if k == INT8_KEY else v) for k, v in meta.items() if k not in skip}
    size = path.stat().st_size + sum(p.stat().st_size for p in [path.with_suffix(".bin")]
                                     if fmt == "OpenVINO IR" and p.is_file())  # .xml + .bin
    return {"engine": str(path), "format": fmt, "size_bytes": size,
            "inputs": inputs, "outputs": outputs, "precision": precision, "source": source,
            "spec": record, "derived": derived, "extra": extra}


def _short(value) -> str:
    """A value on one line: long strings and lists cut, with their length."""
    if isinstance(value, str):
        cut = value[:SHOW_CHARS]
        return json.dumps(cut, ensure_ascii=False) + (
            f"... ({len(value)} characters)" if len(value) > SHOW_CHARS else "")
    if isinstance(value, list) and len(value) > SHOW_ITEMS:
        return (json.dumps(value[:SHOW_ITEMS], ensure_ascii=False)[:-1]
                + f", ...] ({len(value)} items)")
    if isinstance(value, dict):
        return ", ".join(f"{k}={_short(v)}" for k, v in value.items()) or "{}"
    return json.dumps(value, ensure_ascii=False)


def _source_text(rec: dict | None) -> str:
    if not rec:
        return "not recorded (converted before crnn-deploy recorded it)"
    text = f"{rec.get('from', '?')} {rec.get('file', '?')} (sha256 {rec.get('sha256', '?')})"
    return text + (f", from {_source_text(rec['origin'])}" if isinstance(rec.get("origin"), dict)
                   else "")


def format_report(info: dict) -> list[str]:
    """The text lines of ``crnn-convert inspect`` for :func:`inspect_engine`'s dict."""
    spec = info["spec"]

    def tensor(t: dict) -> str:
        return f"{t['name']} [{', '.join(map(str, t['shape']))}] {t['dtype']}"

    layout_in = f" (NCHW, {spec['channels']})" if "channels" in spec else ""
    layout_out = f" ({spec['output_layout']}, {spec.get('output', '')})" \
        if "output_layout" in spec else ""
    lines = [f"engine: {info['engine']} ({info['format']}, {info['size_bytes'] / 1e6:.1f} MB)",
             f"model: {spec.get('name', '?')}"
             + (f" -- {spec['description']}" if spec.get("description") else "")]
    lines += [f"input: {tensor(t)}{layout_in}" for t in info["inputs"]]
    lines += [f"output: {tensor(t)}{layout_out}" for t in info["outputs"]]
    lines += [f"{k}: {v}" for k, v in info["derived"].items()]
    lines += [f"precision: {info['precision']}", f"source: {_source_text(info['source'])}",
              "spec:"]
    lines += [f"  {k}: {_short(v)}" for k, v in spec.items()]
    if info["extra"]:
        lines.append("other metadata:")
        lines += [f"  {k}: {_short(v)}" for k, v in info["extra"].items()]
    return lines


@command("inspect")
@click.argument("engine", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text lines.")
def inspect_cmd(engine: Path, as_json: bool) -> None:
    """Print what ENGINE holds (.onnx, .xml, .engine/.plan or .om with its sidecar X.json).

    \b
    crnn-convert inspect build/ppocrv4-rec.onnx
    crnn-convert inspect build/nano-ocr_bs16.xml --json

    Model name; input and output names, shapes (symbolic axes by name) and element types;
    layout (NCHW in; TBC or BTC out), output kind, CTC blank, class count and the first
    characters of the alphabet; widths; precision (weights' element type, INT8 settings, a
    TensorRT plan's recorded precision); where it came from (the checkpoint or imported ONNX
    and its sha256, recorded by crnn-convert); then every field of the spec. --json prints
    the same as one object: engine, format, size_bytes, inputs, outputs, precision, source,
    spec, derived, extra.
    """
    info = inspect_engine(engine)
    if as_json:
        click.echo(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(format_report(info)))
