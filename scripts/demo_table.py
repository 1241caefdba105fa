"""Print the demo's summary table from result folders written by crnn-infer + crnn-postprocess.

Usage: python scripts/demo_table.py RESULT_DIR [RESULT_DIR ...]
Each RESULT_DIR holds summary.json (backend, throughput in images/s, latency_ms) and
accuracy.json (word_accuracy in 0..1, correct, total).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path


def main(dirs: list[str]) -> int:
    print(f"\n{'backend':<12} {'engine':<28} {'word accuracy':>20} {'images/s':>10} {'median ms':>10}")
    for d in map(Path, dirs):
        summary = json.loads((d / "summary.json").read_text())
        acc = json.loads((d / "accuracy.json").read_text())
        words = f"{100 * acc['word_accuracy']:.2f}% ({acc['correct']}/{acc['total']})"
        print(f"{summary['backend']:<12} {Path(summary['engine']).name:<28} {words:>20} "
              f"{summary['throughput']:>10.1f} {summary['latency_ms']['median']:>10.2f}")
    print("images/s: engine compute only (bare inference calls), batch", summary["batch_size"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
