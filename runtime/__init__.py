"""Run any engine in batches: one small backend interface, one module per backend.

``runtime.registry.open_backend(engine)`` picks the backend from the engine suffix (or a name)
and imports its SDK only then. torch is never imported here.

Modules: ``base`` (the :class:`~runtime.base.Backend` interface), ``registry`` (suffix ->
backend), ``ort_backend`` / ``openvino_backend`` / ``tensorrt_backend`` / ``ascend_backend``,
``engine_spec`` (reading the spec an engine carries), ``batching`` (input files -> padded
batches -> per-sample output files), ``runner`` (file and loop modes), ``stats`` (latency and
throughput), ``cli`` (``crnn-infer``).
"""
