"""Whole pages against RapidOCR 1.4.4's own full pipeline (issue 27): on generated pages
(scripts/make_pages.py: real benchmark crops, some turned 180 degrees, and DejaVu lines), with
f32 engines on ONNX Runtime and OpenVINO, crnn_deploy.OCR finds the same boxes (IoU >= 0.9,
one-to-one) with the same texts on >= 99 % of RapidOCR's boxes, and its detection hmean against
the generator's GT is no lower than RapidOCR's. With ``rec_batching="rapidocr"`` the texts are
those of ``RapidOCR()`` at its defaults; with the default ``"width"`` batching, those of
``RapidOCR(rec_batch_num=1)`` (each crop read alone). The 30-page figures: docs/PAGES.md."""
from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT

pytest.importorskip("shapely")
pytest.importorskip("pyclipper")
pytest.importorskip("rapidocr_onnxruntime", reason="the test extra: rapidocr-onnxruntime==1.4.4")

PAGES, SEED, MAX_SIDE = 6, 27, 640


def _script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare = _script("compare_pages")


@pytest.fixture(scope="module")
def gt(assets, tmp_path_factory):
    from crnn_deploy.postprocess.pages_jsonl import read_pages

    out = tmp_path_factory.mktemp("oracle_pages") / "pages"
    _script("make_pages").make_pages(out, seed=SEED, count=PAGES, assets=assets, max_side=MAX_SIDE)
    return read_pages(out / "gt.jsonl")


@pytest.fixture(scope="module")
def rapid(gt):
    """RapidOCR()(path) at its defaults."""
    return compare.rapidocr_pages(gt)[0]


@pytest.fixture(scope="module")
def rapid_alone(gt):
    """RapidOCR with rec_batch_num 1: each crop read at its own width, not padded to the widest
    of a batch of 6 (RapidOCR's TextRecognizer on one image, as crnn-deploy reads crops)."""
    return compare.rapidocr_pages(gt, rec_batch_num=1)[0]


@pytest.fixture(scope="module")
def onnx_engines(ppocr_det_onnx, ppocr_cls_onnx, ppocrv4_onnx):
    """The imported f32 detector, classifier and recognizer (session fixtures of conftest)."""
    return ppocr_det_onnx, ppocr_cls_onnx, ppocrv4_onnx


@pytest.fixture(scope="module", params=[("openvino", "rapidocr"), ("onnxruntime", "width")],
                ids=lambda p: "-".join(p))
def ours(request, gt, onnx_engines):
    """crnn_deploy.OCR with RapidOCR's recognizer batching on OpenVINO (f32, its default; its
    power-of-two batch gears run a batch of 5 crops as 8 rows), and with the default width
    batching on ONNX Runtime. OpenVINO reads the same ONNX files directly: the same CPU plugin
    as the IRs of ``crnn-convert openvino`` (checked against ONNX Runtime at conversion),
    without three conversions in the test; both backends and both batchings on the IRs are
    compared on 30 pages in docs/PAGES.md (scripts/compare_pages.py)."""
    backend, batching = request.param
    if backend == "openvino":
        pytest.importorskip("openvino")
    pages = compare.ours_pages(gt, *onnx_engines, backend=backend, rec_batching=batching)[0]
    return f"{backend}, rec_batching {batching}", pages, batching


def test_same_boxes_as_rapidocr(ours, rapid):
    backend, pages, _ = ours
    same = compare.agreement(pages, rapid)
    assert same["gt_boxes"] >= 5 * PAGES  # RapidOCR found words on these pages
    diffs = "\n".join(compare.differences(pages, rapid, same))
    assert same["recall"] >= 0.99, f"{backend}: same boxes on {same['recall']:.2%}:\n{diffs}"


def test_same_texts_as_rapidocr(ours, rapid, rapid_alone):
    """rapidocr batching: RapidOCR()'s own texts at its defaults (rec_batch_num 6); width
    batching: those RapidOCR reads with each crop alone (rec_batch_num 1)."""
    backend, pages, batching = ours
    oracle = rapid if batching == "rapidocr" else rapid_alone
    same = compare.agreement(pages, oracle)
    diffs = "\n".join(compare.differences(pages, oracle, same))
    assert same["e2e_accuracy"] >= 0.99, f"{backend}: same texts on {same['e2e_accuracy']:.2%}:\n{diffs}"


def test_texts_differ_from_rapidocr_defaults_only_by_its_batch_padding(ours, rapid, rapid_alone):
    """RapidOCR's recognizer pads each crop to the widest of its batch of 6 (rec_batch_num),
    which changes some readings (a space dropped, a letter changed) and may push a box below
    text_score 0.5; every text of ours that differs from its defaults must be the one RapidOCR
    itself reads when the crop is alone (with rapidocr batching, no text differs at all)."""
    backend, pages, _ = ours
    same = compare.agreement(pages, rapid)
    alone = compare.agreement(rapid_alone, rapid)
    unexplained = []
    for k, (mine, its) in enumerate(zip(same["per_page"], alone["per_page"])):
        its_text = {m["gt"]: m["text"] for m in its["misread"]}
        unexplained += [m for m in mine["misread"] if its_text.get(m["gt"]) != m["text"]]
        extra = {tuple(map(tuple, pages[k]["boxes"][j]["points"])) for j in mine["extra"]}
        its_extra = {tuple(map(tuple, rapid_alone[k]["boxes"][j]["points"])) for j in its["extra"]}
        unexplained += sorted(extra - its_extra)
    assert len(unexplained) <= 0.01 * same["gt_boxes"], (backend, unexplained)
    assert same["e2e_accuracy"] >= 0.9  # the padding changes a few readings, not many


def test_detection_hmean_no_lower_than_rapidocr(ours, rapid, gt):
    from crnn_deploy.postprocess.page_metrics import score_pages

    backend, pages, _ = ours
    theirs, mine = score_pages(rapid, gt), score_pages(pages, gt)
    assert theirs["hmean"] > 0.8  # the generator's boxes are what a DB detector finds
    assert mine["hmean"] >= theirs["hmean"], (backend, mine["hmean"], theirs["hmean"])
    assert all(b.get("angle") in (0, 180) for p in pages for b in p["boxes"])
