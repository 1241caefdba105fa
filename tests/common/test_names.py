"""common/names.py: any name the file system allows survives in TSV, JSONL and LMDB path keys,
and no name crashes a run after the work is done (the probe's case: one Latin-1 byte in one file
name lost all of crnn-recognize's output)."""
from __future__ import annotations

import json
import os

import lmdb
import pytest
from click.testing import CliRunner

from crnn_deploy.common.names import escape_name, tsv_line, unescape_name

NASTY = [b"caf\xe9.png", b"tab\there.png", b"line\nbreak.png", b"car\rriage.png",
         b"back\\slash.png", b"\xe4\xb8\xad\xe6\x96\x87.png", b"nel\xc2\x85.png", b"bell\x07.png"]


@pytest.mark.parametrize("raw", NASTY + [b"plain word.png"])
def test_escaping_round_trips_and_stays_one_utf8_field(raw):
    text = escape_name(raw)
    assert unescape_name(text) == raw
    assert escape_name(os.fsdecode(raw)) == text
    encoded = tsv_line((text, "x")).encode("utf-8")  # valid UTF-8
    assert encoded.count(b"\t") == 1 and encoded.count(b"\n") == 1
    assert len(tsv_line((text,)).splitlines()) == 1


def test_table_examples():
    assert escape_name(b"caf\xe9") == "caf\\xe9"
    assert escape_name("a\tb\\c\n") == "a\\tb\\\\c\\n"
    assert escape_name("中文 word") == "中文 word"  # ordinary names are unchanged
    assert escape_name("nel\x85") == "nel\\u0085" and unescape_name("nel\\u0085") == b"nel\xc2\x85"


@pytest.fixture(scope="module")
def nasty_folder(assets, tmp_path_factory):
    folder = tmp_path_factory.mktemp("names")
    src = (assets / "demo_words" / "meijieru_demo.png").read_bytes()
    root = os.fsencode(folder)
    for raw in NASTY:
        with open(os.path.join(root, raw), "wb") as f:
            f.write(src)
    return folder


def test_recognize_keeps_every_name_in_tsv_and_jsonl(nasty_folder, nano_dynamic_onnx, tmp_path):
    from crnn_deploy.pipeline.recognize_cli import main

    want = sorted(os.path.join(os.fsencode(nasty_folder), raw) for raw in NASTY)
    for suffix in ("tsv", "jsonl"):
        out = tmp_path / f"p.{suffix}"
        res = CliRunner().invoke(main, ["--engine", str(nano_dynamic_onnx), str(nasty_folder),
                                        "-o", str(out)])
        assert res.exit_code == 0, res.output
        lines = out.read_bytes().decode("utf-8").splitlines()
        if suffix == "tsv":
            rows = [line.split("\t") for line in lines[1:]]
            assert all(len(r) == 3 for r in rows)
            paths, texts = [r[0] for r in rows], {r[1] for r in rows}
        else:
            rows = [json.loads(line) for line in lines]
            paths, texts = [r["path"] for r in rows], {r["text"] for r in rows}
        assert sorted(unescape_name(p) for p in paths) == want
        assert texts == {"Available"}


def test_lmdb_path_keys_and_eval_predictions_keep_every_name(nasty_folder, nano_dynamic_onnx,
                                                             tmp_path):
    from crnn_deploy.pipeline.eval_cli import main as eval_main
    from crnn_deploy.preprocess.cli import main as prep_main

    db = tmp_path / "n.lmdb"
    res = CliRunner().invoke(prep_main, ["build-lmdb", "--images", str(nasty_folder),
                                         "--output", str(db)])
    assert res.exit_code == 0, res.output
    with lmdb.open(str(db), readonly=True, lock=False) as env, env.begin() as txn:
        keys = sorted(txn.get(b"path-%09d" % i) for i in range(1, len(NASTY) + 1))
    assert keys == sorted(NASTY)  # the exact bytes of each name
    res = CliRunner().invoke(eval_main, ["--lmdb", str(db), "--engine", str(nano_dynamic_onnx),
                                         "--output", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    rows = [line.split("\t") for line in
            (tmp_path / "out" / "predictions.tsv").read_text("utf-8").splitlines()[1:]]
    assert sorted(unescape_name(r[1]) for r in rows) == sorted(NASTY)
    from crnn_deploy.postprocess.predictions import read_names

    res = CliRunner().invoke(prep_main, ["lmdb-to-bin", "--lmdb", str(db), "--model", "nano-ocr",
                                         "--output", str(tmp_path / "bins")])
    assert res.exit_code == 0, res.output
    names = read_names(tmp_path / "bins" / "names.txt")  # what crnn-postprocess reads
    assert sorted(os.fsencode(v) for v in names.values()) == sorted(NASTY)


def test_messages_and_names_never_reach_the_terminal_raw():
    """An escape sequence in a file name (here: set the window title, then red) is printed
    escaped by the Error path of every command and by display_name; long names are cut."""
    import click
    from click.testing import CliRunner

    from crnn_deploy.common.cli import command
    from crnn_deploy.common.errors import UserError
    from crnn_deploy.common.names import display_name, terminal_safe

    evil = "a\x1b]0;pwned\x07\x1b[31mb\r\x9b.png"

    @command()
    @click.argument("name")
    def cmd(name):
        raise UserError(f"image {name} not found")

    res = CliRunner().invoke(cmd, [evil])
    assert res.exit_code == 1 and "\x1b" not in res.output and "\r" not in res.output
    assert "Error: image a\\x1b]0;pwned\\x07\\x1b[31mb\\r\\u009b.png not found" in res.output
    assert terminal_safe("two\tfields\nand a line") == "two\tfields\nand a line"
    assert display_name(evil) == "a\\x1b]0;pwned\\x07\\x1b[31mb\\r\\u009b.png"
    long = display_name("x" * 1_000_000)
    assert len(long) < 300 and long.endswith("... (1000000 characters)")
