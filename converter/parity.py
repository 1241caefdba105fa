"""The one comparator of the converters: runners opened once, same inputs, one diff, one agreement.

After Polygraphy's comparator (``polygraphy/comparator/comparator.py``: ``Comparator.run`` feeds
the same data-loader batches to every runner, ``compare_accuracy`` compares the outputs
pairwise): a *runner* is any object with ``infer(x)`` mapping float32 (N, C, H, W) to (T, N, C),
opened once by the caller and fed every batch. The runtime backends (``runtime.registry``) are
runners; so are ``runtime.tensorrt_backend.TrtSession``, ``runtime.ascend_backend.OmSession``
and :class:`TorchRunner` (the in-memory PyTorch module at export time). The reference is ONNX
Runtime on the FP32 ONNX file (:func:`onnx_runner`) for every engine.

Two checks, each defined once:

* :func:`compare`: max abs diff of the (T, N, C) outputs on random inputs uniform in [-1, 1]
  (the range of normalized images, ``(x/255 - 0.5) / 0.5``; fixed seed, so a failure is
  reproducible) at given batch sizes, held to a tolerance (FP32 conversions: 1e-4);
* :func:`greedy_agreement`: on real images (INT8 models), the share of images whose greedy CTC
  decodes agree, plus the max abs diff; :func:`enforce_agreement` holds it to a floor.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol, Sequence

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import ModelSpec

#: Default tolerance (max abs diff of the (T, B, C) outputs) for an FP32 conversion.
FP32_ATOL = 1e-4
#: Batch used to run dynamic-batch runners over many images.
CHECK_BATCH = 16


class Runner(Protocol):
    """Anything with ``infer``: float32 (N, C, H, W) -> (T, N, C)."""

    def infer(self, x: np.ndarray) -> np.ndarray: ...


class TorchRunner:
    """The in-memory PyTorch module as a runner (export-time parity; imports torch lazily)."""

    def __init__(self, module):
        self.module = module

    def infer(self, x: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self.module(torch.from_numpy(x)).numpy()


def onnx_runner(path: str | Path):
    """ONNX Runtime (CPU) on ``path`` as a loaded runner (``runtime.ort_backend``); close it
    (or use it as a context manager). Raises UserError for an unreadable ONNX file."""
    from crnn_deploy.runtime.ort_backend import OnnxRuntimeBackend

    return OnnxRuntimeBackend(path, device="CPU").load()


def ort_run(onnx_path: str | Path, x: np.ndarray, spec: ModelSpec | None = None) -> np.ndarray:
    """One-shot ONNX Runtime run of ``x`` (N, C, H, W) -> float32 (T, N, C), for tests and
    scripts; the converters open :func:`onnx_runner` once and feed it every batch instead.
    ``spec`` is accepted for the older signature and unused (the file carries its spec)."""
    with onnx_runner(onnx_path) as runner:
        return runner.infer(x)


def check_inputs(spec: ModelSpec, batch: int, seed: int = 0, width: int | None = None) -> np.ndarray:
    """float32 (batch, C, H, W) array, uniform in [-1, 1], reproducible from ``seed``; W is
    ``width`` when given (a dynamic-width spec), else the spec's."""
    c, h, w = spec.input_shape
    rng = np.random.default_rng(seed + batch + (width or 0))
    return rng.uniform(-1.0, 1.0, size=(batch, c, h, width or w)).astype(np.float32)


def check_widths(spec: ModelSpec) -> tuple[int | None, ...]:
    """Input widths of the parity checks: the spec's own (None) for a fixed width; for a
    dynamic width its smallest, about 3.5 times it and 10 times it (within ``width_max``,
    rounded up to ``width_multiple``), so a shape baked in at one width shows."""
    if not spec.dynamic_width:
        return (None,)
    w, m = spec.input_shape[2], spec.width_multiple
    return tuple(dict.fromkeys(min(spec.width_max, -(-int(w * k) // m) * m) for k in (1, 3.5, 10)))


def max_abs_diff(reference: np.ndarray, candidate: np.ndarray, what: str = "output") -> float:
    """Max abs diff (float64; NaN if either holds NaN) of two arrays of the same shape.

    Raises:
        UserError: the shapes differ.
    """
    reference, candidate = np.asarray(reference), np.asarray(candidate)
    if reference.shape != candidate.shape:
        raise UserError(f"{what}: output shape {candidate.shape} != reference {reference.shape}")
    if reference.size == 0:
        return 0.0
    return float(np.max(np.abs(reference.astype(np.float64) - candidate.astype(np.float64))))


def run_batches(runner: Runner, x: np.ndarray, batch: int | None = None) -> np.ndarray:
    """Run ``runner`` over ``x`` (N, C, H, W); return float32 (T, N, K).

    ``batch``: the runner's static batch (default its ``batch_size`` attribute, if any). A
    static runner gets batches of exactly that size, the last zero-padded (padding outputs are
    dropped); a dynamic one gets batches of :data:`CHECK_BATCH`.
    """
    static = batch or getattr(runner, "batch_size", None)
    step = static or CHECK_BATCH
    outs = []
    for start in range(0, len(x), step):
        b = x[start:start + step]
        n = len(b)
        if static and n < static:
            b = np.concatenate([b, np.zeros((static - n, *b.shape[1:]), b.dtype)])
        outs.append(np.asarray(runner.infer(np.ascontiguousarray(b)), dtype=np.float32)[:, :n])
    return np.concatenate(outs, axis=1)


def compare(what: str, spec: ModelSpec, batches: Iterable[int], reference: Runner,
            candidate: Runner, atol: float = FP32_ATOL, rtol: float = 0.0) -> float:
    """Feed both runners the same :func:`check_inputs` at each batch size (and, for a
    dynamic-width spec, each of :func:`check_widths`); return the max abs diff.

    The tolerance is ``atol + rtol * max|reference output|`` (``rtol`` 0: ``atol`` alone).

    Raises:
        UserError: a shape differs, or the max abs diff exceeds the tolerance (NaN included;
            the message gives the diff, the tolerance, the batch size and width).
    """
    worst = 0.0
    for batch in batches:
        for width in check_widths(spec):
            x = check_inputs(spec, batch, width=width)
            at = f"batch {batch}" + (f", width {width}" if width else "")
            ref = np.asarray(reference.infer(x))
            diff = max_abs_diff(ref, candidate.infer(x), f"{what} at {at}")
            tol = atol + rtol * float(np.abs(ref).max(initial=0.0))
            if not np.isfinite(diff):  # say so, not "max abs diff nan"
                side = "reference" if not np.isfinite(ref).all() else "converted model"
                raise UserError(f"{what} at {at}: the {side}'s output holds NaN or infinity; "
                                "nothing was written")
            if not diff <= tol:
                raise UserError(f"{what}: max abs diff {diff:.3g} at {at} exceeds the "
                                f"tolerance {tol:.3g}; nothing was written")
            worst = max(worst, diff)
    return worst


@dataclass
class CheckResult:
    """A candidate against the reference on the same real images.

    Attributes:
        max_diff: max abs diff of the (T, N, C) outputs (logit units; NaN propagates).
        agreement: share in [0, 1] of images whose greedy CTC strings are identical
            (case-sensitive, the full alphabet); 0 when the diff is not finite.
        count: number of images compared.
        examples: up to 5 ``(image, reference text, candidate text)`` disagreements.
    """

    max_diff: float
    agreement: float
    count: int
    examples: list[tuple[str, str, str]] = field(default_factory=list)


def greedy_agreement(spec: ModelSpec, reference: np.ndarray, candidate: np.ndarray,
                     names: Sequence[str | Path] = ()) -> CheckResult:
    """Compare two (T, N, C) outputs by greedy CTC decode (:func:`postprocess.ctc.greedy_decode`:
    argmax per step, merge repeats, drop class 0) and by max abs diff.

    Raises:
        UserError: the shapes differ.
    """
    from crnn_deploy.postprocess.ctc import greedy_decode

    diff = max_abs_diff(reference, candidate)
    return _agreement(diff, greedy_decode(reference, spec.alphabet),
                      greedy_decode(candidate, spec.alphabet), names)


def _agreement(diff: float, ref_txt: Sequence[str], got_txt: Sequence[str],
               names: Sequence[str | Path]) -> CheckResult:
    same = [a == b for a, b in zip(ref_txt, got_txt)]
    labels = [str(f) for f in names] or [f"#{i}" for i in range(len(same))]
    examples = [(labels[i], ref_txt[i], got_txt[i]) for i, ok in enumerate(same) if not ok][:5]
    agreement = float(np.mean(same)) if same and np.isfinite(diff) else 0.0
    return CheckResult(max_diff=diff, agreement=agreement, count=len(same), examples=examples)


def compare_on_images(spec: ModelSpec, x: np.ndarray | Sequence[np.ndarray], reference: Runner,
                      candidate: Runner, names: Sequence[str | Path] = (),
                      reference_batch: int | None = None,
                      candidate_batch: int | None = None) -> CheckResult:
    """Run both runners over the images ``x`` (:func:`run_batches`) and compare them with
    :func:`greedy_agreement`.

    ``x``: float32 (N, C, H, W), or a sequence of (C, H, W_i) images (a width that follows the
    word): those run grouped by width, each image at its own width as every inference path
    runs it (:func:`runtime.widths.plan_widths`, ``bucket``), and are compared in their order.

    Raises:
        UserError: an output shape differs.
    """
    if isinstance(x, np.ndarray) or len({a.shape[-1] for a in x}) <= 1:
        x = np.stack(list(x)) if not isinstance(x, np.ndarray) else x
        return greedy_agreement(spec, run_batches(reference, x, reference_batch),
                                run_batches(candidate, x, candidate_batch), names)
    from crnn_deploy.postprocess.ctc import greedy_decode
    from crnn_deploy.runtime.widths import plan_widths

    ref_txt, got_txt, diffs = [""] * len(x), [""] * len(x), []
    for pos, width in plan_widths([a.shape[-1] for a in x], CHECK_BATCH):
        b = np.stack([x[k] for k in pos])
        ref = run_batches(reference, b, reference_batch)
        got = run_batches(candidate, b, candidate_batch)
        diffs.append(max_abs_diff(ref, got, f"width {width}"))
        for k, a, c in zip(pos, greedy_decode(ref, spec.alphabet), greedy_decode(got, spec.alphabet)):
            ref_txt[k], got_txt[k] = a, c
    return _agreement(float(np.max(diffs)), ref_txt, got_txt, names)


def enforce_agreement(check: CheckResult, floor: float, what: str, reference: str) -> None:
    """Raise UserError (nothing written) when ``check.agreement`` is below ``floor`` in [0, 1]."""
    if not check.agreement >= floor:
        shown = "; ".join(f"{Path(f).name}: {a!r} -> {b!r}" for f, a, b in check.examples[:3])
        raise UserError(f"{what}: greedy-decode agreement with {reference} {check.agreement:.1%} "
                        f"on {check.count} calibration images is below the floor {floor:.0%} "
                        f"(max abs diff {check.max_diff:.3g}; e.g. {shown}); nothing was written")
