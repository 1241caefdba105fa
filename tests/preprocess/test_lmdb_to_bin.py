"""lmdb-to-bin on bad input: small synthetic LMDBs in tmp_path, driven through the CLI."""
from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image


def zero_width_png() -> bytes:
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    ihdr = struct.pack(">IIBBBBB", 0, 10, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
            + chunk(b"IEND", b""))


def truncated_png() -> bytes:
    buf = io.BytesIO()
    rgb = np.random.default_rng(0).integers(0, 256, (40, 90, 3), dtype=np.uint8)
    Image.fromarray(rgb, "RGB").save(buf, "PNG")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def bomb_png() -> bytes:
    buf = io.BytesIO()
    Image.new("1", (8000, 8000)).save(buf, "PNG")  # 64 Mpixel in ~8 kB
    return buf.getvalue()


@pytest.fixture
def convert(cli, tmp_path):
    """convert(lmdb, *extra) -> (result, out_dir, labels_path); nano-ocr, 1 worker."""
    def run(lmdb_path, *extra, workers=1):
        out, labels = tmp_path / "out" / "input_bin", tmp_path / "out" / "label.txt"
        res = cli("lmdb-to-bin", "--lmdb", lmdb_path, "--model", "nano-ocr", "--output", out,
                  "--labels", labels, "--workers", str(workers), *extra)
        return res, out, labels
    return run


def assert_nothing_left(tmp_path):
    out = tmp_path / "out"
    assert not out.exists() or os.listdir(out) == [], os.listdir(out)


# (how to break sample 3 of 5, the key the message must name, words in the message)
BAD = {
    "corrupt image": (lambda d: d.update({"image-000000003": b"\x89PNG\r\n\x1a\ngarbage"}),
                      "image-000000003", "cannot identify image format"),
    "truncated image": (lambda d: d.update({"image-000000003": truncated_png()}),
                        "image-000000003", "cannot decode image"),
    "missing label": (lambda d: d.pop("label-000000003"), "label-000000003",
                      "missing label key"),
    "missing image": (lambda d: d.pop("image-000000003"), "image-000000003",
                      "missing image key"),
    "empty image": (lambda d: d.update({"image-000000003": b""}), "image-000000003",
                    "empty image"),
    "empty label": (lambda d: d.update({"label-000000003": b""}), "label-000000003",
                    "empty label"),
    "non-utf8 label": (lambda d: d.update({"label-000000003": b"caf\xe9"}), "label-000000003",
                       "not valid UTF-8"),
    "multi-line label": (lambda d: d.update({"label-000000003": b"a\nb"}), "label-000000003",
                         "line break"),
    "zero-sized image": (lambda d: d.update({"image-000000003": zero_width_png()}),
                         "image-000000003", "zero size"),
    "huge image": (lambda d: d.update({"image-000000003": bomb_png()}), "image-000000003",
                   "64.0 Mpixel > 50 Mpixel"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_sample_skipped_and_reported(case, make_lmdb, good_entries, convert):
    breaker, key, words = BAD[case]
    entries = good_entries(5)
    breaker(entries)
    res, out, labels = convert(make_lmdb(entries))
    assert res.exit_code == 0, res.output
    assert f"skipped {key}: " in res.output and words in res.output
    assert f"skipped 1 bad sample(s): {key}" in res.output
    assert sorted(os.listdir(out)) == [".crnn-deploy.json", "meta.json", "names.txt"] + [
        f"test_{i}.bin" for i in (1, 2, 4, 5)]
    assert labels.read_text().splitlines() == [f"test_{i}.bin:w{i}" for i in (1, 2, 4, 5)]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["count"] == 4 and meta["skipped"] == 1 and meta["skipped_keys"] == [key]


@pytest.mark.parametrize("case", ["corrupt image", "missing label", "huge image"])
@pytest.mark.parametrize("workers", [1, 2])
def test_bad_sample_strict_fails_and_leaves_nothing(case, workers, make_lmdb, good_entries,
                                                    convert, tmp_path):
    breaker, key, words = BAD[case]
    entries = good_entries(200)  # several chunks, so the pool really runs in parallel
    breaker(entries)
    res, out, labels = convert(make_lmdb(entries), "--strict", workers=workers)
    assert res.exit_code == 1
    assert res.output.startswith("Error: ") and f": {key}: " in res.output and words in res.output
    assert "Traceback" not in res.output
    assert_nothing_left(tmp_path)


def test_strict_failure_keeps_previous_output(make_lmdb, good_entries, convert):
    res, out, labels = convert(make_lmdb(good_entries(3), "good.lmdb"))
    assert res.exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}, labels.read_bytes()
    entries = good_entries(5)
    entries.pop("label-000000004")
    res, _, _ = convert(make_lmdb(entries, "bad.lmdb"), "--strict")
    assert res.exit_code == 1 and "pass --overwrite" in res.output  # ours, but not asked
    res, _, _ = convert(make_lmdb(entries, "bad2.lmdb"), "--strict", "--overwrite")
    assert res.exit_code == 1 and "label-000000004: missing label key" in res.output
    assert ({p.name: p.read_bytes() for p in out.iterdir()}, labels.read_bytes()) == before
    assert sorted(os.listdir(out.parent)) == ["input_bin", "label.txt"]


def test_many_bad_samples_are_counted(make_lmdb, good_entries, convert):
    entries = good_entries(40)
    for i in range(1, 31):
        entries["image-%09d" % i] = b"junk"
    res, out, labels = convert(make_lmdb(entries), workers=2)
    assert res.exit_code == 0, res.output
    assert "skipped 30 bad sample(s): image-000000001, image-000000002" in res.output
    assert "... and 10 more bad sample(s)" in res.output
    assert len(labels.read_text().splitlines()) == 10


def test_all_bad_fails(make_lmdb, good_entries, convert, tmp_path):
    entries = good_entries(2)
    entries["image-000000001"] = entries["image-000000002"] = b"junk"
    res, _, _ = convert(make_lmdb(entries))
    assert res.exit_code == 1 and "no usable sample among 2" in res.output
    assert_nothing_left(tmp_path)


def test_not_an_lmdb(tmp_path, convert):
    (tmp_path / "dir").mkdir()
    (tmp_path / "text.txt").write_text("hello\n")
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "data.mdb").write_bytes(os.urandom(8192))
    res, _, _ = convert(tmp_path / "dir")
    assert res.exit_code == 1 and "is not an LMDB: no data.mdb" in res.output
    (tmp_path / "empty.mdb").write_bytes(b"")
    for p in (tmp_path / "text.txt", tmp_path / "fake", tmp_path / "empty.mdb"):
        res, _, _ = convert(p)
        assert res.exit_code == 1 and f"{p} is not a readable LMDB" in res.output, res.output
    res, _, _ = convert(tmp_path / "missing.lmdb")
    assert res.exit_code == 2 and "does not exist" in res.output
    assert_nothing_left(tmp_path)


@pytest.mark.parametrize("value,words", [(None, "no 'num-samples' key"),
                                         (b"twelve", "'num-samples' is not an integer"),
                                         (b"-3", "'num-samples' is negative"),
                                         (b"0", "num-samples is 0")])
def test_bad_num_samples(value, words, make_lmdb, good_entries, convert, tmp_path):
    entries = good_entries(2)
    entries.pop("num-samples")
    if value is not None:
        entries["num-samples"] = value
    res, _, _ = convert(make_lmdb(entries))
    assert res.exit_code == 1 and words in res.output, res.output
    assert_nothing_left(tmp_path)


def test_data_mdb_file_and_limit(make_lmdb, good_entries, convert):
    path = make_lmdb(good_entries(6))
    res, out, labels = convert(path / "data.mdb", "--limit", "4")
    assert res.exit_code == 0, res.output
    assert labels.read_text().splitlines() == [f"test_{i}.bin:w{i}" for i in range(1, 5)]
    x = np.fromfile(out / "test_4.bin", dtype="<f4")
    assert x.size == 32 * 128 and -1 <= x.min() and x.max() <= 1


def test_refuses_foreign_output_dir(make_lmdb, good_entries, convert, tmp_path):
    foreign = tmp_path / "out" / "input_bin"
    foreign.mkdir(parents=True)
    (foreign / "notes.txt").write_text("mine")
    res, _, _ = convert(make_lmdb(good_entries(2)))
    assert res.exit_code == 1 and "refusing to replace" in res.output and "notes.txt" in res.output
    assert os.listdir(foreign) == ["notes.txt"]


def test_labels_inside_output_rejected(make_lmdb, good_entries, cli, tmp_path):
    res = cli("lmdb-to-bin", "--lmdb", make_lmdb(good_entries(2)), "--model", "crnn",
              "--output", tmp_path / "b", "--labels", tmp_path / "b" / "label.txt")
    assert res.exit_code == 1 and "lies inside the --output folder" in res.output
    assert not (tmp_path / "b").exists()


def test_console_script_prints_error_without_traceback(make_lmdb, good_entries, tmp_path):
    entries = good_entries(3)
    entries["image-000000002"] = b"junk"
    exe = os.path.join(os.path.dirname(sys.executable), "crnn-preprocess")
    proc = subprocess.run([exe, "lmdb-to-bin", "--lmdb", str(make_lmdb(entries)), "--model",
                           "crnn", "--output", str(tmp_path / "b"), "--labels",
                           str(tmp_path / "l.txt"), "--strict", "--workers", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: ") and "image-000000002" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "b").exists() and not (tmp_path / "l.txt").exists()


def test_iter_samples_on_error(make_lmdb, good_entries):
    from crnn_deploy.preprocess.lmdb_io import SampleError, iter_samples
    entries = good_entries(4)
    entries.pop("image-000000002")
    entries["label-000000003"] = b"\xff\xfe"
    path = make_lmdb(entries)
    errors = []
    got = [(i, lab) for i, img, lab in iter_samples(path, on_error=errors.append)]
    assert got == [(1, "w1"), (4, "w4")]
    assert [(e.index, e.key) for e in errors] == [(2, "image-000000002"), (3, "label-000000003")]
    with pytest.raises(SampleError, match="image-000000002: missing image key"):
        list(iter_samples(path))
