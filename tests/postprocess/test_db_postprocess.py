"""DB postprocess against RapidOCR 1.4.4's DBPostProcess (the oracle) on the real PP-OCRv4
detector's probability map of a page of real IIIT5K words."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.postprocess.db_postprocess import DBParams, db_boxes, mini_box, unclip

rapid_det = pytest.importorskip("rapidocr_onnxruntime.ch_ppocr_det.utils")


@pytest.mark.parametrize("params", [
    DBParams(),                                                  # RapidOCR's config.yaml
    DBParams(score_mode="slow"),
    DBParams(use_dilation=False, unclip_ratio=2.0, box_thresh=0.6),
    DBParams(thresh=0.5, box_thresh=0.7, max_candidates=10),
], ids=["rapidocr-defaults", "slow", "no-dilation", "few-candidates"])
def test_boxes_equal_rapidocr(page_probability, params):
    bgr, _, prob = page_probability
    oracle = rapid_det.DBPostProcess(
        thresh=params.thresh, box_thresh=params.box_thresh, max_candidates=params.max_candidates,
        unclip_ratio=params.unclip_ratio, score_mode=params.score_mode,
        use_dilation=params.use_dilation)
    want, want_scores = oracle(prob, bgr.shape[:2])
    got, scores = db_boxes(prob, bgr.shape[:2], params)
    assert len(want) > 0
    assert got.dtype == np.int32 and got.shape == (len(want), 4, 2)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(scores, want_scores, rtol=0, atol=1e-12)


def test_a_page_of_words_gives_one_box_per_word(page_probability):
    bgr, _, prob = page_probability
    boxes, scores = db_boxes(prob, bgr.shape[:2])
    # the first page holds 6 rows of words; every box lies on the page and scores >= box_thresh
    assert 20 <= len(boxes) <= 60
    assert boxes[..., 0].max() <= bgr.shape[1] and boxes[..., 1].max() <= bgr.shape[0]
    assert min(scores) >= DBParams().box_thresh


def test_empty_map_gives_no_box():
    boxes, scores = db_boxes(np.zeros((1, 1, 64, 96), np.float32), (100, 150))
    assert boxes.shape == (0, 4, 2) and scores == []


def test_unclip_grows_a_rectangle_by_area_ratio_over_perimeter():
    box = np.array([[10, 10], [50, 10], [50, 20], [10, 20]], np.float32)
    grown = unclip(box, 1.5).reshape(-1, 2)
    d = 40 * 10 * 1.5 / 100  # area * ratio / perimeter = 6 pixels
    assert grown[:, 0].min() == pytest.approx(10 - d, abs=1) and grown[:, 1].max() == pytest.approx(20 + d, abs=1)
    rect, short = mini_box(grown.astype(np.int32))
    assert short == pytest.approx(10 + 2 * d, abs=1.5)


def test_bad_map_shape_and_score_mode():
    with pytest.raises(ValueError, match="expected \\(H, W\\)"):
        db_boxes(np.zeros((2, 1, 8, 8), np.float32), (8, 8))
    with pytest.raises(ValueError, match="score_mode"):
        DBParams(score_mode="median")
