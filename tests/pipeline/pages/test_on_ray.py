"""``crnn-ocr --executor ray``: the same rows as the local executor, on a local Ray instance."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from crnn_deploy.pipeline.pages.cli import main

pytest.importorskip("ray")


def test_same_rows_as_local(page_engines, composed_pages, tmp_path):
    pages = [str(p) for p in composed_pages[:2]]
    engines = ["--det", str(page_engines["det"]), "--cls", str(page_engines["cls"]),
               "--rec", str(page_engines["rec"])]
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    res = CliRunner().invoke(main, [*pages, *engines, "-o", str(local), "--group-pages", "1"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, [*pages, *engines, "-o", str(on_ray), "--executor", "ray",
                                    "--actors", "1", "--group-pages", "1"])
    assert res.exit_code == 0, res.output
    assert on_ray.read_text() == local.read_text()
    assert len(on_ray.read_text().splitlines()) == 2
    assert "detector" in res.stderr and "recognizer" in res.stderr
