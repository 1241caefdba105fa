"""EasyOCR's word confidence and its choice between two readings (postprocess.confidence)."""
from __future__ import annotations

import numpy as np
import pytest

from crnn_deploy.postprocess.confidence import keep_more_confident, product_confidence


def test_product_over_non_blank_steps_repeats_included():
    paths = np.array([[0, 5, 5, 0, 7], [0, 0, 0, 0, 0], [3, 0, 0, 0, 0]])
    probs = np.array([[0.1, 0.9, 0.8, 0.2, 0.5], [0.9] * 5, [0.25, 1, 1, 1, 1]])
    got = product_confidence(paths, probs)
    assert got[0] == pytest.approx((0.9 * 0.8 * 0.5) ** (2 / np.sqrt(3)), rel=1e-12)
    assert got[1] == 0.0  # nothing but blanks: EasyOCR's np.array([0]) ** 2 = 0
    assert got[2] == pytest.approx(0.25 ** 2, rel=1e-12)


def test_same_as_easyocr_custom_mean(easyocr_oracle):
    from easyocr.recognition import custom_mean

    rng = np.random.default_rng(0)
    paths = rng.integers(0, 4, size=(50, 40))
    probs = rng.uniform(0.3, 1.0, size=(50, 40)).astype(np.float32)
    got = product_confidence(paths, probs)
    for row in range(50):
        expected = custom_mean(probs[row][paths[row] != 0])
        assert got[row] == pytest.approx(float(expected), rel=1e-5)


def test_second_reading_kept_unless_first_is_strictly_more_confident():
    first = [("a", 0.05), ("b", 0.09), ("c", 0.07)]
    second = [("A", 0.08), ("B", 0.01), ("C", 0.07)]
    assert keep_more_confident(first, second) == [("A", 0.08), ("b", 0.09), ("C", 0.07)]
    with pytest.raises(ValueError):
        keep_more_confident(first, second[:2])


def test_decode_batch_uses_the_spec_formula():
    from crnn_deploy.models.specs import get_spec
    from crnn_deploy.postprocess.ctc import decode_batch

    spec = get_spec("english_g2")  # raw logits (T, N, 97), confidence 'product-sqrt'
    rng = np.random.default_rng(1)
    y = rng.normal(0, 3, size=(15, 4, 97)).astype(np.float32)
    y[:, 0, 0] += 30  # row 0: blanks only
    texts, conf = decode_batch(y, spec, 1)
    p = np.exp(y - y.max(2, keepdims=True))
    p /= p.sum(2, keepdims=True)
    paths, best = p.argmax(2).T, p.max(2).T
    assert texts[0] == "" and conf[0] == 0.0
    assert np.allclose(conf, product_confidence(paths, best), rtol=1e-9)
