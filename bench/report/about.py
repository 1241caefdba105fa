"""The report sections about the run itself: the machine and how to reproduce it."""
from __future__ import annotations

from crnn_deploy.bench.machine import FLAGS_OF_INTEREST
from crnn_deploy.bench.report.fmt import num, pct, table


def machine_section(meta: dict) -> str:
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
        ("load average (1 min)", f"{num(load.get('before'), 2)} before, {num(load.get('after'), 2)} "
                                 f"after the run, on {m.get('logical_cpus')} CPUs"),
    ]
    foreign = meta.get("foreign_cpu") or {}
    if foreign:
        rows.append(("CPU used by other processes",
                     f"{pct(foreign.get('grid'), 0)} of all CPUs during the throughput grid, "
                     f"{pct(foreign.get('run'), 0)} over the whole run (machine busy time from "
                     "/proc/stat minus the CPU time of this bench's process tree; approximate)"))
    return "## Machine\n\n" + table(("", ""), rows, "ll")


def reproduce_section(meta: dict, results: dict) -> str:
    model = meta.get("model", "nano-ocr")
    lines = ["## Reproduce", "", "```sh", f"make setup weights convert MODEL={model}   # venv, "
             f"nano_ocr_ftr.pth, build/{model}_{{dynamic,bs16}}.onnx + bs16.xml", meta["command"]]
    scale = results.get("scale")
    lines.append(scale["command"] if scale else "crnn-bench scale")
    lines += ["```", "",
              f"Run date: {meta['date']}; the bench took {num(meta.get('duration_s', 0) / 60, 1)} "
              f"min. Raw numbers: `{meta.get('json', 'build/bench/bench_results.json')}`. "
              "Missing engines are built into the work dir with `crnn-convert` (commands below)."]
    built = meta.get("built", [])
    if built:
        lines += ["", "The work-dir files were made with (by this run, or reused from an earlier "
                  "one with the same settings; INT8 through `converter.int8.quantize`, the "
                  "function behind this command):", "", "```sh", *built, "```"]
    return "\n".join(lines)
