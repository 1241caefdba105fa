"""Inference precision on the CPU: does this CPU run bf16 natively, what did the converter
record about it, and what ``--precision auto`` picks (issue 28).

f32 stays the default (the originating tool's exact text). ``auto`` picks ``bf16`` only when
both hold: the CPU runs bf16 natively (:func:`native_bf16`) and the IR's record
(``rt_info["crnn_deploy"]["precision"]``, written by :mod:`converter.precision_check`) says
bf16 changed word accuracy on its check words by at most :data:`AUTO_TOLERANCE` points.
"""
from __future__ import annotations

import json
from functools import lru_cache

#: ``--precision`` values (OpenVINO's ``INFERENCE_PRECISION_HINT``, and ``auto``: below).
PRECISIONS = ("f32", "bf16", "f16", "auto")
#: Where crnn-convert keeps the precision record in an IR's rt_info.
RT_INFO_PRECISION = ["crnn_deploy", "precision"]
#: Largest accuracy change (points, on the converter's check words) ``auto`` accepts.
AUTO_TOLERANCE = 0.1
#: /proc/cpuinfo flags of native bf16 arithmetic: AVX512_BF16 (Zen 4, Cooper Lake and later
#: Xeons) and AMX-BF16 (Sapphire Rapids); the names are Linux's.
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(path: str = "/proc/cpuinfo") -> set[str]:
    """The ``flags`` of the first CPU in ``path`` (empty when unreadable, e.g. not Linux)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def bf16_flag(flags: set[str] | None = None) -> str | None:
    """The first of :data:`BF16_FLAGS` among ``flags`` (default: this CPU's, :func:`cpu_flags`,
    read once), or None."""
    flags = cpu_flags() if flags is None else flags
    return next((f for f in BF16_FLAGS if f in flags), None)


@lru_cache(maxsize=1)
def native_bf16() -> str | None:
    """The reason this CPU runs bf16 natively (e.g. ``"avx512_bf16"``), or None.

    Native when /proc/cpuinfo lists one of :data:`BF16_FLAGS` and OpenVINO's CPU plugin lists
    ``BF16`` in ``OPTIMIZATION_CAPABILITIES`` (when /proc/cpuinfo is unreadable, OpenVINO's
    word alone). OpenVINO not installed: the flags alone.
    """
    flags = cpu_flags()
    flag = bf16_flag(flags)
    try:
        import openvino as ov

        caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    except Exception:  # not installed, or no CPU plugin
        return flag
    if "BF16" not in caps:
        return None
    return flag or ("OpenVINO BF16" if not flags else None)


def read_record(model) -> dict:
    """The precision record of an ``openvino.Model`` (``{}`` without one or when unreadable)."""
    try:
        if not model.has_rt_info(RT_INFO_PRECISION):
            return {}
        rec = json.loads(model.get_rt_info(RT_INFO_PRECISION).astype(str))
    except (ValueError, RuntimeError, TypeError):
        return {}
    return rec if isinstance(rec, dict) else {}


def choose_precision(native: str | None, record: dict,
                     tolerance: float = AUTO_TOLERANCE) -> tuple[str, str]:
    """``(precision, why)`` for ``--precision auto``: ``bf16`` when ``native`` (a reason, see
    :func:`native_bf16`) and ``record["bf16"]["change_points"]`` is within ``tolerance``
    points (a loss of at most ``tolerance``), else ``f32``; ``why`` says which condition
    decided."""
    bf16 = record.get("bf16") if isinstance(record, dict) else None
    if not native:
        return "f32", "this CPU has no native bf16"
    if not isinstance(bf16, dict) or not isinstance(bf16.get("change_points"), (int, float)):
        return "f32", "the engine has no recorded bf16 check (crnn-convert openvino --check-gt)"
    change = float(bf16["change_points"])
    if change < -tolerance:
        return "f32", f"bf16 changed accuracy by {change:+.2f} points on its check words"
    return "bf16", (f"native bf16 ({native}); recorded {change:+.2f} points on "
                    f"{bf16.get('words')} check words")


def precision_note(precision: str, record: dict, native: str | None) -> str | None:
    """The summary line's remark about precision: what bf16 would gain when running f32 on a
    CPU with native bf16, what was used with ``auto``; None when there is nothing to say."""
    bf16 = record.get("bf16") if isinstance(record, dict) else None
    if precision == "bf16" or not native:
        return None
    if not isinstance(bf16, dict):
        return (f"this CPU runs bf16 natively ({native}); the engine has no recorded bf16 "
                "check: rebuild the IR with crnn-convert openvino --check-gt GT")
    speed = f", {bf16['speedup']}x f32" if bf16.get("speedup") else ""
    return (f"this CPU runs bf16 natively ({native}): --precision bf16 measured "
            f"{bf16.get('change_points', 0):+.2f} points on {bf16.get('words')} check words"
            f"{speed} at conversion (--precision auto picks it within {AUTO_TOLERANCE} points)")


def backend_note(backend) -> str | None:
    """The precision remark for a loaded backend (its first stream's, for
    :class:`pipeline.streams.Streams`): the OpenVINO backend's ``precision_note``; for an
    ONNX Runtime engine on a CPU whose flags include native bf16, where bf16 is to be had (an
    OpenVINO IR)."""
    be = (getattr(backend, "members", None) or [backend])[0]
    if hasattr(be, "precision_note"):
        return be.precision_note
    if getattr(be, "name", "") != "onnxruntime" or \
            not str(getattr(be, "device", "CPU")).upper().startswith("CPU"):
        return None
    # the CPU's flags alone: asking OpenVINO (native_bf16) imports it, 0.13 s of the start of
    # an ONNX Runtime run, for a remark
    native = bf16_flag()
    if native:
        return (f"this CPU runs bf16 natively ({native}): an OpenVINO IR of this model "
                "(crnn-convert openvino --check-gt GT) runs it with --precision bf16 or auto")
    return None
