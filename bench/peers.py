"""``crnn-bench peers``: ours against a peer, whole processes as users run them, interleaved rounds.

Every row is one whole process on the same image files (start-up, file decode, preprocessing,
inference, decoding and writing the rows all timed, wall clock): ours is ``crnn-recognize
--engine ENGINE [OPTIONS] --list FILES -o ROWS.tsv`` (one row per ``--ours``), the peer is
``python -m crnn_deploy.bench.oracles PEER`` (:mod:`bench.oracles`: RapidOCR's TextRecognizer or
EasyOCR's ``Reader.recognize`` at their defaults). Rounds are interleaved
(:func:`bench.rounds.interleave`); images/s per round, median and range, ratio of medians to
the peer's; word accuracy (case-insensitive alphanumeric) and words with the peer's exact text
from the last round's rows; the roofline of each row (:mod:`bench.roofline`) against the
peak at the clock the CPU reports and at the clock measured in the same rounds
(:mod:`bench.clock`), and what OpenVINO's GEMM attains then (:mod:`bench.ceiling`).
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Callable

from crnn_deploy.bench import ceiling, clock
from crnn_deploy.bench.peak import peak_gflops, this_cpu
from crnn_deploy.bench.report.fmt import process_header
from crnn_deploy.bench.roofline import (
    ROOFLINE_HEADERS,
    batch_widths,
    fmt_roofline,
    image_widths,
    roofline_row,
)
from crnn_deploy.bench.rounds import (
    console_script,
    interleave,
    load_average,
    process_runner,
    run_record,
    spread,
)
from crnn_deploy.common.errors import UserError

__all__ = ["PEERS", "run_peers", "render_peers"]

#: peer -> (label, how its batches are padded: (policy, batch) of runtime.widths.plan_widths)
PEERS = {"rapidocr": ("RapidOCR 1.4.4 TextRecognizer, defaults (rec_batch_num 6)", ("widest", 6)),
         "easyocr": ("EasyOCR 1.7.2 Reader.recognize, defaults (quantize=True), 1 image/call",
                     ("bucket", 1))}


def read_rows(path: Path) -> dict[str, str]:
    """path -> text of a rows TSV (crnn-recognize's, header skipped, or an oracle's)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0] != "path":
            out[parts[0]] = parts[1]
    return out


def _precision(options: list[str], engine: Path, cpu: dict) -> str:
    """The peak a row is measured against: int8 for an INT8 engine, else --precision (auto:
    bf16 where the CPU has avx512_bf16), default f32."""
    if "int8" in engine.stem:
        return "int8"
    p = options[options.index("--precision") + 1] if "--precision" in options[:-1] else "f32"
    if p == "auto":
        return "bf16" if "avx512_bf16" in cpu["flags"] else "f32"
    return "bf16" if p in ("bf16", "f16") else "f32"


def run_peers(p: dict, log: Callable[[str], None]) -> dict:
    """Measure: ``p`` holds gt, limit, rounds, ours (list of "ENGINE [OPTIONS]"), peer,
    weights_dir, workdir, command. Returns the JSON-ready result :func:`render_peers` renders.

    Raises:
        UserError: a missing GT file or engine, an ONNX for the FLOP count not found, or a
            process that fails (its stderr's end)."""
    from crnn_deploy.models.specs import spec_from_arg

    gt, workdir = Path(p["gt"]), Path(p["workdir"])
    if not gt.is_file():
        raise UserError(f"--gt {gt}: file not found")
    lines = [ln.split("\t") for ln in gt.read_text(encoding="utf-8").splitlines() if ln.strip()]
    lines = lines[:p["limit"]] if p["limit"] else lines
    paths = [str((gt.parent / rel).resolve()) for rel, *_ in lines]
    labels = dict(zip(paths, [parts[1] if len(parts) > 1 else "" for parts in lines]))
    workdir.mkdir(parents=True, exist_ok=True)
    listing = workdir / "files.txt"
    listing.write_text("".join(x + "\n" for x in paths), encoding="utf-8")
    cpu = this_cpu()
    rows, runners = [], {}
    for k, item in enumerate(p["ours"]):
        args = shlex.split(item)
        engine = Path(args[0])
        onnx = engine if engine.suffix == ".onnx" else engine.with_suffix(".onnx")
        if not engine.exists() or not onnx.is_file():
            raise UserError(f"--ours {item!r}: need {engine} and {onnx} (the FLOP count's graph)")
        out = workdir / f"ours{k}.tsv"
        cmd = [console_script("crnn-recognize"), "--engine", str(engine), *args[1:], "--list",
               str(listing), "-o", str(out)]
        rows.append({"name": f"ours{k}", "label": "crnn-recognize --engine " + item,
                     "engine": str(engine), "onnx": str(onnx), "out": str(out),
                     "precision": _precision(args[1:], engine, cpu)})
        runners[f"ours{k}"] = process_runner(cmd, out, len(paths))
    label, padding = PEERS[p["peer"]]
    out = workdir / "peer.tsv"
    cmd = [sys.executable, "-m", "crnn_deploy.bench.oracles", p["peer"], "--list", str(listing),
           "--output", str(out), "--weights-dir", str(p["weights_dir"])]
    rows.append({"name": "peer", "label": label, "out": str(out), "precision": "f32",
                 "onnx": rows[0]["onnx"], "peer_padding": padding})
    runners["peer"] = process_runner(cmd, out, len(paths))
    gemm = [pr for pr in ceiling.PRECISIONS if any(r["precision"] == pr for r in rows)]
    if ceiling.available() and cpu.get("cores"):  # what a GEMM attains, in the same rounds
        runners.update({f"gemm-{pr}": ceiling.ceiling_runner(pr, cpu["cores"]) for pr in gemm})
    if clock.available():  # the clock the cores run at, in the same rounds
        runners["clock"] = lambda: {"rate": clock.measured_ghz() or 0.0}
    load_before = load_average()
    t0 = time.time()
    runs = interleave(runners, p["rounds"], log)
    peer_rows = read_rows(Path(rows[-1]["out"]))
    spec = spec_from_arg(rows[0]["onnx"])
    widths = image_widths(paths, spec)
    ceilings = {pr: spread([r["rate"] for r in runs[f"gemm-{pr}"]])
                for pr in gemm if f"gemm-{pr}" in runs}
    ghz = spread([r["rate"] or None for r in runs.get("clock", [])])
    # the fastest round's clock: a slower one is a moment the thread was not running
    measured_cpu = {**cpu, "ghz": ghz["high"]} if ghz["high"] else None
    for row in rows:
        row["rates"] = [r["rate"] for r in runs[row["name"]]]
        row["foreign"] = spread([r["foreign"] for r in runs[row["name"]]])
        row.update(spread(row["rates"]))
        texts = read_rows(Path(row["out"]))
        row["accuracy"] = _accuracy(texts, labels)
        row["same_as_peer"] = sum(texts.get(x) == peer_rows.get(x) for x in paths)
        policy, batch = row.get("peer_padding", ("bucket", 16))
        run = batch_widths([b for _, b in widths], batch, policy)
        row["roofline"] = roofline_row(row["onnx"], spec, widths, run, row["median"],
                                       row["precision"], cpu,
                                       peak_gflops(measured_cpu, row["precision"])
                                       if measured_cpu else None)
    return {**run_record(p["command"], t0, load_before), "images": len(paths), "gt": str(p["gt"]),
            "rounds": p["rounds"], "peer": p["peer"], "rows": rows, "clock": ghz,
            "ceilings": {pr: {**c, "peak": peak_gflops(measured_cpu, pr) if measured_cpu else None}
                         for pr, c in ceilings.items()}}


def _accuracy(texts: dict[str, str], labels: dict[str, str]) -> float:
    from crnn_deploy.postprocess.metrics import normalize_standard

    return sum(normalize_standard(texts.get(x, "")) == normalize_standard(y)
               for x, y in labels.items()) / max(1, len(labels))


def render_peers(res: dict) -> str:
    """The markdown of a :func:`run_peers` result: the command, date, CPU and load, then one
    table row per process (images/s per round, median, range, ratio to the peer, accuracy,
    same text as the peer, roofline)."""
    peer = res["rows"][-1]
    n = res["rounds"]
    head = (["how", *[f"round {k + 1}" for k in range(n)], "median images/s", "range",
             "x peer", "word accuracy", "same text as peer", *ROOFLINE_HEADERS, "others' CPU share"])
    lines = [*process_header(f"{res['peer']}: {res['images']} files of `{res['gt']}`, {n} "
                             "interleaved rounds", res),
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in res["rows"]:
        ratio = row["median"] / peer["median"] if row["median"] and peer["median"] else None
        cells = [row["label"] if row["name"] == "peer" else f"`{row['label']}`",
                 *[f"{r:.1f}" for r in row["rates"]], f"**{row['median']:.1f}**",
                 f"{row['low']:.1f}-{row['high']:.1f}", f"{ratio:.2f}" if ratio else "?",
                 f"{row['accuracy'] * 100:.2f} %", f"{row['same_as_peer']} / {res['images']}",
                 *fmt_roofline(row["roofline"]),
                 f"{row['foreign']['median']:.2f}" if row["foreign"]["median"] is not None else "?"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "GFLOP per image: counted from the ONNX graph (Conv, MatMul/Gemm, LSTM/GRU; "
              "2 x MAC; `bench.flops`) at the width each image ran at (padded: ours in batches "
              "of the same bucket width, RapidOCR sorted and padded to the widest of 6) and, in "
              "brackets, at each word's own width. GFLOP/s = padded GFLOP per image x images/s "
              "of the whole process (start-up and file decode included: a lower bound of the "
              "engine's). Peak: physical cores x clock x FLOP per cycle of this CPU at the "
              "row's precision (`bench.peak`, its table and sources); the ceiling is the images/s "
              "at that peak. The peers' rows are counted on our graph of the same model at "
              "their widths (EasyOCR's quantize=True runs its LSTM and Linear layers in int8: "
              "its f32 peak is a simplification).", ""]
    return "\n".join(lines + _measured_note(res.get("clock") or {}, res.get("ceilings") or {}))


def _measured_note(ghz: dict, ceilings: dict) -> list[str]:
    """The footnote on the measured clock and what OpenVINO's GEMM attains at each precision."""
    out = []
    if ghz.get("high"):
        out.append(f"Measured clock (`bench.clock`: a chain of dependent additions, one per "
                   f"cycle, timed once per round): {ghz['high']:.2f} GHz (rounds "
                   f"{ghz['low']:.2f}-{ghz['high']:.2f}); \"peak at measured clock\" = physical "
                   "cores x that clock x the FLOP per cycle above, and \"of measured peak\" is "
                   "the fraction to read where the CPU reports a lower clock than it runs at.")
    if ceilings:
        each = "; ".join(
            f"{pr} {c['high']:.0f} GFLOP/s (rounds {c['low']:.0f}-{c['high']:.0f}"
            + (f", {c['high'] / c['peak'] * 100:.0f} % of the measured peak" if c.get("peak")
               else "") + ")" for pr, c in ceilings.items())
        out.append(f"What a library attains (`bench.ceiling`: OpenVINO MatMul {ceiling.SIZE}^3 "
                   "at the row's precision, one one-thread stream per physical core, once per "
                   f"round, the highest round): {each}.")
    return [line for note in out for line in (note, "")]
