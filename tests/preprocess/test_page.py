"""Page preparation for the detector against RapidOCR 1.4.4 (the oracle)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from crnn_deploy.preprocess.page import DetInputParams, det_input, prepare_page, to_bgr

rapid_det = pytest.importorskip("rapidocr_onnxruntime.ch_ppocr_det.utils")
rapid_main = pytest.importorskip("rapidocr_onnxruntime.main")


def _rapid_prepare(bgr: np.ndarray):
    """RapidOCR's page steps before its detector: global resize, letterbox."""
    engine = object.__new__(rapid_main.RapidOCR)
    engine.max_side_len, engine.min_side_len = 2000, 30
    engine.min_height, engine.width_height_ratio = 30, 8
    img, rh, rw = engine.preprocess(bgr)
    img, record = engine.maybe_add_letterbox(img, {"preprocess": {"ratio_h": rh, "ratio_w": rw}})
    return img, (rh, rw), record["padding_1"]["top"]


def test_det_input_equals_rapidocr_on_a_real_page(page_probability):
    bgr, x, _ = page_probability
    np.testing.assert_array_equal(det_input(bgr, DetInputParams()), x)
    for limit_type, side in (("max", 960), ("min", 512)):
        want = rapid_det.DetPreProcess(side, limit_type, [0.5] * 3, [0.5] * 3)(bgr)
        got = det_input(bgr, DetInputParams(limit_side_len=side, limit_type=limit_type))
        assert got.shape[2] % 32 == 0 and got.shape[3] % 32 == 0
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", [(720, 960), (40, 600), (24, 100), (2400, 1300), (20, 2100)],
                         ids=["page", "wide-line", "low", "large", "low-and-wide"])
def test_resize_and_letterbox_equal_rapidocr(assets, shape):
    word = Image.open(assets / "eval_iiit5k_3000" / "test" / "1002_1.png").convert("RGB")
    bgr = to_bgr(word.resize(shape[::-1]))
    img, ratio_hw, pad = _rapid_prepare(bgr)
    page = prepare_page(bgr, channel_order="bgr")
    np.testing.assert_array_equal(page.image, img)
    assert page.ratio_hw == pytest.approx(ratio_hw) and page.pad_top == pad
    assert page.raw_hw == shape
    want = rapid_det.DetPreProcess(736, "min", [0.5] * 3, [0.5] * 3)(img)
    np.testing.assert_array_equal(page.det_input, want)


def test_a_page_resized_to_nothing_is_an_error():
    # RapidOCR raises ResizeImgError too: 20 x 3000 brought to a long side of 2000 is 13 high
    with pytest.raises(ValueError, match="no pixels left"):
        prepare_page(np.zeros((20, 3000, 3), np.uint8))


def test_to_bgr_modes():
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 0] = 200  # red
    assert to_bgr(Image.fromarray(rgb))[0, 0].tolist() == [0, 0, 200]
    assert to_bgr(rgb, "rgb")[0, 0].tolist() == [0, 0, 200]
    assert to_bgr(rgb, "bgr")[0, 0].tolist() == [200, 0, 0]
    assert to_bgr(np.full((4, 5), 9, np.uint8)).shape == (4, 5, 3)
    rgba = Image.fromarray(np.dstack([rgb, np.full((4, 5), 7, np.uint8)]), "RGBA")
    assert to_bgr(rgba)[0, 0].tolist() == [0, 0, 200]
