"""The three engines of the page pipeline, opened from their files, and the parameters their
specs carry (detector resize rule and DB postprocess; classifier input, labels, threshold)."""
from __future__ import annotations

from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.pages.run import PageEngines
from crnn_deploy.pipeline.pages.stages import ClsParams, PageParams
from crnn_deploy.postprocess.db_postprocess import DBParams
from crnn_deploy.preprocess.page import DetInputParams
from crnn_deploy.runtime.registry import open_backend


def _open(path: Path, kind: str, role: str, backend: str | None, device: str):
    be = open_backend(path, backend, device=device).load()
    got = getattr(be.spec, "kind", "recognizer")
    if got != kind:
        be.close()
        raise UserError(f"{role} {path}: its spec {be.spec.name!r} is a {got}, expected a {kind} "
                        f"(convert it with crnn-convert import --spec ...)")
    return be


def det_params_of(spec) -> DetInputParams:
    """A detector spec's ``input`` section -> :class:`preprocess.page.DetInputParams`."""
    i = spec.input
    return DetInputParams(limit_side_len=i.limit_side_len, limit_type=i.limit_type,
                          mean=tuple(i.mean), std=tuple(i.std), max_side_len=i.max_side_len,
                          min_side_len=i.min_side_len, min_height=i.min_height,
                          width_height_ratio=i.width_height_ratio, channels=i.channels,
                          scale=i.scale, multiple=i.multiple, max_side=i.max_side,
                          interpolation=i.interpolation)


def db_params_of(spec) -> DBParams:
    """A detector spec's ``postprocess`` section -> :class:`postprocess.db_postprocess.DBParams`."""
    p = spec.postprocess
    return DBParams(thresh=p.thresh, box_thresh=p.box_thresh, max_candidates=p.max_candidates,
                    unclip_ratio=p.unclip_ratio, use_dilation=p.use_dilation,
                    score_mode=p.score_mode, min_size=p.min_size)


def cls_params_of(spec) -> ClsParams:
    """A classifier spec -> :class:`stages.ClsParams`."""
    i = spec.input
    return ClsParams(shape=tuple(spec.input_shape), labels=tuple(spec.labels),
                     thresh=spec.threshold, batch=spec.batch_size, mean=tuple(i.mean),
                     std=tuple(i.std), channels=i.channels)


def open_page_engines(det: Path, cls: Path | None, rec: Path, backend: str | None = None,
                      device: str = "CPU", **rec_options):
    """Open the detector, the classifier (None: none) and the recognizer.

    Returns ``(engines, params, det_params, close)``: :class:`run.PageEngines`,
    :class:`stages.PageParams` and :class:`preprocess.page.DetInputParams` from the specs,
    and a function closing all three.

    Raises:
        UserError: a missing engine, an engine whose spec is of another kind than its role.
    """
    from crnn_deploy.pipeline.recognizer import Recognizer

    opened = []
    try:
        det_be = _open(det, "detector", "--det", backend, device)
        opened.append(det_be)
        cls_be = None
        if cls is not None:
            cls_be = _open(cls, "classifier", "--cls", backend, device)
            opened.append(cls_be)
        recognizer = Recognizer(rec, backend=backend, device=device, channel_order="bgr",
                                **rec_options)
        opened.append(recognizer)
    except BaseException:
        for o in opened:
            o.close()
        raise
    params = PageParams(db=db_params_of(det_be.spec),
                        cls=cls_params_of(cls_be.spec) if cls_be is not None else ClsParams())
    engines = PageEngines(det_be.infer, None if cls_be is None else cls_be.infer,
                          lambda crops: recognizer.recognize(crops, errors="ignore"))

    def close() -> None:
        for o in opened:
            o.close()

    return engines, params, det_params_of(det_be.spec), close
