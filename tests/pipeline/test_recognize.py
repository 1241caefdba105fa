"""crnn-recognize and the Recognizer API on real word images (nano-ocr, real weights)."""
from __future__ import annotations

import csv
import io
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline import Recognizer
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli

# demo_words the model reads right (checked by eye in demo_words/labels.tsv)
RIGHT = {"clovaai_demo_2.jpg": "SHAKESHACK", "clovaai_demo_4.png": "Greenstead",
         "clovaai_demo_5.png": "TOAST", "clovaai_demo_7.png": "underground",
         "gitycc_synth90k_170_READING_62745.jpg": "READING",
         "gitycc_synth90k_178_Showtime_70541.jpg": "Showtime",
         "gitycc_synth90k_78_Novel_52433.jpg": "Novel", "meijieru_demo.png": "Available"}


def run(*args):
    return CliRunner().invoke(recognize_cli, [str(a) for a in args])


def rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter="\t"))


def iiit5k(assets, n: int) -> list[tuple[str, str]]:
    lines = (assets / "eval_iiit5k_3000" / "gt.txt").read_text("utf-8").splitlines()[:n]
    return [tuple(line.split("\t", 1)) for line in lines]


def test_demo_words_without_labels(assets, nano_dynamic_onnx):
    folder = assets / "demo_words"
    res = run("--engine", nano_dynamic_onnx, folder)
    assert res.exit_code == 0, res.output
    got = rows(res.stdout)
    names = sorted(p.name for p in folder.iterdir() if p.suffix in (".png", ".jpg"))
    assert [r[0] for r in got] == [str(folder / n) for n in names]  # sorted, labels.tsv skipped
    by_name = {r[0].rsplit("/", 1)[1]: (r[1], float(r[2])) for r in got}
    for name, word in RIGHT.items():
        assert by_name[name][0] == word and by_name[name][1] > 0.9, (name, by_name[name])
    # a word it gets wrong ("London" read as "ongen") has a clearly lower confidence
    assert by_name["clovaai_demo_3.png"][0] != "London"
    assert by_name["clovaai_demo_3.png"][1] < 0.8
    assert "recognized 13 image(s), skipped 0 bad" in res.stderr


@pytest.fixture
def mixed(tmp_path, assets):
    """A folder of 6 good IIIT5K crops and 3 bad files, interleaved by name."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = iiit5k(assets, 6)
    for k, (rel, _) in enumerate(good):
        shutil.copy(assets / "eval_iiit5k_3000" / rel, folder / f"{2 * k:02d}_good.png")
    (folder / "01_bad.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (folder / "03_empty.jpg").write_bytes(b"")
    (folder / "05_text.png").write_text("not an image")
    return folder, [label for _, label in good]


def test_bad_images_skipped_by_path_or_fatal_with_strict(mixed, nano_dynamic_onnx, tmp_path):
    folder, labels = mixed
    out = tmp_path / "preds.jsonl"
    res = run("--engine", nano_dynamic_onnx, folder, "--output", out)
    assert res.exit_code == 0, res.output
    for bad in ("01_bad.png", "03_empty.jpg", "05_text.png"):
        assert f"skipped {folder / bad}: " in res.stderr
    import json

    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["path"] for g in got] == [str(folder / f"{2 * k:02d}_good.png") for k in range(6)]
    assert all(0.0 <= g["confidence"] <= 1.0 for g in got)
    assert sum(g["text"].lower() == lab.lower() for g, lab in zip(got, labels)) >= 4

    res = run("--engine", nano_dynamic_onnx, folder, "--output", out)  # no silent overwrite
    assert res.exit_code == 1 and "--overwrite" in res.output
    strict = tmp_path / "strict.tsv"
    res = run("--engine", nano_dynamic_onnx, folder, "--output", strict, "--strict")
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert f"Error: {folder / '01_bad.png'}: " in res.output
    assert not strict.exists() and not list(tmp_path.glob(".strict.tsv.*"))
    res = run("--engine", nano_dynamic_onnx, tmp_path / "nope.png")
    assert res.exit_code == 1 and "input not found" in res.output


def test_special_file_is_skipped_by_path_without_blocking(mixed, nano_dynamic_onnx, tmp_path):
    import os

    folder, _ = mixed
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # reading it would block forever: it is refused as not a regular file
    res = run("--engine", nano_dynamic_onnx, folder / "00_good.png", fifo)
    assert res.exit_code == 0, res.output
    assert f"skipped {fifo}: image {fifo} is not a regular file" in res.stderr
    assert [r[0] for r in rows(res.stdout)] == [str(folder / "00_good.png")]


def test_output_is_replaced_only_when_ours(mixed, nano_dynamic_onnx, tmp_path):
    folder, _ = mixed
    notes = tmp_path / "notes.tsv"  # a user's file that happens to be named .tsv
    notes.write_text("my\tnotes\n")
    res = run("--engine", nano_dynamic_onnx, folder, "--output", notes, "--overwrite")
    assert res.exit_code == 1 and "did not write it" in res.output
    assert notes.read_text() == "my\tnotes\n"
    image = folder / "00_good.png"
    before = image.read_bytes()
    res = run("--engine", nano_dynamic_onnx, image, "--output", image.with_suffix(".tsv"))
    assert res.exit_code == 0, res.output  # beside an input: fine
    alias = tmp_path / "alias.tsv"
    alias.symlink_to(image)  # an output that is an input image under another name
    res = run("--engine", nano_dynamic_onnx, image, "--output", alias, "--overwrite")
    assert res.exit_code == 1 and "never writes over" in res.output
    assert image.read_bytes() == before
    res = run("--engine", nano_dynamic_onnx, folder, "--output", folder / "preds.tsv")
    assert res.exit_code == 0, res.output  # inside an input folder: only images are read there
    first = (folder / "preds.tsv").read_text()
    assert first.startswith("path\ttext\tconfidence\n") and len(rows(first)) == 7
    res = run("--engine", nano_dynamic_onnx, folder, "--output", folder / "preds.tsv",
              "--overwrite")  # ours: replaced whole, and preds.tsv was not read as an image
    assert res.exit_code == 0, res.output
    assert (folder / "preds.tsv").read_text() == first
    hidden = sorted(p.name for p in folder.iterdir() if p.name.startswith("."))
    assert hidden == [".00_good.tsv.crnn-deploy.json", ".preds.tsv.crnn-deploy.json"]  # records


def test_order_is_kept_with_several_threads(assets, mixed, nano_dynamic_onnx):
    folder, _ = mixed
    paths = [str(assets / "eval_iiit5k_3000" / rel) for rel, _ in iiit5k(assets, 45)]
    paths[3:3] = [str(folder / "01_bad.png")]
    paths[20:20] = [str(folder / "05_text.png"), str(folder / "03_empty.jpg")]
    with Recognizer(nano_dynamic_onnx, batch_size=4, prep_threads=1, ahead=0) as r:
        one = list(r.iter(paths))
        singles = [r.recognize([p], errors="ignore")[0] for p in paths[:8]]
    with Recognizer(nano_dynamic_onnx, batch_size=4, prep_threads=4, ahead=3) as r:
        many = list(r.iter(paths))
    assert [row[0] for row in many] == list(range(len(paths)))
    assert [row[1] for row in many] == paths
    assert [row[2] for row in many] == [row[2] for row in one]
    assert np.allclose([row[3] or 0 for row in many], [row[3] or 0 for row in one], atol=1e-5)
    assert [k for k, *_, why in many if why] == [3, 20, 21]
    assert [t or "" for _, _, t, _, _ in many[:8]] == [t for t, _ in singles]
    assert [c or 0.0 for *_, c, _ in many[:8]] == pytest.approx([c for _, c in singles], abs=1e-5)
    assert len({row[2] for row in many if row[2]}) > 30  # not one answer repeated


def test_python_api_on_every_input_type(assets, nano_dynamic_onnx):
    rel, label = iiit5k(assets, 1)[0]
    path = assets / "eval_iiit5k_3000" / rel
    img = Image.open(path)
    inputs = [str(path), path, path.read_bytes(), img, img.convert("L"),
              np.asarray(img.convert("RGB")), np.asarray(img.convert("L"))]
    with Recognizer(nano_dynamic_onnx) as r:
        got = r.recognize(inputs)
        assert got[0][0].lower() == label.lower() and 0.5 < got[0][1] <= 1.0
        for text, conf in got[1:]:
            assert text == got[0][0] and conf == pytest.approx(got[0][1], abs=1e-5)
        with pytest.raises(UserError, match=r"input #1 \(bytes\): cannot identify image"):
            r.recognize([path, b"junk"])
        assert r.recognize([b"junk", path], errors="ignore") == [("", 0.0), got[0]]
        with pytest.raises(UserError, match="dtype float32, expected uint8"):
            r.recognize([np.zeros((32, 100), np.float32)])
        with pytest.raises(TypeError):
            r.recognize([42])
        assert r.recognize(str(path)) == got[0]  # one image, one result


def test_a_dangling_symlinked_output_is_refused(mixed, nano_dynamic_onnx, tmp_path):
    folder, _ = mixed
    link = tmp_path / "preds.tsv"
    link.symlink_to(tmp_path / "elsewhere" / "deep" / "preds.tsv")
    res = run("--engine", nano_dynamic_onnx, folder, "-o", link)
    assert res.exit_code == 1 and res.output.startswith("Error: --output ")
    assert "dangling symbolic link" in res.output
    assert not (tmp_path / "elsewhere").exists() and link.is_symlink()


def test_quiet_still_names_every_bad_image(assets, nano_dynamic_onnx, tmp_path):
    """--quiet drops the progress bar and the summary, never the skipped inputs: 8 bad images
    among 27 each get a stderr line."""
    folder = tmp_path / "words"
    folder.mkdir()
    for k, (rel, _) in enumerate(iiit5k(assets, 19)):
        shutil.copy(assets / "eval_iiit5k_3000" / rel, folder / f"{k:02d}_good.png")
    for k in range(8):
        (folder / f"{k:02d}_bad.png").write_bytes(b"not an image")
    res = run("--engine", nano_dynamic_onnx, folder, "--quiet")
    assert res.exit_code == 0, res.output
    assert len(rows(res.stdout)) == 19
    bad = [line for line in res.stderr.splitlines() if line.startswith("skipped ")]
    assert len(bad) == 8 and all("_bad.png: " in line for line in bad)
    assert "recognized" not in res.stderr  # no summary line
