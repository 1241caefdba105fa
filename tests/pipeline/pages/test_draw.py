"""--draw: file names from untrusted page names stay inside the folder; boxes are drawn."""
from __future__ import annotations

import numpy as np
from PIL import Image

from crnn_deploy.pipeline.pages.draw import DRAWINGS, draw_page, drawing_name, save_drawing


def test_names_are_one_safe_component():
    assert drawing_name(0, "scans/a b/page 1.png") == "000001-page_1.jpg"
    assert drawing_name(41, "../../etc/passwd") == "000042-passwd.jpg"
    assert drawing_name(2, "..") == "000003-page.jpg"
    assert drawing_name(3, None) == "000004-page.jpg"
    assert drawing_name(4, "/x/.hidden.png") == "000005-hidden.jpg"
    long = drawing_name(5, "w" * 500 + ".png")
    assert len(long) == len("000006-") + 80 + len(".jpg")
    for name in ("000001-page_1.jpg", long):
        assert DRAWINGS.owns_name(name)


def test_boxes_and_labels_are_drawn(tmp_path):
    page = Image.new("L", (200, 100), 255)
    record = {"page": "p.png", "boxes": [
        {"points": [[20, 40], [120, 40], [120, 70], [20, 70]], "text": "HELLO",
         "confidence": 0.9, "angle": 180}]}
    drawn = np.asarray(draw_page(page, record))
    assert drawn.shape == (100, 200, 3)
    assert tuple(drawn[55, 20]) == (230, 120, 0)  # the left edge of a turned box, in orange
    assert (drawn[:40] != 255).any()  # its label above it
    path = save_drawing(tmp_path, 0, page, record)
    assert path == tmp_path / "000001-p.jpg" and Image.open(path).size == (200, 100)
