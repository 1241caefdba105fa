"""Former home of INT8 quantization, kept for callers of ``converter.quantize.quantize``
(``pipeline/bench_engines.py``): everything lives in :mod:`converter.int8` now."""
from converter.int8 import QuantizeResult, quantize, read_calibration

__all__ = ["QuantizeResult", "quantize", "read_calibration"]
