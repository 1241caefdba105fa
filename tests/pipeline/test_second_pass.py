"""EasyOCR's english_g2 end to end, with EasyOCR 1.7.2 itself as the oracle, and the second
pass (``pipeline.second_pass``) on its own.

EasyOCR is a test-only install (``make oracle``: ``--no-deps``); it imports torchvision, whose
PyPI wheels are CUDA builds that do not load beside this CPU torch, and its recognizer uses only
``torchvision.transforms.ToTensor``, so the ``easyocr_oracle`` fixture stands in a minimal
``torchvision`` module providing exactly that (``scripts/easyocr_oracle.py``).
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from crnn_deploy.common.names import unescape_name
from crnn_deploy.models.specs import get_spec
from crnn_deploy.pipeline.second_pass import reread_low_confidence

WORDS = 200


def _tsv(path) -> list[list[str]]:
    """The rows after the header of a predictions TSV (fields escaped by
    ``common.names.escape_name``)."""
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    return [[unescape_name(f).decode("utf-8") for f in line.split("\t")] for line in lines]


def test_only_rows_below_the_threshold_are_read_again():
    spec = get_spec("english_g2")  # second_pass_below 0.1
    decoded = [("g1", ["a", "b", "c"], [0.05, 0.5, 0.09]), ("g2", ["d"], [0.01])]
    asked = []

    def raw(meta, rows):
        asked.append((meta, list(rows)))
        return [b""] * len(rows)  # not decodable: the first reading stays

    out = list(reread_low_confidence(decoded, spec, raw, lambda xs: ([], [])))
    assert asked == [("g1", [0, 2]), ("g2", [0])]
    assert out == decoded
    off = spec.with_changes(decoding=spec.decoding.__class__(confidence="product-sqrt"))
    assert list(reread_low_confidence(decoded, off, raw, None)) == decoded and len(asked) == 2


@pytest.fixture(scope="module")
def oracle_words(assets, english_g2_weights, easyocr_oracle, tmp_path_factory):
    """The first 200 IIIT5K words and EasyOCR's own (text, confidence) for each:
    ``Reader(['en'], gpu=False, detector=False, quantize=False).recognize(path)``."""
    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    rows = easyocr_oracle.read_gt(gt, WORDS)
    paths = [gt.parent / rel for rel, _ in rows]
    reader = easyocr_oracle.easyocr_reader(english_g2_weights.parent, quantize=False,
                                           workdir=tmp_path_factory.mktemp("easyocr"))
    return paths, easyocr_oracle.recognize_files(reader, paths)


def test_recognizer_reads_what_easyocr_reads(oracle_words, english_g2_onnx):
    from crnn_deploy import Recognizer

    paths, expected = oracle_words
    with Recognizer(english_g2_onnx, threads=2) as r:
        got = r.recognize([str(p) for p in paths])
    assert [t for t, _ in got] == [t for t, _ in expected]
    assert max(abs(a[1] - b[1]) for a, b in zip(got, expected)) < 1e-4
    assert sum(c < 0.1 for _, c in expected) >= 3  # words that went through the second pass


def test_crnn_eval_and_crnn_recognize_agree_with_it(oracle_words, english_g2_onnx, tmp_path):
    from crnn_deploy.pipeline.eval_cli import main as eval_main
    from crnn_deploy.pipeline.recognize_cli import main as recognize_main
    from crnn_deploy.preprocess.cli import main as preprocess_main

    paths, expected = oracle_words
    preds = tmp_path / "preds.tsv"
    res = CliRunner().invoke(recognize_main, ["--engine", str(english_g2_onnx), "--threads", "2",
                                              "--output", str(preds), *map(str, paths)])
    assert res.exit_code == 0, res.output
    assert [row[1] for row in _tsv(preds)] == [t for t, _ in expected]
    gt = tmp_path / "gt.txt"
    gt.write_text("".join(f"{p}\tx\n" for p in paths), encoding="utf-8")
    lmdb = tmp_path / "words.lmdb"
    assert CliRunner().invoke(preprocess_main, ["build-lmdb", "--gt", str(gt), "--output",
                                                str(lmdb), "--allow-outside-root"]).exit_code == 0
    res = CliRunner().invoke(eval_main, ["--lmdb", str(lmdb), "--engine", str(english_g2_onnx),
                                         "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert [row[2] for row in _tsv(tmp_path / "out" / "predictions.tsv")] == [t for t, _ in expected]
