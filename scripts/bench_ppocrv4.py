"""PP-OCRv4 speed: crnn-recognize's Recognizer against RapidOCR's TextRecognizer, side by side.

One run, same files, file decode included, 2 inference threads each:

* RapidOCR 1.4.4 ``TextRecognizer`` at its defaults (``rec_batch_num`` 6, sorted by aspect ratio,
  each batch padded to its widest image), ``intra_op_num_threads`` 2: ``cv2.imread`` of every
  file, then one call with the whole list;
* crnn-deploy :class:`crnn_deploy.Recognizer` on ENGINE (``threads=2``), batches grouped by
  width: ``bucket`` (same bucket width, the default) and ``widest`` (sorted, padded to the
  widest image of the batch, RapidOCR's way), with the padding share of each (padded columns /
  all columns run, from the images' sizes: :func:`runtime.widths.padding_share`).

Usage: python scripts/bench_ppocrv4.py --engine build/ppocrv4-rec.xml --precision bf16 \\
           --gt ../shared/assets/eval_iiit5k_3000/gt.txt [--limit N] [--batch 16]
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _compare():
    spec = importlib.util.spec_from_file_location("compare_rapidocr", HERE / "compare_rapidocr.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def padding(spec, paths: list[Path], batch: int, policy: str, group: int | None = None) -> float:
    """Padded share of the columns run under ``policy``, in groups of ``group`` images (default:
    as the Recognizer forms them)."""
    from PIL import Image

    from crnn_deploy.pipeline.feeder import group_size
    from crnn_deploy.preprocess.transform import keep_ratio_widths
    from crnn_deploy.runtime.widths import padding_share, plan_widths

    sizes = []
    for p in paths:
        with Image.open(p) as im:
            sizes.append(keep_ratio_widths(im.size, spec))
    g = group or group_size(spec, batch)
    plans, content, widths = [], [], []
    for start in range(0, len(sizes), g):
        part = sizes[start:start + g]
        off = len(widths)
        widths += [b for _, b in part]
        content += [r for r, _ in part]
        plans += [([off + k for k in pos], w) for pos, w in plan_widths([b for _, b in part], batch, policy)]
    return padding_share(widths, plans, content)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default=None, help="OpenVINO precision hint (f32, bf16)")
    args = ap.parse_args(argv)
    import cv2

    from crnn_deploy import Recognizer
    from crnn_deploy.pipeline.recognizer import recognize_stream

    cmp = _compare()
    rows = cmp.read_gt(args.gt, args.limit)
    paths = [p for p, _ in rows]
    rec = cmp.rapidocr_recognizer(args.threads)
    rec([cv2.imread(str(paths[0]))])  # warm-up
    start = time.perf_counter()
    theirs, _ = rec([cv2.imread(str(p)) for p in paths])
    t_rapid = time.perf_counter() - start
    with Recognizer(args.engine, args.batch, threads=args.threads, precision=args.precision) as r:
        out = [("RapidOCR TextRecognizer (defaults: batch 6, sorted, pad to widest)", t_rapid,
                padding(r.spec, paths, 6, "widest", len(paths)), None)]
        for policy in ("bucket", "widest"):  # warm-up: OpenVINO compiles per new input shape
            list(recognize_stream(r.backend, [str(p) for p in paths[:128]], r.batch_size,
                                  width_policy=policy))
        for policy in ("bucket", "widest"):
            start = time.perf_counter()
            texts = [row[2] for row in recognize_stream(r.backend, [str(p) for p in paths], r.batch_size,
                                                        width_policy=policy)]
            wall = time.perf_counter() - start
            same = sum(a == b[0] for a, b in zip(texts, theirs))
            out.append((f"crnn-deploy Recognizer {args.engine.name} {args.precision or ''}, "
                        f"batch {r.batch_size}, {policy}", wall,
                        padding(r.spec, paths, r.batch_size, policy), same))
    print(f"{len(paths)} files, {args.threads} inference threads each, file decode included")
    print("| runner | images/s | wall s | padding share | same text as RapidOCR (batched) |")
    print("| --- | --- | --- | --- | --- |")
    for name, wall, share, same in out:
        print(f"| {name} | {len(paths) / wall:.1f} | {wall:.1f} | "
              f"{'' if share is None else f'{share:.1%}'} | {'' if same is None else same} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
