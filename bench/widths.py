"""``crnn-bench widths``: PP-OCRv4 engine settings (precision, batch, widths, padding policy)
against RapidOCR's TextRecognizer, side by side in one process.

One run, same files, file decode included, 2 inference threads each (``--threads 0``: each at
its defaults, ours 2 engine streams):

* RapidOCR 1.4.4 ``TextRecognizer`` at its defaults (``rec_batch_num`` 6, sorted by aspect ratio,
  each batch padded to its widest image), ``intra_op_num_threads`` 2: ``cv2.imread`` of every
  file, then one call with the whole list;
* crnn-deploy: the engine as :class:`crnn_deploy.Recognizer` opens it
  (:func:`pipeline.streams.open_engine`), run by :func:`pipeline.recognizer.recognize_stream`,
  batches grouped by width: ``bucket`` (same bucket width, the default) and ``widest`` (sorted,
  padded to the widest image of the batch, RapidOCR's way), with the padding share of each
  (padded columns / all columns run, zero rows included, from the images' sizes:
  :func:`runtime.widths.padding_share`); one runner for every ``--precision`` (comma-separated),
  ``--batch`` (comma-separated) and ``--widths`` (repeatable: ``dynamic``, one model of dynamic
  width; ``auto`` or ``320,480,...``, OpenVINO static-shape models, one per width), in that
  order. Each is warmed up on the first 128 files and a zero batch at each of its widths
  (compiled once) before it is timed.

With ``--rounds R`` every runner is timed R times, the runners interleaved round by round
(:func:`bench.rounds.round_order`: a change of the machine's load hits them alike), and the
median and range are reported (:func:`bench.rounds.spread`), with the CPU and the load. ``--before`` adds
the engine as it ran before the change that records it in docs/PPOCRV4.md (every batch padded
with zero rows to the full batch; ONNX Runtime's intra-op threads spin-waiting), per precision
and batch; ``--also-spinning`` adds each ONNX Runtime runner with its threads spinning. The two
last columns count the texts equal to the first crnn-deploy row's and to the row of the same
precision, batch and policy with ``widths dynamic`` and the product's settings (the defaults);
``--diffs`` lists the words behind the latter (up to 20 per row). The load average is printed
before and after.

Usage: crnn-bench widths --engine build/ppocrv4-rec.xml --precision bf16 \\
           --gt ../shared/assets/eval_iiit5k_3000/gt.txt [--limit N] [--batch 16] [--before]
       crnn-bench widths --engine build/ppocrv4-rec.xml --precision f32,bf16 \\
           --widths dynamic --widths auto --policies bucket --no-rapidocr --gt ...
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from crnn_deploy.bench.peak import describe, this_cpu
from crnn_deploy.bench.rounds import load_average, round_order, spread


def read_gt(gt: Path, limit: int | None) -> list[tuple[Path, str]]:
    """(image path, label) per line of a ``relpath<TAB>label`` file, the first ``limit``."""
    rows = []
    for line in gt.read_text(encoding="utf-8").splitlines():
        if line.strip():
            rel, _, label = line.partition("\t")
            rows.append((gt.parent / rel, label))
    return rows[:limit] if limit else rows


def padding(spec, paths: list[Path], batch: int, policy: str, group: int | None = None,
            widths=None, rows=None) -> float:
    """Padded share of the columns run under ``policy``, in groups of ``group`` images (default:
    as the Recognizer forms them), each batch padded to the smallest engine width of ``widths``
    that fits (None: any width), zero rows included (``rows(n, batch)``: the rows run for n
    images, :meth:`runtime.base.Backend.batch_rows`; None: n)."""
    from PIL import Image

    from crnn_deploy.pipeline.feeder import group_size
    from crnn_deploy.preprocess.transform import keep_ratio_widths
    from crnn_deploy.runtime.widths import fit_width, padding_share, plan_widths

    sizes = []
    for p in paths:
        with Image.open(p) as im:
            sizes.append(keep_ratio_widths(im.size, spec))
    g = group or group_size(spec, batch)
    plans, content, run = [], [], []
    for start in range(0, len(sizes), g):
        part = sizes[start:start + g]
        off = len(run)
        fitted = [fit_width(b, widths) for _, b in part]
        run += fitted
        content += [r for r, _ in part]
        plans += [([off + k for k in pos], w) for pos, w in plan_widths(fitted, batch, policy)]
    share = padding_share(run, plans, content)
    if rows is None:
        return share
    cols = sum(w * len(pos) for pos, w in plans)  # columns of the image rows; then zero rows
    zero = sum(w * (rows(len(pos), batch) - len(pos)) for pos, w in plans)
    return 1.0 - (1.0 - share) * cols / (cols + zero)


def warm_up(backend, batch: int, paths: list[Path], policies: list[str]) -> None:
    """Compile every engine width once (a zero batch each) and run the first 128 files."""
    import numpy as np

    from crnn_deploy.pipeline.recognizer import recognize_stream

    c, h, _ = backend.spec.input_shape
    for w in backend.widths or ():
        list(backend.infer_many([np.zeros((batch, c, h, w), np.float32)]))
    for policy in policies:
        list(recognize_stream(backend, [str(p) for p in paths[:128]], batch, width_policy=policy,
                              pipelined=backend.pipelined))


def runners(args, stack) -> list[tuple[str, object, int, tuple]]:
    """(name, loaded backend, batch, (precision, widths, spinning)) of every crnn-deploy runner
    asked for (widths None: the ``--before`` runner; spinning "default": the product's)."""
    from crnn_deploy.pipeline.streams import open_engine
    from crnn_deploy.runtime.options import backend_options
    from crnn_deploy.runtime.runner import resolve_batch

    ort = args.engine.suffix.lower() == ".onnx"
    threads = args.threads or None
    out = []
    for precision in (args.precision.split(",") if args.precision else [None]):
        for batch in (int(b) for b in str(args.batch).split(",")):
            if args.before:  # zero rows up to the batch; ONNX Runtime: its threads spinning
                opts = {"spinning": None} if ort else {"precision": precision}
                be, _ = open_engine(args.engine, streams=1, threads=threads, **opts)
                stack.enter_context(be)
                be.pipelined = False
                be.batch_rows = lambda n, b: b
                out.append((f"crnn-deploy {args.engine.name} {precision or ''} before (zero rows "
                            f"to {batch}{', spinning threads' if ort else ''})", be, batch,
                            (precision, None, "default")))
            for widths in args.widths or ["dynamic"]:
                for spin in ["default"] + (["on"] if ort and args.also_spinning else []):
                    options = backend_options(threads, None, precision,
                                              None if widths == "dynamic" else widths)
                    if spin == "on":
                        options["spinning"] = True
                    be, be.pipelined = open_engine(args.engine, **options)  # as the Recognizer
                    stack.enter_context(be)
                    ws = f" {list(be.widths)}" if be.widths else ""
                    out.append((f"crnn-deploy {args.engine.name} {precision or ''}, widths "
                                f"{widths}{ws}{', spinning threads' if spin == 'on' else ''}", be,
                                resolve_batch(be, batch), (precision, widths, spin)))
    return out


def main(argv: list[str] | None = None) -> int:
    """``crnn-bench widths [OPTIONS]`` (argparse; ``--help`` lists them)."""
    ap = argparse.ArgumentParser(prog="crnn-bench widths", description=__doc__.splitlines()[0])
    ap.add_argument("--engine", type=Path, required=True)
    ap.add_argument("--gt", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--batch", default="16", help="batch size(s), comma-separated")
    ap.add_argument("--threads", type=int, default=2,
                    help="inference threads of each runner; 0: each at its defaults")
    ap.add_argument("--precision", default=None,
                    help="OpenVINO precision hint(s), comma-separated (f32, bf16)")
    ap.add_argument("--widths", action="append", default=None,
                    help="dynamic (default), auto or W1,W2,...; repeatable: one row each")
    ap.add_argument("--policies", default="bucket,widest", help="bucket, widest or both")
    ap.add_argument("--rounds", type=int, default=1, help="timed runs of each runner (median)")
    ap.add_argument("--also-spinning", action="store_true",
                    help="ONNX Runtime: add each runner with its intra-op threads spinning")
    ap.add_argument("--before", action="store_true",
                    help="add the engine as it ran before (zero rows; ORT: spinning threads)")
    ap.add_argument("--no-rapidocr", action="store_true", help="leave RapidOCR's row out")
    ap.add_argument("--diffs", action="store_true",
                    help="list the words whose text differs from the widths-dynamic row")
    args = ap.parse_args(argv)
    import contextlib

    import cv2

    from crnn_deploy.bench.oracles import rapidocr_recognizer
    from crnn_deploy.pipeline.recognizer import recognize_stream

    print(f"{describe(this_cpu())}; load average at start: {load_average()}")
    rows = read_gt(args.gt, args.limit)
    paths = [p for p, _ in rows]
    files = [str(p) for p in paths]
    policies = args.policies.split(",")
    theirs: list = []
    jobs = []  # (name, run() -> texts, padding share, (precision, widths, policy))
    if not args.no_rapidocr:
        rec = rapidocr_recognizer(args.threads or None)
        rec([cv2.imread(files[0])])  # warm-up

        def rapid():
            theirs[:] = rec([cv2.imread(f) for f in files])[0]
            return [t for t, _ in theirs]

        jobs.append(("RapidOCR TextRecognizer (defaults: batch 6, sorted, pad to widest)", rapid,
                     None, None))
    with contextlib.ExitStack() as stack:
        for name, be, batch, (precision, widths, spin) in runners(args, stack):
            warm_up(be, batch, paths, policies)
            for policy in policies:
                jobs.append((f"{name}, batch {batch}, {policy}",
                             lambda be=be, batch=batch, policy=policy: [
                                 row[2] for row in recognize_stream(be, files, batch,
                                                                    width_policy=policy,
                                                                    pipelined=be.pipelined)],
                             padding(be.spec, paths, batch, policy, widths=be.widths,
                                     rows=be.batch_rows), (precision, widths, policy, batch, spin)))
        spec = be.spec
        times: dict[str, list[float]] = {job[0]: [] for job in jobs}
        texts: dict[str, list[str]] = {}
        for r in range(args.rounds):
            for name, run, _, _ in round_order(jobs, r, args.rounds):
                start = time.perf_counter()
                texts[name] = run()
                times[name].append(time.perf_counter() - start)
    first = next((texts[job[0]] for job in jobs if job[3] is not None), None)
    dynamic = {(k[0], k[2], k[3]): texts[name] for name, _, _, k in jobs
               if k and k[1] == "dynamic" and k[4] == "default"}
    diffs = []
    threads = f"{args.threads} inference threads" if args.threads else "default threads (ours: 2 streams)"
    print(f"{len(paths)} files, {threads} each, file decode included; "
          f"median of {args.rounds} interleaved round(s)")
    print("| runner | images/s | range | wall s | padding share | same text as RapidOCR (batched) "
          "| same text as the first crnn-deploy row | same text as widths dynamic |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, _, share, key in jobs:
        rates = spread([len(paths) / t for t in times[name]])
        wall = len(paths) / rates["median"]
        if share is None:  # RapidOCR's batches: 6, sorted, each padded to its widest image
            share = padding(spec, paths, 6, "widest", len(paths))
        rapid = "" if name.startswith("RapidOCR") or not theirs else \
            sum(a == b for a, (b, _) in zip(texts[name], theirs))
        same = "" if name.startswith("RapidOCR") else sum(a == b for a, b in zip(texts[name], first))
        ref = None if key is None or (key[1], key[4]) == ("dynamic", "default") else \
            dynamic.get((key[0], key[2], key[3]))
        prev = "" if ref is None else sum(a == b for a, b in zip(texts[name], ref))
        if ref is not None and len(paths) - prev <= 20:
            diffs += [f"{name}: {p.relative_to(args.gt.parent)} (label {lab}): {b!r} "
                      f"(widths dynamic) -> {a!r}"
                      for (p, lab), a, b in zip(rows, texts[name], ref) if a != b]
        print(f"| {name} | {rates['median']:.1f} | {rates['low']:.1f}-{rates['high']:.1f} "
              f"| {wall:.1f} | {share:.1%} | {rapid} | {same} "
              f"| {prev} |")
    if args.diffs:
        print("\n".join(diffs) or "no differing word listed")
    print(f"load average at end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
