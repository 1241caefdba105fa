"""Paths that cross the stages: the fused evaluation (``crnn-eval``).

The staged pipeline (preprocess -> runtime -> postprocess) passes files; this package composes
the same stage functions in one process, without intermediate files. torch is not imported.
The benchmark lives in the top-level package ``bench``.
"""
