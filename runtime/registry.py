"""Engine suffix -> backend, and lazy construction of the backend class.

| suffix | backend | SDK (pip extra) |
| --- | --- | --- |
| ``.onnx`` | ``onnxruntime`` | onnxruntime (core dependency) |
| ``.xml`` | ``openvino`` | openvino (``[openvino]``) |
| ``.engine``, ``.plan`` | ``tensorrt`` | tensorrt + cuda-python (``[tensorrt]``) |
| ``.om`` | ``ascend`` | ais_bench / aclruntime (CANN toolkit) |
| ``.pth`` | ``pytorch`` | torch (CPU build first, then ``[export]``: ``common.errors.TORCH_INSTALL``); the spec name comes as option ``model`` |

``--backend openvino`` on a ``.onnx`` file is allowed (OpenVINO reads ONNX directly).
"""
from __future__ import annotations

import importlib
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.runtime.base import Backend

#: backend name -> "module:Class", imported only when that backend is used
BACKENDS: dict[str, str] = {
    "onnxruntime": "crnn_deploy.runtime.ort_backend:OnnxRuntimeBackend",
    "openvino": "crnn_deploy.runtime.openvino_backend:OpenVINOBackend",
    "tensorrt": "crnn_deploy.runtime.tensorrt_backend:TensorRTBackend",
    "ascend": "crnn_deploy.runtime.ascend_backend:AscendBackend",
    "pytorch": "crnn_deploy.runtime.torch_backend:TorchBackend",
}

SUFFIXES: dict[str, str] = {
    ".onnx": "onnxruntime",
    ".xml": "openvino",
    ".engine": "tensorrt",
    ".plan": "tensorrt",
    ".om": "ascend",
    ".pth": "pytorch",
}


def backend_for(engine: str | Path, backend: str | None = None) -> str:
    """The backend name for ``engine``: ``backend`` if given, else from the suffix.

    Raises:
        UserError: unknown backend name or engine suffix.
    """
    if backend:
        if backend not in BACKENDS:
            raise UserError(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
        return backend
    suffix = Path(engine).suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(f"cannot tell the backend of {engine}: unknown suffix {suffix!r} "
                        f"(known: {', '.join(SUFFIXES)}; or pass --backend)")
    return SUFFIXES[suffix]


def backend_class(name: str) -> type[Backend]:
    """Import and return the backend class registered as ``name``."""
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def open_backend(engine: str | Path, backend: str | None = None, device: str = "CPU",
                 **options) -> Backend:
    """Construct (not yet load) the backend for ``engine``; options go to the backend."""
    return backend_class(backend_for(engine, backend))(engine, device=device, **options)
