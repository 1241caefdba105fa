"""OpenVINO's own ``benchmark_app`` beside crnn-bench's loop, on the same IR and hint.

``benchmark_app`` ships in the openvino wheel (console script, or the module
``openvino.tools.benchmark.main``). Its ``Throughput: N FPS`` is frames (images) per second:
every inference adds the model's batch size (``openvino/tools/benchmark/benchmark.py``), so it
compares directly with our images/s; its latency is per inference (= per batch), in ms.
"""
from __future__ import annotations

import io
import math
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

from crnn_deploy.bench.report.fmt import median
from crnn_deploy.bench.variants import ov_f32_variant
from crnn_deploy.bench.worker import VariantProcess
from crnn_deploy.bench.workspace import rel
from crnn_deploy.common.fileio import atomic_write_bytes
from crnn_deploy.runtime.stats import latency_summary


def find_benchmark_app() -> tuple[list[str] | None, str]:
    """The benchmark_app command and where it comes from, or (None, why not)."""
    script = Path(sys.executable).parent / "benchmark_app"
    if script.is_file():
        return [str(script)], "console script of the openvino wheel"
    found = shutil.which("benchmark_app")
    if found:
        return [found], f"{found} on PATH"
    import importlib.util

    try:
        spec = importlib.util.find_spec("openvino.tools.benchmark.main")
    except ModuleNotFoundError:
        spec = None
    if spec is not None:
        return ([sys.executable, "-c", "import sys; from openvino.tools.benchmark.main import "
                 "main; sys.exit(main())"], "module openvino.tools.benchmark of the openvino wheel")
    return None, ("neither a benchmark_app console script nor the module "
                  "openvino.tools.benchmark is installed (it ships in the openvino wheel)")


def parse_benchmark_app(text: str) -> dict:
    """Throughput (FPS), median/average latency (ms), count and model batch of its log."""
    def grab(pattern, cast=float):
        m = re.search(pattern, text)
        return cast(m.group(1)) if m else None

    return {"fps": grab(r"Throughput:\s+([\d.]+)\s*FPS"),
            "median_ms": grab(r"Median:\s+([\d.]+)\s*ms"),
            "average_ms": grab(r"Average:\s+([\d.]+)\s*ms"),
            "count": grab(r"Count:\s+(\d+)\s+iterations", int),
            "batch": grab(r"Model batch size:\s+(\d+)", int)}


def benchmark_app_args(ir: Path, hint: str, seconds: int, inputs: Path | None = None) -> list[str]:
    return (["-m", str(ir), "-d", "CPU", "-hint", hint, "-infer_precision", "f32",
             "-t", str(seconds)] + (["-i", str(inputs)] if inputs else []))


def write_real_batch(lmdb: Path, model: str, batch: int, out: Path) -> Path:
    """The first ``batch`` samples of ``lmdb``, preprocessed as crnn-eval does, as a float32
    (batch, C, H, W) ``.npy`` (benchmark_app ``-i`` input)."""
    import numpy as np

    from crnn_deploy.models.specs import get_spec
    from crnn_deploy.pipeline.feeder import preprocess_chunks

    chunk = next(iter(preprocess_chunks(str(lmdb), get_spec(model), [(1, batch + 1)], 0)))
    x = np.ascontiguousarray(chunk.images[:batch], dtype=np.float32)
    if len(x) < batch:
        x = np.resize(x, (batch, *x.shape[1:])).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, x)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, buf.getvalue())
    return out


def _run_bapp(cmd: list[str], args: list[str], seconds: int) -> dict:
    proc = subprocess.run(cmd + args, capture_output=True, text=True, timeout=seconds * 10 + 300)
    text = proc.stdout + proc.stderr
    parsed = parse_benchmark_app(text)
    if proc.returncode != 0 or parsed["fps"] is None:
        tail = " / ".join(text.strip().splitlines()[-3:])
        raise RuntimeError(f"benchmark_app {' '.join(args)} failed (exit {proc.returncode}): {tail}")
    return parsed


def measure_benchmark_app(ir: Path, threads: int, rounds: int, seconds: int,
                          log: Callable[[str], None], real_input: Path | None = None) -> dict:
    """benchmark_app (latency and throughput hints) alternating with our loop on the same IR.

    benchmark_app runs twice per round: with its default random input (uniform [0, 255] for a
    float input: far outside the model's [-1, 1], and slower on this model) and, when
    ``real_input`` is given, with ``-i real_input`` (a real preprocessed batch). Our loop feeds
    zeros, which run as fast as real [-1, 1] data here.
    """
    cmd, source = find_benchmark_app()
    if cmd is None:
        return {"available": False, "reason": source}
    rows = []
    for hint in ("latency", "throughput"):
        with VariantProcess(ov_f32_variant(ir, hint), threads) as proc:
            probe, _ = proc.loop(16, 2, 2)
            batch = probe["batch_size"]
            loops = (max(3, math.ceil(seconds * probe["throughput"] / batch))
                     if probe["throughput"] else 10)
            runs: dict[str, list] = {"random": [], "real": [], "ours": []}
            steps = ["random", "ours"] + (["real"] if real_input else [])
            for r in range(rounds):
                for who in steps[r % len(steps):] + steps[:r % len(steps)]:
                    if who == "ours":
                        ss, lat = proc.loop(batch, loops, 2)
                        runs["ours"].append({"ips": ss["throughput"],
                                             "wall_ips": ss["count"] / ss["wall_s"],
                                             "median_ms": latency_summary(lat)["median"]})
                        continue
                    try:
                        runs[who].append(_run_bapp(cmd, benchmark_app_args(
                            ir, hint, seconds, real_input if who == "real" else None), seconds))
                    except (RuntimeError, subprocess.SubprocessError) as exc:
                        return {"available": False, "reason": str(exc)}
        bapp, real, ours = runs["random"], runs["real"], runs["ours"]
        row = {"hint": hint, "bapp_fps": median([p["fps"] for p in bapp]),
               "bapp_median_ms": median([p["median_ms"] for p in bapp]),
               "bapp_batch": bapp[-1]["batch"], "bapp_count": bapp[-1]["count"],
               "ours_ips": median([o["ips"] for o in ours]),
               "ours_wall_ips": median([o["wall_ips"] for o in ours]),
               "ours_median_ms": median([o["median_ms"] for o in ours]), "ours_batch": batch,
               "ours_loops": loops, "bapp_rounds": [p["fps"] for p in bapp],
               "ours_rounds": [o["ips"] for o in ours]}
        if real:
            row.update(real_fps=median([p["fps"] for p in real]),
                       real_median_ms=median([p["median_ms"] for p in real]),
                       real_rounds=[p["fps"] for p in real])
        rows.append(row)
        log(f"  {hint}: benchmark_app {row['bapp_fps']:.0f} FPS (random input)"
            + (f", {row['real_fps']:.0f} FPS (real input)" if real else "")
            + f"; ours {row['ours_ips']:.0f} images/s")
    return {"available": True, "source": source, "engine": rel(ir), "batch": rows[0]["ours_batch"],
            "bapp_batch": rows[0]["bapp_batch"], "seconds": seconds, "rounds": rounds,
            "real_input": rel(real_input) if real_input else None, "rows": rows,
            "command": "benchmark_app " + " ".join(shlex.quote(a) for a in benchmark_app_args(
                Path(rel(ir)), "latency", seconds, Path(rel(real_input)) if real_input else None))}
