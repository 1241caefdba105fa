"""ONNX Runtime backend (after Polygraphy's ``OnnxrtRunner``): ``.onnx`` files.

Device ``CPU`` uses the CPU execution provider; ``GPU`` uses CUDA (with TensorRT first when
the option ``tensorrt=True`` is given) where onnxruntime-gpu provides them. Options:

* ``threads`` (int): ``intra_op_num_threads``; default: ONNX Runtime's (one per physical core).
* ``spinning`` (bool): ``session.intra_op.allow_spinning``; False: idle intra-op threads sleep
  at once instead of spin-waiting for the next operator, leaving the cores to other threads
  (the fused paths' preprocessing: :func:`pipeline.streams.open_engine` sets it); None (default)
  keeps ONNX Runtime's (spin).
* ``providers`` (list of str): explicit execution providers, overriding ``device``.
* ``tensorrt`` (bool): with device GPU, put ``TensorrtExecutionProvider`` first.
* ``hint``: accepted and ignored (an OpenVINO option); ``precision`` other than ``f32`` and
  ``widths`` (OpenVINO's static-shape widths; ONNX Runtime runs any width) are errors.

The graph optimization level is ``ORT_ENABLE_ALL``. The file is read by
:func:`models.onnx_file.load_onnx_spec` (at most 2 GiB; weights kept as external data are
refused, UserError) and handed to ONNX Runtime as bytes. The spec comes from the model's
``metadata_props`` (key ``crnn_deploy.spec``), the batch size from the input's dim 0
(an int -> static batch; a symbol such as ``batch`` -> dynamic, ``batch_size = None``).
"""
from __future__ import annotations

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import load_onnx_spec
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.engine_spec import check_dims, first_line, output_index, spec_from_text

GPU_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")


def open_session(path, threads: int | None = None):
    """A bare CPU ``onnxruntime.InferenceSession`` on any ONNX file or serialized model
    (``bytes``; no spec needed): the
    reference run of a foreign model at import (``converter.onnx_import``).

    Raises:
        UserError: the file does not load in ONNX Runtime.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = int(threads)
    try:
        model = path if isinstance(path, bytes) else str(path)
        return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # InvalidProtobuf, Fail, NoSuchFile, ...
        raise UserError(f"cannot load {path} with onnxruntime: {first_line(exc)}") from None


class OnnxRuntimeBackend(Backend):
    """Runs an ONNX file with ``onnxruntime.InferenceSession`` (float32 NCHW -> (T, N, C))."""

    name = "onnxruntime"
    extra = ""  # a core dependency of crnn-deploy
    sdk = ("onnxruntime",)

    def batch_rows(self, n: int, batch: int) -> int:
        """``n`` on a dynamic-batch model: any batch size runs without a new plan, so no zero
        rows; a static batch's own size otherwise."""
        return batch if self.batch_size is not None else n

    def _providers(self, available: list[str]) -> list[str]:
        """The execution providers to request for ``self.device`` / the ``providers`` option."""
        wanted = self.options.get("providers")
        device = self.device.upper()
        if not wanted:
            if device == "CPU":
                wanted = ["CPUExecutionProvider"]
            elif device in ("GPU", "CUDA"):
                wanted = list(GPU_PROVIDERS)
                if self.options.get("tensorrt"):
                    wanted.insert(0, "TensorrtExecutionProvider")
            else:
                raise UserError(f"onnxruntime: unknown device {self.device!r} (use CPU or GPU)")
        missing = [p for p in wanted if p not in available]
        if missing:
            raise UserError(f"onnxruntime: execution provider(s) {', '.join(missing)} not available "
                            f"(have: {', '.join(available)}); for GPU install onnxruntime-gpu")
        return list(wanted)

    def _load(self) -> None:
        import onnxruntime as ort

        precision = self.options.get("precision")
        if precision not in (None, "f32", "auto"):  # auto: f32, ORT has no bf16 hint here
            raise UserError(f"onnxruntime runs the ONNX file in its own precision; "
                            f"--precision {precision} needs --backend openvino")
        if self.options.get("widths") not in (None, "", "dynamic"):
            raise UserError("--widths compiles static-shape OpenVINO models (--backend openvino); "
                            "onnxruntime runs every width of the spec as it comes")
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3  # errors only
        threads = self.options.get("threads")
        if threads:
            so.intra_op_num_threads = int(threads)
            so.inter_op_num_threads = 1
        spinning = self.options.get("spinning")
        if spinning is not None:
            if not isinstance(spinning, bool):
                raise UserError(f"onnxruntime: spinning must be True or False, got {spinning!r}")
            so.add_session_config_entry("session.intra_op.allow_spinning", str(int(spinning)))
        providers = self._providers(ort.get_available_providers())
        # parsed once by the bounded reader, which refuses weights kept as external data (they
        # could name any file); the session gets the bytes, never a path to resolve from
        model, text = load_onnx_spec(self.engine)
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), so, providers=providers)
        except Exception as exc:  # InvalidProtobuf, Fail, ...
            raise UserError(f"cannot load {self.engine} with onnxruntime: {first_line(exc)}") from None
        del model
        self.spec = spec_from_text(text, self.engine)
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or not outputs:
            raise UserError(f"engine {self.engine}: expected 1 input and 1 output, got "
                            f"{len(inputs)} and {len(outputs)}")
        self.batch_size = check_dims(self.spec, inputs[0].shape, self.engine)
        self.input_name = inputs[0].name
        pick = output_index([o.name for o in outputs], self.spec, self.engine)
        self.output_names = [outputs[pick].name]

    def _infer(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(self.output_names, {self.input_name: x})[0]

    def _close(self) -> None:
        self.session = None
