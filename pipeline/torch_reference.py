"""PyTorch eager as a :class:`runtime.base.Backend`: the reference a user runs without us.

``TorchBackend(checkpoint, model="nano-ocr", threads=N)`` loads the checkpoint with
:func:`models.checkpoint.load_model` (eval mode), sets ``torch.set_num_threads(N)`` and runs
``model(x)`` under ``torch.no_grad()``. Because it is a Backend, the same code times it as every
engine: :func:`runtime.runner.run_loop` (the ``crnn-infer --loop`` path) and
:func:`pipeline.fused.evaluate` (the ``crnn-eval`` path).

torch is imported only when the backend is loaded, never at import time of this module.
``torch.set_num_threads`` is process-wide: it also applies to any other torch code in the process.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from common.errors import UserError
from models.specs import ModelSpec, get_spec
from runtime.base import Backend


class TorchBackend(Backend):
    """Runs a CRNN checkpoint in PyTorch eager mode on the CPU (float32 NCHW -> (T, N, C)).

    Args:
        checkpoint: the ``.pth`` state_dict (plays the part of the engine file).
        model: the model spec name (or a :class:`ModelSpec`) whose architecture to build.
        device: only ``CPU``.
        threads: ``torch.set_num_threads``; None keeps torch's default.
    """

    name = "pytorch"
    extra = "export"

    def __init__(self, checkpoint: str | Path, model: str | ModelSpec = "nano-ocr",
                 device: str = "CPU", threads: int | None = None):
        spec = get_spec(model) if isinstance(model, str) else model
        super().__init__(checkpoint, device=device, threads=threads, model=spec.name)
        self._spec = spec
        self.model = None

    @classmethod
    def is_available(cls) -> bool:
        return importlib.util.find_spec("torch") is not None

    def _load(self) -> None:
        if self.device.upper() != "CPU":
            raise UserError(f"pytorch reference: only device CPU is supported, got {self.device!r}")
        import torch

        from models.checkpoint import load_model

        threads = self.options.get("threads")
        if threads:
            torch.set_num_threads(int(threads))
        self.model = load_model(self._spec, self.engine).eval()
        self.spec = self._spec
        self.batch_size = None  # eager mode takes any batch

    def _infer(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            y = self.model(torch.from_numpy(x))
        return y.numpy().astype(np.float32, copy=False)

    def _close(self) -> None:
        self.model = None
