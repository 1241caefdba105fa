"""INT8 routes: output suffix -> quantizer, like ``runtime/registry.py`` (imported only when used).

| suffix | route | quantizer | SDK (pip extra) |
| --- | --- | --- | --- |
| ``.xml`` | ``openvino`` | NNCF post-training quantization -> OpenVINO INT8 IR | nncf, openvino (``[openvino,quant]``) |
| ``.onnx`` | ``onnxruntime`` | ``onnxruntime.quantization.quantize_static`` -> QDQ ONNX | onnxruntime (core) |

A quantizer is ``fn(info, calib, workdir, *, batch_size=None, **options) -> Quantized``: it
quantizes the FP32 ONNX ``info`` (:class:`converter.common.OnnxInfo`) calibrated on ``calib``
(:class:`converter.int8.calibration.Calibration`), records its settings in the model under
:data:`INT8_KEY`, and saves it inside ``workdir``. Checking and publishing are the shared
sequence's (:func:`converter.int8.sequence.quantize`), never the route's.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.common import import_hint

#: Key of the quantization settings (JSON): ONNX ``metadata_props`` key, and split at the dot the
#: OpenVINO ``rt_info`` path ``crnn_deploy/int8`` (beside the spec's ``crnn_deploy/spec``).
INT8_KEY = "crnn_deploy.int8"


@dataclass
class Quantized:
    """What a quantizer saved in its work folder.

    Attributes:
        model: the file to check (loaded by the runtime backend of its suffix).
        files: ``(temporary file, final suffix)`` in publishing order (an IR's ``.bin`` before
            its ``.xml``: a present ``.xml`` means a complete IR).
        batch: the static batch of the saved model (None: dynamic).
        note: the quantization settings, for the user.
    """

    model: Path
    files: list[tuple[Path, str]]
    batch: int | None
    note: str = ""


@dataclass(frozen=True)
class Route:
    """One INT8 route (see the module table)."""

    suffix: str
    name: str
    target: str          # "module:function" of the quantizer
    what: str            # what is written, for messages
    sdk: tuple[str, ...] = ()
    extra: str = ""
    companions: tuple[str, ...] = field(default=())  # suffixes written beside the output

    def missing_sdk(self) -> str | None:
        """The first SDK of this route that is not importable (None: all are)."""
        import importlib.util

        return next((m for m in self.sdk if importlib.util.find_spec(m) is None), None)

    def load(self) -> Callable:
        """Import and return the quantizer. Raises UserError (with the pip command) when its
        SDK is missing."""
        missing = self.missing_sdk()
        if missing:
            raise import_hint(missing, self.extra)
        module, _, fn = self.target.partition(":")
        return getattr(importlib.import_module(module), fn)


ROUTES: dict[str, Route] = {r.suffix: r for r in (
    Route(".xml", "openvino", "crnn_deploy.converter.int8.openvino_route:quantize_openvino", "INT8 IR",
          sdk=("openvino", "nncf"), extra="openvino,quant", companions=(".bin",)),
    Route(".onnx", "onnxruntime", "crnn_deploy.converter.int8.onnxruntime_route:quantize_onnx", "INT8 ONNX",
          sdk=("onnxruntime",)),
)}


def route_for(output: str | Path) -> Route:
    """The route of ``output``'s suffix. Raises UserError for another suffix."""
    suffix = Path(output).suffix.lower()
    if suffix not in ROUTES:
        raise UserError(f"--output {output}: use a .xml suffix (OpenVINO INT8 IR, NNCF) or "
                        ".onnx (INT8 QDQ ONNX, ONNX Runtime)")
    return ROUTES[suffix]
