"""Helpers shared by the engine builders: what an ONNX file holds, and their results.

Every builder (``openvino_convert``, ``tensorrt_build``, ``om``) starts from an ONNX file written
by ``converter.onnx_export`` (input ``actual_input_1`` (N, C, H, W) float32, output ``output1``
(T, N, C), the spec JSON in ``metadata_props``), and returns a :class:`BuildResult`.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from crnn_deploy.common.errors import TORCH_INSTALL, UserError
from crnn_deploy.models.specs import METADATA_KEY, ModelSpec, load_onnx_spec


@dataclass
class OnnxInfo:
    """What the builders need from an ONNX file.

    Attributes:
        path: the file.
        spec: the model spec of its ``metadata_props``.
        batch: the static batch N of input dim 0, or None when that dim is symbolic.
    """

    path: Path
    spec: ModelSpec
    batch: int | None
    source: dict | None = None


#: Where an engine came from (:func:`source_record`): ONNX ``metadata_props`` key; the same path
#: split at the dot in OpenVINO ``rt_info`` (``crnn_deploy/source``); ``source`` in a sidecar.
SOURCE_KEY = "crnn_deploy.source"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in ``chunk``-byte blocks (memory bounded)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def source_record(kind: str, path: str | Path, origin: dict | None = None) -> dict:
    """What an engine was made from, recorded in it at conversion: ``{"from": kind, "file":
    the file's name, "sha256": its hex SHA-256}`` plus ``origin``, the record of that file
    itself (an ONNX exported from a checkpoint). ``kind``: ``checkpoint`` (crnn-convert onnx),
    ``onnx import`` (crnn-convert import), ``onnx`` (an engine built from an ONNX file)."""
    rec = {"from": kind, "file": Path(path).name, "sha256": sha256_file(path)}
    return {**rec, "origin": origin} if origin else rec


def stamp_imported(model, metadata: dict, spec, source: str | Path, output: str | Path) -> None:
    """Replace ``model``'s ``metadata_props`` with ``metadata`` (the source model's own keys)
    plus the spec (:data:`METADATA_KEY`), ``spec_name`` and where it came from
    (:data:`SOURCE_KEY`: :func:`source_record` of ``source``), then run ``onnx.checker``.
    Raises UserError naming ``output`` when the checker rejects the model."""
    import onnx

    del model.metadata_props[:]
    record = json.dumps(source_record("onnx import", source), sort_keys=True)
    for key, value in {**metadata, METADATA_KEY: spec.to_json(), "spec_name": spec.name,
                       SOURCE_KEY: record}.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise UserError(f"onnx.checker rejected the imported model for {output}: {exc}") from None


def simplified_if_equal(model, run):
    """``(model, simplified, note)``: onnxsim's graph (dynamic dims kept) when its outputs equal
    ``model``'s, else ``model`` with the reason. ``run(serialized_model) -> list of arrays``
    computes the outputs on the caller's check inputs (the same for both graphs)."""
    import numpy as np
    import onnxsim

    try:
        simple, ok = onnxsim.simplify(model)
    except Exception as exc:  # onnxsim raises plain RuntimeErrors on graphs it cannot handle
        return model, False, f"onnxsim failed ({type(exc).__name__}); kept the original graph"
    if not ok:
        return model, False, "onnxsim could not validate its graph; kept the original graph"
    before, after = run(model.SerializeToString()), run(simple.SerializeToString())
    if all(np.array_equal(a, b) for a, b in zip(before, after)):
        return simple, True, "onnxsim: outputs unchanged"
    worst = max(float(np.max(np.abs(a - b))) for a, b in zip(before, after))
    return model, False, f"onnxsim changed the outputs (max {worst:.2e}); kept the original graph"


def read_source(text: str | None) -> dict | None:
    """The record of :func:`source_record` from its JSON ``text`` (None: absent or invalid)."""
    try:
        rec = json.loads(text) if text else None
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


@dataclass
class BuildResult:
    """One built engine.

    Attributes:
        path: the engine file written (``.xml``, ``.engine``, ``.om``).
        max_diff: max abs diff of its (T, N, C) output against ONNX Runtime on the same inputs,
            or None when it could not be run here (``note`` says why).
        atol: the tolerance the diff was held to (None: not checked); ``rtol``: plus this
            times the largest magnitude of the reference output (0: atol alone).
        note: extra facts for the user (precision, profile, why unchecked, ...).
        files: every file written (e.g. ``.xml`` and ``.bin``; the engine and its sidecar).
    """

    path: Path
    max_diff: float | None
    atol: float | None = None
    note: str = ""
    files: list[Path] = field(default_factory=list)
    rtol: float = 0.0


def read_onnx_info(path: str | Path) -> OnnxInfo:
    """Read spec and batch of an ONNX file exported by ``crnn-convert onnx``.

    Raises:
        UserError: the file is missing or unreadable, carries no spec (not exported by
            crnn-convert), or its input does not match the spec's (N, C, H, W).
    """
    from crnn_deploy.runtime.engine_spec import check_dims, spec_from_text

    path = Path(path)
    model, text = load_onnx_spec(path)  # bounded: models.specs.MAX_ONNX_BYTES
    if text is None:
        raise UserError(f"{path} carries no model spec (metadata key {METADATA_KEY!r}); "
                        f"give it one with `crnn-convert import {path} --spec PRESET|spec.json "
                        f"--output {Path(path).stem}-spec.onnx` (a model of another tool), or "
                        "export a checkpoint with `crnn-convert onnx`")
    spec = spec_from_text(text, path)
    inputs = [i for i in model.graph.input
              if i.name not in {t.name for t in model.graph.initializer}]
    if len(inputs) != 1 or inputs[0].name != spec.input_name:
        raise UserError(f"{path}: expected one input named {spec.input_name!r}, got "
                        f"{[i.name for i in inputs]}")
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in inputs[0].type.tensor_type.shape.dim]
    source = read_source(next((p.value for p in model.metadata_props if p.key == SOURCE_KEY),
                              None))
    return OnnxInfo(path=path, spec=spec, batch=check_dims(spec, dims, path), source=source)


def check_static_batch(info: OnnxInfo, batch: int | None, what: str) -> None:
    """Refuse to build batch ``batch`` from an ONNX graph fixed to another batch.

    A static graph (onnxsim folds the batch into reshapes) cannot be re-batched safely, and its
    ONNX Runtime reference could not run the other batch either.

    Raises:
        UserError: ``info.batch`` is static and differs from ``batch`` (or ``batch`` is None,
            i.e. a dynamic engine was asked for).
    """
    if info.batch is not None and batch != info.batch:
        want = "a dynamic batch" if batch is None else f"batch {batch}"
        raise UserError(f"{info.path} has a static batch of {info.batch}; {what} needs {want}: "
                        "use the dynamic-batch ONNX (crnn-convert onnx --dynamic)")


def require_torch(what: str) -> None:
    """Import torch, or raise a UserError saying that ``what`` needs it and how to install it
    (:data:`common.errors.TORCH_INSTALL`: the CPU build first, then the ``[export]`` extra)."""
    try:
        import torch  # noqa: F401
    except ImportError:  # ModuleNotFoundError, or a broken install
        raise UserError(f"{what} needs PyTorch, which is not installed; install it with: "
                        f"{TORCH_INSTALL}") from None


def import_hint(package: str, extra: str, why: str = "") -> UserError:
    """A UserError for a missing SDK, with the pip command that installs it."""
    msg = f"{package} is not installed; install it with: pip install 'crnn-deploy[{extra}]'"
    return UserError(msg + (f" ({why})" if why else ""))
