"""Fixtures of the engine-builder tests (the nano-ocr exports are in tests/conftest.py)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def crnn_onnx(tmp_path_factory) -> dict[str, Path]:
    """``crnn`` (1x32x100) with random weights (seed 0): ``{"bs16": static, "dynamic": ...}``.

    Needs no downloaded weights, so the builders' wrapper tests always run.
    """
    import torch

    from crnn_deploy.converter.onnx_export import export_onnx
    from crnn_deploy.models.arch import build_model
    from crnn_deploy.models.specs import get_spec

    spec = get_spec("crnn")
    torch.manual_seed(0)
    model = build_model(spec).eval()
    folder = tmp_path_factory.mktemp("crnn_onnx")
    paths = {"bs16": folder / "crnn_bs16.onnx", "dynamic": folder / "crnn_dynamic.onnx"}
    export_onnx(model, spec, paths["bs16"], batch_size=16)
    export_onnx(model, spec, paths["dynamic"], batch_size=16, dynamic=True)
    return paths
