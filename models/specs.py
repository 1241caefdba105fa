"""Model specs: the registry of built-in recognizer specs, and the sidecar files (no torch here).

A spec is data (:mod:`models.spec_schema`, the file a person writes; :mod:`models.spec_record`,
the validated record every stage reads). The built-in specs are instances of the same schema
(:data:`models.presets.PRESETS`): ``crnn``, ``crnn-modelzoo``, ``nano-ocr``, ``nano-ocr-37``
resolve on their own and are in :data:`SPECS`; ``ppocrv4-rec`` takes its alphabet from its ONNX
file and is used through ``crnn-convert import --spec ppocrv4-rec``.

Class 0 is the CTC blank; class k > 0 is ``alphabet[k - 1]``.
"""
from __future__ import annotations

import os
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import loads_json, read_json
from crnn_deploy.models.onnx_file import MAX_ONNX_BYTES, load_onnx_spec
from crnn_deploy.models.page_specs import PAGE_KINDS, page_spec_from_dict
from crnn_deploy.models.presets import DIGITS_LOWER, NANO_OCR_ALPHABET, PRESETS
from crnn_deploy.models.spec_checks import shown
from crnn_deploy.models.spec_record import METADATA_KEY, Decoding, ModelSpec
from crnn_deploy.models.spec_schema import alphabet_source, spec_from_schema

__all__ = ["DIGITS_LOWER", "NANO_OCR_ALPHABET", "METADATA_KEY", "Decoding", "ModelSpec", "PRESETS",
           "SPECS", "DERIVED", "FOLD_EPS", "fold_map", "get_spec", "sidecar_path", "write_sidecar",
           "read_sidecar", "MAX_ONNX_BYTES", "load_onnx_spec"]

#: The presets that need no model file (alphabet inline), as validated records.
SPECS: dict[str, ModelSpec] = {
    name: spec_from_schema(d) for name, d in PRESETS.items() if alphabet_source(d) is None
}

#: Derived specs: name -> the spec whose architecture and checkpoint they reuse unchanged.
#:
#: ``nano-ocr-37`` is the classic CRNN contract (Shi, Bai, Yao 2015; the Ascend ModelZoo
#: CRNN_for_PyTorch flow: 1x32x100 input, ``reshape(26, -1, 37)`` output) served by the real
#: nano-ocr weights. Derivation:
#:
#: * Width 100: the nano-ocr network is convolutional + BiLSTM, so it accepts any width; its
#:   pools (two 2x2, two (2,2)/(2,1)/(0,1)) and final 2x2 valid conv map W = 100 to
#:   100 -> 50 -> 25 -> 26 -> 27 -> 26 = T time steps, exactly the classic 26.
#: * Classes: the network's 66 softmax probabilities are summed into the classic 37 by a fixed
#:   66x37 0/1 matrix (:func:`fold_map`): blank -> blank, each digit -> itself, ``a`` and ``A``
#:   -> ``a`` (and so on for every letter), ``.``, ``-`` and space -> blank (the standard
#:   protocol drops them anyway). A sum of probabilities of disjoint events is the probability
#:   of their union, so the result is again a distribution over 37 classes.
#: * Output: ``log(max(P @ M, FOLD_EPS))``, log-probabilities like ``crnn-modelzoo``'s
#:   log-softmax. The clamp keeps a class whose probabilities all underflow to 0 at
#:   ``log(FOLD_EPS)`` instead of ``-inf`` (see :data:`FOLD_EPS`).
#:
#: The fold is part of the model that ``models.arch.build_model`` builds, hence of the exported
#: ONNX graph: every engine (ONNX Runtime, OpenVINO, INT8, TensorRT, OM) gives (26, B, 37).
#: Measured on IIIT5K (3000 words, PIL bilinear, greedy CTC, case-insensitive alphanumeric):
#: ``nano-ocr-37`` 76.90 % (2307/3000; PyTorch, ONNX Runtime and OpenVINO f32 alike),
#: ``nano-ocr`` (1x32x128) 77.60 % (2328/3000); the Ascend ModelZoo CRNN_for_PyTorch publishes
#: 76.57 % (910A, batch 16). SVT / IC03 / IC13: 68.47 / 86.40 / 82.38 % (nano-ocr: 69.09 /
#: 85.12 / 83.20 %), see docs/BENCHMARKS.md.
DERIVED: dict[str, str] = {"nano-ocr-37": "nano-ocr"}

#: Floor of the folded probabilities before the log: 2**-24 (~5.96e-8, log = -16.64), the
#: smallest positive float16, so the clamp does not round to 0 (and the log to -inf) in an
#: engine that computes in FP16 (TensorRT --fp16, atc's default precision mode). Greedy decoding
#: is unaffected (the best of 37 classes has p >= 1/37), and the softmax of the output (the
#: confidence of ``postprocess.ctc``) moves by less than 36 * FOLD_EPS = 2.1e-6.
FOLD_EPS = 2.0 ** -24


def fold_map(source_alphabet: str, target_alphabet: str) -> list[int]:
    """Target class of every source class when folding one CTC alphabet into another.

    Class 0 (the blank) maps to 0; a source character maps to the target class of its lowercase
    form when the target alphabet has it, otherwise to the blank (0).

    Returns:
        A list of ``len(source_alphabet) + 1`` ints in ``[0, len(target_alphabet)]``.
    """
    index = {c: k for k, c in enumerate(target_alphabet, start=1)}
    return [0] + [index.get(c.lower(), 0) for c in source_alphabet]


def get_spec(name: str) -> ModelSpec:
    """The spec registered under ``name``. Raises UserError listing the known names (and, for
    a preset that reads its alphabet from its ONNX file, how to use it)."""
    try:
        return SPECS[name]
    except KeyError:
        if name in PRESETS:
            raise UserError(f"preset {name!r} reads its alphabet from its ONNX model: use "
                            f"crnn-convert import MODEL.onnx --spec {name}") from None
        raise UserError(f"unknown model {name!r}; known: {', '.join(SPECS)}") from None


def sidecar_path(engine) -> Path:
    """``X.engine`` -> ``X.engine.json``: the spec beside engines that cannot carry metadata
    (TensorRT plans, Ascend OM files)."""
    engine = Path(engine)
    return engine.with_name(engine.name + ".json")


def write_sidecar(engine, spec: ModelSpec, *, path=None, **extra) -> None:
    """Write the sidecar JSON (``{"spec": ..., **extra}``) of ``engine`` atomically to ``path``
    (default :func:`sidecar_path`; the converters write a temporary and publish it with the
    engine, :func:`converter.outputs.publish_outputs`)."""
    from crnn_deploy.common.fileio import atomic_write_json

    atomic_write_json(sidecar_path(engine) if path is None else path,
                      {"spec": spec.to_dict(), **extra})


#: Largest sidecar read (bytes): a spec with a 20,000-character alphabet is ~100 KB.
MAX_SIDECAR_BYTES = 4 << 20


def read_sidecar_data(engine) -> dict:
    """The parsed sidecar JSON object of ``engine`` (a regular file of at most
    :data:`MAX_SIDECAR_BYTES`; see :func:`common.fileio.read_json`).

    Raises:
        UserError: absent, not a regular file (a FIFO, a device), too large, not JSON, nested
            too deep, a key given twice, or not a JSON object.
    """
    path = sidecar_path(engine)
    if not path.exists():
        raise UserError(f"no spec for engine {engine}: expected {path} "
                        "(written by crnn-convert beside the engine)")
    data = read_json(path, max_bytes=MAX_SIDECAR_BYTES, what="sidecar")
    if not isinstance(data, dict):
        raise UserError(f"sidecar {path}: expected a JSON object, got {type(data).__name__}")
    return data


def read_sidecar(engine) -> ModelSpec:
    """The spec of the sidecar JSON of ``engine`` (:func:`read_sidecar_data`; any kind,
    :func:`spec_from_dict`). Raises UserError when absent or invalid."""
    data = read_sidecar_data(engine)
    return _record(data.get("spec", data), f"sidecar {sidecar_path(engine)}")


def _record(d, where: str):
    """:func:`spec_from_dict`, its errors starting with ``where``."""
    try:
        return spec_from_dict(d)
    except UserError as exc:
        raise UserError(f"{where}: {exc.message}") from None


def spec_from_dict(d: dict):
    """The spec of a JSON object by its ``kind``: absent or ``"recognizer"`` ->
    :class:`ModelSpec` (:meth:`ModelSpec.from_dict`); ``"detector"``/``"classifier"`` ->
    :func:`models.page_specs.page_spec_from_dict`.

    Raises:
        UserError: an unknown kind, or an invalid spec of its kind.
    """
    kind = d.get("kind", "recognizer") if isinstance(d, dict) else "recognizer"
    if kind in PAGE_KINDS:
        return page_spec_from_dict(d)
    if kind != "recognizer":
        raise UserError(f"spec kind: {shown(kind)} is not one of recognizer, {', '.join(PAGE_KINDS)}")
    return ModelSpec.from_dict(d)


def spec_from_arg(value: str | Path) -> ModelSpec:
    """A spec from a command-line value: a preset name of :data:`SPECS`, or an ``.onnx`` file
    written by ``crnn-convert`` (``onnx`` or ``import``) whose ``metadata_props`` hold it.

    Raises:
        UserError: neither a known name nor a readable ONNX file with a spec.
    """
    if str(value) in SPECS or str(value) in PRESETS:
        return get_spec(str(value))
    path = Path(value)
    if path.suffix.lower() != ".onnx" or not os.path.lexists(path):
        raise UserError(f"model {shown(str(value))}: neither a preset ({', '.join(SPECS)}) nor an .onnx "
                        "file written by crnn-convert")
    _, text = load_onnx_spec(path)
    if text is None:
        raise UserError(f"{path} carries no model spec (metadata key {METADATA_KEY!r}); "
                        "write it with crnn-convert onnx or crnn-convert import")
    spec = spec_from_json(text, str(path))
    if spec.kind != "recognizer":
        raise UserError(f"{path} is a {spec.kind} (spec {spec.name!r}), not a recognizer")
    return spec


def spec_from_json(text: str, where: str) -> ModelSpec:
    """The spec an engine carries as JSON text: a spec object, or ``{"spec": {...}}`` (a
    sidecar's layout). ``where`` starts the error messages (e.g. ``engine build/x.onnx``).

    Raises:
        UserError: invalid JSON (or nested too deep, or a key given twice), not a JSON
            object, or an invalid spec.
    """
    data = loads_json(text, f"{where}: metadata {METADATA_KEY!r}")
    if not isinstance(data, dict):
        raise UserError(f"{where}: spec {METADATA_KEY!r} is not a JSON object")
    return _record(data.get("spec", data), f"{where}: metadata {METADATA_KEY!r}")
