"""crnn-recognize's row formats: TSV, CSV, JSONL and JSON read back with the standard readers and
common.names.unescape_name, names with tabs, quotes, commas, line breaks and a byte that is not
UTF-8 included; every format from the CLI."""
from __future__ import annotations

import csv
import io
import json
import os

import pytest
from click.testing import CliRunner

from crnn_deploy.common.names import unescape_name
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli
from crnn_deploy.pipeline.row_formats import SIGNATURES, RowWriter

ROWS = [("a.png", "word", 0.5), ('odd\t"name",\n.png', 'te,"x\t', 1 / 3), ("é.png", "", 0.0),
        ("caf\udce9.png", "w", 0.25)]  # the byte 0xE9 (Latin-1 é), as os.listdir gives it


def written(fmt: str, rows=ROWS) -> str:
    buf = io.StringIO()
    w = RowWriter(buf, fmt)
    for r in rows:
        w.write(*r)
    w.close()
    return buf.getvalue()


def _raw(field: str) -> str:
    return os.fsdecode(unescape_name(field))


def parse(fmt: str, text: str) -> list[tuple[str, str, float]]:
    text.encode("utf-8")  # every format is valid UTF-8, whatever the names
    if fmt in ("tsv", "csv"):
        tsv = {"delimiter": "\t", "quoting": csv.QUOTE_NONE}
        rows = list(csv.reader(io.StringIO(text), **(tsv if fmt == "tsv" else {})))
        assert rows[0] == ["path", "text", "confidence"]
        return [(_raw(p), _raw(t), float(c)) for p, t, c in rows[1:]]
    objs = json.loads(text) if fmt == "json" else [json.loads(x) for x in text.splitlines()]
    return [(_raw(o["path"]), _raw(o["text"]), o["confidence"]) for o in objs]


@pytest.mark.parametrize("fmt", ["tsv", "csv", "jsonl", "json"])
def test_every_format_reads_back(fmt):
    text = written(fmt)
    assert text.encode().startswith(SIGNATURES[fmt])
    got = parse(fmt, text)
    assert [(p, t) for p, t, _ in got] == [(p, t) for p, t, _ in ROWS]
    assert [c for *_, c in got] == pytest.approx([round(c, 6) for *_, c in ROWS])


def test_empty_json_is_an_array():
    assert json.loads(written("json", [])) == []
    with pytest.raises(ValueError, match="unknown row format"):
        RowWriter(io.StringIO(), "xml")


@pytest.mark.parametrize("suffix", [".csv", ".json", ".jsonl", ".tsv"])
def test_cli_writes_each_format(assets, nano_dynamic_onnx, tmp_path, suffix):
    word = assets / "demo_words" / "meijieru_demo.png"
    out = tmp_path / f"preds{suffix}"
    res = CliRunner().invoke(recognize_cli, ["--engine", str(nano_dynamic_onnx), str(word),
                                             str(word), "-o", str(out)])
    assert res.exit_code == 0, res.output
    got = parse(suffix[1:], out.read_text("utf-8"))
    assert [(p, t) for p, t, _ in got] == [(str(word), "Available")] * 2
    again = CliRunner().invoke(recognize_cli, ["--engine", str(nano_dynamic_onnx), str(word),
                                               "-o", str(out), "--overwrite"])
    assert again.exit_code == 0, again.output  # recognized as ours, replaced
    assert len(parse(suffix[1:], out.read_text("utf-8"))) == 1
    bad = CliRunner().invoke(recognize_cli, ["--engine", str(nano_dynamic_onnx), str(word),
                                             "-o", str(tmp_path / "p.xml")])
    assert bad.exit_code == 1 and ".tsv, .csv, .jsonl, .json" in bad.output
