"""bench.same: the agreement report and the oracle TSV reader's errors; the EasyOCR mode end to
end through crnn-bench on real words with an oracle file that disagrees on one word."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from crnn_deploy.bench.cli import main
from crnn_deploy.bench.same import read_oracle, report
from crnn_deploy.common.errors import UserError


def test_report_counts_and_lists_differences():
    rows = [("a.png", "HELLO"), ("b.png", "WORLD")]
    md = report(rows, [("hello", 0.9), ("world", 0.8)], [("hello", 0.95), ("word", 0.7)], "EasyOCR")
    assert md.startswith("Same text: 1 / 2; largest confidence difference among them 5.00e-02.")
    assert "| b.png | WORLD | world (0.8000) | word (0.7000) |" in md


def test_bad_oracle_line_names_file_and_line(tmp_path):
    f = tmp_path / "o.tsv"
    f.write_text("a.png\thello\t0.9\nb.png\tno-confidence\n")
    with pytest.raises(UserError, match=r"o.tsv, line 2: expected relpath<TAB>text<TAB>confidence"):
        read_oracle(f)


def test_easyocr_mode_against_an_oracle_file(tmp_path, assets, ppocrv4_onnx):
    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    rels = [line.split("\t")[0] for line in gt.read_text().splitlines()[:3]]
    oracle = tmp_path / "o.tsv"
    oracle.write_text("".join(f"{r}\tnot-this\t0.5\n" for r in rels))
    out = tmp_path / "same.md"
    res = CliRunner().invoke(main, ["same", "easyocr", "--engine", str(ppocrv4_onnx), "--gt",
                                    str(gt), "--limit", "3", "--oracle", str(oracle),
                                    "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_text().startswith("Same text: 0 / 3;")
