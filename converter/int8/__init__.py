"""INT8 post-training quantization of a CRNN ONNX file (``crnn-convert int8``).

Two routes, chosen by the output suffix (:mod:`converter.int8.routes`): ``.xml`` -> OpenVINO
INT8 IR by NNCF, ``.onnx`` -> INT8 QDQ ONNX by ONNX Runtime. Both calibrate on real word images
read from a ``gt.txt`` (:mod:`converter.int8.calibration`) and go through one quantize-and-check
sequence (:func:`converter.int8.sequence.quantize`). No SDK is imported with this package.
"""
from crnn_deploy.converter.int8.calibration import (
                                        DEFAULT_CALIB_SIZE,
                                        Calibration,
                                        calibration_batches,
                                        read_calibration,
)
from crnn_deploy.converter.int8.routes import INT8_KEY, ROUTES, Quantized, Route, route_for
from crnn_deploy.converter.int8.sequence import DEFAULT_MIN_AGREEMENT, QuantizeResult, quantize

__all__ = ["DEFAULT_CALIB_SIZE", "DEFAULT_MIN_AGREEMENT", "INT8_KEY", "ROUTES", "Calibration",
           "QuantizeResult", "Quantized", "Route", "calibration_batches", "quantize",
           "read_calibration", "route_for"]
