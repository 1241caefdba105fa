"""Local ``crnn-eval`` over several LMDBs (``--lmdb`` repeated, globs), as the Ray path takes
them: one engine, the inputs in the order given, one merged result."""
from __future__ import annotations

import re
from pathlib import Path

from crnn_deploy.pipeline.fused import EvalResult, evaluate
from crnn_deploy.postprocess.metrics import score_samples
from crnn_deploy.runtime.base import Backend
from crnn_deploy.runtime.stats import latency_summary, throughput

_KEY = re.compile(r"image-[0-9]{9}")


def evaluate_many(paths: list, backend: Backend, batch: int | None = None,
                  limit: int | None = None, warmup: int = 1, metric: str = "latin",
                  **kwargs) -> EvalResult:
    """:func:`pipeline.fused.evaluate` on each LMDB of ``paths`` in turn (warm-up before the
    first only), merged into one :class:`~pipeline.fused.EvalResult`.

    With one path this is ``evaluate`` itself. With several, every sample id names its input
    (``file`` = ``NAME.lmdb/test_{i}.bin``, a source that is a bare key ``NAME.lmdb:image-...``,
    skipped keys ``PATH: key``) so ids stay unique;
    ``limit`` counts over all inputs in order; the metrics score every sample of the labeled
    inputs under ``metric``; timings add up (``wall_s``, engine ``compute_s``; latency over every batch).

    Raises:
        UserError: as ``evaluate``, naming the LMDB.
    """
    if len(paths) == 1:
        return evaluate(paths[0], backend, batch, limit=limit, warmup=warmup, metric=metric,
                        **kwargs)
    parts: list[tuple[Path, EvalResult]] = []
    left = limit
    for k, path in enumerate(paths):
        if left is not None and left <= 0:
            break
        res = evaluate(path, backend, batch, limit=left, warmup=warmup if k == 0 else 0,
                       metric=metric, **kwargs)
        parts.append((path, res))
        if left is not None:
            left -= len(res.predictions) + res.skipped
    return _merge(parts, metric)


def _merge(parts: list[tuple[Path, EvalResult]], metric: str = "latin") -> EvalResult:
    predictions, samples, unreadable, skipped_keys, latencies = [], [], [], [], []
    skipped, wall, compute = 0, 0.0, 0.0
    for path, r in parts:
        tag = f"{path.name}/"

        def src(s: str, name=path.name) -> str:  # a bare LMDB key names its LMDB too
            return f"{name}:{s}" if _KEY.fullmatch(s) else s

        predictions += [(tag + f, src(s), text, conf) for f, s, text, conf in r.predictions]
        samples += [(src(s), *rest) for s, *rest in r.samples]
        unreadable += [(src(s), *rest) for s, *rest in r.unreadable]
        skipped += r.skipped
        skipped_keys += [f"{path}: {key}" for key in r.skipped_keys]
        latencies += r.latencies
        wall += r.wall_s
        compute += r.summary["compute_s"]
    labeled = any(r.labeled for _, r in parts)
    metrics, errors = score_samples(samples, unreadable, metric) if labeled else (None, [])
    summary = {**parts[0][1].summary, "count": len(predictions),
               "throughput": throughput(len(predictions), compute),
               "latency_ms": latency_summary(latencies), "compute_s": round(compute, 6),
               "wall_s": round(wall, 6), "labeled": labeled,
               "inputs": [str(p) for p, _ in parts],
               "unlabeled_inputs": [str(p) for p, r in parts if not r.labeled]}
    return EvalResult(samples, metrics, errors, skipped, skipped_keys[:20], wall, summary,
                      predictions, unreadable, latencies)
