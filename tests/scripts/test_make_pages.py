"""scripts/make_pages.py: seeded pages of real word crops and rendered lines with their boxes;
deterministic for a seed, valid page JSONL, non-overlapping boxes, published under the output
rules (never over a folder it did not write, never inside the assets)."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from PIL import Image

from crnn_deploy.common.errors import UserError
from crnn_deploy.postprocess.pages_jsonl import read_pages
from tests.conftest import ROOT


def _load():
    spec = importlib.util.spec_from_file_location("make_pages", ROOT / "scripts" / "make_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_pages = _load()


@pytest.fixture(scope="module")
def pages(assets, tmp_path_factory):
    out = tmp_path_factory.mktemp("pages") / "set"
    make_pages.make_pages(out, seed=7, count=4, assets=assets, max_side=480)
    return out


def test_same_seed_same_bytes_other_seed_other_pages(pages, assets, tmp_path):
    again = make_pages.make_pages(tmp_path / "again", seed=7, count=4, assets=assets, max_side=480)
    names = sorted(p.name for p in pages.iterdir() if not p.name.startswith("."))
    assert names == ["gt.jsonl", *(f"page_{k:04d}.png" for k in range(4))]
    for name in names:
        assert (again / name).read_bytes() == (pages / name).read_bytes(), name
    other = make_pages.make_pages(tmp_path / "other", seed=8, count=4, assets=assets, max_side=480)
    assert (other / "gt.jsonl").read_bytes() != (pages / "gt.jsonl").read_bytes()


def test_gt_is_valid_page_jsonl_with_boxes_inside_and_apart(pages):
    gt = read_pages(pages / "gt.jsonl")
    assert [p["page"] for p in gt] == [f"page_{k:04d}.png" for k in range(4)]
    angles, n = set(), 0
    for page in gt:
        w, h = Image.open(page["path"]).size
        rects = []
        for box in page["boxes"]:
            (x0, y0), (x1, y1) = box["points"][0], box["points"][2]
            assert box["points"] == [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]  # clockwise from TL
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            assert box["text"] and box["text"] == box["text"].strip()
            rects.append((x0, y0, x1, y1))
            angles.add(box["angle"])
        for i, a in enumerate(rects):
            for b in rects[i + 1:]:
                assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)
        tops = [r[1] for r in rects]
        assert tops == sorted(tops)  # top to bottom
        n += len(rects)
    assert n >= 16 and angles == {0, 180}


def test_boxes_hold_ink_and_the_page_is_not_blank(pages):
    gt = read_pages(pages / "gt.jsonl")
    img = np.asarray(Image.open(gt[0]["path"]).convert("L"), np.float32)
    for box in gt[0]["boxes"]:
        (x0, y0), (x1, y1) = box["points"][0], box["points"][2]
        inside = img[int(y0):int(y1), int(x0):int(x1)]
        assert inside.std() > 10, box  # text (ink or a photo crop), not bare background


def test_refuses_to_write_over_what_it_did_not_create(pages, assets, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="did not write"):
        make_pages.make_pages(foreign, seed=0, count=1, assets=assets, overwrite=True)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(UserError, match="--overwrite"):
        make_pages.make_pages(pages, seed=0, count=1, assets=assets)
    with pytest.raises(UserError, match="assets"):
        make_pages.make_pages(assets / "pages", seed=0, count=1, assets=assets)
    out = make_pages.make_pages(tmp_path / "ours", seed=1, count=1, assets=assets, max_side=480)
    make_pages.make_pages(out, seed=2, count=2, assets=assets, max_side=480, overwrite=True)
    assert len(read_pages(out / "gt.jsonl")) == 2 and not (out / "page_0002.png").exists()
    assert [json.loads(line)["page"] for line in (out / "gt.jsonl").read_text().splitlines()] == [
        "page_0000.png", "page_0001.png"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left
