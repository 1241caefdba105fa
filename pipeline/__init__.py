"""Paths that cross the stages: the fused evaluation (``crnn-eval``, locally or on Ray Data),
recognition of images (``crnn-recognize`` and the :class:`Recognizer` API).

The staged pipeline (preprocess -> runtime -> postprocess) passes files; this package composes
the same stage functions in one process, without intermediate files. torch is not imported.

``from crnn_deploy import Recognizer`` (imported lazily). The benchmark lives in ``crnn_deploy.bench``.
"""

__all__ = ["Recognizer"]


def __getattr__(name: str):
    if name == "Recognizer":
        from crnn_deploy.pipeline.recognizer import Recognizer

        return Recognizer
    raise AttributeError(f"module 'crnn_deploy.pipeline' has no attribute {name!r}")
