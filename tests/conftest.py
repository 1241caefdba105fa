"""Shared fixtures: where the real assets and weights are, and skips (with reasons) when absent.

Environment variables:
    CRNN_ASSETS   folder of the real data (default ``../shared/assets`` from the project root)
    CRNN_WEIGHTS  nano-ocr state_dict (default ``build/weights/nano_ocr_ftr.pth``, ``make weights``)
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(os.environ.get("CRNN_ASSETS", ROOT.parent / "shared" / "assets"))
WEIGHTS = Path(os.environ.get("CRNN_WEIGHTS", ROOT / "build" / "weights" / "nano_ocr_ftr.pth"))


@pytest.fixture(scope="session")
def assets() -> Path:
    """The real-data folder; skips when it is absent."""
    if not (ASSETS / "eval_iiit5k_3000" / "gt.txt").is_file():
        pytest.skip(f"real assets not found at {ASSETS} (set CRNN_ASSETS)")
    return ASSETS


@pytest.fixture(scope="session")
def nano_weights() -> Path:
    """The real nano-ocr state_dict; skips when `make weights` has not run."""
    if not WEIGHTS.is_file():
        pytest.skip(f"nano-ocr weights not found at {WEIGHTS} (run `make weights`)")
    return WEIGHTS
