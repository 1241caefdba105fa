"""The report sections on word accuracy (every variant, every test set) and the INT8 builds."""
from __future__ import annotations

from crnn_deploy.bench.report.fmt import DATASETS, acc_of, num, pct, table

#: Word accuracy of the PyTorch reference on IIIT5K (docs/DESIGN.md, PIL bilinear).
#: PyTorch's IIIT5K word accuracy per model, the reference every engine is held to: nano-ocr
#: 2328/3000 (docs/DESIGN.md), nano-ocr-37 2307/3000 (docs/MODELS.md, "The specs").
REFERENCE_IIIT5K = {"nano-ocr": 0.7760, "nano-ocr-37": 0.7690}


def accuracy_section(results: dict) -> str:
    meta = results["meta"]
    limit = meta.get("limit")
    text = (
        "## Word accuracy\n\n"
        "Each variant read each test set through `pipeline.fused.evaluate` (the `crnn-eval` "
        "code: LMDB built with the project's `build_lmdb`, PIL bilinear transform "
        + ("inline (`--workers 0`, quick mode)" if meta.get("acc_workers") == 0 else
           "in a thread pool, crnn-eval's default feeder, on the variant's own engine")
        + ", greedy CTC), batch 16 (the static engines' batch; the OpenVINO INT8 IR "
        "of batch 16). Standard protocol: case-insensitive, `[0-9a-z]` only, exact word match. "
        + (f"**Only the first {limit} images of each set** (quick mode). " if limit else "")
        + f"The INT8 models were calibrated on {meta.get('calib_size', 300)} IC03 images "
        "(`eval_ic03_860`, spread evenly over its gt.txt), so their IC03 column (marked *) "
        "includes calibration images; IIIT5K, SVT and IC13 are unseen by calibration.")
    seen = list(dict.fromkeys(a["dataset"] for a in results.get("accuracy", [])))
    names = [n for n in DATASETS if n[0] in seen]
    names += [(k, f"{k} (`{meta.get('sets', {}).get(k, k)}`)") for k in seen
              if k not in dict(DATASETS)]  # the user's --set NAME=gt.txt
    rows = []
    ref = acc_of(results, "pytorch", "iiit5k")
    for v in results["variants"]:
        row = [v["label"]]
        for key, _ in names:
            a = acc_of(results, v["key"], key)
            star = "*" if key == "ic03" and "int8" in v["key"] else ""
            row.append("-" if not a else f"{pct(a['word_accuracy'])}{star} ({a['correct']}/{a['count']})")
        a = acc_of(results, v["key"], "iiit5k")
        row.append("-" if not (a and ref) else f"{100 * (a['word_accuracy'] - ref['word_accuracy']):+.2f}")
        rows.append(row)
    t = table(["variant", *(n for _, n in names), "IIIT5K vs PyTorch (points)"], rows)
    note = ""
    expected = REFERENCE_IIIT5K.get(meta.get("model", "nano-ocr"))
    if ref and not limit and expected is not None:
        same = abs(ref["word_accuracy"] - expected) < 5e-5
        note = (f"\n\nPyTorch eager reads IIIT5K at {pct(ref['word_accuracy'])}: "
                + (f"the reference {pct(expected)}, as required." if same else
                   f"**not** the reference {pct(expected)}: check the transform."))
    return text + "\n\n" + t + note


def int8_section(results: dict) -> str:
    rows = [(r["variant"], f"`{r['path']}`", r.get("batch") or "dynamic",
             f"{r.get('calib_count')} images of `{r.get('calib_gt')}`",
             f"{pct(r.get('agreement'), 1)} (max abs logit diff {num(r.get('max_diff'), 3)})",
             r.get("note", "")) for r in results.get("int8", [])]
    if not rows:
        return "## INT8 models\n\nNone built."
    text = (
        "## INT8 models\n\n"
        "Built by `converter.int8.quantize` (what `crnn-convert int8` runs) from the dynamic "
        "FP32 ONNX, calibrated on IC03 (not on the scored IIIT5K). The OpenVINO INT8 IR (NNCF "
        "post-training quantization, LSTM kept in float) has a static batch, so one IR per batch "
        "size was built; the ONNX Runtime QDQ model keeps the dynamic batch. Agreement = share of "
        "calibration images whose greedy CTC string equals FP32's (the converter's own check).")
    return text + "\n\n" + table(("variant", "file", "batch", "calibration", "agreement with FP32",
                                  "settings"), rows, "llllll")
