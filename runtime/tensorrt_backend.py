"""TensorRT backend (after Polygraphy's ``TrtRunner``): serialized plans ``.engine`` / ``.plan``.

TensorRT 10 Python API: ``trt.Runtime.deserialize_cuda_engine`` -> ``create_execution_context``;
per batch ``set_input_shape`` (N, C, H, W), ``set_tensor_address`` for the input and the output,
``execute_async_v3`` on a CUDA stream. Device memory and copies go through cuda-python's runtime
bindings (``cuda.bindings.runtime``, or ``cuda.cudart`` in cuda-python < 12.6): buffers are
allocated once for the profile's max batch.

The plan carries no metadata, so the spec comes from the sidecar ``X.engine.json`` written by
``crnn-convert tensorrt``. The batch range is the plan's optimization profile 0: ``batch_size``
is its value when min == max, else None (dynamic), and a batch outside [min, max] is a
UserError. Plans are specific to the GPU model and TensorRT version that built them.
"""
from __future__ import annotations

import importlib
from functools import lru_cache

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import read_sidecar
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.engine_spec import output_index

INSTALL_HINT = "pip install 'crnn-deploy[tensorrt]' (tensorrt, cuda-python; NVIDIA GPU + driver)"


def cudart():
    """cuda-python's CUDA runtime module (``cuda.bindings.runtime`` or the older ``cuda.cudart``).

    Raises:
        ImportError: cuda-python is not installed.
    """
    try:
        return importlib.import_module("cuda.bindings.runtime")
    except ImportError:
        return importlib.import_module("cuda.cudart")


def cuda_call(result):
    """Unpack a cuda-python ``(err, *values)`` tuple; RuntimeError naming the error otherwise."""
    rt = cudart()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != rt.cudaError_t.cudaSuccess:
        name = rt.cudaGetErrorName(err)[1]
        raise RuntimeError(f"CUDA error {name.decode() if isinstance(name, bytes) else name}")
    return values[0] if len(values) == 1 else (values or None)


@lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """Why TensorRT cannot run here (None when it can): SDK not importable, or no CUDA GPU."""
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "tensorrt is not importable"
    try:
        rt = cudart()
    except ImportError:
        return "cuda-python is not importable"
    try:
        count = cuda_call(rt.cudaGetDeviceCount())
    except Exception as exc:  # no driver: cudaErrorNoDevice / InsufficientDriver
        return f"no CUDA GPU ({exc})"
    return None if count else "no CUDA GPU"


class DeviceBuffer:
    """``nbytes`` of device memory (cudaMalloc), freed by :meth:`free`."""

    def __init__(self, nbytes: int):
        self.nbytes = int(nbytes)
        self.ptr = int(cuda_call(cudart().cudaMalloc(self.nbytes)))

    def upload(self, host: np.ndarray, stream) -> None:
        """Asynchronous copy of the C-contiguous ``host`` array to the start of the buffer."""
        rt = cudart()
        assert host.flags.c_contiguous and host.nbytes <= self.nbytes
        cuda_call(rt.cudaMemcpyAsync(self.ptr, host.ctypes.data, host.nbytes,
                                     rt.cudaMemcpyKind.cudaMemcpyHostToDevice, stream))

    def download(self, host: np.ndarray, stream) -> None:
        """Asynchronous copy of ``host.nbytes`` from the buffer into ``host``."""
        rt = cudart()
        cuda_call(rt.cudaMemcpyAsync(host.ctypes.data, self.ptr, host.nbytes,
                                     rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream))

    def free(self) -> None:
        if self.ptr:
            cuda_call(cudart().cudaFree(self.ptr))
            self.ptr = 0


class TrtSession:
    """One deserialized plan with one execution context: float32 (N, C, H, W) -> (T, N, C).

    Used by :class:`TensorRTBackend` and by ``converter.tensorrt_build`` for its parity check.

    Attributes:
        input_name, output_name: the I/O tensor names of the plan.
        min_batch, max_batch: the batch range of optimization profile 0.
        input_shape: (C, H, W) of the plan's input.

    Args:
        plan: the serialized plan.
        label: names the plan in messages.
        spec: the model spec: a plan of several outputs runs the one named
            ``spec.output_name`` (:func:`runtime.engine_spec.output_index`); None: the plan
            must have one output.

    Raises:
        UserError: the bytes are not a plan this TensorRT can deserialize (other version or
            GPU), the plan has not exactly one input, or no output the spec names.
    """

    def __init__(self, plan: bytes, label: str = "plan", spec=None):
        import tensorrt as trt

        self._trt = trt
        self.logger = trt.Logger(trt.Logger.ERROR)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise UserError(f"TensorRT {trt.__version__} cannot deserialize {label}: plans are "
                            "tied to the TensorRT version and GPU that built them; rebuild it "
                            "with crnn-convert tensorrt")
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        inputs = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        outputs = [n for n in names if n not in inputs]
        if len(inputs) != 1 or not outputs or (spec is None and len(outputs) != 1):
            raise UserError(f"{label}: expected 1 input and 1 output, got {inputs} and {outputs}")
        pick = 0 if spec is None else output_index(outputs, spec, label)
        self.input_name, self.output_name = inputs[0], outputs[pick]
        shape = tuple(self.engine.get_tensor_shape(self.input_name))
        if min(shape) < 0:  # dynamic batch and/or width: the range of profile 0
            lo, _, hi = self.engine.get_tensor_profile_shape(self.input_name, 0)
            self.min_batch, self.max_batch = int(lo[0]), int(hi[0])
            shape = tuple(hi)  # buffers for the largest shape; W (dim 3) from lo[3] to hi[3]
        else:
            self.min_batch = self.max_batch = int(shape[0])
        self.input_shape = tuple(int(d) for d in shape[1:])
        self.context = self.engine.create_execution_context()
        self.stream = cuda_call(cudart().cudaStreamCreate())
        out_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(self.output_name)))
        self.context.set_input_shape(self.input_name, (self.max_batch, *self.input_shape))
        out_max = tuple(self.context.get_tensor_shape(self.output_name))
        self.d_in = DeviceBuffer(4 * self.max_batch * int(np.prod(self.input_shape)))
        self.d_out = DeviceBuffer(out_dtype.itemsize * int(np.prod(out_max)))
        self.out_dtype = out_dtype
        self.context.set_tensor_address(self.input_name, self.d_in.ptr)
        self.context.set_tensor_address(self.output_name, self.d_out.ptr)
        self.d_unused = []  # the other outputs need addresses too; they are never read
        for name in outputs:
            if name != self.output_name:
                size = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name))).itemsize
                self.d_unused.append(DeviceBuffer(
                    size * int(np.prod(tuple(self.context.get_tensor_shape(name))))))
                self.context.set_tensor_address(name, self.d_unused[-1].ptr)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Run a C-contiguous float32 (N, C, H, W) batch, min_batch <= N <= max_batch."""
        if not self.min_batch <= x.shape[0] <= self.max_batch:
            raise UserError(f"batch {x.shape[0]} is outside the engine's optimization profile "
                            f"[{self.min_batch}, {self.max_batch}]")
        if not self.context.set_input_shape(self.input_name, tuple(x.shape)):
            raise UserError(f"TensorRT refused input shape {tuple(x.shape)}")
        out = np.empty(tuple(self.context.get_tensor_shape(self.output_name)), self.out_dtype)
        self.d_in.upload(np.ascontiguousarray(x, dtype=np.float32), self.stream)
        if not self.context.execute_async_v3(int(self.stream)):
            raise RuntimeError("TensorRT execute_async_v3 failed (see the TensorRT log)")
        self.d_out.download(out, self.stream)
        cuda_call(cudart().cudaStreamSynchronize(self.stream))
        return out.astype(np.float32, copy=False)

    def close(self) -> None:
        """Free device buffers and the stream (idempotent)."""
        for buf in (getattr(self, "d_in", None), getattr(self, "d_out", None),
                    *getattr(self, "d_unused", [])):
            if buf is not None:
                buf.free()
        if getattr(self, "stream", None) is not None:
            cuda_call(cudart().cudaStreamDestroy(self.stream))
            self.stream = None
        self.context = self.engine = None


class TensorRTBackend(Backend):
    """Runs a TensorRT plan on the GPU; the spec comes from its sidecar ``X.engine.json``."""

    name = "tensorrt"
    extra = "tensorrt"
    sdk = ("tensorrt",)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when tensorrt and cuda-python import and a CUDA GPU is visible, else why not."""
        return unavailable_reason()

    @classmethod
    def install_hint(cls) -> str:
        """The ``tensorrt`` pip extra, plus the NVIDIA GPU and driver it needs."""
        return f"install with: {INSTALL_HINT}"

    def _load(self) -> None:
        # device: TensorRT always runs on the current CUDA GPU; "CPU" is the CLI default
        if self.device.upper() not in ("GPU", "CUDA", "CPU"):
            raise UserError(f"tensorrt: unknown device {self.device!r} (TensorRT runs on the GPU)")
        self.spec = read_sidecar(self.engine)
        self.session = TrtSession(self.engine.read_bytes(), label=str(self.engine), spec=self.spec)
        got = self.session.input_shape
        if self.spec.kind == "detector":  # (3, H, W): the profile spans H and W
            got, want = got[:1], (3,)
        elif self.spec.kind == "classifier" or not self.spec.dynamic_width:
            want = tuple(self.spec.input_shape)
        else:  # (C, H) fixed; the profile's largest W is the spec's
            got, want = got[:2], tuple(self.spec.input_shape)[:2]
        if got != want:
            raise UserError(f"engine {self.engine}: input (N, {self.session.input_shape}) does not "
                            f"match spec {self.spec.name} {want}")
        s = self.session
        self.batch_size = s.max_batch if s.min_batch == s.max_batch else None

    def check_input(self, x: np.ndarray) -> None:
        """The base checks, plus the profile's batch range for a dynamic plan."""
        super().check_input(x)
        s = self.session
        if not s.min_batch <= x.shape[0] <= s.max_batch:
            raise UserError(f"engine {self.engine} accepts batches {s.min_batch}..{s.max_batch} "
                            f"(its optimization profile), got a batch of {x.shape[0]}; rebuild "
                            "with crnn-convert tensorrt --max-batch N for larger batches")

    def _infer(self, x: np.ndarray) -> np.ndarray:
        return self.session.infer(x)

    def _close(self) -> None:
        self.session.close()
        self.session = None
