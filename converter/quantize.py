"""INT8 post-training quantization of a CRNN ONNX file: ``crnn-convert int8``.

Two routes, chosen by the output suffix:

* ``.xml``: OpenVINO IR quantized by NNCF post-training quantization
  (:func:`converter.quantize_ov.quantize_openvino`);
* ``.onnx``: INT8 ONNX (QDQ) by ``onnxruntime.quantization.quantize_static``
  (:func:`converter.quantize_ort.quantize_onnx`).

Both calibrate on real word images read from a ``gt.txt`` (``relpath<TAB>label`` per line;
labels are not used), preprocessed with the training transform
(:func:`preprocess.transform.preprocess_image`). Calibrate on a dataset other than the one you
score (e.g. IC03 or SVT when IIIT5K is the benchmark), or the accuracy you report is optimistic.

After quantizing, the result is checked against the FP32 ONNX (ONNX Runtime) on the calibration
images: max abs diff of the (T, N, C) logits, and the greedy-decode agreement rate (the share of
images whose best-path CTC strings are identical). Below ``min_agreement`` nothing is written.
Outputs go to temporary names beside the target and are renamed at the end.

This module holds the shared parts (calibration set, check, CLI); it imports no SDK at import
time, so registering :data:`quantize_cmd` in ``crnn-convert`` costs nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import click

from common.cli import command
import numpy as np

from common.errors import UserError
from models.specs import ModelSpec

#: Calibration images used by default (NNCF's default ``subset_size`` is 300 as well).
DEFAULT_CALIB_SIZE = 300
#: Default floor of the greedy-decode agreement INT8 vs FP32 on the calibration images.
DEFAULT_MIN_AGREEMENT = 0.90
#: Batch used to run dynamic-batch models in the check.
CHECK_BATCH = 16

__all__ = [
    "Calibration", "CheckResult", "QuantizeResult", "read_calibration", "run_batched",
    "check_agreement", "quantize", "quantize_openvino", "quantize_onnx", "quantize_cmd",
    "DEFAULT_CALIB_SIZE", "DEFAULT_MIN_AGREEMENT",
]


@dataclass
class Calibration:
    """Preprocessed calibration images.

    Attributes:
        x: float32 (N, C, H, W) model inputs, the spec's transform (values in [-1, 1]).
        files: the N image files, in the order of ``x``.
        gt: the ``gt.txt`` they were listed in.
        skipped: ``(relpath, reason)`` of listed images that could not be used.
    """

    x: np.ndarray
    files: list[Path]
    gt: Path
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class CheckResult:
    """INT8 against FP32 on the same images.

    Attributes:
        max_diff: max abs diff of the (T, N, C) raw logits (logit units).
        agreement: share in [0, 1] of images whose greedy CTC strings are identical
            (case-sensitive, the full alphabet).
        count: number of images compared.
        examples: up to 5 ``(file, fp32 text, int8 text)`` disagreements.
    """

    max_diff: float
    agreement: float
    count: int
    examples: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass
class QuantizeResult:
    """One quantized model written.

    Attributes:
        path: the model file (``.xml`` or ``.onnx``).
        files: every file written (``.xml`` and ``.bin``, or the ``.onnx``).
        check: INT8 vs FP32 on the calibration images.
        calib_gt: the ``gt.txt`` of the calibration images; ``calib_count``: how many were used;
            ``calib_skipped``: listed images that could not be read (and were replaced).
        note: the quantization settings, for the user.
    """

    path: Path
    files: list[Path]
    check: CheckResult
    calib_gt: Path
    calib_count: int
    calib_skipped: int = 0
    note: str = ""


def read_calibration(gt: str | Path, spec: ModelSpec, size: int = DEFAULT_CALIB_SIZE,
                     root: str | Path | None = None) -> Calibration:
    """Read and preprocess up to ``size`` images listed in ``gt``.

    Args:
        gt: text file, one ``relpath<TAB>label`` per line (the label may be absent; it is not
            used). Relative paths are resolved against ``root``.
        spec: the model spec (input shape, resize filter, normalization).
        size: number of images wanted (>= 1). They are spread evenly over the file (every k-th
            line), so a file sorted by source or difficulty is sampled across; unreadable
            images are skipped and replaced by the following lines.
        root: folder of the images; default: the folder of ``gt``.

    Returns:
        :class:`Calibration` with ``x`` float32 (n, C, H, W), n = min(size, readable images).

    Raises:
        UserError: ``gt`` is missing or empty, or none of its images can be read (the message
            gives the first failures).
    """
    from preprocess.transform import ImageError, preprocess_image

    gt = Path(gt)
    if size < 1:
        raise UserError(f"calibration size must be >= 1, got {size}")
    if not gt.is_file():
        raise UserError(f"calibration list not found: {gt}")
    root = Path(root) if root is not None else gt.parent
    try:
        lines = gt.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read calibration list {gt}: {exc}") from None
    rels = [line.split("\t", 1)[0].strip() for line in lines]
    rels = [r for r in rels if r]
    if not rels:
        raise UserError(f"calibration list {gt} lists no image (expected relpath<TAB>label lines)")
    picked = np.unique(np.linspace(0, len(rels) - 1, min(size, len(rels))).round().astype(int))
    chosen = {int(i) for i in picked}
    order = sorted(chosen) + [i for i in range(len(rels)) if i not in chosen]
    xs, files, skipped = [], [], []
    for i in order:
        if len(xs) >= size:
            break
        path = root / rels[i]
        try:
            xs.append(preprocess_image(path.read_bytes(), spec))
            files.append(path)
        except (OSError, ImageError) as exc:
            skipped.append((rels[i], f"{type(exc).__name__}: {exc}"))
    if not xs:
        first = "; ".join(f"{r}: {why}" for r, why in skipped[:3])
        raise UserError(f"no readable calibration image in {gt} (root {root}, "
                        f"{len(skipped)} listed): {first}")
    return Calibration(x=np.stack(xs), files=files, gt=gt, skipped=skipped)


def calibration_batches(x: np.ndarray, batch: int | None) -> list[np.ndarray]:
    """Split (N, C, H, W) into model inputs: single images (1, C, H, W) for a dynamic batch, else
    batches of exactly ``batch`` (the last one filled up cyclically from the first images)."""
    if not batch:
        return [x[i:i + 1] for i in range(len(x))]
    out = []
    for start in range(0, len(x), batch):
        b = x[start:start + batch]
        if len(b) < batch:
            b = np.concatenate([b, np.resize(x, (batch - len(b), *x.shape[1:]))])
        out.append(np.ascontiguousarray(b))
    return out


def run_batched(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                batch: int | None) -> np.ndarray:
    """Run ``fn`` ((B, C, H, W) -> (T, B, K)) over ``x`` (N, C, H, W) in batches of ``batch``
    (:data:`CHECK_BATCH` when None); the last batch is zero-padded for static models and the
    padding outputs dropped. Returns float32 (T, N, K)."""
    step = batch or CHECK_BATCH
    outs = []
    for start in range(0, len(x), step):
        b = x[start:start + step]
        n = len(b)
        if batch and n < batch:
            b = np.concatenate([b, np.zeros((batch - n, *b.shape[1:]), b.dtype)])
        outs.append(np.asarray(fn(np.ascontiguousarray(b)), dtype=np.float32)[:, :n])
    return np.concatenate(outs, axis=1)


def check_agreement(spec: ModelSpec, reference: np.ndarray, candidate: np.ndarray,
                    files: Sequence[Path] = ()) -> CheckResult:
    """Compare FP32 ``reference`` and INT8 ``candidate`` outputs (both (T, N, C) logits).

    The decode is greedy CTC (argmax over C per step, merge repeats, drop class 0), as
    :func:`postprocess.ctc.greedy_decode`.
    """
    from postprocess.ctc import greedy_decode

    if reference.shape != candidate.shape:
        raise UserError(f"INT8 output shape {candidate.shape} != FP32 {reference.shape}")
    diff = float(np.max(np.abs(reference.astype(np.float64) - candidate.astype(np.float64))))
    ref_txt = greedy_decode(reference, spec.alphabet)
    got_txt = greedy_decode(candidate, spec.alphabet)
    same = [a == b for a, b in zip(ref_txt, got_txt)]
    names = [str(f) for f in files] or [f"#{i}" for i in range(len(same))]
    examples = [(names[i], ref_txt[i], got_txt[i]) for i, ok in enumerate(same) if not ok][:5]
    agreement = float(np.mean(same)) if same else 0.0
    if not np.isfinite(diff):
        agreement = 0.0
    return CheckResult(max_diff=diff, agreement=agreement, count=len(same), examples=examples)


def enforce_floor(check: CheckResult, floor: float, what: str) -> None:
    """Raise UserError (nothing written) when ``check.agreement`` is below ``floor``."""
    if not check.agreement >= floor:
        shown = "; ".join(f"{Path(f).name}: {a!r} -> {b!r}" for f, a, b in check.examples[:3])
        raise UserError(f"{what}: greedy-decode agreement with FP32 {check.agreement:.1%} on "
                        f"{check.count} calibration images is below the floor {floor:.0%} "
                        f"(max abs diff {check.max_diff:.3g}; e.g. {shown}); nothing was written")


def fp32_reference(onnx_path: Path, spec: ModelSpec, x: np.ndarray,
                   batch: int | None) -> np.ndarray:
    """FP32 ONNX Runtime outputs (T, N, C) of ``x`` (N, C, H, W), in batches of ``batch``."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
    return run_batched(lambda b: sess.run(None, {spec.input_name: b})[0], x, batch)


def quantize(onnx_path: str | Path, calib_gt: str | Path, output: str | Path,
             **kwargs) -> QuantizeResult:
    """Dispatch on the suffix of ``output``: ``.xml`` -> :func:`quantize_openvino`,
    ``.onnx`` -> :func:`quantize_onnx` (same arguments). Raises UserError for another suffix."""
    suffix = Path(output).suffix.lower()
    if suffix == ".xml":
        from converter.quantize_ov import quantize_openvino as fn
    elif suffix == ".onnx":
        from converter.quantize_ort import quantize_onnx as fn
    else:
        raise UserError(f"--output {output}: use a .xml suffix (OpenVINO INT8 IR, NNCF) or "
                        ".onnx (INT8 QDQ ONNX, ONNX Runtime)")
    return fn(onnx_path, calib_gt, output, **kwargs)


def __getattr__(name: str):
    """Lazy re-exports, so that importing this module imports neither NNCF nor OpenVINO."""
    if name == "quantize_openvino":
        from converter.quantize_ov import quantize_openvino
        return quantize_openvino
    if name == "quantize_onnx":
        from converter.quantize_ort import quantize_onnx
        return quantize_onnx
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@command("int8")
@click.option("--onnx", "onnx_path", required=True, type=click.Path(path_type=Path),
              help="FP32 ONNX written by `crnn-convert onnx` (spec in metadata_props).")
@click.option("--calib-gt", required=True, type=click.Path(path_type=Path),
              help="gt.txt of the calibration images (relpath<TAB>label); not the scored set.")
@click.option("--calib-root", type=click.Path(path_type=Path), default=None,
              help="Folder of the calibration images [default: the folder of --calib-gt].")
@click.option("--calib-size", type=click.IntRange(min=1), default=DEFAULT_CALIB_SIZE,
              show_default=True, help="Calibration images, spread evenly over --calib-gt.")
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help=".xml: OpenVINO INT8 IR (NNCF); .onnx: INT8 QDQ ONNX (ONNX Runtime).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Static batch. .xml: default the ONNX's, else 16 (the IR is always static); "
                   ".onnx: default keep the ONNX's batch axis.")
@click.option("--preset", type=click.Choice(["mixed", "performance"]), default="mixed",
              show_default=True, help=".xml: NNCF preset (performance: symmetric activations).")
@click.option("--quantize-lstm", is_flag=True,
              help=".xml: quantize the LSTM too (default: float; INT8 LSTMSequence wrecks "
                   "nano-ocr on OpenVINO 2026.4).")
@click.option("--activation-type", type=click.Choice(["uint8", "int8"]), default="uint8",
              show_default=True, help=".onnx: activation type (weights are int8, per channel).")
@click.option("--min-agreement", type=click.FloatRange(0.0, 1.0), default=DEFAULT_MIN_AGREEMENT,
              show_default=True,
              help="Floor of the greedy-decode agreement with FP32 on the calibration images.")
def quantize_cmd(onnx_path, calib_gt, calib_root, calib_size, output, batch_size, preset,
                 quantize_lstm, activation_type, min_agreement) -> None:
    """INT8 post-training quantization of an FP32 ONNX, calibrated on real images.

    The images of --calib-gt are preprocessed with the model's training transform. The result
    is checked against the FP32 ONNX on them (max abs diff of the logits, greedy-decode
    agreement) and written only if the agreement reaches --min-agreement.
    """
    common = dict(calib_root=calib_root, calib_size=calib_size, batch_size=batch_size,
                  min_agreement=min_agreement)
    suffix = output.suffix.lower()
    if suffix == ".xml":
        from converter.quantize_ov import DEFAULT_IGNORED_TYPES, quantize_openvino

        result = quantize_openvino(onnx_path, calib_gt, output, preset=preset,
                                   ignored_types=() if quantize_lstm else DEFAULT_IGNORED_TYPES,
                                   **common)
    elif suffix == ".onnx":
        from converter.quantize_ort import quantize_onnx

        result = quantize_onnx(onnx_path, calib_gt, output, activation_type=activation_type,
                               **common)
    else:
        raise UserError(f"--output {output}: use a .xml suffix (OpenVINO INT8 IR, NNCF) or "
                        ".onnx (INT8 QDQ ONNX, ONNX Runtime)")
    check = result.check
    click.echo(f"wrote {', '.join(map(str, result.files))} ({result.note}); calibrated on "
               f"{result.calib_count} images of {result.calib_gt}"
               + (f" ({result.calib_skipped} unreadable, skipped)" if result.calib_skipped else ""))
    click.echo(f"INT8 vs FP32 on the calibration images: greedy-decode agreement "
               f"{check.agreement:.1%} ({check.count} images, floor {min_agreement:.0%}), "
               f"max abs logit diff {check.max_diff:.3g}")


if __name__ == "__main__":  # python -m converter.quantize ...
    quantize_cmd()
