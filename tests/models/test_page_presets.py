"""The page-model presets hold RapidOCR 1.4.4's config.yaml defaults (read here as the oracle)."""
from __future__ import annotations

import pytest

from crnn_deploy.models.page_presets import get_page_spec


@pytest.fixture(scope="module")
def config() -> dict:
    yaml = pytest.importorskip("yaml")
    rapidocr = pytest.importorskip("rapidocr_onnxruntime")
    from pathlib import Path

    return yaml.safe_load((Path(rapidocr.__file__).parent / "config.yaml").read_text())


def test_detector_preset_is_rapidocr_det_config(config):
    det, glob, spec = config["Det"], config["Global"], get_page_spec("ppocrv4-det")
    assert det["model_path"].endswith("ch_PP-OCRv4_det_infer.onnx")
    assert (spec.input.limit_side_len, spec.input.limit_type) == (det["limit_side_len"], det["limit_type"])
    assert list(spec.input.mean) == det["mean"] and list(spec.input.std) == det["std"]
    assert spec.input.channels == "BGR" and spec.input.scale == 1 / 255 and spec.input.multiple == 32
    pp = spec.postprocess
    for key in ("thresh", "box_thresh", "max_candidates", "unclip_ratio", "use_dilation", "score_mode"):
        assert getattr(pp, key) == det[key], key
    assert pp.min_size == 3  # DBPostProcess's fixed min_size
    for key in ("max_side_len", "min_side_len", "min_height", "width_height_ratio"):
        assert getattr(spec.input, key) == glob[key], key


def test_classifier_preset_is_rapidocr_cls_config(config):
    cls, spec = config["Cls"], get_page_spec("ppocr-cls")
    assert cls["model_path"].endswith("ch_ppocr_mobile_v2.0_cls_infer.onnx")
    assert list(spec.input_shape) == cls["cls_image_shape"]
    assert spec.batch_size == cls["cls_batch_num"] and spec.threshold == cls["cls_thresh"]
    assert list(spec.labels) == cls["label_list"]
    assert spec.input.channels == "BGR" and spec.input.mean == (0.5,) * 3 == spec.input.std
