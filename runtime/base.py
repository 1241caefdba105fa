"""The backend interface every engine runner implements (after Polygraphy's ``BaseRunner``).

A backend is a context manager: ``with Backend(path) as b: y = b.infer(x)``. ``infer`` takes a
float32 C-contiguous (N, C, H, W) batch and returns float32 (T, N, C) (batch on axis 1, the
ais_bench ``--output_batchsize_axis 1`` layout). It checks shape and dtype, and times only the
bare inference call (``last_latency_ms``, milliseconds), so loop-mode numbers measure the engine,
not our bookkeeping.
"""
from __future__ import annotations

import abc
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from common.errors import UserError
from models.specs import ModelSpec


class Backend(abc.ABC):
    """Base class of all engine runners.

    Subclasses set ``name`` (as given to ``--backend``) and ``extra`` (the pip extra that
    installs the SDK), and implement :meth:`is_available`, :meth:`_load`, :meth:`_infer`.
    After :meth:`load`, ``spec`` holds the model spec read from the engine and ``batch_size``
    its static batch (``None`` when the batch axis is dynamic).
    """

    name: str = "base"
    extra: str = ""

    def __init__(self, engine: str | Path, device: str = "CPU", **options):
        self.engine = Path(engine)
        self.device = device
        self.options = options
        self.spec: ModelSpec | None = None
        self.batch_size: int | None = None
        self.last_latency_ms: float = 0.0
        #: seconds during which at least one inference was in flight (sum of the bare call
        #: times when sequential; the busy span when pipelined); reset by :meth:`reset_timing`
        self.busy_s: float = 0.0
        self._loaded = False

    # -- to implement -------------------------------------------------------------------------
    @classmethod
    @abc.abstractmethod
    def is_available(cls) -> bool:
        """True when the backend's SDK can be imported on this machine."""

    @abc.abstractmethod
    def _load(self) -> None:
        """Read the engine; set ``self.spec`` and ``self.batch_size``."""

    @abc.abstractmethod
    def _infer(self, x: np.ndarray) -> np.ndarray:
        """Run one checked batch; return (T, N, C) float32."""

    def _close(self) -> None:
        """Free the engine's resources (optional)."""

    # -- shared behaviour ---------------------------------------------------------------------
    def load(self) -> "Backend":
        """Load the engine once. Raises UserError for a missing or unreadable engine file."""
        if not self._loaded:
            if not self.engine.is_file():
                raise UserError(f"engine not found: {self.engine}")
            if not self.is_available():
                what = f"'crnn-deploy[{self.extra}]'" if self.extra else "crnn-deploy"
                raise UserError(f"backend {self.name!r} is not installed; "
                                f"install it with: pip install {what}")
            self._load()
            self._loaded = True
        return self

    def check_input(self, x: np.ndarray) -> None:
        """Raise UserError unless ``x`` is float32 (N, C, H, W) of the spec and the engine's batch."""
        expected = tuple(self.spec.input_shape)
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise UserError(f"input must be a float32 numpy array, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise UserError(f"input shape {tuple(x.shape)} does not match (N, {', '.join(map(str, expected))}) "
                            f"of {self.spec.name}")
        if self.batch_size is not None and x.shape[0] != self.batch_size:
            raise UserError(f"engine {self.engine} has a static batch of {self.batch_size}, "
                            f"got a batch of {x.shape[0]}")

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Run one batch: float32 (N, C, H, W) -> float32 (T, N, C); sets ``last_latency_ms``."""
        self.load()
        self.check_input(x)
        x = np.ascontiguousarray(x)
        start = time.perf_counter()
        y = self._infer(x)
        elapsed = time.perf_counter() - start
        self.last_latency_ms = elapsed * 1000.0
        self.busy_s += elapsed
        return y

    def infer_many(self, batches: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Run many batches; yield their (T, N, C) outputs in input order.

        After each yield, ``last_latency_ms`` is that batch's latency (ms) and ``busy_s`` has
        grown by the time inference was running. The default runs the batches one by one;
        backends that can pipeline (OpenVINO's AsyncInferQueue) override it.
        """
        for x in batches:
            yield self.infer(x)

    def reset_timing(self) -> None:
        """Zero ``busy_s`` and ``last_latency_ms`` (e.g. after warm-up runs)."""
        self.busy_s = 0.0
        self.last_latency_ms = 0.0

    def close(self) -> None:
        if self._loaded:
            self._close()
            self._loaded = False

    def __enter__(self) -> "Backend":
        return self.load()

    def __exit__(self, *exc) -> None:
        self.close()
