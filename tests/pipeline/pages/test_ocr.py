"""The page API (:class:`OCR`) on composed pages of real IIIT5K words: every input type, the
RapidOCR 1.4.4 full pipeline as the oracle, turned words, errors."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from crnn_deploy.common.errors import UserError


def _same(a: dict, b: dict) -> bool:
    return [(x["points"], x["text"], x["angle"]) for x in a["boxes"]] == \
        [(x["points"], x["text"], x["angle"]) for x in b["boxes"]]


def test_path_bytes_pil_and_arrays_give_the_same_page(ocr, composed_pages):
    path = composed_pages[0]
    by_path = ocr(str(path))
    assert by_path["page"] == str(path) and len(by_path["boxes"]) > 20
    rgb = np.asarray(Image.open(path).convert("RGB"))
    others = ocr([path.read_bytes(), Image.open(path), rgb])
    assert all(r["page"] is None for r in others)
    for r in others:
        assert _same(r, by_path)
    from crnn_deploy import OCR

    assert isinstance(ocr, OCR)
    box = by_path["boxes"][0]
    assert set(box) == {"points", "text", "confidence", "angle"}
    assert len(box["points"]) == 4 and 0.5 <= box["confidence"] <= 1
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box["points"]
    assert x1 > x0 and y3 > y0 and x2 > x3 and y2 > y1  # clockwise from the top-left


def test_bgr_array_with_channel_order(page_engines, composed_pages, ocr):
    from crnn_deploy import OCR

    bgr = np.ascontiguousarray(np.asarray(Image.open(composed_pages[1]).convert("RGB"))[:, :, ::-1])
    with OCR(page_engines["det"], page_engines["cls"], page_engines["rec"],
             channel_order="bgr") as bgr_ocr:
        assert _same(bgr_ocr(bgr), ocr(str(composed_pages[1])))


def test_same_boxes_and_texts_as_rapidocr(ocr, composed_pages):
    rapid = pytest.importorskip("rapidocr_onnxruntime")
    engine = rapid.RapidOCR()
    for path in composed_pages[:2]:
        ours = ocr(str(path))["boxes"]
        theirs = engine(str(path))[0]
        assert len(ours) == len(theirs) > 20
        for a, (points, text, _) in zip(ours, theirs):
            np.testing.assert_allclose(a["points"], points, atol=0.01)
            assert a["text"] == text


def test_turned_words_are_read_upright(ocr, assets):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from conftest import compose_page  # the tests' page composer

    image, placed = compose_page(assets, 300, flip_every=2)
    page = ocr(image)
    turned = [(label, x + w / 2, y + h / 2) for label, (x, y, w, h), t in placed if t]
    hits = 0
    for label, cx, cy in turned:
        for box in page["boxes"]:
            xs, ys = [p[0] for p in box["points"]], [p[1] for p in box["points"]]
            if min(xs) <= cx <= max(xs) and min(ys) <= cy <= max(ys):
                hits += box["angle"] == 180 and box["text"].lower() == label.lower()
    assert hits >= 0.5 * len(turned), (hits, len(turned))  # 15 of 26 at the time of writing
    assert any(b["angle"] == 0 for b in page["boxes"])


def test_without_classifier_every_angle_is_0(page_engines, composed_pages):
    from crnn_deploy import OCR

    with OCR(page_engines["det"], None, page_engines["rec"]) as plain:
        page = plain(composed_pages[2])
    assert page["boxes"] and {b["angle"] for b in page["boxes"]} == {0}


def test_bad_pages_and_wrong_engines(ocr, page_engines, tmp_path):
    from crnn_deploy import OCR

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(UserError, match="bad.png"):
        ocr(str(bad))
    rows = ocr([str(bad), np.zeros((80, 120, 3), np.uint8)], errors="ignore")
    assert rows[0]["boxes"] == [] and "cannot identify" in rows[0]["error"]
    assert rows[1] == {"page": None, "boxes": []}  # a blank page: no text
    with pytest.raises(UserError, match="is a recognizer, expected a detector"):
        OCR(page_engines["rec"], None, page_engines["rec"])
    with pytest.raises(UserError, match="is a detector, expected a classifier"):
        OCR(page_engines["det"], page_engines["det"], page_engines["rec"])
    with pytest.raises(UserError, match="rec_batching must be one of width, rapidocr"):
        OCR(page_engines["det"], None, page_engines["rec"], rec_batching="paddle")
    with pytest.raises(UserError, match="engine_threads must be an integer >= 1"):
        OCR(page_engines["det"], None, page_engines["rec"], engine_threads=0)


def test_one_thread_engines_give_the_same_pages(page_engines, composed_pages, ocr):
    """Engine threads and the recognizer batch change the speed (docs/PAGES.md), not the
    result: the same boxes, texts and confidences, to the last digit."""
    from crnn_deploy import OCR

    with OCR(page_engines["det"], page_engines["cls"], page_engines["rec"], engine_threads=1,
             batch_size=4) as one:
        mine = one([str(p) for p in composed_pages[:2]])
    assert mine == ocr([str(p) for p in composed_pages[:2]])
    assert sum(len(p["boxes"]) for p in mine) >= 10


def test_precision_of_the_three_engines(page_engines, composed_pages, ocr):
    """``precision`` reaches the detector, classifier and recognizer: ONNX Runtime refuses bf16;
    OpenVINO bf16 finds the same words (IoU >= 0.5) as f32 and reads most of them alike."""
    import importlib.util

    from crnn_deploy import OCR
    from crnn_deploy.postprocess.page_metrics import match_boxes

    with pytest.raises(UserError, match="precision must be one of f32, bf16, f16, auto"):
        OCR(page_engines["det"], None, page_engines["rec"], precision="int4")
    with pytest.raises(UserError, match="--precision bf16 needs --backend openvino"):
        OCR(page_engines["det"], None, page_engines["rec"], precision="bf16")
    if importlib.util.find_spec("openvino") is None:
        pytest.skip("openvino is not installed")
    pages = [str(p) for p in composed_pages[:2]]
    with OCR(page_engines["det"], page_engines["cls"], page_engines["rec"],
             backend="openvino", precision="bf16") as fast:
        got = fast(pages)
    want = ocr(pages)
    for g, w in zip(got, want):
        pairs = match_boxes(g["boxes"], w["boxes"], 0.5)
        assert len(pairs) == len(w["boxes"]) == len(g["boxes"]) > 0
        same = sum(g["boxes"][i]["text"] == w["boxes"][j]["text"] for i, j, _ in pairs)
        assert same >= 0.8 * len(pairs)


def test_close_with_an_unfinished_iteration_waits_for_it(page_engines, composed_pages):
    """Closing an OCR whose iter() was left after its first row (the classifier and recognizer
    of the next group may still run in their thread) first finishes that iteration, then frees
    the engines (no inference on a freed engine)."""
    from crnn_deploy import OCR

    ocr = OCR(page_engines["det"], page_engines["cls"], page_engines["rec"], group_pages=1)
    rows = ocr.iter([str(p) for p in composed_pages[:4]])
    k, _, record, why = next(rows)
    assert k == 0 and why is None and record["boxes"]
    ocr.close()
    assert rows.gi_frame is None  # the generator was closed, its threads joined
