"""crnn-bench's report: machine facts, the markdown of docs/BENCHMARKS.md, the throughput plot.

Everything here works from the JSON-ready ``results`` dict that :mod:`pipeline.bench` measures
(also written to ``{workdir}/bench_results.json``), so a report can be re-rendered from saved
numbers and tested with made-up ones. No torch, no engine SDK is imported here.
"""
from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Sequence

from common.fileio import atomic_write_text

#: CPU flags worth naming for CNN/LSTM inference (lscpu spelling).
FLAGS_OF_INTEREST = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                     "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")
PACKAGES = ("torch", "onnxruntime", "openvino", "nncf", "numpy", "onnx", "matplotlib")
DATASETS = (("iiit5k", "IIIT5K"), ("svt", "SVT"), ("ic03", "IC03"), ("ic13", "IC13"))
#: Targets of issue 7.
TARGET_SPEEDUP = 3.0
TARGET_INT8_SPEEDUP = 1.8
TARGET_INT8_MAX_LOSS = 0.5  # points of IIIT5K word accuracy
TARGET_FUSED_RATIO = 0.90
#: Word accuracy of the PyTorch reference on IIIT5K (DESIGN.md, PIL bilinear).
REFERENCE_IIIT5K = 0.7760


# -- machine ---------------------------------------------------------------------------------
def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                             env={**os.environ, "LC_ALL": "C"}).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    info = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def machine_info() -> dict:
    """CPU model, cores, ISA flags of interest, RAM, OS and package versions (JSON-ready)."""
    cpu = _lscpu()
    flags = set(cpu.get("Flags", "").split())
    if not flags and Path("/proc/cpuinfo").is_file():
        m = re.search(r"^flags\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.M)
        flags = set(m.group(1).split()) if m else set()
    ram_gib = None
    try:
        m = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
        ram_gib = round(int(m.group(1)) / 2**20, 1) if m else None
    except OSError:
        pass
    try:
        cores = int(cpu["Core(s) per socket"]) * int(cpu.get("Socket(s)", "1"))
    except (KeyError, ValueError):
        cores = None
    versions = {"python": platform.python_version()}
    for pkg in PACKAGES:
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "not installed"
    return {
        "cpu": cpu.get("Model name") or platform.processor() or "unknown",
        "cpu_family_model": f"family {cpu.get('CPU family', '?')}, model {cpu.get('Model', '?')}",
        "cores": cores,
        "logical_cpus": os.cpu_count(),
        "threads_per_core": cpu.get("Thread(s) per core"),
        "hypervisor": cpu.get("Hypervisor vendor"),
        "l2": cpu.get("L2 cache"), "l3": cpu.get("L3 cache"),
        "flags": [f for f in FLAGS_OF_INTEREST if f in flags],
        "ram_gib": ram_gib,
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
    }


# -- small formatting helpers ----------------------------------------------------------------
def _f(x, digits: int = 1, unit: str = "") -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}{unit}"


def _pct(x, digits: int = 2) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f} %"


def _yes(ok) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def table(head: Sequence[str], rows: Sequence[Sequence], align: str | None = None) -> str:
    """A GitHub markdown table; ``align`` is one char per column (l/r), default first left."""
    align = align or "l" + "r" * (len(head) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(map(str, head)) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _point(results: dict, variant: str, batch: int) -> dict | None:
    for p in results.get("throughput", []):
        if p["variant"] == variant and p["batch"] == batch:
            return p
    return None


def _acc(results: dict, variant: str, dataset: str) -> dict | None:
    for a in results.get("accuracy", []):
        if a["variant"] == variant and a["dataset"] == dataset:
            return a
    return None


def _label(results: dict, key: str) -> str:
    for v in results.get("variants", []):
        if v["key"] == key:
            return v["label"]
    return key


# -- targets ---------------------------------------------------------------------------------
def evaluate_targets(results: dict) -> list[dict]:
    """The issue-7 targets, each ``{target, measured, met}`` (met None when not measurable)."""
    out = []
    b = 16 if 16 in results["meta"]["batches"] else max(results["meta"]["batches"])
    ref = _point(results, "pytorch", b)
    others = [p for p in results.get("throughput", [])
              if p["batch"] == b and p["variant"] != "pytorch" and p.get("throughput")]
    if ref and ref.get("throughput") and others:
        best = max(others, key=lambda p: p["throughput"])
        f32 = [p for p in others if "f32" in p["variant"]]
        speed = best["throughput"] / ref["throughput"]
        text = (f"best: {_label(results, best['variant'])} {_f(best['throughput'])} vs PyTorch eager "
                f"{_f(ref['throughput'])} images/s = **{speed:.2f}x**")
        ba, ra = _acc(results, best["variant"], "iiit5k"), _acc(results, "pytorch", "iiit5k")
        if ba and ra:
            text += (f" (IIIT5K {_pct(ba['word_accuracy'])}, "
                     f"{100 * (ba['word_accuracy'] - ra['word_accuracy']):+.2f} points vs PyTorch)")
        if f32:
            bf = max(f32, key=lambda p: p["throughput"])
            text += (f"; best f32 engine: {_label(results, bf['variant'])} "
                     f"{bf['throughput'] / ref['throughput']:.2f}x")
        out.append({"target": f"best backend >= {TARGET_SPEEDUP:g}x PyTorch eager at batch {b}",
                    "measured": text, "met": speed >= TARGET_SPEEDUP})
    else:
        out.append({"target": f"best backend >= {TARGET_SPEEDUP:g}x PyTorch eager at batch {b}",
                    "measured": "not measured", "met": None})
    for int8, f32, name in (("ov-int8", "ov-f32-latency", "OpenVINO"),
                            ("ort-int8", "ort-f32", "ONNX Runtime")):
        q, f = _point(results, int8, b), _point(results, f32, b)
        qa, fa = _acc(results, int8, "iiit5k"), _acc(results, f32, "iiit5k")
        target = (f"{name} INT8 >= {TARGET_INT8_SPEEDUP:g}x {name} f32 (batch {b}) with <= "
                  f"{TARGET_INT8_MAX_LOSS:g} point IIIT5K loss")
        if not (q and f and q.get("throughput") and f.get("throughput")):
            out.append({"target": target, "measured": "not measured", "met": None})
            continue
        speed = q["throughput"] / f["throughput"]
        text = f"{_f(q['throughput'])} vs {_f(f['throughput'])} images/s = **{speed:.2f}x**"
        met = speed >= TARGET_INT8_SPEEDUP
        if qa and fa:
            loss = 100 * (fa["word_accuracy"] - qa["word_accuracy"])
            text += (f"; IIIT5K {_pct(qa['word_accuracy'])} vs {_pct(fa['word_accuracy'])} "
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
                    "measured": (f"{_f(f['e2e_ips'])} vs {_f(f['loop_ips'])} images/s = "
                                 f"**{_pct(ratio, 1)}**"
                                 + (f"; `--workers 0`: {_pct(f.get('inline_ratio'), 1)}"
                                    if f.get("inline_ratio") is not None else "")
                                 + (f"; no-overlap estimate {_pct(f['ratio_bound'], 1)} (see below)"
                                    if f.get("ratio_bound") is not None else "")),
                    "met": None if ratio is None else ratio >= TARGET_FUSED_RATIO})
    if not results.get("fused"):
        out.append({"target": f"crnn-eval end-to-end >= {TARGET_FUSED_RATIO:.0%} of the loop",
                    "measured": "not measured", "met": None})
    return out


# -- sections --------------------------------------------------------------------------------
def _machine_section(meta: dict) -> str:
    m = meta["machine"]
    v = m["versions"]
    load = meta.get("load_average", {})
    rows = [
        ("CPU", f"{m['cpu']} ({m.get('cpu_family_model', '')}"
                + (f", {m['hypervisor']} guest" if m.get("hypervisor") else "") + ")"),
        ("cores", f"{m.get('cores')} physical, {m.get('logical_cpus')} logical "
                  f"({m.get('threads_per_core')} thread(s) per core); L2 {m.get('l2')}, L3 {m.get('l3')}"),
        ("ISA flags (of interest)", " ".join(m["flags"]) or "none of " + ", ".join(FLAGS_OF_INTEREST)),
        ("RAM", f"{m.get('ram_gib')} GiB"),
        ("OS", m.get("os", "")),
        ("software", ", ".join(f"{k} {val}" for k, val in v.items())),
        ("threads", f"{meta['threads']} for every variant (all cores): torch.set_num_threads, ONNX "
                    f"Runtime intra_op_num_threads, OpenVINO INFERENCE_NUM_THREADS"),
        ("load average (1 min)", f"{_f(load.get('before'), 2)} before, {_f(load.get('after'), 2)} "
                                 f"after the run, on {m.get('logical_cpus')} CPUs"),
    ]
    foreign = meta.get("foreign_cpu") or {}
    if foreign:
        rows.append(("CPU used by other processes",
                     f"{_pct(foreign.get('grid'), 0)} of all CPUs during the throughput grid, "
                     f"{_pct(foreign.get('run'), 0)} over the whole run (machine busy time from "
                     "/proc/stat minus the CPU time of this bench's process tree; approximate)"))
    return "## Machine\n\n" + table(("", ""), rows, "ll")


def _reproduce_section(meta: dict, results: dict) -> str:
    lines = ["## Reproduce", "", "```sh", "make setup weights convert   # venv, nano_ocr_ftr.pth, "
             "build/nano-ocr_{dynamic,bs16}.onnx + bs16.xml", meta["command"]]
    scale = results.get("scale")
    lines.append(scale["command"] if scale else "python scripts/scale_eval.py")
    lines += ["```", "",
              f"Run date: {meta['date']}; the bench took {_f(meta.get('duration_s', 0) / 60, 1)} "
              f"min. Raw numbers: `{meta.get('json', 'build/bench/bench_results.json')}`. "
              "Missing engines are built into the work dir with `crnn-convert` (commands below)."]
    built = meta.get("built", [])
    if built:
        lines += ["", "The work-dir files were made with (by this run, or reused from an earlier "
                  "one with the same settings; INT8 through `converter.quantize.quantize`, the "
                  "function behind this command):", "", "```sh", *built, "```"]
    return "\n".join(lines)


def _targets_section(results: dict) -> str:
    rows = [(t["target"], t["measured"], _yes(t["met"])) for t in evaluate_targets(results)]
    return "## Targets (issue 7)\n\n" + table(("target", "measured", "result"), rows, "lll")


def _throughput_section(results: dict) -> str:
    meta = results["meta"]
    batches = meta["batches"]
    ref16 = _point(results, "pytorch", 16)
    per_point = (f"{meta['loops']} loops per round" if meta.get("loops")
                 else f"about {_f(meta['seconds_per_point'], 0)} s of inference per point in total")
    intro = (
        "## Throughput and latency\n\n"
        f"Every point is `runtime.runner.run_loop`, the code of `crnn-infer --loop` (zero input, "
        f"`--pure_data_type zero`), with {meta['threads']} threads for every variant. Each "
        f"variant runs in its own process (as a user would run it: in one process, a model "
        f"that OpenVINO has run makes PyTorch eager 4-30x slower here), all started together; "
        f"the variants and batch sizes were measured side by side, interleaved in "
        f"{meta['rounds']} rounds (the order rotates every round; {meta['warmup']} warm-up "
        f"batches per point per round, excluded), {per_point}. Throughput is images over the "
        f"summed bare inference call times (for the THROUGHPUT/async variant: the span during "
        f"which at least one request was in flight), the **median of the rounds**, with the "
        f"lowest and highest round in brackets. Latency is ms per batch, pooled over all rounds "
        f"(for the async variant: submit to completion, including the wait for a free request)."
        + (f" Other load: the CPU share used by other processes is measured around every timed "
           f"run; a run above {meta['max_foreign']:.0%} was repeated (up to {meta['retries']} "
           f"times, the least disturbed attempt kept); the last column gives the median share "
           f"over the kept runs of a variant (all batches) and how many runs were repeated."
           if meta.get("max_foreign") is not None else ""))
    rows = []
    for v in results["variants"]:
        row = [v["label"]]
        for b in batches:
            p = _point(results, v["key"], b)
            row.append("-" if not p else
                       f"{_f(p['throughput'])} ({_f(p['tp_min'], 0)}-{_f(p['tp_max'], 0)})")
        p16 = _point(results, v["key"], 16)
        row.append(f"{p16['throughput'] / ref16['throughput']:.2f}x"
                   if p16 and ref16 and ref16.get("throughput") else "-")
        pts = [p for b in batches if (p := _point(results, v["key"], b))]
        shares = [p["foreign"] for p in pts if p.get("foreign") is not None]
        if meta.get("max_foreign") is not None:
            row.append(f"{_pct(median(shares), 0)}, {sum(p.get('retried', 0) for p in pts)} repeated"
                       if shares else "n/a")
        rows.append(row)
    head = ["variant", *(f"batch {b} (images/s)" for b in batches), "vs PyTorch @16"]
    if meta.get("max_foreign") is not None:
        head.append("other load")
    t1 = table(head, rows)
    rows = []
    for v in results["variants"]:
        row = [v["label"]]
        for b in batches:
            p = _point(results, v["key"], b)
            row.append("-" if not p else f"{_f(p['latency_median'], 2)} / {_f(p['latency_p99'], 2)}")
        rows.append(row)
    t2 = table(["variant", *(f"batch {b}: median / p99 (ms)" for b in batches)], rows)
    engines = table(("variant", "engine(s)", "options"),
                    [(v["label"], v["engine"], v["options"]) for v in results["variants"]], "lll")
    plot = meta.get("plot")
    fig = f"\n\n![throughput vs batch size]({plot})" if plot else ""
    return (f"{intro}\n\n{t1}\n\nLatency per batch (ms), median / p99:\n\n{t2}{fig}\n\n"
            f"Engines and options:\n\n{engines}")


def _bapp_section(results: dict) -> str:
    b = results.get("benchmark_app") or {}
    head = "## OpenVINO benchmark_app beside crnn-bench\n\n"
    if not b.get("available"):
        return head + f"Not run: {b.get('reason', 'unknown reason')}."
    real = b.get("real_input")
    text = (
        f"`benchmark_app` ({b.get('source')}) ran on the same IR as our loop, `{b.get('engine')}` "
        f"(static batch {b.get('batch')}), `-d CPU -infer_precision f32 -t {b.get('seconds')}` "
        f"with `-hint latency` and `-hint throughput`, alternating with our run_loop on the "
        f"same file and hint in {b.get('rounds')} rounds (medians shown). Its threads are its "
        "default, all cores (its UI refuses `-nthreads` together with `-hint`); its compiled "
        "model has the same properties as ours (1 stream, 2 threads, pinning on, f32). Its "
        "`Throughput` is in FPS = frames (images) per second: `processed_frames / duration`, "
        "where every inference adds the model's batch size (`openvino/tools/benchmark/"
        "benchmark.py`; it prints `Model batch size: 16` for this IR), so it compares directly "
        "with images/s; its latency is per inference (= per batch).\n\n"
        "Input data matters here: without `-i`, benchmark_app fills a float input with uniform "
        "random values in [0, 255] (`inputs_filling.py`), far outside the model's [-1, 1], and "
        "this model runs slower on such values (measured on our backend: ~66 ms per batch of 16 "
        "instead of ~55 ms for zeros or uniform [-1, 1]). "
        + (f"So it also ran with `-i {real}`: the first 16 IIIT5K images, preprocessed as "
           "crnn-eval does. " if real else "")
        + "Our loop feeds zeros (`crnn-infer --loop` default), which run as fast as real "
        "images. \"ours\" is images over the summed bare inference calls (what crnn-infer "
        "reports); \"wall\" is images over the loop's wall time, benchmark_app's definition.\n\n"
        f"Example: `{b.get('command')}`")
    rows = []
    for r in b.get("rows", []):
        ref = r.get("real_fps") or r.get("bapp_fps")
        rows.append((r["hint"], _f(r.get("bapp_fps")), _f(r.get("bapp_median_ms"), 2),
                     _f(r.get("real_fps")), _f(r.get("real_median_ms"), 2),
                     _f(r.get("ours_ips")), _f(r.get("ours_wall_ips")),
                     _f(r.get("ours_median_ms"), 2),
                     "n/a" if not ref or not r.get("ours_wall_ips")
                     else f"{r['ours_wall_ips'] / ref:.2f}"))
    t = table(("hint", "benchmark_app FPS, random [0, 255] input", "its median ms",
               "benchmark_app FPS, -i real batch", "its median ms", "crnn-bench images/s",
               "crnn-bench images/s (wall)", "crnn-bench median ms",
               "ours (wall) / benchmark_app (real input)"), rows)
    return head + text + "\n\n" + t


def _accuracy_section(results: dict) -> str:
    meta = results["meta"]
    limit = meta.get("limit")
    text = (
        "## Word accuracy\n\n"
        "Each variant read each test set through `pipeline.fused.evaluate` (the `crnn-eval` "
        "code: LMDB built with the project's `build_lmdb`, PIL bilinear transform "
        + ("inline (`--workers 0`, quick mode)" if meta.get("acc_workers") == 0 else
           "in worker processes")
        + ", greedy CTC), batch 16 (the static engines' batch; the OpenVINO INT8 IR "
        "of batch 16). Standard protocol: case-insensitive, `[0-9a-z]` only, exact word match. "
        + (f"**Only the first {limit} images of each set** (quick mode). " if limit else "")
        + f"The INT8 models were calibrated on {meta.get('calib_size', 300)} IC03 images "
        "(`eval_ic03_860`, spread evenly over its gt.txt), so their IC03 column (marked *) "
        "includes calibration images; IIIT5K, SVT and IC13 are unseen by calibration.")
    names = [n for n in DATASETS if any(a["dataset"] == n[0] for a in results.get("accuracy", []))]
    rows = []
    ref = _acc(results, "pytorch", "iiit5k")
    for v in results["variants"]:
        row = [v["label"]]
        for key, _ in names:
            a = _acc(results, v["key"], key)
            star = "*" if key == "ic03" and "int8" in v["key"] else ""
            row.append("-" if not a else f"{_pct(a['word_accuracy'])}{star} ({a['correct']}/{a['count']})")
        a = _acc(results, v["key"], "iiit5k")
        row.append("-" if not (a and ref) else f"{100 * (a['word_accuracy'] - ref['word_accuracy']):+.2f}")
        rows.append(row)
    t = table(["variant", *(n for _, n in names), "IIIT5K vs PyTorch (points)"], rows)
    note = ""
    if ref and not limit:
        same = abs(ref["word_accuracy"] - REFERENCE_IIIT5K) < 5e-5
        note = (f"\n\nPyTorch eager reads IIIT5K at {_pct(ref['word_accuracy'])}: "
                + ("the reference 77.60 % (DESIGN.md), as required." if same else
                   f"**not** the reference 77.60 % (DESIGN.md): check the transform."))
    return text + "\n\n" + t + note


def _int8_section(results: dict) -> str:
    rows = [(r["variant"], f"`{r['path']}`", r.get("batch") or "dynamic",
             f"{r.get('calib_count')} images of `{r.get('calib_gt')}`",
             f"{_pct(r.get('agreement'), 1)} (max abs logit diff {_f(r.get('max_diff'), 3)})",
             r.get("note", "")) for r in results.get("int8", [])]
    if not rows:
        return "## INT8 models\n\nNone built."
    text = (
        "## INT8 models\n\n"
        "Built by `converter.quantize.quantize` (what `crnn-convert int8` runs) from the dynamic "
        "FP32 ONNX, calibrated on IC03 (not on the scored IIIT5K). The OpenVINO INT8 IR (NNCF "
        "post-training quantization, LSTM kept in float) has a static batch, so one IR per batch "
        "size was built; the ONNX Runtime QDQ model keeps the dynamic batch. Agreement = share of "
        "calibration images whose greedy CTC string equals FP32's (the converter's own check).")
    return text + "\n\n" + table(("variant", "file", "batch", "calibration", "agreement with FP32",
                                  "settings"), rows, "llllll")


def _fused_section(results: dict) -> str:
    fused = results.get("fused", [])
    head = "## Fused path: crnn-eval against the loop\n\n"
    if not fused:
        return head + "Not measured."
    f0 = fused[0]
    text = (
        f"`pipeline.fused.evaluate` (the code of `crnn-eval`) on IIIT5K ({f0['count']} images, "
        f"{f0['workers']} preprocessing worker(s), the crnn-eval default of CPU count - 1) against "
        f"`run_loop` (`crnn-infer --loop`, half as many images) on the same loaded engine, batch "
        f"and threads, in {f0['rounds']} rounds (the order of the three rotates; medians of the "
        f"rounds, ratios per round). End-to-end = scored images per wall-clock second "
        f"from the first LMDB read to the last decode (what a user waits for; decoding and "
        f"resizing run in the worker processes, on the same {results['meta']['machine']['logical_cpus']} "
        f"CPUs as inference). \"engine-only during eval\" is the eval's own bare-inference throughput.")
    text += (
        " \"--workers 0\" is the same eval with preprocessing inline in the main process "
        "(`crnn-eval --workers 0`).")
    if f0.get("overhead_ms") is not None:
        text += (
            f"\n\nWhere the time goes: in the inline eval, the work outside inference (LMDB read, "
            f"PNG/JPEG decode, grey, PIL bilinear resize, normalize, CTC decode, scoring) takes "
            f"{f0['overhead_ms']:.3f} ms per image (median over the non-async engines). Unless it "
            f"overlaps with inference, the eval reaches at most `1 / (1 + overhead x loop "
            f"images/s)` of the loop (\"no-overlap estimate\"). On "
            f"{results['meta']['machine']['logical_cpus']} vCPUs a preprocessing worker does not "
            f"buy that overlap: the loop already keeps every CPU busy with inference, so the "
            f"worker's CPU time is taken from the inference threads (\"engine-only during eval\" "
            f"falls below the loop by about as much), and the default eval comes out slightly "
            f"slower than `--workers 0`. Only OpenVINO's async requests (THROUGHPUT) overlap part "
            f"of it. With cores to spare beyond the inference threads, the worker would run beside "
            f"inference instead.")
    rows = [(f["label"], f"`{f['engine']}`", f["batch"], _f(f["e2e_ips"]), _f(f.get("inline_ips")),
             _f(f["loop_ips"]), _pct(f["ratio"], 1), _pct(f.get("inline_ratio"), 1),
             _pct(f.get("ratio_bound"), 1), _f(f.get("eval_engine_ips")),
             _yes(None if f["ratio"] is None else f["ratio"] >= TARGET_FUSED_RATIO))
            for f in fused]
    t = table(("engine", "file", "batch", "crnn-eval end-to-end (images/s)", "--workers 0",
               "loop (images/s)", "ratio", "ratio --workers 0", "no-overlap estimate",
               "engine-only during eval", f">= {TARGET_FUSED_RATIO:.0%}"), rows,
              "llrrrrrrrrl")
    return head + text + "\n\n" + t


def _scale_section(results: dict) -> str:
    s = results.get("scale")
    head = "## Scale: memory and time per sample on large LMDBs\n\n"
    if not s:
        return head + ("Not run yet: `python scripts/scale_eval.py` writes "
                       "`build/bench/scale_eval.json`, which the next `crnn-bench` (or the script "
                       "itself) puts here.")
    text = (
        f"`{s['command']}` (run {s['date']}, {s.get('threads')} threads): a "
        f"{s['lmdb_samples']:,}-sample LMDB made by repeating IIIT5K with `build_lmdb` "
        f"({_f(s.get('lmdb_mb'), 0)} MB, built in {_f(s.get('build_s'), 0)} s), scored by "
        f"`pipeline.fused.evaluate` with `{s['engine']}` (ONNX Runtime, batch {s['batch']}) on "
        f"the first N samples, each N in a fresh process. Peak RSS: {s['rss_method']}.")
    rows = [(f"{r['limit']:,}", _f(r["wall_s"], 1), _f(r["ms_per_sample"], 3), _f(r["images_per_s"]),
             _f(r["peak_rss_tree_mb"], 0), _f(r.get("peak_rss_self_mb"), 0),
             _pct(r.get("word_accuracy"))) for r in s["rows"]]
    t = table(("samples", "eval wall (s)", "ms per sample", "images/s", "peak RSS, all processes (MB)",
               "peak RSS, main process (MB)", "word accuracy"), rows)
    note = f"\n\n{s['note']}" if s.get("note") else ""
    return head + text + "\n\n" + t + note


def render_markdown(results: dict) -> str:
    """The whole docs/BENCHMARKS.md from ``results`` (see module doc)."""
    meta = results["meta"]
    title = f"# Benchmarks: {meta['model']} on {meta['machine']['cpu']}"
    intro = (
        f"Generated by `crnn-bench` on {meta['date']}"
        + (" in **--quick mode (smoke test: tiny loops and subsets; not benchmark numbers)**"
           if meta.get("quick") else "")
        + f". One run on one machine: every number below was measured by this run, side by "
        f"side. The machine is a {meta['machine'].get('logical_cpus')}-vCPU VM that other jobs "
        "may share (see the load average); the rounds and medians are there to damp that, the "
        "min-max brackets show what is left.")
    parts = [title, intro, _machine_section(meta), _reproduce_section(meta, results),
             _targets_section(results), _throughput_section(results), _bapp_section(results),
             _accuracy_section(results), _int8_section(results), _fused_section(results),
             _scale_section(results)]
    return "\n\n".join(parts) + "\n"


# -- files -----------------------------------------------------------------------------------
def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` (parent folders created) through a temp file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)


def write_plot(results: dict, path: str | Path) -> None:
    """PNG of throughput (images/s, median of rounds, min-max bars) vs batch, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    batches = results["meta"]["batches"]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for v in results["variants"]:
        pts = [p for b in batches if (p := _point(results, v["key"], b)) and p.get("throughput")]
        if not pts:
            continue
        xs = [p["batch"] for p in pts]
        ys = [p["throughput"] for p in pts]
        err = [[y - p["tp_min"] for y, p in zip(ys, pts)], [p["tp_max"] - y for y, p in zip(ys, pts)]]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=v["label"],
                    linestyle="--" if v["key"] == "pytorch" else "-")
    ax.set_xscale("log", base=2)
    ax.set_xticks(batches)
    ax.set_xticklabels([str(b) for b in batches])
    ax.set_xlabel("batch size")
    ax.set_ylabel("images/s (median of rounds; bars: min-max)")
    m = results["meta"]
    ax.set_title(f"{m['model']}: throughput vs batch, {m['threads']} threads\n{m['machine']['cpu']}",
                 fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)


def median(values: Sequence[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
