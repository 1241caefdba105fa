"""The min_width padding policy (runtime.padding; issue 28): the widths it gives for given
aspect ratios, its errors, and that the spec's own smallest width gives the default's texts.
No timing."""
from __future__ import annotations

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import get_spec
from crnn_deploy.preprocess.transform import keep_ratio_widths
from crnn_deploy.runtime.padding import padded_spec, stride


@pytest.fixture(scope="module")
def pp_spec(ppocrv4_onnx):
    from crnn_deploy.runtime.registry import open_backend

    with open_backend(ppocrv4_onnx) as be:
        return be.load().spec


@pytest.mark.parametrize("size, default, padded", [
    ((100, 48), (100, 320), (100, 104)),   # ratio 2.08: 100 columns, 104 with the policy
    ((50, 100), (24, 320), (24, 24)),      # taller than wide: 24 columns, not 320
    ((200, 32), (300, 320), (300, 304)),
    ((600, 40), (720, 720), (720, 720)),   # wider than 320: the same either way
    ((10, 100), (5, 320), (5, 8)),         # one stride at least
])
def test_widths_for_given_aspect_ratios(pp_spec, size, default, padded):
    assert stride(pp_spec) == 8  # 320 columns -> 40 CTC steps
    assert keep_ratio_widths(size, pp_spec) == default
    assert keep_ratio_widths(size, padded_spec(pp_spec, 8)) == padded


def test_min_width_rounds_up_to_the_stride_and_keeps_the_rest(pp_spec):
    s = padded_spec(pp_spec, 60)
    assert s.input_shape == (3, 48, 64) and s.width_multiple == 8 and s.seq_len == 8
    assert (s.width_max, s.alphabet, s.pad) == (pp_spec.width_max, pp_spec.alphabet, pp_spec.pad)
    assert padded_spec(pp_spec, None) is pp_spec
    assert padded_spec(s, 60) is s  # idempotent (Streams applies it to itself and its members)
    assert keep_ratio_widths((50, 100), s) == (24, 64)


def test_min_width_errors_name_the_reason(pp_spec):
    with pytest.raises(UserError, match="1..320"):
        padded_spec(pp_spec, 321)
    with pytest.raises(UserError, match="keep-ratio"):
        padded_spec(get_spec("nano-ocr"), 8)        # a fixed width


def test_the_spec_width_gives_the_default_texts_and_a_small_one_pads_less(ppocrv4_onnx, assets):
    """min_width=320 is the default policy (identical texts, RapidOCR's); min_width=8 runs
    narrower inputs on the same real IIIT5K words."""
    from crnn_deploy.pipeline.recognizer import Recognizer

    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    paths = [str(gt.parent / line.split("\t")[0]) for line in gt.read_text().splitlines()[:24]]
    with Recognizer(ppocrv4_onnx, streams=1, threads=1) as r:
        default = r.recognize(paths)
    with Recognizer(ppocrv4_onnx, streams=1, threads=1, min_width=320) as r:
        assert r.recognize(paths) == default
    with Recognizer(ppocrv4_onnx, streams=1, threads=1, min_width=8) as r:
        assert r.spec.input_shape[2] == 8 and r.spec.width_multiple == 8
        small = r.recognize(paths)
    assert sum(a[0] == b[0] for a, b in zip(small, default)) >= 20  # mostly the same words
