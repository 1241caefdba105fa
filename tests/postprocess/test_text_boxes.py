"""Box order, clipping and mapping against RapidOCR 1.4.4 (the oracle), on the real detector's
boxes of a page of IIIT5K words and on shuffled synthetic lines."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.postprocess.db_postprocess import db_boxes
from crnn_deploy.postprocess.text_boxes import clockwise, reading_order, tidy_boxes, to_original

rapid_main = pytest.importorskip("rapidocr_onnxruntime.main")
rapid_det = pytest.importorskip("rapidocr_onnxruntime.ch_ppocr_det.text_detect")


def _oracle_detector():
    return object.__new__(rapid_det.TextDetector)  # its box methods use no engine


def test_tidy_and_order_equal_rapidocr_on_a_real_page(page_probability):
    bgr, _, prob = page_probability
    h, w = bgr.shape[:2]
    raw, _ = db_boxes(prob, (h, w))
    want = _oracle_detector().filter_tag_det_res(raw.copy(), (h, w))
    got = tidy_boxes(raw, h, w)
    np.testing.assert_array_equal(got, want)
    ordered = rapid_main.RapidOCR.sorted_boxes(want)
    np.testing.assert_array_equal(got[reading_order(got)], np.array(ordered))
    assert reading_order(got) != list(range(len(got)))  # DB's contour order is not reading order


def test_reading_order_with_line_tolerance_equals_rapidocr():
    rng = np.random.default_rng(7)
    for _ in range(20):
        boxes = []
        for row in range(5):
            for col in range(6):  # lines tilted and jittered by up to 12 pixels
                x, y = 20 + col * 90 + rng.integers(0, 20), 30 + row * 40 + rng.integers(-6, 7) + col
                boxes.append([[x, y], [x + 70, y], [x + 70, y + 20], [x, y + 20]])
        boxes = np.array(boxes, np.float32)[rng.permutation(30)]
        want = np.array(rapid_main.RapidOCR.sorted_boxes(boxes))
        np.testing.assert_array_equal(boxes[reading_order(boxes)], want)


def test_clockwise_and_degenerate_boxes():
    pts = np.array([[50, 30], [10, 32], [12, 10], [48, 8]], np.float32)
    np.testing.assert_array_equal(clockwise(pts), [[12, 10], [48, 8], [50, 30], [10, 32]])
    np.testing.assert_array_equal(clockwise(pts), _oracle_detector().order_points_clockwise(pts))
    thin = np.array([[[0, 0], [40, 0], [40, 3], [0, 3]]], np.float32)
    assert tidy_boxes(thin, 100, 100).shape == (0, 4, 2)
    outside = np.array([[[-5, -5], [140, -5], [140, 20], [-5, 20]]], np.float32)
    np.testing.assert_array_equal(tidy_boxes(outside, 100, 100)[0],
                                  [[0, 0], [99, 0], [99, 20], [0, 20]])


def test_to_original_equals_rapidocr_get_origin_points():
    boxes = np.array([[[10, 40], [300, 42], [301, 80], [9, 79]],
                      [[0, 35], [60, 35], [60, 70], [0, 70]]], np.float32)
    record = {"preprocess": {"ratio_h": 1.7, "ratio_w": 2.3}, "padding_1": {"top": 33, "left": 0}}
    want = object.__new__(rapid_main.RapidOCR)._get_origin_points(list(boxes), record, 70, 500)
    got = to_original(boxes, (1.7, 2.3), 33, (70, 500))
    np.testing.assert_array_equal(got, want)
