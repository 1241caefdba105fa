"""Checkpoint -> ONNX -> onnxsim -> device engines (OpenVINO IR, TensorRT plan, Ascend OM).

One module per target; each conversion is checked against a reference on the same inputs
(ONNX against PyTorch, every engine against ONNX Runtime). Heavy SDKs are imported lazily.
"""
