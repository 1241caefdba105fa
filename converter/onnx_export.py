"""PyTorch checkpoint -> ONNX (static or dynamic batch), simplified, checked, spec embedded.

Follows the ModelZoo ``pth2onnx.py`` flow: input ``actual_input_1`` (B, C, H, W) float32,
output ``output1`` time-major (T, B, C); for a dynamic export axis 0 of the input and axis 1
of the output are named ``batch``. Uses the TorchScript exporter (``dynamo=False``), which
handles ``nn.LSTM`` with a dynamic batch axis.
"""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import onnx

from converter.parity import compare, ort_run
from common.errors import UserError
from models.specs import METADATA_KEY, ModelSpec

DEFAULT_OPSET = 17


def embed_spec(model: onnx.ModelProto, spec: ModelSpec) -> None:
    """Store the spec in ``metadata_props``: the full JSON plus readable single fields."""
    fields = {
        METADATA_KEY: spec.to_json(),
        "spec_name": spec.name,
        "alphabet": spec.alphabet,
        "input_shape": "x".join(str(d) for d in spec.input_shape),
        "normalize": f"(x/255-{spec.mean})/{spec.std}",
        "output_layout": f"TBC, T={spec.seq_len}, C={spec.num_classes}, {spec.output}",
    }
    del model.metadata_props[:]
    for key, value in fields.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value


def _export_raw(torch_model, spec: ModelSpec, path: str, batch: int, dynamic: bool, opset: int):
    import torch

    dummy = torch.zeros(batch, *spec.input_shape)
    axes = {spec.input_name: {0: "batch"}, spec.output_name: {1: "batch"}} if dynamic else None
    with torch.no_grad(), warnings.catch_warnings():
        # static graphs never change batch, and dynamic ones are traced at batch 1
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size")
        torch.onnx.export(torch_model, dummy, path, input_names=[spec.input_name],
                          output_names=[spec.output_name], dynamic_axes=axes,
                          opset_version=opset, dynamo=False)


def export_onnx(torch_model, spec: ModelSpec, output: str | Path, batch_size: int | None = 16,
                dynamic: bool = False, opset: int = DEFAULT_OPSET, simplify: bool = True,
                check_batches: tuple[int, ...] | None = None) -> float:
    """Export ``torch_model`` to ``output`` and return the max abs diff ORT vs PyTorch.

    Args:
        torch_model: an eval-mode model of ``spec`` (see ``models.checkpoint.load_model``).
        batch_size: the static batch N, or for ``dynamic`` the main check size.
        dynamic: keep the batch axis symbolic (``batch``), also through onnxsim.
        check_batches: batch sizes of the parity check; default N for a static graph,
            and 1, N, 3 and 2N+1 for a dynamic one.

    Raises:
        UserError: onnxsim or ``onnx.checker`` fails, or ORT differs from PyTorch by more
            than 1e-4 (nothing is written then).
    """
    import torch

    output = Path(output)
    n = batch_size or 16
    if check_batches is None:  # a static graph accepts only its own batch
        check_batches = tuple(dict.fromkeys((1, n, 3, 2 * n + 1))) if dynamic else (n,)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".onnx.tmp", dir=output.parent)
    os.close(fd)
    try:
        # a dynamic LSTM graph is traced at batch 1 (the exporter warns otherwise)
        _export_raw(torch_model, spec, tmp, 1 if dynamic else n, dynamic, opset)
        model = onnx.load(tmp)
        if simplify:
            import onnxsim

            model, ok = onnxsim.simplify(model)
            if not ok:
                raise UserError(f"onnxsim could not validate the simplified model for {output}")
        embed_spec(model, spec)
        try:
            onnx.checker.check_model(model)
        except onnx.checker.ValidationError as exc:
            raise UserError(f"onnx.checker rejected the export for {output}: {exc}") from None
        onnx.save(model, tmp)

        def reference(x):
            with torch.no_grad():
                return torch_model(torch.from_numpy(x)).numpy()

        diff = compare(f"ONNX Runtime vs PyTorch for {output}", check_batches, spec,
                       reference, lambda x: ort_run(tmp, x, spec))
        os.chmod(tmp, 0o644)
        os.replace(tmp, output)
        return diff
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
