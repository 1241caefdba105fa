"""Fixtures of the engine-builder tests: the real nano-ocr ONNX exports (static bs16, dynamic).

Taken from ``build/`` when ``make convert`` has written them, else exported from the real
weights into a temporary folder (skipped, with the reason, when the weights are absent too).
"""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _nano_onnx(name: str, dynamic: bool, tmp_path_factory, request) -> Path:
    built = ROOT / "build" / name
    if built.is_file() and built.stat().st_size > 1_000_000:
        return built
    weights = request.getfixturevalue("nano_weights")
    from converter.onnx_export import export_onnx
    from models.checkpoint import load_model
    from models.specs import get_spec

    spec = get_spec("nano-ocr")
    path = tmp_path_factory.mktemp("nano_onnx") / name
    export_onnx(load_model(spec, weights), spec, path, batch_size=16, dynamic=dynamic)
    return path


@pytest.fixture(scope="session")
def nano_bs16_onnx(tmp_path_factory, request) -> Path:
    """nano-ocr ONNX, static batch 16 (input actual_input_1 (16, 1, 32, 128))."""
    return _nano_onnx("nano-ocr_bs16.onnx", False, tmp_path_factory, request)


@pytest.fixture(scope="session")
def nano_dynamic_onnx(tmp_path_factory, request) -> Path:
    """nano-ocr ONNX, dynamic batch (input actual_input_1 (batch, 1, 32, 128))."""
    return _nano_onnx("nano-ocr_dynamic.onnx", True, tmp_path_factory, request)


@pytest.fixture(scope="session")
def crnn_onnx(tmp_path_factory) -> dict[str, Path]:
    """``crnn`` (1x32x100) with random weights (seed 0): ``{"bs16": static, "dynamic": ...}``.

    Needs no downloaded weights, so the builders' wrapper tests always run.
    """
    import torch

    from converter.onnx_export import export_onnx
    from models.arch import build_model
    from models.specs import get_spec

    spec = get_spec("crnn")
    torch.manual_seed(0)
    model = build_model(spec).eval()
    folder = tmp_path_factory.mktemp("crnn_onnx")
    paths = {"bs16": folder / "crnn_bs16.onnx", "dynamic": folder / "crnn_dynamic.onnx"}
    export_onnx(model, spec, paths["bs16"], batch_size=16)
    export_onnx(model, spec, paths["dynamic"], batch_size=16, dynamic=True)
    return paths
