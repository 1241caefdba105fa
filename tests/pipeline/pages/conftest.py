"""The page models imported with their presets for this session (ONNX Runtime engines)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SOURCES = {"ppocrv4-det": ROOT / "weights" / "ch_PP-OCRv4_det_infer.onnx",
           "ppocr-cls": ROOT / "weights" / "ch_ppocr_mobile_v2.0_cls_infer.onnx"}


def _import(preset: str, folder: Path) -> Path:
    if not SOURCES[preset].is_file():
        pytest.skip(f"{SOURCES[preset]} not found (run `make weights`)")
    from crnn_deploy.converter.onnx_import import import_onnx

    out = folder / f"{preset}.onnx"
    import_onnx(SOURCES[preset], preset, out)
    return out


@pytest.fixture(scope="session")
def page_engines(tmp_path_factory, ppocrv4_onnx) -> dict[str, Path]:
    """``{"det", "cls", "rec"}``: ppocrv4-det, ppocr-cls and ppocrv4-rec ONNX files."""
    folder = tmp_path_factory.mktemp("page_engines")
    return {"det": _import("ppocrv4-det", folder), "cls": _import("ppocr-cls", folder),
            "rec": ppocrv4_onnx}


@pytest.fixture(scope="session")
def ocr(page_engines):
    """One :class:`OCR` over the three engines (ONNX Runtime) for the session."""
    from crnn_deploy import OCR

    with OCR(page_engines["det"], page_engines["cls"], page_engines["rec"], threads=2) as o:
        yield o
