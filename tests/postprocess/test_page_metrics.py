"""Page metrics on hand-made boxes: IoU, one-to-one matching, precision/recall/hmean and end-to-end
word accuracy (each case can fail: a shifted box is a miss, a duplicate counts once)."""
from __future__ import annotations

import pytest

pytest.importorskip("shapely")

from crnn_deploy.common.errors import OptionError, UserError  # noqa: E402
from crnn_deploy.postprocess.page_metrics import (  # noqa: E402
    format_page_metrics,
    iou_matrix,
    match_boxes,
    misread_lines,
    score_pages,
)


def rect(x0, y0, x1, y1, text=None):
    box = {"points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]}
    if text is not None:
        box["text"] = text
    return box


def page(name, *boxes):
    return {"page": name, "boxes": list(boxes)}


def test_iou_of_known_rectangles():
    m = iou_matrix([rect(0, 0, 10, 10)], [rect(0, 0, 10, 10), rect(5, 0, 15, 10),
                                           rect(20, 20, 30, 30)])
    assert m[0, 0] == pytest.approx(1.0)
    assert m[0, 1] == pytest.approx(50 / 150)
    assert m[0, 2] == 0.0


def test_a_shifted_box_below_the_threshold_is_a_miss_and_an_extra():
    gt = [page("a.png", rect(0, 0, 100, 20, "Hello"))]
    # shifted right by 40 px: IoU = 60 * 20 / (140 * 20) = 0.43 < 0.5
    pred = [page("a.png", rect(40, 0, 140, 20, "Hello"))]
    s = score_pages(pred, gt)
    assert (s["matched"], s["precision"], s["recall"], s["hmean"]) == (0, 0.0, 0.0, 0.0)
    assert s["e2e_accuracy"] == 0.0
    assert s["per_page"][0]["missed"] == [0] and s["per_page"][0]["extra"] == [0]
    # shifted by 20 px: IoU = 80 / 120 = 0.67: a match, read right
    s = score_pages([page("a.png", rect(20, 0, 120, 20, "hello!"))], gt)
    assert (s["matched"], s["hmean"], s["e2e_accuracy"]) == (1, 1.0, 1.0)


def test_two_predictions_on_one_gt_count_once():
    gt = [page("a.png", rect(0, 0, 100, 20, "word"))]
    pred = [page("a.png", rect(2, 0, 100, 20, "wxrd"), rect(0, 0, 100, 20, "word"))]
    s = score_pages(pred, gt)
    assert s["matched"] == 1 and s["pred_boxes"] == 2
    assert s["precision"] == 0.5 and s["recall"] == 1.0
    assert s["hmean"] == pytest.approx(2 / 3)
    # the best-overlapping prediction is the match (greedy by IoU), so the word is read right
    assert s["per_page"][0]["pairs"] == [[0, 1, 1.0]] and s["per_page"][0]["extra"] == [0]
    assert s["e2e_accuracy"] == 1.0


def test_one_prediction_over_two_gt_boxes_matches_at_most_one():
    gt = [page("a.png", rect(0, 0, 50, 20, "one"), rect(50, 0, 100, 20, "two"))]
    pred = [page("a.png", rect(0, 0, 100, 20, "one two"))]  # IoU 0.5 with each
    s = score_pages(pred, gt)
    assert s["matched"] == 1 and s["recall"] == 0.5 and s["precision"] == 1.0
    assert s["per_page"][0]["missed"] == [1]
    assert s["e2e_accuracy"] == 0.0  # "onetwo" != "one"
    assert s["per_page"][0]["misread"][0]["gt_text"] == "one"


def test_totals_over_pages_and_misreads_under_each_metric():
    gt = [page("a.png", rect(0, 0, 100, 20, "Don't"), rect(0, 40, 100, 60, "STOP")),
          page("b.png", rect(10, 10, 60, 30, "café"))]
    pred = [page("a.png", rect(1, 1, 100, 20, "dont"), rect(0, 40, 100, 61, "stop"),
                 rect(200, 200, 220, 220, "x")),
            page("b.png")]
    s = score_pages(pred, gt)
    assert (s["gt_boxes"], s["pred_boxes"], s["matched"]) == (3, 3, 2)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["read_right"] == 2 and s["e2e_accuracy"] == pytest.approx(2 / 3)
    assert s["per_page"][1]["missed"] == [0]
    exact = score_pages(pred, gt, metric="exact")
    assert exact["read_right"] == 0 and exact["matched"] == 2
    assert {m["text"] for m in exact["per_page"][0]["misread"]} == {"dont", "stop"}
    lines = format_page_metrics(s)
    assert "hmean 66.67 %" in lines[0] and "2/3" in lines[1]
    assert misread_lines(exact, pred, gt) == [
        "a.png: extra 'x' at [200,200 220,200 220,220 200,220]",
        "a.png: GT \"Don't\" read 'dont' at [0,0 100,0 100,20 0,20] (IoU 0.94)",
        "a.png: GT 'STOP' read 'stop' at [0,40 100,40 100,60 0,60] (IoU 0.95)",
        "b.png: missed GT 'café' at [10,10 60,10 60,30 10,30]"]


def test_empty_pages_and_iou_threshold():
    s = score_pages([page("a.png")], [page("a.png")])
    assert (s["precision"], s["recall"], s["e2e_accuracy"]) == (1.0, 1.0, 1.0)
    s = score_pages([page("a.png", rect(0, 0, 10, 10))], [page("a.png")])
    assert s["precision"] == 0.0 and s["hmean"] == 0.0
    gt = [page("a.png", rect(0, 0, 100, 20, "w"))]
    pred = [page("a.png", rect(20, 0, 120, 20, "w"))]  # IoU 0.67
    assert score_pages(pred, gt, iou=0.9)["matched"] == 0
    assert len(match_boxes(gt[0]["boxes"], pred[0]["boxes"], 0.6)) == 1


def test_bad_input_names_the_page_and_field():
    gt = [page("a.png", rect(0, 0, 10, 10))]  # no text
    with pytest.raises(UserError, match="GT page 0, box 0, text"):
        score_pages([page("a.png")], gt)
    with pytest.raises(UserError, match="2 predicted pages for 1 GT pages"):
        score_pages([page("a.png"), page("b.png")], [page("a.png")])
    bad = [page("a.png", {"points": [[0, 0], [1, 0], [1, float("nan")], [0, 1]]})]
    with pytest.raises(UserError, match=r"predicted page 0, box 0, points\[2\]\[1\]"):
        score_pages(bad, [page("a.png")])
    with pytest.raises(OptionError):
        score_pages([], [], metric="fuzzy")
    with pytest.raises(OptionError):
        score_pages([], [], iou=0.0)
