"""The report sections on the other paths: OpenVINO benchmark_app beside our loop, the fused
crnn-eval path against the loop, and the large-LMDB scale run (:mod:`bench.scale`)."""
from __future__ import annotations

from crnn_deploy.bench.report.fmt import num, pct, table, verdict
from crnn_deploy.bench.report.targets import TARGET_FUSED_RATIO


def bapp_section(results: dict) -> str:
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
        "default, all cores (its UI refuses `-nthreads` together with `-hint`). Its "
        "`Throughput` is in FPS = frames (images) per second: `processed_frames / duration`, "
        "where every inference adds the model's batch size (`openvino/tools/benchmark/"
        "benchmark.py`; it prints `Model batch size: 16` for this IR), so it compares directly "
        "with images/s; its latency is per inference (= per batch).\n\n"
        "Input data matters here: without `-i`, benchmark_app fills a float input with uniform "
        "random values in [0, 255] (`inputs_filling.py`), far outside the model's [-1, 1], which "
        "may change its speed (compare the two benchmark_app columns below). "
        + (f"So it also ran with `-i {real}`: the first 16 IIIT5K images, preprocessed as "
           "crnn-eval does. " if real else "")
        + "Our loop feeds zeros (`crnn-infer --loop` default), which run as fast as real "
        "images. \"ours\" is images over the summed bare inference calls (what crnn-infer "
        "reports); \"wall\" is images over the loop's wall time, benchmark_app's definition.\n\n"
        f"Example: `{b.get('command')}`")
    rows = []
    for r in b.get("rows", []):
        ref = r.get("real_fps") or r.get("bapp_fps")
        rows.append((r["hint"], num(r.get("bapp_fps")), num(r.get("bapp_median_ms"), 2),
                     num(r.get("real_fps")), num(r.get("real_median_ms"), 2),
                     num(r.get("ours_ips")), num(r.get("ours_wall_ips")),
                     num(r.get("ours_median_ms"), 2),
                     "n/a" if not ref or not r.get("ours_wall_ips")
                     else f"{r['ours_wall_ips'] / ref:.2f}"))
    t = table(("hint", "benchmark_app FPS, random [0, 255] input", "its median ms",
               "benchmark_app FPS, -i real batch", "its median ms", "crnn-bench images/s",
               "crnn-bench images/s (wall)", "crnn-bench median ms",
               "ours (wall) / benchmark_app (real input)"), rows)
    return head + text + "\n\n" + t


def fused_section(results: dict) -> str:
    fused = results.get("fused", [])
    head = "## Fused path: crnn-eval against the loop\n\n"
    if not fused:
        return head + "Not measured."
    f0 = fused[0]
    cpus = results["meta"]["machine"]["logical_cpus"]
    if f0.get("workers") is None:  # crnn-eval's default, as it opens the engine itself
        how = ("crnn-eval's default schedule: the engine opened as `crnn-eval` opens it "
               "(`pipeline.streams.open_engine`, no `--threads`: 2 one-thread engine streams on "
               "CPU, one engine with its own threads under a `--hint`; the rows' \"streams\" "
               f"column), {f0.get('eval_workers')} preprocessing threads one batch ahead")
    else:
        how = f"{f0['workers']} preprocessing worker process(es) (`--workers {f0['workers']}`)"
    text = (
        f"`pipeline.fused.evaluate` (the code of `crnn-eval`) on IIIT5K ({f0['count']} images, "
        f"{how}) against `run_loop` (`crnn-infer --loop`, half as many images) on the "
        f"variant's own engine and threads, in {f0['rounds']} rounds (the order of the three "
        f"rotates; medians of the rounds, ratios per round). End-to-end = scored images per "
        f"wall-clock second from the first LMDB read to the last decode (what a user waits for; "
        f"decoding and resizing share the same {cpus} CPUs with inference). \"engine-only during "
        f"eval\" is the eval's own bare-inference throughput.")
    if f0.get("overhead_ms") is not None:
        text += (
            f"\n\nWhere the time goes: in the inline eval, the work outside inference (LMDB read, "
            f"PNG/JPEG decode, grey, PIL bilinear resize, normalize, CTC decode, scoring) takes "
            f"{f0['overhead_ms']:.3f} ms per image (median over the non-async engines). Unless it "
            f"overlaps with inference, the eval reaches at most `1 / (1 + overhead x loop "
            f"images/s)` of the loop (\"no-overlap estimate\"). On {cpus} vCPUs little overlap "
            f"is possible: the loop already keeps every CPU busy with inference, so preprocessing "
            f"CPU time is taken from the inference threads (\"engine-only during eval\" falls "
            f"below the loop by about as much). `crnn-bench fused` compares the schedules "
            f"(README, \"Recognizing unlabeled images\").")
    rows = [(f["label"], f"`{f['engine']}`", f["batch"], f.get("streams", 1), num(f["e2e_ips"]), num(f.get("inline_ips")),
             num(f["loop_ips"]), pct(f["ratio"], 1), pct(f.get("inline_ratio"), 1),
             pct(f.get("ratio_bound"), 1), num(f.get("eval_engine_ips")),
             verdict(None if f["ratio"] is None else f["ratio"] >= TARGET_FUSED_RATIO))
            for f in fused]
    t = table(("engine", "file", "batch", "streams", "crnn-eval end-to-end (images/s)",
               "--workers 0",
               "loop (images/s)", "ratio", "ratio --workers 0", "no-overlap estimate",
               "engine-only during eval", f">= {TARGET_FUSED_RATIO:.0%}"), rows,
              "llrrrrrrrrrl")
    return head + text + "\n\n" + t


def scale_section(results: dict) -> str:
    s = results.get("scale")
    head = "## Scale: memory and time per sample on large LMDBs\n\n"
    if not s:
        return head + ("Not run yet: `crnn-bench scale` writes "
                       "`build/bench/scale_eval.json`, which the next `crnn-bench` (or the script "
                       "itself) puts here.")
    text = (
        f"`{s['command']}` (run {s['date']}, "
        + (f"{s['threads']} threads" if s.get("threads") else
           "crnn-eval's default engine: 2 one-thread streams, 2 preprocessing threads")
        + "): a "
        f"{s['lmdb_samples']:,}-sample LMDB made by repeating IIIT5K with `build_lmdb` "
        f"({num(s.get('lmdb_mb'), 0)} MB, built in {num(s.get('build_s'), 0)} s), scored by "
        f"`pipeline.fused.evaluate` with `{s['engine']}` (ONNX Runtime, batch {s['batch']}) on "
        f"the first N samples, each N in a fresh process. Peak RSS: {s['rss_method']}.")
    rows = [(f"{r['limit']:,}", num(r["wall_s"], 1), num(r["ms_per_sample"], 3), num(r["images_per_s"]),
             num(r["peak_rss_tree_mb"], 0), num(r.get("peak_rss_self_mb"), 0),
             pct(r.get("word_accuracy"))) for r in s["rows"]]
    t = table(("samples", "eval wall (s)", "ms per sample", "images/s", "peak RSS, all processes (MB)",
               "peak RSS, main process (MB)", "word accuracy"), rows)
    note = f"\n\n{s['note']}" if s.get("note") else ""
    return head + text + "\n\n" + t + note
