"""Ascend NPU backend: offline models ``.om`` (built by ``atc``) run through ais_bench.

Uses ``ais_bench.infer.interface.InferSession(device_id, model_path)`` (the Python API of the
ais_bench / msit benchmark tool, on ``aclruntime``): ``get_inputs()`` gives the input
descriptor (a -1 batch dim marks a dynamic-batch OM), ``infer([x], mode='static'|'dymbatch')``
returns numpy outputs, ``free_resource()`` releases the model. A pyACL (``acl``) fallback is not
implemented: ais_bench ships with the CANN toolkit (``pip install`` its aclruntime and ais_bench
wheels, see the ais_bench README).

The OM carries no metadata usable here, so the spec and the batch gears come from the sidecar
``X.om.json`` written by ``crnn-convert om`` (``dynamic_batch``: the ``--dynamic_batch_size``
gears). A dynamic-batch OM only runs its gears: a batch between gears is zero-padded to the next
gear and the padding outputs dropped; above the largest gear is a UserError. Outputs are
reshaped to (T, N, C) float32 (aclruntime returns the buffer of the gear that ran).

Options: ``device_id`` (int, default 0), or device ``NPU:1``.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import read_sidecar, read_sidecar_data
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.engine_spec import output_index

INSTALL_HINT = ("install the CANN toolkit, then the aclruntime and ais_bench wheels of the "
                "ais_bench tool (Ascend/tools ais-bench_workload/tool/ais_bench)")


@lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """Why OM files cannot run here (None when ais_bench's InferSession imports)."""
    try:
        from ais_bench.infer.interface import InferSession  # noqa: F401
    except Exception as exc:  # ImportError, or aclruntime failing to load libascendcl.so
        return f"ais_bench is not importable ({type(exc).__name__}: {exc})"
    return None


def pick_gear(n: int, gears: list[int]) -> int:
    """The smallest gear >= ``n``.

    Raises:
        UserError: ``n`` is above the largest gear.
    """
    fitting = [g for g in sorted(gears) if g >= n]
    if not fitting:
        raise UserError(f"batch {n} is above the largest batch gear {max(gears)} of the OM "
                        f"(gears {sorted(gears)}); rebuild with crnn-convert om --dynamic-batch")
    return fitting[0]


def to_tbc(output: np.ndarray, seq_len: int, gear: int, classes: int, n: int) -> np.ndarray:
    """The first ``n`` samples of a (T, gear, C) output, as float32 (T, n, C).

    ``output`` may be flat or shaped, and longer than T*gear*C (a buffer sized for the largest
    gear); only its first T*gear*C values belong to the run.

    Raises:
        UserError: fewer values than T*gear*C.
    """
    flat = np.asarray(output).reshape(-1)
    need = seq_len * gear * classes
    if flat.size < need:
        raise UserError(f"OM output has {flat.size} values, expected {need} "
                        f"(T={seq_len}, N={gear}, C={classes})")
    return flat[:need].reshape(seq_len, gear, classes)[:, :n].astype(np.float32, copy=False)


class OmSession:
    """One loaded OM: float32 (N, C, H, W) -> (T, N, C). Used by the backend and ``converter.om``.

    Args:
        path: the ``.om`` file.
        output_shape: (T, C) of the spec.
        gears: the dynamic batch gears (from the sidecar); ignored for a static OM.
        device_id: NPU id (``npu-smi info``).
    """

    def __init__(self, path, output_shape: tuple[int, int], gears: list[int] | None = None,
                 device_id: int = 0, widths: dict[int, int] | None = None, spec=None):
        from ais_bench.infer.interface import InferSession

        try:
            self.session = InferSession(int(device_id), str(path))
        except Exception as exc:
            raise UserError(f"ais_bench cannot load {path} on NPU {device_id}: {exc}") from None
        desc = self.session.get_inputs()
        if len(desc) != 1:
            raise UserError(f"{path}: expected 1 input, the OM has {len(desc)}")
        #: the output the spec names (runtime.engine_spec.output_index), not simply the first
        outputs = getattr(self.session, "get_outputs", None)  # ais_bench's output descriptors
        self.output = 0 if spec is None or outputs is None else output_index(
            [o.name for o in outputs()], spec, path)
        shape = [int(d) for d in desc[0].shape]
        self.input_shape = tuple(shape[1:])
        self.dynamic = shape[0] < 0
        if self.dynamic:
            if not gears:
                gears = [int(self.session.get_max_dym_batchsize())]
            self.gears = sorted(int(g) for g in gears)
        else:
            self.gears = [shape[0]]
        self.seq_len, self.classes = output_shape
        #: width gear -> T of a dynamic-image-size OM (atc --dynamic_image_size; the sidecar)
        self.widths = {int(w): int(t) for w, t in (widths or {}).items()}

    @property
    def batch_size(self) -> int | None:
        return None if self.dynamic else self.gears[0]

    def infer(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        if self.widths:  # ais_bench 'dymhw': the gear is the (H, W) of the input array
            w = x.shape[3]
            if w not in self.widths or n != self.gears[0]:
                raise UserError(f"the OM runs batch {self.gears[0]} at widths {sorted(self.widths)}, "
                                f"got {n} x width {w}")
            out = self.session.infer([np.ascontiguousarray(x)], mode="dymhw")
            return to_tbc(out[self.output], self.widths[w], n, self.classes, n)
        if not self.dynamic:
            if n != self.gears[0]:
                raise UserError(f"the OM has a static batch of {self.gears[0]}, got {n}")
            out = self.session.infer([x], mode="static")
            return to_tbc(out[self.output], self.seq_len, n, self.classes, n)
        gear = pick_gear(n, self.gears)
        if gear != n:
            x = np.concatenate([x, np.zeros((gear - n, *x.shape[1:]), np.float32)])
        out = self.session.infer([np.ascontiguousarray(x)], mode="dymbatch")
        return to_tbc(out[self.output], self.seq_len, gear, self.classes, n)

    def close(self) -> None:
        if getattr(self, "session", None) is not None:
            self.session.free_resource()
            self.session = None


class AscendBackend(Backend):
    """Runs an Ascend ``.om`` file on an NPU via ais_bench; spec from ``X.om.json``."""

    name = "ascend"
    extra = "ascend"
    sdk = ("ais_bench.infer.interface",)

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when ``ais_bench.infer.interface`` (and so aclruntime) imports, else why not."""
        return unavailable_reason()

    @classmethod
    def install_hint(cls) -> str:
        """CANN and the ais_bench wheels (the ``ascend`` pip extra is empty: they are not on PyPI)."""
        return INSTALL_HINT

    def _device_id(self) -> int:
        device = str(self.device).upper()
        if device.startswith("NPU") and ":" in device:
            return int(device.split(":", 1)[1])
        return int(self.options.get("device_id", 0))

    def _load(self) -> None:
        self.spec = read_sidecar(self.engine)
        if self.spec.kind != "recognizer":  # OmSession sizes (T, N, C) outputs
            raise UserError(f"engine {self.engine}: the ascend backend runs recognizers; the OM "
                            f"of a {self.spec.kind} ({self.spec.name}) does not run here yet")
        side = read_sidecar_data(self.engine)
        gears, widths = side.get("dynamic_batch"), side.get("widths")
        self.session = OmSession(self.engine, self.spec.output_shape, gears, self._device_id(), widths,
                                 spec=self.spec)
        if widths:  # (N, C, -1, -1): C is the spec's; the gears are the widths it runs
            self.widths = tuple(sorted(self.session.widths))
        elif self.session.input_shape != tuple(self.spec.input_shape):
            raise UserError(f"engine {self.engine}: input (N, {self.session.input_shape}) does "
                            f"not match spec {self.spec.name} {self.spec.input_shape}")
        self.batch_size = self.session.batch_size

    def check_input(self, x: np.ndarray) -> None:
        """The base checks, plus the largest gear of a dynamic-batch OM."""
        super().check_input(x)
        if self.session.dynamic:
            pick_gear(x.shape[0], self.session.gears)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        return self.session.infer(x)

    def _close(self) -> None:
        self.session.close()
        self.session = None
