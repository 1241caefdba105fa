"""The backend interface every engine runner implements (after Polygraphy's ``BaseRunner``).

A backend is a context manager: ``with Backend(path) as b: y = b.infer(x)``. ``infer`` takes a
float32 C-contiguous (N, C, H, W) batch and returns float32 (T, N, C) (batch on axis 1, the
ais_bench ``--output_batchsize_axis 1`` layout). It checks shape and dtype, and times only the
bare inference call (``last_latency_ms``, milliseconds), so loop-mode numbers measure the engine,
not our bookkeeping.
"""
from __future__ import annotations

import abc
import importlib
import importlib.metadata
import time
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import ModelSpec
from crnn_deploy.runtime.engine_spec import check_engine_path


class Backend(abc.ABC):
    """Base class of all engine runners.

    Subclasses set ``name`` (as given to ``--backend``), ``extra`` (the pip extra that installs
    the SDK) and ``sdk`` (the module(s) the backend imports), and implement :meth:`_load` and
    :meth:`_infer`. Availability follows mmdeploy's ``is_available()``: a backend whose SDK
    needs more than an import (a GPU, a driver, a tool on PATH) overrides
    :meth:`unavailable_reason`; a backend installed some other way than a pip extra overrides
    :meth:`install_hint`. After :meth:`load`, ``spec`` holds the model spec read from the engine
    and ``batch_size`` its static batch (``None`` when the batch axis is dynamic).
    """

    name: str = "base"
    extra: str = ""
    #: the SDK modules :meth:`unavailable_reason` imports (the first one gives :meth:`version`)
    sdk: tuple[str, ...] = ()

    def __init__(self, engine: str | Path, device: str = "CPU", **options):
        self.engine = Path(engine)
        self.device = device
        #: the spec kind the engine must hold (option ``kind``: "recognizer", "detector",
        #: "classifier"; None: any), checked by :meth:`load`
        self.expect_kind: str | None = options.pop("kind", None)
        self.options = options
        self.spec: ModelSpec | None = None
        self.batch_size: int | None = None
        #: an engine with static shapes and a width that follows the word (OM width gears):
        #: the widths it runs; a batch is padded to the smallest that fits
        #: (:func:`runtime.widths.fit_width`). None: any width of the spec's range.
        self.widths: tuple[int, ...] | None = None
        self.last_latency_ms: float = 0.0
        #: seconds during which at least one inference was in flight (sum of the bare call
        #: times when sequential; the busy span when pipelined); reset by :meth:`reset_timing`
        self.busy_s: float = 0.0
        self._loaded = False

    # -- availability -------------------------------------------------------------------------
    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when the backend can run here, else why not (for the user, one line).

        The default imports every module of ``sdk`` and reports the first that fails with its
        import error, e.g. ``"openvino is not importable (ModuleNotFoundError: No module named
        'openvino')"``. Importing (rather than ``find_spec``) also catches an SDK whose native
        libraries fail to load.
        """
        for module in cls.sdk:
            try:
                importlib.import_module(module)
            except Exception as exc:  # ImportError, or OSError of a missing shared library
                return f"{module} is not importable ({type(exc).__name__}: {exc})"
        return None

    @classmethod
    def is_available(cls) -> bool:
        """True when the backend can run here (:meth:`unavailable_reason` is None)."""
        return cls.unavailable_reason() is None

    @classmethod
    def install_hint(cls) -> str:
        """How to install the backend: the pip extra of crnn-deploy (``extra``)."""
        what = f"'crnn-deploy[{cls.extra}]'" if cls.extra else "crnn-deploy"
        return f"install it with: pip install {what}"

    @classmethod
    def version(cls) -> str | None:
        """The installed SDK's version (``__version__`` of ``sdk[0]``, else the version of its
        top-level distribution), or None when there is no SDK module or it does not import."""
        if not cls.sdk:
            return None
        try:
            module = importlib.import_module(cls.sdk[0])
        except Exception:  # not installed: unavailable_reason() says why
            return None
        found = getattr(module, "__version__", None)
        if found:
            return str(found)
        try:
            return importlib.metadata.version(cls.sdk[0].split(".")[0])
        except importlib.metadata.PackageNotFoundError:
            return None

    # -- to implement -------------------------------------------------------------------------
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
        """Load the engine once.

        Raises:
            UserError: the engine file is missing (checked first), the backend cannot run here
                (the reason and :meth:`install_hint`), the engine is unreadable, or it holds
                a spec of another kind than ``expect_kind``.
        """
        if not self._loaded:
            check_engine_path(self.engine)  # not found / a folder / a FIFO / empty
            reason = self.unavailable_reason()
            if reason is None and not self.is_available():  # a subclass overriding is_available
                reason = "is_available() is False"
            if reason is not None:
                raise UserError(f"backend {self.name!r} cannot run here: {reason}; "
                                f"{self.install_hint()}")
            self._load()
            if self.expect_kind not in (None, self.spec.kind):
                self._close()
                raise UserError(f"engine {self.engine} holds a {self.spec.kind} "
                                f"({self.spec.name!r}); a {self.expect_kind} is needed here")
            if self.options.get("min_width") is not None:  # runtime.padding
                from crnn_deploy.runtime.padding import padded_spec

                self.spec = padded_spec(self.spec, self.options["min_width"])
            self._loaded = True
        return self

    def check_input(self, x: np.ndarray) -> None:
        """Raise UserError unless ``x`` is float32 (N, C, H, W) of the spec (W within the spec's
        range for a dynamic width; a detector's or classifier's spec: its ``check_input``) and
        the engine's batch."""
        spec = self.spec
        if not isinstance(x, np.ndarray) or x.dtype != np.float32:
            raise UserError(f"input must be a float32 numpy array, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if spec.kind != "recognizer":  # detector (N, 3, H, W) / classifier: models.page_specs
            spec.check_input(x.shape)
        elif spec.dynamic_width and x.ndim == 4 and x.shape[1:3] == spec.input_shape[:2]:
            if not spec.input_shape[2] <= x.shape[3] <= spec.width_max:
                raise UserError(f"input width {x.shape[3]} is outside {spec.input_shape[2]}..{spec.width_max} "
                                f"of {spec.name}")
            if self.widths and x.shape[3] not in self.widths:
                raise UserError(f"input width {x.shape[3]} is not one of the engine's widths "
                                f"{list(self.widths)}")
        elif x.ndim != 4 or tuple(x.shape[1:]) != tuple(spec.input_shape):
            raise UserError(f"input shape {tuple(x.shape)} does not match "
                            f"(N, {', '.join(map(str, spec.input_shape))}) of {spec.name}")
        if self.batch_size is not None and x.shape[0] != self.batch_size:
            raise UserError(f"engine {self.engine} has a static batch of {self.batch_size}, "
                            f"got a batch of {x.shape[0]}")

    def batch_rows(self, n: int, batch: int) -> int:
        """Rows to run for 1 <= ``n`` <= ``batch`` images (the rest zero rows, their outputs
        dropped): here ``batch``, one shape. Backends where a smaller batch costs no new plan
        override it (ONNX Runtime: ``n``; OpenVINO: power-of-two batch gears), so that a batch
        of one wide word is not run as 16 rows."""
        return batch

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
        """Free the engine (idempotent); a later :meth:`load` reads it again."""
        if self._loaded:
            self._close()
            self._loaded = False

    def __enter__(self) -> "Backend":
        return self.load()

    def __exit__(self, *exc) -> None:
        self.close()
