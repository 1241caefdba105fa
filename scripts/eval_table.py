"""Word accuracy of one model on the four benchmarks with several engines: a Markdown table.

Runs ``crnn-eval`` (the fused path, as a user would) for every engine x set and reads each
run's ``accuracy.json``; the LMDBs are built once with ``crnn-preprocess build-lmdb`` under
``--workdir``. Accuracy is the standard protocol (case-insensitive alphanumeric word accuracy).

Usage: python scripts/eval_table.py --assets ../shared/assets --workdir build/table \\
           --engine "ORT f32=build/ppocrv4-rec.onnx" \\
           --engine "OpenVINO f32=build/ppocrv4-rec.xml" \\
           --engine "OpenVINO bf16=build/ppocrv4-rec.xml:--precision bf16"
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

SETS = {"IIIT5K": "eval_iiit5k_3000", "SVT": "eval_svt_647", "IC03": "eval_ic03_860",
        "IC13": "eval_ic13_857"}
BIN = Path(sys.executable).parent


def run(*cmd) -> None:
    print("$", " ".join(map(str, cmd)), file=sys.stderr)
    subprocess.run([str(c) for c in cmd], check=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=Path, required=True)
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--engine", action="append", required=True,
                    help="NAME=ENGINE[:extra crnn-eval options]")
    args = ap.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    for folder in SETS.values():
        lmdb = args.workdir / f"{folder}.lmdb"
        if not lmdb.exists():
            run(BIN / "crnn-preprocess", "build-lmdb", "--gt", args.assets / folder / "gt.txt",
                "--output", lmdb)
    results: dict[str, dict[str, dict]] = {}
    for item in args.engine:
        name, _, rest = item.partition("=")
        engine, _, extra = rest.partition(":")
        for label, folder in SETS.items():
            out = args.workdir / f"{name.replace(' ', '_')}_{folder}"
            run(BIN / "crnn-eval", "--lmdb", args.workdir / f"{folder}.lmdb", "--engine", engine,
                "--output", out, "--overwrite", *shlex.split(extra))
            acc = json.loads((out / "accuracy.json").read_text())
            summary = json.loads((out / "summary.json").read_text())
            results.setdefault(name, {})[label] = {**acc, "images_per_s": summary.get("throughput")}
    first = next(iter(results.values()))
    print("| engine | " + " | ".join(SETS) + " |")
    print("| --- |" + " --- |" * len(SETS))
    for name, row in results.items():
        cells = []
        for s in SETS:
            acc, ref = row[s]["word_accuracy"], first[s]["word_accuracy"]
            delta = f" ({(acc - ref) * 100:+.2f})" if row is not first else ""
            cells.append(f"{acc * 100:.2f} % ({row[s]['correct']}/{row[s]['total']}){delta}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
