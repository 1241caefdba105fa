"""The recognizer spec file: a JSON document a person writes for any CTC recognizer.

JSON because it is what the spec already is everywhere else: ONNX ``metadata_props``, OpenVINO
``rt_info``, sidecars and ``meta.json`` carry it as JSON, Python reads it without a new
dependency (``tomllib`` is 3.11+ and read-only; YAML needs PyYAML and turns alphabet
characters such as ``no``/``on``/``~`` into booleans or null). Schema (``?``: optional, with
its default)::

    {
      "name": "my-model",                   "description"?: "",
      "input": {
        "name"?: the model's only input,
        "channels": "gray" | "RGB" | "BGR",  "height": 32,
        "width": 100 | {"min": 320, "max": 2048, "multiple"?: 1},
        "resize"?: "stretch" | "keep-ratio", "pad"?: "zeros" | "last-column",
        "interpolation"?: "bilinear",        "library"?: "pil" | "opencv",
        "decoder"?: "pil" | "opencv",         "width_rule"?: "resized" | "aspect",
        "mean"?: 0.5 | [r, g, b],            "std"?: 0.5 | [r, g, b]
      },
      "output": {
        "name"?: the model's only output,   "layout"?: "TBC" | "BTC",
        "kind"?: "logits" | "probabilities" | "log-probabilities",
        "blank"?: 0,                          "time_steps"?: measured at import
      },
      "alphabet": "0123456789abc..." | ["a", "b", ...] | {"file": "dict.txt", "append"?: ""}
                  | {"onnx_metadata": "character", "append"?: ""},
      "decoding"?: {"ignore"?: "", "confidence"?: "mean" | "product-sqrt",
                    "second_pass_below"?: 0, "second_pass_contrast"?: 0.5}
    }

The alphabet lists the non-blank classes in class order. ``file`` is one class per line
(PaddleOCR's dict format; relative to the spec file); ``onnx_metadata`` reads the same format
from a metadata key of the ONNX model (PaddleOCR models carry theirs under ``character``);
``append`` adds classes after it (PaddleOCR's ``use_space_char`` appends a space). A width
object means the width follows the word: keep the aspect ratio at ``height``, pad on the right
to the batch width, widths rounded up to ``multiple`` and held within [min, max]. Every key is
checked: an unknown key, a wrong type or value gets an error naming it.
"""
from __future__ import annotations

import json
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import read_json
from crnn_deploy.common.inputs import read_text_file
from crnn_deploy.models.spec_checks import shown
from crnn_deploy.models.spec_record import CONFIDENCES, Decoding, ModelSpec

#: Largest spec file or alphabet file read, in bytes.
MAX_SPEC_BYTES = 4 * 1024 * 1024
TOP_KEYS = ("name", "description", "input", "output", "alphabet", "decoding")
INPUT_KEYS = ("name", "channels", "height", "width", "resize", "pad", "interpolation", "library",
              "mean", "std", "decoder", "width_rule")
OUTPUT_KEYS = ("name", "layout", "kind", "blank", "time_steps")
#: file key -> :class:`models.spec_record.Decoding` field (one line per decoding option)
DECODING_KEYS = {"ignore": "ignore", "confidence": "confidence",
                 "second_pass_below": "second_pass_below",
                 "second_pass_contrast": "second_pass_contrast"}
KINDS = {"logits": "logits", "probabilities": "probabilities", "log-probabilities": "log_softmax"}


def _obj(d, where: str, keys: tuple, required: tuple = ()) -> dict:
    if not isinstance(d, dict):
        raise UserError(f"spec {where}: expected an object, got {json.dumps(d)[:60]}")
    unknown = [k for k in d if k not in keys]
    if unknown:
        raise UserError(f"spec {where}: unknown field {shown(unknown[0])} (known: {', '.join(keys)})")
    missing = [k for k in required if k not in d]
    if missing:
        raise UserError(f"spec {where}: missing field {missing[0]!r}")
    return d


def alphabet_source(spec: dict) -> str | None:
    """The ONNX metadata key a schema dict takes its alphabet from, else None."""
    a = spec.get("alphabet") if isinstance(spec, dict) else None
    return a.get("onnx_metadata") if isinstance(a, dict) else None


def _alphabet(a, base_dir: Path | None, metadata: dict | None) -> str | tuple[str, ...]:
    if isinstance(a, str):
        return a
    if isinstance(a, list):
        if not all(isinstance(s, str) for s in a):
            raise UserError("spec alphabet: a list must hold strings")
        return tuple(a)
    _obj(a, "alphabet", ("file", "onnx_metadata", "append"))
    append = a.get("append", "")
    if not isinstance(append, str):
        raise UserError("spec alphabet.append: expected a string")
    if ("file" in a) == ("onnx_metadata" in a):
        raise UserError("spec alphabet: give exactly one of 'file' and 'onnx_metadata'")
    for key in ("file", "onnx_metadata"):
        if key in a and not isinstance(a[key], str):
            raise UserError(f"spec alphabet.{key}: expected a string, got {json.dumps(a[key])[:60]}")
    if "file" in a:
        path = Path(a["file"])
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        text = read_text_file(path, MAX_SPEC_BYTES, "alphabet file")
    else:
        key = a["onnx_metadata"]
        if metadata is None:
            raise UserError(f"spec alphabet: read from ONNX metadata key {key!r}: give the model "
                            "(crnn-convert import)")
        if key not in metadata:
            raise UserError(f"spec alphabet.onnx_metadata: the model has no metadata key {key!r} "
                            f"(it has: {', '.join(metadata) or 'none'})")
        text = metadata[key]
    return tuple(line.rstrip("\r") for line in text.split("\n") if line.rstrip("\r")) + tuple(append)


def spec_from_schema(d: dict, base_dir: Path | None = None, metadata: dict | None = None,
                     input_name: str = "actual_input_1", output_name: str = "output1",
                     seq_len: int | None = None) -> ModelSpec:
    """A validated :class:`ModelSpec` from a schema dict (see the module docstring).

    Args:
        d: the parsed spec file.
        base_dir: where a relative ``alphabet.file`` is looked up.
        metadata: the ONNX model's ``metadata_props`` (for ``alphabet.onnx_metadata``).
        input_name, output_name: used when the spec names no tensor.
        seq_len: T measured on the model, used when ``output.time_steps`` is absent.

    Raises:
        UserError: naming the first wrong field (unknown, missing, wrong type or value).
    """
    _obj(d, "", TOP_KEYS, ("name", "input", "alphabet"))
    i = _obj(d["input"], "input", INPUT_KEYS, ("channels", "height", "width"))
    o = _obj(d.get("output", {}), "output", OUTPUT_KEYS)
    dec = _obj(d.get("decoding", {}), "decoding", tuple(DECODING_KEYS))
    channels = i["channels"]
    c = 1 if channels == "gray" else 3
    width, wmax, multiple = i["width"], 0, 1
    if isinstance(width, dict):
        _obj(width, "input.width", ("min", "max", "multiple"), ("min", "max"))
        width, wmax, multiple = width["min"], width["max"], width.get("multiple", 1)
    kind = o.get("kind", "logits")
    if not isinstance(kind, str) or kind not in KINDS:
        raise UserError(f"spec output.kind: {shown(kind)} is not one of {', '.join(KINDS)}")
    steps = o.get("time_steps", seq_len if seq_len is not None else 0)
    if dec.get("confidence", "mean") not in CONFIDENCES:
        raise UserError(f"spec decoding.confidence: {shown(dec['confidence'])} is not one of "
                        f"{', '.join(CONFIDENCES)}")
    return ModelSpec(
        name=d["name"], description=d.get("description", ""),
        input_shape=(c, i["height"], width), width_max=wmax, width_multiple=multiple,
        channels=channels, resize_mode=i.get("resize", "stretch"), pad=i.get("pad", "zeros"),
        resize=i.get("interpolation", "bilinear"), resize_library=i.get("library", "pil"),
        decoder=i.get("decoder", "pil"), width_rule=i.get("width_rule", "resized"),
        mean=i.get("mean", 0.5), std=i.get("std", 0.5),
        input_name=i.get("name", input_name), output_name=o.get("name", output_name),
        output=KINDS[kind], output_layout=o.get("layout", "TBC"), blank=o.get("blank", 0),
        seq_len=steps, alphabet=_alphabet(d["alphabet"], base_dir, metadata),
        decoding=Decoding(**{DECODING_KEYS[k]: v for k, v in dec.items()}),
    )


def spec_to_schema(spec: ModelSpec) -> dict:
    """The schema dict of ``spec`` (alphabet inline): what :func:`spec_from_schema` reads back."""
    c, h, w = spec.input_shape
    width = {"min": w, "max": spec.width_max, "multiple": spec.width_multiple} if spec.dynamic_width else w
    kind = {v: k for k, v in KINDS.items()}[spec.output]
    one = len(set(spec.mean)) == 1 and len(set(spec.std)) == 1
    dec = Decoding()
    return {
        "name": spec.name, "description": spec.description,
        "input": {"name": spec.input_name, "channels": spec.channels, "height": h, "width": width,
                  "resize": spec.resize_mode, "pad": spec.pad, "interpolation": spec.resize,
                  "library": spec.resize_library, "decoder": spec.decoder,
                  "width_rule": spec.width_rule,
                  "mean": spec.mean[0] if one else list(spec.mean),
                  "std": spec.std[0] if one else list(spec.std)},
        "output": {"name": spec.output_name, "layout": spec.output_layout, "kind": kind,
                   "blank": spec.blank, "time_steps": spec.seq_len},
        "alphabet": spec.alphabet if isinstance(spec.alphabet, str) else list(spec.alphabet),
        "decoding": {k: getattr(spec.decoding, f) for k, f in DECODING_KEYS.items()
                     if getattr(spec.decoding, f) != getattr(dec, f)},
    }


def load_spec_file(path: str | Path) -> dict:
    """Parse a spec file (JSON object, at most :data:`MAX_SPEC_BYTES`); not yet validated.

    Raises:
        UserError: missing, not a regular file, too large, not UTF-8, not JSON (or nested
            deeper than :data:`common.fileio.MAX_JSON_DEPTH`, or a key given twice) or not an
            object (naming the file).
    """
    path = Path(path)
    d = read_json(path, max_bytes=MAX_SPEC_BYTES, what="spec file")
    if not isinstance(d, dict):
        raise UserError(f"spec file {path}: expected a JSON object")
    return d
