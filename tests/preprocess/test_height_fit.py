"""The height-fit transform against EasyOCR 1.7.2's own code on real IIIT5K words.

EasyOCR is the oracle (``easyocr_oracle`` fixture: a test-only install with a stand-in
``torchvision`` that provides only ``transforms.ToTensor``, see ``scripts/easyocr_oracle.py``).
Its tensors come from its own ``get_image_list`` + ``AlignCollate`` (the steps of
``Reader.recognize`` on a whole image); ours from :func:`fit_height`. They must be equal bit
for bit, first pass and contrast-stretched second pass, on 200 words and on every word taller
than wide (the vertical branch).
"""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.preprocess.height_fit import (
    fit_height,
    padded_width,
    resize_to_height,
    stretch_contrast,
)
from crnn_deploy.preprocess.transform import open_image_opencv


def decode_grey_opencv(data: bytes) -> np.ndarray:
    return np.asarray(open_image_opencv(data, "gray"))


@pytest.fixture(scope="module")
def iiit5k_greys(assets):
    """(relpath, OpenCV grey) of the first 200 IIIT5K words plus every one taller than wide."""
    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    rows = [line.split("\t")[0] for line in gt.read_text(encoding="utf-8").splitlines() if line]
    out = []
    for i, rel in enumerate(rows):
        grey = decode_grey_opencv((gt.parent / rel).read_bytes())
        if i < 200 or grey.shape[0] > grey.shape[1]:
            out.append((rel, grey))
    return out


def _easyocr_tensor(grey: np.ndarray, contrast: float) -> np.ndarray:
    from easyocr.recognition import AlignCollate
    from easyocr.utils import get_image_list
    from PIL import Image

    h, w = grey.shape
    images, max_width = get_image_list([[0, w, 0, h]], [], grey, model_height=64)
    collate = AlignCollate(imgH=64, imgW=int(max_width), keep_ratio_with_pad=True,
                           adjust_contrast=contrast)
    return collate([Image.fromarray(images[0][1], "L")]).numpy()[0]


@pytest.mark.parametrize("contrast", [None, 0.5])
def test_same_tensor_as_easyocr(iiit5k_greys, easyocr_oracle, contrast):
    tall = 0
    for rel, grey in iiit5k_greys:
        expected = _easyocr_tensor(grey, contrast or 0.0)
        got = fit_height(grey, 64, contrast_target=contrast)
        assert got.shape == expected.shape and np.array_equal(got, expected), rel
        tall += grey.shape[0] > grey.shape[1]
    assert tall > 100  # IIIT5K has 144 words taller than wide


@pytest.mark.parametrize("w, h, expected", [(100, 32, 256), (64, 64, 64), (101, 100, 128),
                                            (30, 100, 256), (640, 64, 640)])
def test_padded_width_follows_the_aspect_ratio(w, h, expected):
    assert padded_width(w, h, 64) == expected


def test_vertical_branch_and_widths():
    assert resize_to_height(np.zeros((32, 100), np.uint8), 64).shape == (64, 200)
    assert resize_to_height(np.zeros((100, 30), np.uint8), 64).shape == (213, 64)
    x = fit_height(np.full((100, 30), 200, np.uint8), 64)
    assert x.shape == (1, 64, 256) and x.dtype == np.float32
    assert np.allclose(x, (200 / 255 - 0.5) / 0.5)  # padding repeats the last column


def test_contrast_stretch_only_below_target():
    flat = np.full((8, 8), 120, np.uint8)
    flat[0, :4] = 130
    out = stretch_contrast(flat, 0.5)
    assert out.dtype == np.uint8 and out.max() > 130  # low contrast: stretched
    sharp = np.zeros((8, 8), np.uint8)
    sharp[:, 4:] = 255
    assert stretch_contrast(sharp, 0.5) is sharp  # contrast 1 >= 0.5: unchanged


def test_the_width_is_capped_before_resizing():
    """english_g2 resized a 200000x1 image to 64 x 12,800,000 (6 GiB) before capping it."""
    wide = np.full((1, 200_000), 200, np.uint8)
    assert resize_to_height(wide, 64, 4096).shape == (64, 4096)
    assert resize_to_height(wide.T.copy(), 64, 4096).shape == (4096, 64)  # the vertical branch
    x = fit_height(wide, 64, max_width=4096)
    assert x.shape == (1, 64, 4096) and np.isfinite(x).all()
    assert fit_height(wide, 64).shape[-1] <= 8192  # no max_width: the largest width of any spec
