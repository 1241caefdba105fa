"""Formatting helpers of the report, and lookups in the ``results`` dict (see :mod:`bench.report`).

``num``/``pct`` print None as ``n/a``; ``table`` makes a GitHub markdown table;
``process_header`` heads the report of a whole-process comparison (``peers``, ``pages``).
"""
from __future__ import annotations

import statistics
from typing import Sequence

DATASETS = (("iiit5k", "IIIT5K"), ("svt", "SVT"), ("ic03", "IC03"), ("ic13", "IC13"))


def num(x, digits: int = 1, unit: str = "") -> str:
    return "n/a" if x is None else f"{x:,.{digits}f}{unit}"


def pct(x, digits: int = 2) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f} %"


def verdict(ok) -> str:
    return "n/a" if ok is None else ("**met**" if ok else "**not met**")


def table(head: Sequence[str], rows: Sequence[Sequence], align: str | None = None) -> str:
    """A GitHub markdown table; ``align`` is one char per column (l/r), default first left."""
    align = align or "l" + "r" * (len(head) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(map(str, head)) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def point(results: dict, variant: str, batch: int) -> dict | None:
    for p in results.get("throughput", []):
        if p["variant"] == variant and p["batch"] == batch:
            return p
    return None


def acc_of(results: dict, variant: str, dataset: str) -> dict | None:
    for a in results.get("accuracy", []):
        if a["variant"] == variant and a["dataset"] == dataset:
            return a
    return None


def label_of(results: dict, key: str) -> str:
    for v in results.get("variants", []):
        if v["key"] == key:
            return v["label"]
    return key


def median(values: Sequence[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def process_header(title: str, res: dict) -> list[str]:
    """The first lines of a whole-process comparison's markdown: ``### title``, the command in a
    code block, then the date, duration, CPU (:func:`bench.peak.describe`) and the load average
    before and after, from a :func:`bench.rounds.run_record` (``res``)."""
    return [f"### {title}", "", "```", res["command"], "```", "",
            f"Run {res['date']} ({res['minutes']} min) on {res['cpu']}. Load average (1 min) "
            f"before {res['load'][0]}, after {res['load'][1]}; \"others' CPU share\": median "
            "share of the CPUs other processes used during each row's runs (bench.load).", ""]
