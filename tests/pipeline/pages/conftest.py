"""The page models imported with their presets for this session (ONNX Runtime engines)."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def page_engines(ppocr_det_onnx, ppocr_cls_onnx, ppocrv4_onnx) -> dict[str, Path]:
    """``{"det", "cls", "rec"}``: ppocrv4-det, ppocr-cls and ppocrv4-rec ONNX files."""
    return {"det": ppocr_det_onnx, "cls": ppocr_cls_onnx, "rec": ppocrv4_onnx}


@pytest.fixture(scope="session")
def ocr(page_engines):
    """One :class:`OCR` over the three engines (ONNX Runtime) for the session."""
    from crnn_deploy import OCR

    with OCR(page_engines["det"], page_engines["cls"], page_engines["rec"], threads=2) as o:
        yield o
