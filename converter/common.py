"""Helpers shared by the engine builders: what an ONNX file holds, and their results.

Every builder (``openvino_convert``, ``tensorrt_build``, ``om``) starts from an ONNX file written
by ``converter.onnx_export`` (input ``actual_input_1`` (N, C, H, W) float32, output ``output1``
(T, N, C), the spec JSON in ``metadata_props``), and returns a :class:`BuildResult`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from crnn_deploy.common.errors import UserError
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
                        "export it with `crnn-convert onnx`")
    spec = spec_from_text(text, path)
    inputs = [i for i in model.graph.input
              if i.name not in {t.name for t in model.graph.initializer}]
    if len(inputs) != 1 or inputs[0].name != spec.input_name:
        raise UserError(f"{path}: expected one input named {spec.input_name!r}, got "
                        f"{[i.name for i in inputs]}")
    dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?")
            for d in inputs[0].type.tensor_type.shape.dim]
    return OnnxInfo(path=path, spec=spec, batch=check_dims(spec, dims, path))


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


def import_hint(package: str, extra: str, why: str = "") -> UserError:
    """A UserError for a missing SDK, with the pip command that installs it."""
    msg = f"{package} is not installed; install it with: pip install 'crnn-deploy[{extra}]'"
    return UserError(msg + (f" ({why})" if why else ""))
