"""The roofline of a crnn-bench row: GFLOP per image at the shapes run, achieved GFLOP/s, peak.

For a row that ran ``images/s`` over a set of images: GFLOP per image counted from the ONNX
graph (:mod:`bench.flops`) at each image's run width (``padded``: the width its batch was run
at, exact) and at its own width (``own``: the resized word, no padding; interpolated between
exact counts every 32 columns, :func:`bench.flops.interpolated`); achieved GFLOP/s =
padded GFLOP per image x images/s (the work the CPU did); the CPU's peak for the row's precision
(:mod:`bench.peak`); the fraction = achieved / peak. Whole-process rows include start-up, file
decode and preprocessing in their time, so their fraction is a lower bound of the engine's.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from crnn_deploy.bench.flops import interpolated, mean_gflop, per_image_flops
from crnn_deploy.bench.peak import peak_gflops

__all__ = ["image_widths", "batch_widths", "roofline_row", "fixed_roofline", "fmt_roofline",
           "ROOFLINE_HEADERS", "NOMINAL_COLUMNS"]


def image_widths(paths: Sequence[str | Path], spec) -> list[tuple[int, int]]:
    """``(own, bucket)`` input widths of every image under ``spec`` (read from the file headers
    only): own = the resized word's columns, bucket = the width it is padded to on its own
    (a fixed-width spec: (W, W))."""
    from PIL import Image

    from crnn_deploy.preprocess.height_fit import padded_width
    from crnn_deploy.preprocess.transform import keep_ratio_widths

    c, h, w = spec.input_shape
    out = []
    for p in paths:
        if not spec.width_max:
            out.append((w, w))
            continue
        with Image.open(p) as im:
            size = im.size
        if spec.width_rule == "aspect":
            run = min(max(padded_width(size[0], size[1], h), w), spec.width_max)
            out.append((min(max(1, int(h * size[0] / size[1])), run), run))
        else:
            out.append(keep_ratio_widths(size, spec))
    return out


def batch_widths(buckets: Sequence[int], batch: int, policy: str) -> list[int]:
    """The width each image is run at when batched by ``policy`` (``bucket``: its own bucket;
    ``widest``: sorted, ``batch`` at a time, padded to the widest: PaddleOCR/RapidOCR's way;
    :func:`runtime.widths.plan_widths`)."""
    from crnn_deploy.runtime.widths import plan_widths

    run = list(buckets)
    for pos, width in plan_widths(list(buckets), batch, policy):
        for k in pos:
            run[k] = width
    return run


def roofline_row(onnx_path: str | Path, spec, widths: Sequence[tuple[int, int]], run: Sequence[int],
                 rate: float | None, precision: str, cpu: dict, measured: float | None = None
                 ) -> dict:
    """The roofline figures of one row.

    ``widths``: :func:`image_widths`; ``run``: the width each image ran at (:func:`batch_widths`);
    ``rate``: images/s (None: not measured); ``precision``: f32, bf16 or int8 (the peak used);
    ``measured``: the peak at that precision at the clock measured while the row ran,
    GFLOP/s (:mod:`bench.clock`; None: not measured). Returns ``gflop_padded``, ``gflop_own``
    (per image), ``gflops`` (achieved), ``peak`` (GFLOP/s at the clock the CPU reports),
    ``fraction`` (of that peak), ``measured``, ``fraction_measured`` (of the measured peak;
    None where a figure is unknown), ``precision``."""
    c, h, _ = spec.input_shape
    flops = per_image_flops(onnx_path, (c, h))
    padded = mean_gflop(flops, run)
    own_flops = interpolated(flops) if spec.width_max else flops  # fixed width: one shape
    own = mean_gflop(own_flops, [o for o, _ in widths])
    achieved = padded * rate if rate else None
    peak = peak_gflops(cpu, precision)
    return {"gflop_padded": padded, "gflop_own": own, "gflops": achieved, "peak": peak,
            "fraction": achieved / peak if achieved and peak else None, "precision": precision,
            "measured": measured,
            "fraction_measured": achieved / measured if achieved and measured else None}


def fixed_roofline(onnx_path: str | Path, spec, rate: float | None, precision: str, cpu: dict
                   ) -> dict:
    """:func:`roofline_row` of a fixed-width model (every image at (C, H, W): no padding beyond
    the resize)."""
    w = spec.input_shape[2]
    return roofline_row(onnx_path, spec, [(w, w)], [w], rate, precision, cpu)


def fmt_roofline(r: dict | None) -> list[str]:
    """Table cells: GFLOP/image padded (own), achieved GFLOP/s, peak GFLOP/s (precision),
    fraction of the roofline, the ceiling: images/s at the peak (peak / padded GFLOP), then the
    peak at the measured clock and the fraction of it (empty when not measured)."""
    if not r:
        return [""] * len(ROOFLINE_HEADERS)

    def f(v, spec):
        return format(v, spec) if v is not None else "?"

    return [f"{f(r['gflop_padded'], '.3f')} ({f(r['gflop_own'], '.3f')})", f(r["gflops"], ".1f"),
            f"{f(r['peak'], '.0f')} ({r['precision']})",
            f"{r['fraction'] * 100:.1f} %" if r.get("fraction") is not None else "?",
            f(r["peak"] / r["gflop_padded"], ".0f") if r.get("peak") and r["gflop_padded"]
            else "?",
            f(r.get("measured"), ".0f") if r.get("measured") else "",
            f"{r['fraction_measured'] * 100:.1f} %" if r.get("fraction_measured") else ""]


ROOFLINE_HEADERS = ["GFLOP/image padded (own)", "GFLOP/s", "peak GFLOP/s", "of roofline",
                    "ceiling images/s", "peak at measured clock", "of measured peak"]
#: The columns before the measured peak (a table without one, e.g. ``crnn-bench run``'s).
NOMINAL_COLUMNS = 5


def grid_roofline(onnx_path: str | Path, spec, grid: list[dict], cpu: dict) -> list[dict]:
    """The roofline of every variant of ``crnn-bench run``'s grid (a fixed-width model: every
    image at the spec's (C, H, W)), at its fastest batch: ``variant``, ``batch``, ``rate``
    (images/s, bare inference) and :func:`roofline_row`'s figures. Precision from the variant
    key (``bf16``, ``int8``; else f32)."""
    best: dict[str, dict] = {}
    for p in grid:
        if p.get("throughput") and (p["variant"] not in best
                                    or p["throughput"] > best[p["variant"]]["throughput"]):
            best[p["variant"]] = p
    out = []
    for key, p in best.items():
        precision = "bf16" if "bf16" in key else "int8" if "int8" in key else "f32"
        r = fixed_roofline(onnx_path, spec, p["throughput"], precision, cpu)
        out.append({"variant": key, "batch": p["batch"], "rate": p["throughput"], **r})
    return out
