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


def _open(path: Path, kind: str, role: str, backend: str | None, device: str, threads=None,
          precision: str | None = None):
    options = {"threads": threads} if threads else {}
    if precision not in (None, "f32"):
        options["precision"] = precision
    be = open_backend(path, backend, device=device, **options)
    if be.name == "openvino":  # else OpenVINO pins its threads, the recognizer's on the same cores
        be.options.setdefault("pinning", False)
    be.load()
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
                      device: str = "CPU", rec_batching: str = "width",
                      engine_threads: int | None = None, precision: str | None = None,
                      **rec_options):
    """Open the detector, the classifier (None: none) and the recognizer.

    Returns ``(engines, params, det_params, close)``: :class:`run.PageEngines`,
    :class:`stages.PageParams` and :class:`preprocess.page.DetInputParams` from the specs,
    and a function closing all three. ``rec_batching``: how crops are batched for the
    recognizer (:mod:`pipeline.pages.rec_batching`: ``width`` or ``rapidocr``).
    ``engine_threads``: inference threads of each engine (OpenVINO ``INFERENCE_NUM_THREADS``,
    ONNX Runtime ``intra_op_num_threads``; the recognizer then runs one engine, no streams);
    None: each backend's default. ``precision``: inference precision of all three engines
    (``f32``, ``bf16``, ``f16``, ``auto``: OpenVINO's ``INFERENCE_PRECISION_HINT``, as
    crnn-recognize ``--precision``; ONNX Runtime runs f32 and refuses the others); None: f32.

    Raises:
        UserError: a missing engine, an engine whose spec is of another kind than its role,
            an unknown ``rec_batching`` or one the recognizer's spec cannot follow.
    """
    from crnn_deploy.pipeline.pages.rec_batching import REC_BATCHINGS, rapidocr_reader
    from crnn_deploy.pipeline.recognizer import Recognizer

    if rec_batching not in REC_BATCHINGS:
        raise UserError(f"rec_batching must be one of {', '.join(REC_BATCHINGS)}, "
                        f"got {rec_batching!r}")

    opened = []
    try:
        det_be = _open(det, "detector", "--det", backend, device, engine_threads, precision)
        opened.append(det_be)
        cls_be = None
        if cls is not None:
            cls_be = _open(cls, "classifier", "--cls", backend, device, engine_threads, precision)
            opened.append(cls_be)
        if engine_threads:
            rec_options.setdefault("threads", engine_threads)
        if precision is not None:
            rec_options["precision"] = precision
        recognizer = Recognizer(rec, backend=backend, device=device, channel_order="bgr",
                                **rec_options)
        opened.append(recognizer)
        read = (rapidocr_reader(recognizer) if rec_batching == "rapidocr"
                else lambda crops: recognizer.recognize(crops, errors="ignore"))
    except BaseException:
        for o in opened:
            o.close()
        raise
    params = PageParams(db=db_params_of(det_be.spec),
                        cls=cls_params_of(cls_be.spec) if cls_be is not None else ClsParams())
    engines = PageEngines(det_be.infer, None if cls_be is None else cls_be.infer, read,
                          rec_per_page=rec_batching == "rapidocr")

    def close() -> None:
        for o in opened:
            o.close()

    return engines, params, det_params_of(det_be.spec), close
