"""The throughput/latency section of the report and the throughput plot (matplotlib, Agg)."""
from __future__ import annotations

import io
from pathlib import Path

from crnn_deploy.bench.report.fmt import median, num, pct, point, table
from crnn_deploy.common.fileio import atomic_write_bytes


def throughput_section(results: dict) -> str:
    meta = results["meta"]
    batches = meta["batches"]
    ref16 = point(results, "pytorch", 16)
    per_point = (f"{meta['loops']} loops per round" if meta.get("loops")
                 else f"about {num(meta['seconds_per_point'], 0)} s of inference per point in total")
    intro = (
        "## Throughput and latency\n\n"
        f"Every point is `runtime.runner.run_loop`, the code of `crnn-infer --loop` (zero input, "
        f"`--pure_data_type zero`), with {meta['threads']} threads for every variant. Each "
        f"variant runs in its own process (as a user would run it; OpenVINO's pinned threads "
        f"slow down PyTorch eager in a shared process, see `bench/worker.py`), all started "
        f"together; "
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
            p = point(results, v["key"], b)
            row.append("-" if not p else
                       f"{num(p['throughput'])} ({num(p['tp_min'], 0)}-{num(p['tp_max'], 0)})")
        p16 = point(results, v["key"], 16)
        row.append(f"{p16['throughput'] / ref16['throughput']:.2f}x"
                   if p16 and ref16 and ref16.get("throughput") else "-")
        pts = [p for b in batches if (p := point(results, v["key"], b))]
        shares = [p["foreign"] for p in pts if p.get("foreign") is not None]
        if meta.get("max_foreign") is not None:
            row.append(f"{pct(median(shares), 0)}, {sum(p.get('retried', 0) for p in pts)} repeated"
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
            p = point(results, v["key"], b)
            row.append("-" if not p else f"{num(p['latency_median'], 2)} / {num(p['latency_p99'], 2)}")
        rows.append(row)
    t2 = table(["variant", *(f"batch {b}: median / p99 (ms)" for b in batches)], rows)
    engines = table(("variant", "engine(s)", "options"),
                    [(v["label"], v["engine"], v["options"]) for v in results["variants"]], "lll")
    plot = meta.get("plot")
    fig = f"\n\n![throughput vs batch size]({plot})" if plot else ""
    return (f"{intro}\n\n{t1}\n\nLatency per batch (ms), median / p99:\n\n{t2}{fig}\n\n"
            f"Engines and options:\n\n{engines}{roofline_table(results)}")


def roofline_table(results: dict) -> str:
    """Each variant at its fastest batch against this CPU's peak for its precision
    (:mod:`bench.roofline`); '' for results without it (older runs)."""
    roof = results.get("roofline")
    if not roof:
        return ""
    from crnn_deploy.bench.roofline import NOMINAL_COLUMNS, ROOFLINE_HEADERS, fmt_roofline

    labels = {v["key"]: v["label"] for v in results["variants"]}
    rows = [[labels.get(r["variant"], r["variant"]), str(r["batch"]), num(r["rate"]),
             *fmt_roofline(r)[:NOMINAL_COLUMNS]] for r in roof]
    return ("\n\nThe roofline: GFLOP per image counted from the ONNX graph at the shape run "
            "(Conv, MatMul/Gemm, LSTM; 2 x MAC; `bench.flops`), achieved GFLOP/s at the "
            "variant's fastest batch (bare inference), and this CPU's peak at the variant's "
            "precision (physical cores x clock x FLOP per cycle of the ISA: `bench.peak`, with "
            "its table and sources).\n\n"
            + table(["variant", "batch", "images/s", *ROOFLINE_HEADERS[:NOMINAL_COLUMNS]], rows))


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
        pts = [p for b in batches if (p := point(results, v["key"], b)) and p.get("throughput")]
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
    buf = io.BytesIO()
    try:
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
