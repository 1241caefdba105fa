"""crnn-eval / crnn-recognize ``--executor ray``: the same stages on Ray Data.

``cli`` (the click options and entry points), ``executor`` (``run``: plan, execute, collect),
``plan`` (the dataset: read tasks, engine actor pool), ``read`` (read + decode + preprocess
tasks), ``engine`` (the engine actor), ``metrics`` (scoring the written Parquet) and
``resources`` (the plan derived from the cluster). Ray is imported lazily by each module that
needs it, so ``import crnn_deploy.pipeline.ray`` does not start or import Ray.
"""
