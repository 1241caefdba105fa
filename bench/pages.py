"""``crnn-bench pages``: crnn-ocr against RapidOCR's full pipeline, whole processes, interleaved.

Every row is one whole process over the same page files (interpreter start, imports, engine
loading, page decoding, the pipeline and the JSONL written, all timed, wall clock): ours is
``crnn-ocr DIR -q -o OUT.jsonl [OPTIONS]`` (one row per ``--ours``), RapidOCR is ``python -m
crnn_deploy.bench.oracles rapidocr-pages`` (:mod:`bench.oracles`: ``RapidOCR()`` at its defaults,
one ``engine(path)`` per page in sorted order). Rounds are interleaved, the order reversed every
other round (:func:`bench.rounds.alternate`). Reported per row: seconds per round, median
pages/s and range, the ratio of medians to RapidOCR's, the CPU seconds (user + system) of the
process (the share of a loaded machine a process gets varies, its CPU time much less) and
RapidOCR's over ours, the boxes of the last round, the share of the CPUs others used.
"""
from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import Callable

from crnn_deploy.bench import rounds
from crnn_deploy.bench.report.fmt import process_header
from crnn_deploy.common.errors import UserError

__all__ = ["page_files", "run_pages", "render_pages"]

PEER_LABEL = "`RapidOCR()` 1.4.4, defaults"


def page_files(folder: Path) -> list[Path]:
    """The page images of a page set (``page_*.png`` of scripts/make_pages.py), sorted.

    Raises:
        UserError: ``folder`` is not a folder, or holds no ``page_*.png``."""
    if not folder.is_dir():
        raise UserError(f"--pages {folder}: folder not found")
    pages = sorted(folder.glob("page_*.png"))
    if not pages:
        raise UserError(f"--pages {folder}: no page_*.png in it (a page set of "
                        "scripts/make_pages.py is expected)")
    return pages


def _boxes(path: Path, pages: int, label: str) -> int:
    """Boxes in a page JSONL written by one row's process, checking it has one line per page.

    Raises:
        UserError: another number of lines (crnn-ocr read other images in the folder)."""
    import json

    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if len(lines) != pages:
        raise UserError(f"{label}: wrote {len(lines)} pages to {path}, the folder has {pages} "
                        "page_*.png: give a folder holding only the page set")
    return sum(len(json.loads(ln)["boxes"]) for ln in lines)


def run_pages(p: dict, log: Callable[[str], None]) -> dict:
    """Measure: ``p`` holds pages (folder), rounds, ours (list of crnn-ocr option strings, ""
    for the defaults), workdir, command. Returns the JSON-ready result :func:`render_pages`
    renders (rows: ours in order, RapidOCR last; seconds, cpu_seconds and rates per round).

    Raises:
        UserError: a missing folder or one without page_*.png, an --ours that is not valid
            shell words, a process that fails (its stderr's end), or a process that wrote
            another number of pages than the folder's page_*.png."""
    folder, workdir = Path(p["pages"]), Path(p["workdir"])
    paths = page_files(folder)
    workdir.mkdir(parents=True, exist_ok=True)
    listing = workdir / "pages.txt"
    listing.write_text("".join(f"{x.resolve()}\n" for x in paths), encoding="utf-8")
    rows, runners = [], {}
    for k, item in enumerate(p["ours"]):
        try:
            args = shlex.split(item)
        except ValueError as exc:
            raise UserError(f"--ours {item!r}: {exc}") from None
        out = workdir / f"pages_ours{k}.jsonl"
        cmd = [rounds.console_script("crnn-ocr"), str(folder), "-q", "-o", str(out), *args]
        rows.append({"name": f"ours{k}", "label": shlex.join(["crnn-ocr", *args]), "out": str(out),
                     "defaults": not args})
        runners[f"ours{k}"] = rounds.process_runner(cmd, out, len(paths))
    out = workdir / "pages_rapidocr.jsonl"
    cmd = [sys.executable, "-m", "crnn_deploy.bench.oracles", "rapidocr-pages", "--list",
           str(listing), "--output", str(out)]
    rows.append({"name": "rapidocr", "label": PEER_LABEL, "out": str(out)})
    runners["rapidocr"] = rounds.process_runner(cmd, out, len(paths))
    load_before = rounds.load_average()
    t0 = time.time()
    runs = rounds.interleave(runners, p["rounds"], log, order=rounds.alternate)
    for row in rows:
        done = runs[row["name"]]
        row["seconds"] = [r["seconds"] for r in done]
        row["cpu_seconds"] = [r["cpu_seconds"] for r in done]
        row["rates"] = [r["rate"] for r in done]
        row["time"], row["cpu"] = rounds.spread(row["seconds"]), rounds.spread(row["cpu_seconds"])
        row["foreign"] = rounds.spread([r["foreign"] for r in done])
        row.update(rounds.spread(row["rates"]))
        row["boxes"] = _boxes(Path(row["out"]), len(paths), row["label"])
    return {**rounds.run_record(p["command"], t0, load_before), "pages": len(paths),
            "folder": str(folder), "rounds": p["rounds"], "rows": rows}


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a and b else "?"


def render_pages(res: dict) -> str:
    """The markdown of a :func:`run_pages` result: the command, date, CPU and load, then one
    table row per process (seconds per round, median seconds and range, median pages/s, the
    ratio of medians to RapidOCR, median CPU seconds and RapidOCR's over the row's, boxes)."""
    peer = res["rows"][-1]
    n = res["rounds"]
    head = ["how", *[f"round {k + 1} s" for k in range(n)], "median s (range)",
            "median pages/s", "x RapidOCR", "CPU s (range)", "x fewer CPU s", "boxes",
            "others' CPU share"]
    lines = [*process_header(f"pages: {res['pages']} page_*.png of `{res['folder']}`, {n} "
                             "interleaved rounds", res),
             "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for row in res["rows"]:
        t, c, f = row["time"], row["cpu"], row["foreign"]["median"]
        label = row["label"] if row is peer else f"`{row['label']}`"
        cells = [label + (" (defaults)" if row.get("defaults") else ""),
                 *[f"{s:.2f}" for s in row["seconds"]],
                 f"{t['median']:.2f} ({t['low']:.2f}-{t['high']:.2f})",
                 f"**{row['median']:.2f}**", _ratio(row["median"], peer["median"]),
                 f"{c['median']:.1f} ({c['low']:.1f}-{c['high']:.1f})",
                 _ratio(peer["cpu"]["median"], c["median"]), str(row["boxes"]),
                 f"{f:.2f}" if f is not None else "?"]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Whole processes, wall clock: interpreter start, imports, engine loading, page "
              "decoding, the pipeline and the JSONL written. pages/s = pages / seconds of a "
              "round; x RapidOCR: ratio of the medians. CPU s: user + system seconds of the "
              "process and its children (`resource.getrusage`); x fewer CPU s: RapidOCR's "
              "median over the row's. Boxes: in the last round's JSONL.", ""]
    return "\n".join(lines)
