"""Detector and classifier specs: every wrong key named, JSON round trip, the resize rules against
RapidOCR 1.4.4's own code (the oracle, imported only here)."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.page_presets import PAGE_PRESETS, get_page_spec
from crnn_deploy.models.page_specs import ClassifierSpec, DetectorSpec, page_spec_from_dict
from crnn_deploy.models.specs import spec_from_dict, spec_from_json

DET, CLS = PAGE_PRESETS["ppocrv4-det"], PAGE_PRESETS["ppocr-cls"]


def _with(d: dict, path: tuple, value) -> dict:
    d = copy.deepcopy(d)
    node = d
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return d


@pytest.mark.parametrize("base, path, value, named", [
    (DET, ("kind",), "segmenter", "spec kind"),
    (DET, ("colour",), 1, "unknown field 'colour'"),
    (DET, ("name",), "", "spec 'name'"),
    (DET, ("input", "limit_type"), "mid", "spec input.limit_type"),
    (DET, ("input", "limit_side_len"), "736", "spec input.limit_side_len"),
    (DET, ("input", "limit_side_len"), True, "spec input.limit_side_len"),
    (DET, ("input", "channels"), "gray", "spec input.channels"),
    (DET, ("input", "mean"), [0.5, 0.5], "spec input.mean"),
    (DET, ("input", "std"), [0.5, 0.0, 0.5], "spec input.std"),
    (DET, ("input", "scale"), 0, "spec input.scale"),
    (DET, ("input", "multiple"), 0, "spec input.multiple"),
    (DET, ("input", "max_side"), 10 ** 6, "spec input.max_side"),
    (DET, ("input", "stride"), 32, "spec input: unknown field 'stride'"),
    (DET, ("output", "kind"), "logits", "spec output.kind"),
    (DET, ("postprocess", "thresh"), 1.5, "spec postprocess.thresh"),
    (DET, ("postprocess", "box_thresh"), "0.5", "spec postprocess.box_thresh"),
    (DET, ("postprocess", "unclip_ratio"), 0, "spec postprocess.unclip_ratio"),
    (DET, ("postprocess", "max_candidates"), 0, "spec postprocess.max_candidates"),
    (DET, ("postprocess", "use_dilation"), 1, "spec postprocess.use_dilation"),
    (DET, ("postprocess", "score_mode"), "medium", "spec postprocess.score_mode"),
    (DET, ("postprocess", "polygon"), True, "spec postprocess: unknown field 'polygon'"),
    (DET, ("postprocess",), [], "spec postprocess: expected an object"),
    (CLS, ("labels",), ["0"], "spec labels"),
    (CLS, ("labels",), ["0", "0"], "spec labels"),
    (CLS, ("threshold",), 2, "spec threshold"),
    (CLS, ("batch_size",), 0, "spec batch_size"),
    (CLS, ("input", "height"), 0, "spec input.height"),
    (CLS, ("input", "resize"), "stretch", "spec input.resize"),
    (CLS, ("input", "pad"), "last-column", "spec input.pad"),
    (CLS, ("output", "kind"), "logits", "spec output.kind"),
    (CLS, ("postprocess",), {}, "unknown field 'postprocess'"),
])
def test_every_wrong_key_is_named(base, path, value, named):
    with pytest.raises(UserError, match=named.replace("(", r"\(").replace(")", r"\)")):
        page_spec_from_dict(_with(base, path, value))


def test_missing_input_is_named_and_defaults_fill_the_rest():
    with pytest.raises(UserError, match="missing field 'input'"):
        page_spec_from_dict({"kind": "detector", "name": "d"})
    d = page_spec_from_dict({"kind": "detector", "name": "d", "input": {}})
    assert d.postprocess.thresh == 0.3 and d.input.limit_side_len == 736 and d.kind == "detector"


def test_presets_round_trip_through_the_json_engines_carry():
    for name in ("ppocrv4-det", "ppocr-cls"):
        spec = get_page_spec(name)
        assert spec_from_json(spec.to_json(), "engine x") == spec
        assert spec_from_dict(json.loads(json.dumps({"spec": spec.to_dict()}))["spec"]) == spec
    assert isinstance(get_page_spec("ppocrv4-det"), DetectorSpec)
    assert isinstance(get_page_spec("ppocr-cls"), ClassifierSpec)
    with pytest.raises(UserError, match="unknown page model 'nope'"):
        get_page_spec("nope")
    with pytest.raises(UserError, match="spec kind"):
        spec_from_dict({"kind": "segmenter"})


@pytest.mark.parametrize("h, w", [(1000, 700), (300, 2000), (736, 736), (50, 60), (1414, 2000),
                                  (737, 1001), (30, 600)])
def test_det_input_size_is_rapidocr_det_preprocess_resize(h, w):
    utils = pytest.importorskip("rapidocr_onnxruntime.ch_ppocr_det.utils")
    spec = get_page_spec("ppocrv4-det")
    oracle = utils.DetPreProcess(spec.input.limit_side_len, spec.input.limit_type,
                                 list(spec.input.mean), list(spec.input.std))
    want = oracle.resize(np.zeros((h, w, 3), np.uint8)).shape[:2]
    got = spec.input.input_size(h, w)
    if max(want) <= spec.input.max_side:
        assert got == want
    else:  # our bound: the longer side at max_side, the other scaled with it
        assert max(got) == spec.input.max_side and all(s % 32 == 0 for s in got)


@pytest.mark.parametrize("h, w", [(48, 100), (32, 300), (60, 30), (20, 190)])
def test_cls_resized_width_is_rapidocr_resize_norm_img(h, w):
    text_cls = pytest.importorskip("rapidocr_onnxruntime.ch_ppocr_cls.text_cls")
    spec = get_page_spec("ppocr-cls")
    oracle = text_cls.TextClassifier.__new__(text_cls.TextClassifier)
    oracle.cls_image_shape = list(spec.input_shape)
    img = np.full((h, w, 3), 200, np.uint8)
    x = oracle.resize_norm_img(img)
    filled = int((np.abs(x).sum(axis=(0, 1)) > 0).sum())  # 200 -> 0.57; the pad is 0
    assert spec.input.resized_width(h, w) == filled


def test_det_input_size_bounds():
    inp = get_page_spec("ppocrv4-det").input
    assert inp.input_size(10, 10) == (736, 736) and inp.input_size(5000, 5000) == (4096, 4096)
    assert inp.input_size(2, 20000) == (0, 4096)  # too thin: RapidOCR finds nothing either
    with pytest.raises(ValueError):
        inp.input_size(0, 100)
