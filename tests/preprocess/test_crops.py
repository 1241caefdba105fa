"""Crops of text boxes and the classifier input against RapidOCR 1.4.4 (the oracle)."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.postprocess.db_postprocess import db_boxes
from crnn_deploy.postprocess.text_boxes import reading_order, tidy_boxes
from crnn_deploy.preprocess.crops import cls_input, crop_box, crop_boxes

rapid_main = pytest.importorskip("rapidocr_onnxruntime.main")
rapid_cls = pytest.importorskip("rapidocr_onnxruntime.ch_ppocr_cls.text_cls")


def test_crops_equal_rapidocr_on_a_real_page(page_probability):
    bgr, _, prob = page_probability
    boxes = tidy_boxes(db_boxes(prob, bgr.shape[:2])[0], *bgr.shape[:2])
    boxes = boxes[reading_order(boxes)]
    want = object.__new__(rapid_main.RapidOCR).get_crop_img_list(bgr, list(boxes))
    got = crop_boxes(bgr, boxes)
    assert len(got) == len(want) > 20
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_tall_crop_is_turned_and_tilted_box_is_straightened():
    img = np.zeros((200, 200, 3), np.uint8)
    img[50:150, 90:110] = 255  # a 20 x 100 vertical bar
    tall = crop_box(img, np.array([[90, 50], [110, 50], [110, 150], [90, 150]], np.float32))
    assert tall.shape == (20, 100, 3)  # turned 90 degrees: now wide
    tilted = np.array([[20, 40], [120, 20], [124, 40], [24, 60]], np.float32)
    want = object.__new__(rapid_main.RapidOCR).get_crop_img_list(img, [tilted])[0]
    np.testing.assert_array_equal(crop_box(img, tilted), want)


@pytest.mark.parametrize("size", [(30, 200), (48, 100), (20, 900), (60, 61)])
def test_cls_input_equals_rapidocr(size):
    rng = np.random.default_rng(size[1])
    crop = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    oracle = object.__new__(rapid_cls.TextClassifier)
    oracle.cls_image_shape = [3, 48, 192]
    np.testing.assert_array_equal(cls_input(crop), oracle.resize_norm_img(crop))
