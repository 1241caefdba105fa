"""Pages per second: a crnn-ocr command against RapidOCR 1.4.4's full pipeline, as whole processes
side by side, in interleaved rounds (this VM's speed drifts by up to 2x within minutes).

Each round runs both processes once over the same page files (their order alternates from round
to round) and records the 1-minute load average before each. Wall time of the whole process:
interpreter start, imports, engine loading, page decoding and the pipeline, JSONL written. The
RapidOCR process is this script with ``--rapidocr-only``: ``RapidOCR()`` at its defaults, one
``engine(path)`` per page, in sorted file order. Reported: median and range of seconds and
pages/s for each, the CPU seconds (user + system) of each process (the share of a loaded
machine a process gets varies, its CPU time much less), and the ratio of the medians. Several
crnn-ocr commands (variants), each after its own ``--``, are interleaved in the same rounds.

Usage:
    python scripts/bench_pages.py --pages build/pages30 --rounds 3 -- \\
        crnn-ocr build/pages30 --det build/ppocrv4-det.xml --cls build/ppocr-cls.xml \\
        --rec build/ppocrv4-rec.xml --output {out} [-- crnn-ocr ... (another variant)]
(``{out}`` is replaced by a new file in a temporary folder each run.)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def page_files(folder: Path) -> list[Path]:
    """The page images of a page set, sorted (``page_*.png`` of scripts/make_pages.py)."""
    return sorted(folder.glob("page_*.png"))


def rapidocr_only(folder: Path, out: Path) -> None:
    """RapidOCR over every page of ``folder``, one JSONL line per page to ``out``."""
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR()
    lines = []
    for path in page_files(folder):
        result, _ = engine(str(path))
        boxes = [{"points": [[float(x), float(y)] for x, y in pts], "text": text,
                  "confidence": float(score)} for pts, text, score in (result or [])]
        lines.append(json.dumps({"page": path.name, "boxes": boxes}) + "\n")
    out.write_text("".join(lines), encoding="utf-8")


def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (user + system, its threads and children) seconds of one process; raises
    SystemExit with its output when it fails."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        sys.exit(f"Error: {' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def summary(name: str, seconds: list[float], pages: int) -> str:
    med = statistics.median(seconds)
    return (f"{name}: median {med:.2f} s ({pages / med:.2f} pages/s), range {min(seconds):.2f}-"
            f"{max(seconds):.2f} s, rounds {', '.join(f'{s:.2f}' for s in seconds)}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    own = argv[:argv.index("--")] if "--" in argv else argv
    commands: list[list[str]] = []
    for a in argv[len(own):]:
        if a == "--":
            commands.append([])
        else:
            commands[-1].append(a)
    commands = [c for c in commands if c]
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pages", type=Path, required=True, help="folder of page_*.png")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rapidocr-only", type=Path, metavar="OUT",
                    help="(internal) run RapidOCR over --pages, write JSONL to OUT, exit")
    args = ap.parse_args(own)
    if args.rapidocr_only:
        rapidocr_only(args.pages, args.rapidocr_only)
        return 0
    if not commands or args.rounds < 1:
        ap.error("give the crnn-ocr command after '--' (with {out}), and --rounds >= 1")
    pages = len(page_files(args.pages))
    print(f"{pages} pages in {args.pages}; CPU: {_cpu()}; {os.cpu_count()} cores")
    names = ["crnn-ocr" if k == 0 else f"crnn-ocr#{k + 1}" for k in range(len(commands))]
    for name, cmd in zip(names, commands):
        print(f"{name}: {' '.join(cmd)}")
    runs = dict(zip(names, commands))
    runs["RapidOCR"] = [sys.executable, __file__, "--pages", str(args.pages), "--rapidocr-only",
                        "{out}"]
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = list(runs) if r % 2 == 0 else list(runs)[::-1]
            for name in order:
                out = Path(tmp) / f"{name.replace('#', '-')}-{r}.jsonl"
                load = os.getloadavg()[0]
                seconds, cpu_s = timed([a.replace("{out}", str(out)) for a in runs[name]])
                times[name].append(seconds)
                cpu[name].append(cpu_s)
                print(f"round {r + 1} {name}: {seconds:.2f} s, CPU {cpu_s:.2f} s (load average "
                      f"before: {load:.2f})", flush=True)
    for name, seconds in times.items():
        print(summary(name, seconds, pages) + f"; CPU median {statistics.median(cpu[name]):.2f} s")
    for name in names:
        ratio = statistics.median(times["RapidOCR"]) / statistics.median(times[name])
        cpu_ratio = statistics.median(cpu["RapidOCR"]) / statistics.median(cpu[name])
        print(f"{name} / RapidOCR pages/s (ratio of medians): {ratio:.2f}x; CPU seconds: "
              f"{cpu_ratio:.2f}x fewer")
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())
