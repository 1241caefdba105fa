"""Reading the model spec an engine carries, and checking it against the engine's input.

ONNX files carry the spec JSON in ``metadata_props`` under :data:`models.specs.METADATA_KEY`,
OpenVINO IR in ``rt_info`` at ``["crnn_deploy", "spec"]``; engines that cannot hold metadata
(TensorRT plans, Ascend OM) have a sidecar ``X.engine.json`` (:func:`models.specs.read_sidecar`).
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Sequence

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.names import escape_name
from crnn_deploy.models.specs import (
    METADATA_KEY,
    ModelSpec,
    load_onnx_spec,
    read_sidecar,
    sidecar_path,
    spec_from_json,
)


def check_engine_path(engine: str | Path) -> None:
    """Raise UserError unless ``engine`` is a non-empty regular file, saying what it is
    instead: not found, a folder, a FIFO/device/socket, or empty (0 bytes)."""
    shown_path = escape_name(engine)
    try:
        st = os.stat(engine)
    except FileNotFoundError:
        raise UserError(f"engine not found: {shown_path}") from None
    except OSError as exc:
        raise UserError(f"cannot read engine {shown_path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UserError(f"engine {shown_path} is a folder, not an engine file")
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"engine {shown_path} is not a regular file (a FIFO, device or socket)")
    if st.st_size == 0:
        raise UserError(f"engine {shown_path} is empty (0 bytes), not a model")


def spec_from_text(text: str | None, engine: str | Path) -> ModelSpec:
    """The spec of ``engine`` from its embedded JSON ``text``, else from its sidecar file.

    Raises:
        UserError: the JSON is invalid, or there is neither embedded spec nor sidecar.
    """
    if text is None:
        if os.path.lexists(sidecar_path(engine)):  # a FIFO or folder: refused by the reader
            return read_sidecar(engine)
        raise UserError(f"engine {engine} carries no model spec (ONNX metadata_props {METADATA_KEY!r} "
                        f"or OpenVINO rt_info crnn_deploy/spec) "
                        f"and has no sidecar {sidecar_path(engine)}; "
                        + (f"give it a spec: crnn-convert import {engine} --spec PRESET|spec.json "
                           f"--output {Path(engine).stem}-spec.onnx (docs/MODELS.md)"
                           if Path(engine).suffix.lower() == ".onnx" else
                           "build it from an ONNX file with a spec (crnn-convert import, then "
                           "crnn-convert openvino/tensorrt/om)"))
    return spec_from_json(text, f"engine {engine}")


def onnx_spec_text(path: str | Path) -> str | None:
    """The spec JSON stored in an ONNX file's ``metadata_props`` (None when absent).

    Reads the protobuf with the ``onnx`` package, without external weight data.

    Raises:
        UserError: the file is not a readable ONNX model.
    """
    return load_onnx_spec(path)[1]


def check_dims(spec: ModelSpec, dims: Sequence, engine: str | Path) -> int | None:
    """Check the engine input ``dims`` (N, C, H, W; ints or symbols) against ``spec`` (a
    detector's or classifier's spec: its own ``check_dims``).

    Returns:
        the static batch N, or None when axis 0 is symbolic/dynamic.

    Raises:
        UserError: wrong rank, or a static C/H/W differing from the spec.
    """
    dims = list(dims)
    if spec.kind != "recognizer":  # a detector or classifier (models.page_specs) checks its own
        return spec.check_dims(dims, engine)
    if spec.output_layout != "TBC" or spec.blank != 0:
        raise UserError(f"engine {engine}: spec {spec.name} has output layout {spec.output_layout} "
                        f"and blank {spec.blank}; engines run (T, B, C) with blank 0: convert the "
                        "model with crnn-convert import")
    if len(dims) != 4:
        raise UserError(f"engine {engine}: input has rank {len(dims)}, expected NCHW of {spec.name}")
    for axis, (got, want) in enumerate(zip(dims[1:], spec.input_shape), 1):
        if axis == 3 and spec.dynamic_width and isinstance(got, int) and want <= got <= spec.width_max:
            continue  # a static width of a dynamic-width spec (a reshaped engine)
        if isinstance(got, int) and got > 0 and got != want:
            raise UserError(f"engine {engine}: input shape {dims} does not match "
                            f"(N, {', '.join(map(str, spec.input_shape))}) of spec {spec.name}")
    n = dims[0]
    return n if isinstance(n, int) and n > 0 else None


def output_index(names: Sequence, spec: ModelSpec, engine: str | Path) -> int:
    """Index of the output the spec names (``spec.output_name``) among an engine's outputs.

    Every backend reads that output by name, never simply the first (a model may put a decoy
    first). ``names`` holds one name, or a set of names (OpenVINO), per output; an engine with
    a single output uses it whatever its name (engines of older versions).

    Raises:
        UserError: the engine has several outputs and none is named ``spec.output_name``.
    """
    sets = [{n} if isinstance(n, str) else set(n) for n in names]
    hits = [i for i, s in enumerate(sets) if spec.output_name in s]
    if hits:
        return hits[0]
    if len(sets) == 1:
        return 0
    raise UserError(f"engine {engine}: spec output.name {spec.output_name!r} is none of its "
                    f"{len(sets)} outputs {[sorted(s) for s in sets]}")


def first_line(exc: BaseException, limit: int = 300) -> str:
    """A short one-line form of an SDK exception message (they can be pages long).

    Skips OpenVINO's source-location lines (``Exception from src/...cpp:84:``).
    """
    lines = [t.strip() for t in str(exc).splitlines() if t.strip()]
    useful = [t for t in lines if not re.match(r"^Exception from \S+:\d+:?$", t)]
    return (useful or lines or [type(exc).__name__])[0][:limit]
