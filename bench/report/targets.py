"""The project's performance targets, judged on the measured numbers, and their report
section."""
from __future__ import annotations

from crnn_deploy.bench.report.fmt import acc_of, label_of, num, pct, point, table, verdict

#: The targets: speed-up over PyTorch eager, INT8 speed-up and loss, crnn-eval vs. the loop.
TARGET_SPEEDUP = 3.0
TARGET_INT8_SPEEDUP = 1.8
TARGET_INT8_MAX_LOSS = 0.5  # points of IIIT5K word accuracy
TARGET_FUSED_RATIO = 0.90


def evaluate_targets(results: dict) -> list[dict]:
    """The targets, each ``{target, measured, met}`` (met None when not measurable)."""
    out = []
    b = 16 if 16 in results["meta"]["batches"] else max(results["meta"]["batches"])
    ref = point(results, "pytorch", b)
    others = [p for p in results.get("throughput", [])
              if p["batch"] == b and p["variant"] != "pytorch" and p.get("throughput")]
    if ref and ref.get("throughput") and others:
        best = max(others, key=lambda p: p["throughput"])
        f32 = [p for p in others if "f32" in p["variant"]]
        speed = best["throughput"] / ref["throughput"]
        text = (f"best: {label_of(results, best['variant'])} {num(best['throughput'])} vs PyTorch eager "
                f"{num(ref['throughput'])} images/s = **{speed:.2f}x**")
        ba, ra = acc_of(results, best["variant"], "iiit5k"), acc_of(results, "pytorch", "iiit5k")
        if ba and ra:
            text += (f" (IIIT5K {pct(ba['word_accuracy'])}, "
                     f"{100 * (ba['word_accuracy'] - ra['word_accuracy']):+.2f} points vs PyTorch)")
        if f32:
            bf = max(f32, key=lambda p: p["throughput"])
            text += (f"; best f32 engine: {label_of(results, bf['variant'])} "
                     f"{bf['throughput'] / ref['throughput']:.2f}x")
        out.append({"target": f"best backend >= {TARGET_SPEEDUP:g}x PyTorch eager at batch {b}",
                    "measured": text, "met": speed >= TARGET_SPEEDUP})
    else:
        out.append({"target": f"best backend >= {TARGET_SPEEDUP:g}x PyTorch eager at batch {b}",
                    "measured": "not measured", "met": None})
    for int8, f32, name in (("ov-int8", "ov-f32-latency", "OpenVINO"),
                            ("ort-int8", "ort-f32", "ONNX Runtime")):
        q, f = point(results, int8, b), point(results, f32, b)
        qa, fa = acc_of(results, int8, "iiit5k"), acc_of(results, f32, "iiit5k")
        target = (f"{name} INT8 >= {TARGET_INT8_SPEEDUP:g}x {name} f32 (batch {b}) with <= "
                  f"{TARGET_INT8_MAX_LOSS:g} point IIIT5K loss")
        if not (q and f and q.get("throughput") and f.get("throughput")):
            out.append({"target": target, "measured": "not measured", "met": None})
            continue
        speed = q["throughput"] / f["throughput"]
        text = f"{num(q['throughput'])} vs {num(f['throughput'])} images/s = **{speed:.2f}x**"
        met = speed >= TARGET_INT8_SPEEDUP
        if qa and fa:
            loss = 100 * (fa["word_accuracy"] - qa["word_accuracy"])
            text += (f"; IIIT5K {pct(qa['word_accuracy'])} vs {pct(fa['word_accuracy'])} "
                     f"= **{loss:+.2f} point loss**" + (f" ({qa['count']} images)" if qa.get("count") else ""))
            met = met and loss <= TARGET_INT8_MAX_LOSS
        else:
            text += "; IIIT5K accuracy not measured"
            met = None if met else False
        out.append({"target": target, "measured": text, "met": met})
    for f in results.get("fused", []):
        ratio = f.get("ratio")
        out.append({"target": f"crnn-eval end-to-end >= {TARGET_FUSED_RATIO:.0%} of the loop "
                              f"({f['label']}, batch {f['batch']})",
                    "measured": (f"{num(f['e2e_ips'])} vs {num(f['loop_ips'])} images/s = "
                                 f"**{pct(ratio, 1)}**"
                                 + (f"; `--workers 0`: {pct(f.get('inline_ratio'), 1)}"
                                    if f.get("inline_ratio") is not None else "")
                                 + (f"; no-overlap estimate {pct(f['ratio_bound'], 1)} (see below)"
                                    if f.get("ratio_bound") is not None else "")),
                    "met": None if ratio is None else ratio >= TARGET_FUSED_RATIO})
    if not results.get("fused"):
        out.append({"target": f"crnn-eval end-to-end >= {TARGET_FUSED_RATIO:.0%} of the loop",
                    "measured": "not measured", "met": None})
    return out


def targets_section(results: dict) -> str:
    rows = [(t["target"], t["measured"], verdict(t["met"])) for t in evaluate_targets(results)]
    return "## Targets\n\n" + table(("target", "measured", "result"), rows, "lll")
