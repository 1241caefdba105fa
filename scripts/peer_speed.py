"""One peer recognizer as users run it, in its own process: RapidOCR's ``TextRecognizer`` or
EasyOCR's ``Reader.recognize`` at their defaults, over the files of a gt.txt, file decode included.

Prints ``PEER images/s N`` (wall clock from the first file read to the last result; start-up
and a warm-up on the first 8 files not included, as crnn-recognize's summary line) and the
word accuracy. Run it interleaved with crnn-recognize (docs/PERFORMANCE.md, "As users run it").

* ``rapidocr``: rapidocr-onnxruntime 1.4.4's ``TextRecognizer`` with its packaged config
  (``rec_batch_num`` 6, sorted by aspect ratio, each batch padded to its widest image, ONNX
  Runtime's default threads), ``cv2.imread`` of every file, then one call with the whole list;
* ``easyocr``: EasyOCR 1.7.2 ``Reader(['en'], detector=False)`` (``quantize=True``, its
  default) on weights/english_g2.pth, ``reader.recognize(path)`` per file (its API takes one
  image; it reads the file itself).

Usage: python scripts/peer_speed.py rapidocr --gt ../shared/assets/eval_iiit5k_3000/gt.txt

The runs of docs/PERFORMANCE.md ("As users run it") used it; ``crnn-bench peers`` (bench/) now
runs ours and the peers in one command.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("peer", choices=("rapidocr", "easyocr"))
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--weights-dir", default="weights")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE.parent))
    from crnn_deploy.bench import oracles
    from crnn_deploy.postprocess.metrics import normalize_standard

    lines = [ln.partition("\t") for ln in args.gt.read_text(encoding="utf-8").splitlines() if ln.strip()]
    rows = [(rel, lab) for rel, _, lab in lines][:args.limit]
    paths = [args.gt.parent / rel for rel, _ in rows]
    if args.peer == "rapidocr":
        import cv2

        rec = oracles.rapidocr_recognizer()

        def run(ps):
            return [t for t, _ in rec([cv2.imread(str(p)) for p in ps])[0]]
    else:
        reader = oracles.easyocr_reader(args.weights_dir, quantize=True)

        def run(ps):
            return [t for t, _ in oracles.recognize_files(reader, ps)]
    run(paths[:8])
    start = time.perf_counter()
    texts = run(paths)
    wall = time.perf_counter() - start
    right = sum(normalize_standard(t) == normalize_standard(g) for t, (_, g) in zip(texts, rows))
    print(f"{args.peer} images/s {len(paths) / wall:.1f} ({len(paths)} files in {wall:.1f} s); "
          f"word accuracy {100 * right / len(rows):.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
