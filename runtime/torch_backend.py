"""PyTorch eager backend: a ``.pth`` checkpoint run as it was trained (the reference path).

``TorchBackend("w.pth", model="nano-ocr", threads=N)`` builds the architecture of the named
model spec, loads the state_dict with :func:`models.checkpoint.load_model` (``torch.load(...,
weights_only=True)``, eval mode), sets ``torch.set_num_threads(N)`` and runs ``model(x)`` under
``torch.no_grad()``. Registered as backend ``pytorch`` for the ``.pth`` suffix
(:mod:`runtime.registry`), so ``crnn-infer --engine w.pth --spec nano-ocr``,
:func:`runtime.runner.run_loop` and :func:`pipeline.fused.evaluate` time it like every engine.

A checkpoint carries no spec (unlike an exported engine): it comes from the ``model`` option,
else from a sidecar ``w.pth.json`` (:func:`models.specs.read_sidecar`). Input float32 (N, C, H, W)
of the spec, any N; output float32 (T, N, C) logits as the model returns them.

torch is imported only when the backend is loaded, never at import time of this module.
``torch.set_num_threads`` is process-wide: it also applies to any other torch code in the process.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import TORCH_INSTALL, UserError
from crnn_deploy.models.specs import SPECS, ModelSpec, get_spec, read_sidecar, sidecar_path
from crnn_deploy.runtime.base import Backend


class TorchBackend(Backend):
    """Runs a CRNN checkpoint in PyTorch eager mode on the CPU (float32 NCHW -> (T, N, C)).

    Args:
        engine: the ``.pth`` state_dict (plays the part of the engine file).
        device: only ``CPU`` (the project's torch is the CPU build).
        model: the model spec name (or a :class:`ModelSpec`) whose architecture to build;
            None reads the sidecar ``{engine}.json``.
        threads: ``torch.set_num_threads``; None keeps torch's default (one per core).

    Other options (``hint``, ``precision``) are OpenVINO's: ``precision`` other than ``f32``
    is refused, ``hint`` is ignored. Loading raises :class:`UserError` for a missing spec
    name, a non-CPU device, or a checkpoint that does not fit the spec (missing/unexpected
    keys, wrong shapes, not a PyTorch file).
    """

    name = "pytorch"
    extra = "export"  # the pip extra that brings torch (after the CPU build: install_hint)
    sdk = ("torch",)

    @classmethod
    def install_hint(cls) -> str:
        """torch's CPU build first, then the extra (:data:`common.errors.TORCH_INSTALL`): the
        extra alone would pull PyPI's default torch, a multi-GB CUDA build."""
        return f"install it with: {TORCH_INSTALL}"

    def __init__(self, engine: str | Path, device: str = "CPU",
                 model: str | ModelSpec | None = None, **options):
        super().__init__(engine, device=device, **options)
        self._model_arg = model
        self.model = None

    def _resolve_spec(self) -> ModelSpec:
        """The spec from the ``model`` option, else the sidecar; UserError when neither."""
        if isinstance(self._model_arg, ModelSpec):
            return self._model_arg
        if self._model_arg:
            return get_spec(self._model_arg)
        if sidecar_path(self.engine).is_file():
            return read_sidecar(self.engine)
        raise UserError(f"{self.engine}: a PyTorch checkpoint does not say which model it is; "
                        f"give the spec name (--spec NAME of crnn-infer or crnn-eval; one of {', '.join(SPECS)})")

    def _load(self) -> None:
        if self.device.upper() != "CPU":
            raise UserError(f"pytorch backend: only device CPU is supported, got {self.device!r}")
        precision = self.options.get("precision")
        if precision not in (None, "f32"):
            raise UserError(f"pytorch backend runs float32 only; --precision {precision} needs "
                            "--backend openvino")
        spec = self._resolve_spec()
        import torch

        from crnn_deploy.models.checkpoint import load_model

        threads = self.options.get("threads")
        if threads:
            torch.set_num_threads(int(threads))
        self.model = load_model(spec, self.engine).eval()
        self.spec = spec
        self.batch_size = None  # eager mode takes any batch

    def _infer(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            y = self.model(torch.from_numpy(x))
        return y.numpy().astype(np.float32, copy=False)

    def _close(self) -> None:
        self.model = None
