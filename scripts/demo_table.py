"""Print the demo's summary table from result folders written by crnn-infer + crnn-postprocess.

Usage: python scripts/demo_table.py RESULT_DIR [RESULT_DIR ...]

Each RESULT_DIR holds summary.json (backend, engine, throughput in images/s, latency_ms,
batch_size), meta.json (the model spec, output_shape of one result file) and accuracy.json
(word_accuracy in 0..1, correct, total). Per folder it prints the model, its input sample
(float32 (1, C, H, W) and its size in bytes, 4*C*H*W), one result file (shape and the size in
bytes of the first ``test_*_0.bin`` found, as written), word accuracy, images/s (engine compute
only) and the median latency per batch (ms). Exits 1 with a message if a file is missing.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HEAD = ("model", "backend", "engine", "input bin", "result file", "word accuracy",
        "images/s", "median ms")


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SystemExit(f"Error: cannot read {path}: {exc}") from None


def row(folder: Path) -> tuple[str, ...]:
    """The table cells of one result folder."""
    summary, meta = _read(folder / "summary.json"), _read(folder / "meta.json")
    acc = _read(folder / "accuracy.json")
    spec = meta["spec"]
    c, h, w = spec["input_shape"]
    first = next(iter(sorted(folder.glob("test_*_0.bin"))), None)
    size = f"{first.stat().st_size:,} B" if first else "no .bin"
    shape = "x".join(str(d) for d in meta["output_shape"])
    words = f"{100 * acc['word_accuracy']:.2f}% ({acc['correct']}/{acc['total']})"
    return (spec["name"], summary["backend"], Path(summary["engine"]).name,
            f"1x{c}x{h}x{w} {4 * c * h * w:,} B", f"{shape} {size}", words,
            f"{summary['throughput']:.1f}", f"{summary['latency_ms']['median']:.2f}")


def main(dirs: list[str]) -> int:
    if not dirs:
        raise SystemExit(__doc__.split("\n\n")[1])
    rows = [row(Path(d)) for d in dirs]
    widths = [max(len(r[i]) for r in (HEAD, *rows)) for i in range(len(HEAD))]
    left = 5  # the text columns; numbers are right-aligned
    print()
    for r in (HEAD, *rows):
        print("  ".join(x.ljust(wd) if i < left else x.rjust(wd)
                        for i, (x, wd) in enumerate(zip(r, widths))).rstrip())
    batch = _read(Path(dirs[-1]) / "summary.json")["batch_size"]
    print(f"images/s: engine compute only (bare inference calls), batch {batch}; "
          "word accuracy: case-insensitive, [0-9a-z]")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
