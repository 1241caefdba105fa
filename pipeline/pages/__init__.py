"""Whole pages: detect text (DB), classify each line's angle (0/180), recognize it.

``from crnn_deploy import OCR`` (:class:`pipeline.pages.ocr.OCR`) and the ``crnn-ocr`` command
(:mod:`pipeline.pages.cli`). Modules: ``run`` (the pipelined page loop), ``stages`` (one page's
steps as functions), ``engines`` (the three engines and their specs' parameters), ``draw``
(``--draw``), ``scoring`` (``--gt``).
"""

__all__ = ["OCR"]


def __getattr__(name: str):
    if name == "OCR":
        from crnn_deploy.pipeline.pages.ocr import OCR

        return OCR
    raise AttributeError(f"module 'crnn_deploy.pipeline.pages' has no attribute {name!r}")
