"""The side-by-side benchmark of every way of running the model (``crnn-bench``, ``make bench``).

Consumes the other stages and is consumed by none: engines from converter/, backends from
runtime/ (PyTorch eager included, as the registered ``pytorch`` backend), the fused path from
pipeline/. Entry points: :func:`bench.cli.main` (``crnn-bench``), ``crnn-bench scale``
(memory and time on a 100,000-sample LMDB), ``python -m crnn_deploy.bench.loop_overhead`` (``crnn-infer
--loop`` against a bare ONNX Runtime loop). torch is imported only by the PyTorch worker process.
"""
