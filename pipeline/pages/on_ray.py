"""``crnn-ocr --executor ray``: the same page rows, computed by Ray Data actors.

A Ray Data map over the page paths: each actor (:class:`PageActor`) holds the three engines in
one :class:`pipeline.pages.ocr.OCR` and reads blocks of ``group_pages`` pages with it (decode,
detector, crops, classifier and recognizer inside the actor, as locally); the driver collects
the JSON rows and yields them in input order, so the output is the local executor's, row for
row. Ray is joined or started by :func:`pipeline.ray.executor.connect`.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterator

import numpy as np

from crnn_deploy.pipeline.pages.stages import StageTimes


class PageActor:
    """A Ray Data actor: ``OCR(**ocr_args)`` once, then blocks ``{"k", "path"}`` -> ``{"k",
    "record" (JSON text, "" for a bad page), "error" ("" for a good page), and one column of
    seconds per stage (:class:`stages.StageTimes`, this block's share)}``."""

    def __init__(self, ocr_args: dict):
        from crnn_deploy.pipeline.pages.ocr import OCR

        self.ocr = OCR(**ocr_args)

    def __call__(self, batch: dict) -> dict:
        before = StageTimes(**vars(self.ocr.times))
        records, errors = [], []
        for _, _, rec, why in self.ocr.iter([str(p) for p in batch["path"]]):
            records.append("" if rec is None else json.dumps(rec, ensure_ascii=False))
            errors.append(why or "")
        n = len(records)
        out = {"k": np.asarray(batch["k"]), "record": np.array(records, dtype=object),
               "error": np.array(errors, dtype=object)}
        for name, value in vars(self.ocr.times).items():  # this block's seconds, on its first row
            out[f"t_{name}"] = np.array([value - getattr(before, name)] + [0.0] * (n - 1))
        return out


def ocr_on_ray(paths: list[str], ocr_args: dict, *, group_pages: int = 4,
               ray_address: str | None = None, actors: int | None = None,
               cpus_per_actor: float | None = None, quiet: bool = False,
               times: StageTimes | None = None,
               ) -> Iterator[tuple[int, str, dict | None, str | None]]:
    """Run the pages ``paths`` on Ray Data; yield ``(position, path, record, error)`` in input
    order once the job is done (records as :meth:`OCR.iter` gives them).

    ``ocr_args``: the keyword arguments of each actor's :class:`OCR` (engine paths made
    absolute here). ``actors`` (default: one per 2 CPUs of the cluster, at least 1) with
    ``cpus_per_actor`` CPUs each (default 1). ``times`` accumulates the actors' stage seconds.

    Raises:
        UserError: Ray is not installed or cannot be joined; an engine cannot be opened in an
            actor (its message).
    """
    import ray

    from crnn_deploy.pipeline.ray.executor import _shutdown, _user_error, connect
    from crnn_deploy.pipeline.ray.plan import configure

    args = {k: (os.path.abspath(v) if k in ("det", "cls", "rec") and v is not None else v)
            for k, v in ocr_args.items()}
    args["group_pages"] = group_pages
    started, _ = connect(ray_address, quiet=quiet)
    try:
        configure(progress=False, quiet=quiet)
        cpus = float(cpus_per_actor or 1.0)
        if actors is None:
            actors = max(1, int(ray.cluster_resources().get("CPU", 1) // max(2.0, cpus)))
        items = [{"k": k, "path": os.path.abspath(p)} for k, p in enumerate(paths)]
        ds = ray.data.from_items(items).map_batches(
            PageActor, fn_constructor_kwargs={"ocr_args": args}, batch_size=group_pages,
            concurrency=actors, num_cpus=cpus, batch_format="numpy")
        try:
            rows = ds.take_all()
        except Exception as exc:  # Ray wraps an actor's UserError
            found = _user_error(exc)
            if found is not None:
                raise found from None
            raise
    finally:
        _shutdown(started)
    rows.sort(key=lambda r: int(r["k"]))
    for r in rows:
        if times is not None:
            for name in vars(times):
                setattr(times, name, getattr(times, name) + float(r[f"t_{name}"]))
    for r in rows:
        k = int(r["k"])
        record = json.loads(r["record"]) if r["record"] else None
        yield k, paths[k], record, (r["error"] or None)
