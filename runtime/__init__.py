"""Run any engine in batches: one small backend interface, one module per backend.

``runtime.registry.open_backend(engine)`` picks the backend from the engine suffix (or a name)
and imports its SDK only then. torch is never imported here.
"""
