"""bench.pages through ``crnn-bench pages``: crnn-ocr (a whole process, ONNX Runtime engines)
against RapidOCR's full pipeline (the ``rapidocr-pages`` oracle process of bench.oracles) on 2
generated pages, one round; the markdown and JSON it writes; its user errors."""
from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

from crnn_deploy.bench.cli import main
from crnn_deploy.bench.pages import _boxes
from crnn_deploy.common.errors import UserError
from tests.conftest import ROOT

PAGES = 2


@pytest.fixture(scope="module")
def pages(assets, tmp_path_factory):
    """2 small pages of scripts/make_pages.py (seed 5)."""
    spec = importlib.util.spec_from_file_location("make_pages", ROOT / "scripts" / "make_pages.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("page_set") / "pages"
    module.make_pages(out, seed=5, count=PAGES, assets=assets, max_side=480)
    return out


def _bench(tmp_path, *args):
    return CliRunner().invoke(main, ["pages", *args, "--rounds", "1",
                                     "--workdir", str(tmp_path / "w")])


def test_crnn_ocr_and_rapidocr_as_processes(tmp_path, pages, ppocr_det_onnx, ppocr_cls_onnx,
                                            ppocrv4_onnx):
    pytest.importorskip("rapidocr_onnxruntime", reason="RapidOCR is a test-only install")
    ours = f"--det {ppocr_det_onnx} --cls {ppocr_cls_onnx} --rec {ppocrv4_onnx}"
    md_path = tmp_path / "pages.md"
    res = _bench(tmp_path, "--pages", str(pages), "--ours", ours, "--output", str(md_path))
    assert res.exit_code == 0, res.output
    md = md_path.read_text(encoding="utf-8")
    assert md.strip() in res.output
    assert f"crnn-bench pages --pages {pages} --rounds 1 --ours '{ours}'" in md
    assert "(family " in md and "flags:" in md and "Load average (1 min) before" in md
    assert f"| `crnn-ocr {ours}` |" in md and "| `RapidOCR()` 1.4.4, defaults |" in md
    result = json.loads((tmp_path / "w" / "pages.json").read_text(encoding="utf-8"))
    assert result["pages"] == PAGES and result["rounds"] == 1
    ours_row, rapid = result["rows"]
    for row in (ours_row, rapid):
        assert row["seconds"][0] > 0 and row["cpu_seconds"][0] > 0
        assert row["median"] == pytest.approx(PAGES / row["seconds"][0]) and row["boxes"] > 0
    # f32 engines on RapidOCR's own models find the same boxes (docs/PAGES.md)
    assert ours_row["boxes"] == rapid["boxes"]
    # x RapidOCR (ratio of median pages/s) and RapidOCR's CPU seconds over ours
    ratio = ours_row["median"] / rapid["median"]
    cpu_ratio = rapid["cpu"]["median"] / ours_row["cpu"]["median"]
    ours_line = next(ln for ln in md.splitlines() if ln.startswith("| `crnn-ocr"))
    assert f"| {ratio:.2f} |" in ours_line and f"| {cpu_ratio:.2f} |" in ours_line
    rapid_line = next(ln for ln in md.splitlines() if ln.startswith("| `RapidOCR()`"))
    assert rapid_line.count("| 1.00 |") == 2


def test_missing_or_empty_folder_is_an_error(tmp_path):
    res = _bench(tmp_path, "--pages", str(tmp_path / "none"), "--ours", "")
    assert res.exit_code == 1 and "Error: --pages" in res.output and "folder not found" in res.output
    (tmp_path / "other.png").write_bytes(b"")
    res = _bench(tmp_path, "--pages", str(tmp_path), "--ours", "")
    assert res.exit_code == 1 and "no page_*.png" in res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)


def test_output_with_other_pages_than_the_folder_is_an_error(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text('{"page": "page_0000.png", "boxes": [{"points": [], "text": "a"}]}\n')
    assert _boxes(out, 1, "crnn-ocr") == 1
    with pytest.raises(UserError, match="wrote 1 pages .* the folder has 2 page_"):
        _boxes(out, 2, "crnn-ocr")


def test_failing_crnn_ocr_is_an_error(tmp_path, pages):
    res = _bench(tmp_path, "--pages", str(pages), "--ours", f"--det {tmp_path / 'none.onnx'}")
    assert res.exit_code == 1 and res.output.count("Error:") >= 1
    assert "crnn-ocr" in res.output and "exited with" in res.output and "none.onnx" in res.output
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
