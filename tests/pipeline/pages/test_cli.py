"""``crnn-ocr`` end to end on composed pages of real IIIT5K words."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from crnn_deploy.pipeline.pages.cli import main


def _engines(page_engines) -> list[str]:
    return ["--det", str(page_engines["det"]), "--cls", str(page_engines["cls"]),
            "--rec", str(page_engines["rec"])]


@pytest.fixture(scope="module")
def run(page_engines, composed_pages, tmp_path_factory):
    """One run over 3 pages and a bad one, with -o and --draw."""
    folder = tmp_path_factory.mktemp("ocr_cli")
    bad = folder / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    pages = [str(composed_pages[2]), str(bad), str(composed_pages[0]), str(composed_pages[1])]
    out, drawn = folder / "pages.jsonl", folder / "drawn"
    res = CliRunner().invoke(main, [*pages, *_engines(page_engines), "-o", str(out),
                                    "--draw", str(drawn), "--threads", "2"])
    return res, pages, out, drawn


def test_jsonl_rows_in_input_order_and_drawings(run):
    res, pages, out, drawn = run
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["page"] for r in rows] == [pages[0], pages[2], pages[3]]
    for r in rows:
        assert set(r) == {"page", "boxes"} and len(r["boxes"]) > 15
        assert all(set(b) == {"points", "text", "confidence", "angle"} for b in r["boxes"])
    names = sorted(p.name for p in drawn.iterdir() if not p.name.startswith("."))
    assert names == ["000001-page2.jpg", "000003-page0.jpg", "000004-page1.jpg"]
    assert "broken.png" in res.stderr and "skipped 1 bad" in res.stderr
    assert "pages/s" in res.stderr and "detector" in res.stderr and "recognizer" in res.stderr


def test_stdout_rows_and_all_bad_pages(page_engines, composed_pages, tmp_path):
    res = CliRunner().invoke(main, [str(composed_pages[0]), *_engines(page_engines), "--no-cls", "-q"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)
    assert row["page"] == str(composed_pages[0]) and {b["angle"] for b in row["boxes"]} == {0}
    assert res.stderr == ""
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(main, [str(bad), *_engines(page_engines), "-o", str(out)])
    assert res.exit_code == 1 and "Error: no page could be read" in res.stderr
    assert not out.exists()
    res = CliRunner().invoke(main, [str(composed_pages[0]), *_engines(page_engines), "-o", str(out),
                                    "--precision", "bf16"])  # ONNX Runtime engines run f32
    assert res.exit_code == 1 and "--precision bf16 needs --backend openvino" in res.stderr
    assert not out.exists()


def test_output_rules_and_missing_engines(page_engines, composed_pages, tmp_path, monkeypatch, run):
    _, _, out, drawn = run
    page_as_output = tmp_path / "x.jsonl"
    page_as_output.write_text("{}\n")
    res = CliRunner().invoke(main, [str(page_as_output), *_engines(page_engines), "-o", str(page_as_output)])
    assert res.exit_code == 1 and "Error:" in res.stderr and page_as_output.read_text() == "{}\n"
    res = CliRunner().invoke(main, [str(composed_pages[0]), *_engines(page_engines), "-o", str(out)])
    assert res.exit_code == 1 and "--overwrite" in res.stderr
    res = CliRunner().invoke(main, [str(composed_pages[0]), *_engines(page_engines), "--draw", str(drawn)])
    assert res.exit_code == 1 and "--overwrite" in res.stderr
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, [str(composed_pages[0])])
    assert res.exit_code == 1 and "make pages" in res.stderr and "Traceback" not in res.output


def test_gt_scores_the_pages_it_lists(page_engines, assets, tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from conftest import compose_page  # the tests' page composer

    lines = []
    for i, start in enumerate((400, 460)):
        image, placed = compose_page(assets, start, size=(800, 400), flip_every=0)
        image.save(tmp_path / f"p{i}.png")
        boxes = [{"points": [[x, y], [x + w, y], [x + w, y + h], [x, y + h]], "text": label}
                 for label, (x, y, w, h), _ in placed]
        boxes[0]["text"] = "XQXQXQ"  # a GT text nobody reads: one misread at least
        lines.append(json.dumps({"page": f"p{i}.png", "boxes": boxes}))
    (tmp_path / "gt.jsonl").write_text("\n".join(lines) + "\n")
    res = CliRunner().invoke(main, ["--gt", str(tmp_path / "gt.jsonl"), *_engines(page_engines),
                                    "--misreads", "--no-cls", "-o", str(tmp_path / "out.jsonl")])
    assert res.exit_code == 0, res.output
    hmean = float(res.stderr.split("hmean ")[1].split(" %")[0])
    assert hmean > 80
    assert "end to end (latin)" in res.stderr and "p0.png: GT 'XQXQXQ' read" in res.stderr
    rows = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["page"] for r in rows] == ["p0.png", "p1.png"]
    res = CliRunner().invoke(main, ["--gt", str(tmp_path / "gt.jsonl"), str(tmp_path / "p0.png"),
                                    *_engines(page_engines)])
    assert res.exit_code == 1 and "no other input" in res.stderr
