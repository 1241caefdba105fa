"""scripts/compare_pages.py's agreement with the oracle: a box counts as RapidOCR's only at IoU >=
0.9 one-to-one, a text only when equal exactly; every difference is listed."""
from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import ROOT

pytest.importorskip("shapely")


def _load():
    spec = importlib.util.spec_from_file_location("compare_pages", ROOT / "scripts" / "compare_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compare = _load()


def rect(x0, y0, x1, y1, text):
    return {"points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "text": text}


def test_same_boxes_need_iou_09_and_same_texts_exact_strings():
    oracle = [{"page": "p.png", "boxes": [rect(0, 0, 100, 20, "Hello"), rect(0, 50, 100, 70, "World"),
                                          rect(0, 100, 100, 120, "again")]}]
    ours = [{"page": "p.png", "boxes": [rect(0, 0, 100, 20, "Hello"),     # same box, same text
                                        rect(0, 50, 100, 70, "world"),    # same box, case differs
                                        rect(8, 100, 100, 120, "again"),  # IoU 0.92: same box
                                        rect(300, 0, 400, 20, "new")]}]   # only ours
    same = compare.agreement(ours, oracle)
    assert (same["matched"], same["read_right"], same["gt_boxes"]) == (3, 2, 3)
    shifted = [{"page": "p.png", "boxes": [rect(0, 0, 100, 20, "Hello"), rect(0, 50, 100, 70, "World"),
                                           rect(12, 100, 100, 120, "again")]}]  # IoU 0.88
    assert compare.agreement(shifted, oracle)["matched"] == 2
    diffs = compare.differences(ours, oracle, same)
    assert any("only ours: 'new'" in d for d in diffs)
    assert any("RapidOCR 'World', ours 'world'" in d for d in diffs)
    diffs = compare.differences(shifted, oracle, compare.agreement(shifted, oracle))
    assert any("only RapidOCR: 'again'" in d for d in diffs) and any("only ours: 'again'" in d
                                                                     for d in diffs)
    gt = [{"page": "p.png", "boxes": [rect(0, 0, 100, 20, "hello")]}]
    lines, numbers = compare.report("ours", ours, oracle, gt, 2.0)
    assert numbers["same_box"] == 1.0 and numbers["same_text"] == pytest.approx(2 / 3)
    assert numbers["hmean"] == pytest.approx(2 * 0.25 * 1 / 1.25) and "0.50 pages/s" in lines[0]
