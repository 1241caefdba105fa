"""What a reduced inference precision costs, measured when an IR is built (issue 28).

``crnn-convert openvino --check-gt GT`` (and ``crnn-convert all`` with ``--calib-gt``) runs the
written IR on the CPU at ``INFERENCE_PRECISION_HINT`` f32 and at each reduced precision of
:data:`REDUCED` on up to N words of ``GT`` (each word at its own width, greedy CTC decode), and
records per precision, in the IR's ``rt_info["crnn_deploy"]["precision"]`` (a JSON object,
:data:`RT_INFO_PRECISION`):

``words``          N words checked, ``gt`` the file's name
``f32_correct``    words read right at f32 (case-insensitive alphanumeric, the benchmarks' rule)
``correct``        words read right at this precision
``change_points``  ``100 * (correct - f32_correct) / words``: the accuracy change in points
``agreement``      words whose text equals f32's (raw text, case kept)
``speedup``        f32 seconds / this precision's seconds over the same batches, 1 thread each
                   (measured at conversion: noisy on a shared machine; a hint, not a benchmark)
``native``         this CPU ran it natively (:func:`runtime.precision.native_bf16`)

:func:`runtime.precision.choose_precision` (``--precision auto``) reads it back.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import UserError

#: Reduced precisions measured against f32 (OpenVINO CPU plugin hints).
REDUCED = ("bf16",)


def _labels(gt: Path) -> dict[str, str]:
    """relpath -> label of the well-formed lines of ``gt`` (:func:`preprocess.sources.parse_gt`:
    streamed, each line bounded; the images were already read by the calibration reader)."""
    from crnn_deploy.preprocess.sources import parse_gt

    return {rel.strip(): label.strip() for _, rel, label, error in parse_gt(gt, outside_ok=True)
            if error is None and rel and rel.strip()}


def _run(xml: Path, precision: str, batches: list[tuple[list[int], np.ndarray]], count: int,
         spec) -> tuple[list[str], float]:
    """Texts of ``count`` images run in ``batches`` (positions, (n, C, H, W)) at ``precision``
    on one CPU thread, and the seconds the batches took (second pass, after a warm-up pass)."""
    from crnn_deploy.postprocess.ctc import decode_batch
    from crnn_deploy.runtime.openvino_backend import OpenVINOBackend

    texts: list[str] = [""] * count
    with OpenVINOBackend(xml, precision=precision, threads=1) as be:
        for _, x in batches:  # warm-up: compile every batch shape once
            be.infer(x)
        start = time.perf_counter()
        for pos, x in batches:
            y = be.infer(x)
            for k, t in zip(pos, decode_batch(y, be.spec)[0]):
                texts[k] = t
        return texts, time.perf_counter() - start


def measure_precisions(xml: str | Path, check_gt: str | Path, size: int = 300,
                       batch: int = 16) -> dict:
    """Run the IR ``xml`` at f32 and every :data:`REDUCED` precision on up to ``size`` words of
    ``check_gt`` (``relpath<TAB>label``, spread over the file as the INT8 calibration picks
    them); returns ``{precision: record}`` (the keys in the module doc).

    Raises:
        UserError: ``check_gt`` missing, empty or without a readable image.
    """
    from crnn_deploy.converter.int8.calibration import read_calibration
    from crnn_deploy.postprocess.metrics import normalize_standard
    from crnn_deploy.runtime.openvino_backend import OpenVINOBackend
    from crnn_deploy.runtime.precision import native_bf16
    from crnn_deploy.runtime.widths import plan_widths

    xml, gt = Path(xml), Path(check_gt)
    with OpenVINOBackend(xml, precision="f32") as be:
        spec = be.load().spec
    calib = read_calibration(gt, spec, size)
    labels = _labels(gt)
    truth = [labels.get(str(f.relative_to(gt.parent)), "") for f in calib.files]
    widths = calib.widths
    batches = []
    for pos, w in plan_widths(widths, batch, "bucket"):
        x = np.zeros((len(pos), *calib.images[0].shape[:2], w), np.float32)
        for row, k in enumerate(pos):
            x[row, ..., :widths[k]] = calib.images[k]
        batches.append((pos, x))
    if not truth:
        raise UserError(f"--check-gt {gt}: no word to check")

    def right(texts):
        return sum(normalize_standard(t) == normalize_standard(g) for t, g in zip(texts, truth))

    ref, ref_s = _run(xml, "f32", batches, len(truth), spec)
    out = {}
    for p in REDUCED:
        texts, secs = _run(xml, p, batches, len(truth), spec)
        n, base, got = len(truth), right(ref), right(texts)
        out[p] = {"words": n, "gt": gt.name, "f32_correct": base, "correct": got,
                  "change_points": round(100.0 * (got - base) / n, 3),
                  "agreement": sum(a == b for a, b in zip(ref, texts)),
                  "speedup": round(ref_s / secs, 2) if secs > 0 else None,
                  "native": native_bf16() if p == "bf16" else False}
    return out


def record_text(records: dict) -> str:
    """The JSON stored at :data:`runtime.precision.RT_INFO_PRECISION`."""
    return json.dumps(records, sort_keys=True)


def summary(records: dict) -> str:
    """One line per precision for the converter's output, e.g. ``bf16: 91.00 % -> 91.00 %
    (+0.00 points) on 300 words of gt.txt, 299/300 texts as f32, 1.9x f32 (native)``."""
    lines = []
    for p, r in records.items():
        n = r["words"]
        lines.append(f"{p}: {100 * r['f32_correct'] / n:.2f} % -> {100 * r['correct'] / n:.2f} % "
                     f"({r['change_points']:+.2f} points) on {n} words of {r['gt']}, "
                     f"{r['agreement']}/{n} texts as f32, {r['speedup']}x f32 "
                     f"({'native' if r['native'] else 'not native on this CPU'})")
    return "; ".join(lines)
