#!/usr/bin/env python
"""EasyOCR 1.7.2's own recognizer as the oracle: its text and confidence for every word of a gt.txt.

Runs ``easyocr.Reader(['en'], gpu=False, detector=False, quantize=...).recognize(path)``, one
call per image (a word crop is one whole-image box), exactly as EasyOCR's docs show for crops,
and writes ``relpath<TAB>text<TAB>confidence`` per line of ``--gt`` (input order) to
``--output`` (temp + rename; never over an input). Offline: EasyOCR reads ``english_g2.pth`` from
``--weights-dir`` (``make weights``) with ``download_enabled=False``.

EasyOCR is a test-only install, never a dependency of the product (``make oracle``):
``pip install --no-deps easyocr==1.7.2`` plus the modules its recognizer imports
(opencv-python-headless, scipy, scikit-image, python-bidi, PyYAML). It imports torchvision, whose
PyPI wheels are CUDA builds that pull another torch; its recognizer uses only
``torchvision.transforms.ToTensor`` (``easyocr/recognition.py``, ``NormalizePAD``), so
:func:`crnn_deploy.bench.oracles.install_torchvision_stand_in` puts a minimal ``torchvision``
module in ``sys.modules`` that provides exactly that (torchvision's ``to_tensor`` for 8-bit
images: HWC uint8 -> CHW float32 / 255) and an empty ``torchvision.models`` (imported by
``easyocr/model/modules.py``, used only by the CRAFT detector, which ``detector=False`` never
builds). The reader and the stand-in live in :mod:`crnn_deploy.bench.oracles` (shared with
``crnn-bench peers``); this script writes the oracle TSV that ``crnn-bench same easyocr`` reads.

    python scripts/easyocr_oracle.py --gt ../shared/assets/eval_iiit5k_3000/gt.txt \\
        --output build/easyocr_oracle/iiit5k.tsv
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from crnn_deploy.bench.oracles import easyocr_reader, install_torchvision_stand_in, recognize_files  # noqa: F401


def read_gt(gt: str | Path, limit: int | None = None) -> list[tuple[str, str]]:
    """(relpath, label) per line of a ``relpath<TAB>label`` file (the assets' gt.txt)."""
    rows = []
    for line in Path(gt).read_text(encoding="utf-8").splitlines():
        if line.strip():
            rel, _, label = line.partition("\t")
            rows.append((rel, label))
    return rows[:limit] if limit else rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gt", required=True, help="relpath<TAB>label file; images beside it")
    ap.add_argument("--output", required=True, help="TSV to write: relpath, text, confidence")
    ap.add_argument("--weights-dir", default="weights", help="folder of english_g2.pth")
    ap.add_argument("--quantize", action="store_true",
                    help="EasyOCR's CPU default (torch dynamic INT8); the oracle runs without")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    ap.add_argument("--limit", type=int, default=None, help="first N lines only")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    gt, out = Path(args.gt), Path(args.output)
    if out.resolve() == gt.resolve() or out.exists() and not out.name.endswith(".tsv"):
        print(f"Error: refusing to write {out} (an input, or not a .tsv of this script)",
              file=sys.stderr)
        return 1
    rows = read_gt(gt, args.limit)
    reader = easyocr_reader(args.weights_dir, args.quantize)
    start = time.perf_counter()
    results = recognize_files(reader, [gt.parent / rel for rel, _ in rows])
    seconds = time.perf_counter() - start
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text("".join(f"{rel}\t{text}\t{conf!r}\n"
                           for (rel, _), (text, conf) in zip(rows, results)), encoding="utf-8")
    os.replace(tmp, out)
    print(f"{out}: {len(rows)} words, {len(rows) / seconds:.1f} images/s "
          f"(quantize={args.quantize}, {args.threads} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
