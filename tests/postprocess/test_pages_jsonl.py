"""Page JSONL reading: bounded, every field checked, errors naming file, line and field; page paths
stay inside the GT file's folder."""
from __future__ import annotations

import json

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.postprocess import pages_jsonl
from crnn_deploy.postprocess.pages_jsonl import page_line, read_pages

BOX = {"points": [[1, 2], [30, 2], [30, 12], [1, 12]], "text": "Hello", "angle": 180,
       "confidence": 0.9}


def write(tmp_path, *lines, name="gt.jsonl"):
    path = tmp_path / name
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_reads_pages_with_paths_from_the_file_folder(tmp_path):
    path = write(tmp_path, {"page": "p/a.png", "boxes": [BOX]}, "", {"page": "b.png", "boxes": []})
    pages = read_pages(path)
    assert [p["page"] for p in pages] == ["p/a.png", "b.png"]
    assert pages[0]["path"] == tmp_path / "p" / "a.png"
    assert pages[0]["boxes"][0] == {"points": [[1.0, 2.0], [30.0, 2.0], [30.0, 12.0], [1.0, 12.0]],
                                    "text": "Hello", "angle": 180, "confidence": 0.9}
    assert json.loads(page_line(pages[0])) == {"page": "p/a.png", "boxes": [pages[0]["boxes"][0]]}


@pytest.mark.parametrize("box, field", [
    ({"points": [[0, 0], [1, 0], [1, 1]], "text": "a"}, "box 0, points: expected 4 points"),
    ({"points": [[0, 0], [1, 0], [1, 1], [0, "1"]], "text": "a"}, r"box 0, points\[3\]\[1\]"),
    ({"points": [[0, 0], [1, 0], [1, 1], [0, True]], "text": "a"}, r"box 0, points\[3\]\[1\]"),
    ({"points": [[0, 0], [1, 0], [1, 1], [0, 1e9]], "text": "a"}, r"box 0, points\[3\]\[1\]: expected a finite"),
    ({"points": [[0, 0], [1, 0], [1, 1], [0]], "text": "a"}, r"box 0, points\[3\]: expected a point"),
    ({"points": [[0, 0], [1, 0], [1, 1], [0, 1]]}, "box 0, text: expected a string"),
    ({"points": [[0, 0], [1, 0], [1, 1], [0, 1]], "text": "a\nb"}, "box 0, text: expected one line"),
    ({"points": [[0, 0], [1, 0], [1, 1], [0, 1]], "text": "x" * 1001}, "box 0, text: expected one line"),
    ({"points": [[0, 0], [1, 0], [1, 1], [0, 1]], "text": "a", "angle": 90}, "box 0, angle: expected 0 or 180"),
    ({"points": [[0, 0], [1, 0], [1, 1], [0, 1]], "text": "a", "confidence": 2}, "box 0, confidence"),
    ({"text": "a"}, "box 0: missing field 'points'"),
])
def test_a_bad_box_names_file_line_page_box_and_field(tmp_path, box, field):
    path = write(tmp_path, {"page": "a.png", "boxes": []}, {"page": "b.png", "boxes": [box]})
    with pytest.raises(UserError, match=f"gt.jsonl:2: page 1, {field}"):
        read_pages(path)


@pytest.mark.parametrize("line, why", [
    ("not json", "not a JSON object"),
    ('{"page": "a.png", "boxes": [{"points": [[0, 0], [1, 0], [1, 1], [0, NaN]], "text": "a"}]}',
     "not a JSON object"),
    ("[1, 2]", "expected an object"),
    ('{"page": "a.png"}', "missing field 'boxes'"),
    ('{"page": "/etc/a.png", "boxes": []}', "leaves the folder"),
    ('{"page": "../a.png", "boxes": []}', "leaves the folder"),
    ('{"page": "", "boxes": []}', "expected a non-empty image path"),
    ('{"page": 3, "boxes": []}', "expected a non-empty image path"),
    ("[" * 100000 + "]" * 100000, "not a JSON object"),
])
def test_a_bad_line_is_an_error_naming_the_line(tmp_path, line, why):
    path = write(tmp_path, line)
    with pytest.raises(UserError, match=f"gt.jsonl:1: .*{why}"):
        read_pages(path)


def test_outside_paths_only_when_allowed_and_predictions_need_no_text(tmp_path):
    path = write(tmp_path, {"page": "/data/a.png", "boxes": [{"points": BOX["points"]}]},
                 {"page": "../b.png", "boxes": []})
    pages = read_pages(path, require_text=False, allow_outside=True)
    assert str(pages[0]["path"]) == "/data/a.png" and "text" not in pages[0]["boxes"][0]


def test_bounds_file_duplicates_and_empty(tmp_path, monkeypatch):
    with pytest.raises(UserError, match="not found"):
        read_pages(tmp_path / "none.jsonl")
    with pytest.raises(UserError, match="not a regular file"):
        read_pages(tmp_path)
    with pytest.raises(UserError, match="no page"):
        read_pages(write(tmp_path, ""))
    with pytest.raises(UserError, match="gt.jsonl:2: page 'a.png' is already listed on line 1"):
        read_pages(write(tmp_path, {"page": "a.png", "boxes": []}, {"page": "a.png", "boxes": []}))
    monkeypatch.setattr(pages_jsonl, "MAX_BOXES", 2)
    with pytest.raises(UserError, match="3 boxes, more than the limit of 2"):
        read_pages(write(tmp_path, {"page": "a.png", "boxes": [BOX] * 3}))
    monkeypatch.setattr(pages_jsonl, "MAX_LINE_BYTES", 100)
    with pytest.raises(UserError, match="gt.jsonl:1: line longer than 100 bytes"):
        read_pages(write(tmp_path, {"page": "a.png", "boxes": [BOX] * 2}))
    monkeypatch.setattr(pages_jsonl, "MAX_FILE_BYTES", 10)
    with pytest.raises(UserError, match="more than the limit of 10 bytes"):
        read_pages(write(tmp_path, {"page": "a.png", "boxes": []}))
    (tmp_path / "bad.jsonl").write_bytes(b'{"page": "\xe9.png", "boxes": []}\n')
    monkeypatch.setattr(pages_jsonl, "MAX_FILE_BYTES", 1 << 20)
    with pytest.raises(UserError, match="bad.jsonl:1: not valid UTF-8"):
        read_pages(tmp_path / "bad.jsonl")
