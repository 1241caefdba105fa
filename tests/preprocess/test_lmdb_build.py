"""build-lmdb on synthetic GT files: layout, bad lines, --strict, --root, map growth, modes."""
from __future__ import annotations

import json
import os

import lmdb
import numpy as np
import pytest
from PIL import Image

from crnn_deploy.preprocess.lmdb_build import build_lmdb


@pytest.fixture
def images(tmp_path, to_png):
    """tmp_path/imgs with a.png (L), b.png (RGBA), c.png (P + transparency), d.png (LA),
    e.png (16-bit grey), bad.png (not an image); returns the folder."""
    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(2)
    (d / "a.png").write_bytes(to_png.grey(50, 14))
    (d / "b.png").write_bytes(to_png(Image.fromarray(rng.integers(0, 256, (18, 60, 4), np.uint8))))
    p = Image.fromarray(rng.integers(0, 256, (16, 40), np.uint8), "L").convert("P")
    (d / "c.png").write_bytes(to_png(p, transparency=5))
    (d / "d.png").write_bytes(to_png(Image.fromarray(rng.integers(0, 256, (10, 30, 2), np.uint8))))
    v16 = (rng.integers(0, 256, (12, 33)).astype("<u2") * 257).tobytes()
    (d / "e.png").write_bytes(to_png(Image.frombytes("I;16", (33, 12), v16)))
    (d / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    return d


def read_all(path):
    env = lmdb.open(str(path), readonly=True, lock=False)
    with env.begin() as txn:
        d = {bytes(k).decode(): bytes(v) for k, v in txn.cursor()}
    env.close()
    return d


def test_layout_and_modes_end_to_end(images, tmp_path, cli):
    gt = images / "gt.txt"
    gt.write_text("a.png\tHELLO\nb.png\tw:2\n\nc.png\tthree words here\nd.png\tx\ne.png\t16\n",
                  encoding="utf-8")
    res = cli("build-lmdb", "--gt", gt, "--output", tmp_path / "x.lmdb")
    assert res.exit_code == 0, res.output
    assert "wrote 5 samples" in res.output and "skipped 0 line(s)" in res.output
    kv = read_all(tmp_path / "x.lmdb")
    assert kv["num-samples"] == b"5" and len(kv) == 16  # image, label, path x 5
    assert kv["image-000000001"] == (images / "a.png").read_bytes()
    assert kv["image-000000005"] == (images / "e.png").read_bytes()
    assert [kv["label-%09d" % i].decode() for i in range(1, 6)] == [
        "HELLO", "w:2", "three words here", "x", "16"]
    out, labels = tmp_path / "bin", tmp_path / "label.txt"
    res = cli("lmdb-to-bin", "--lmdb", tmp_path / "x.lmdb", "--model", "crnn-modelzoo",
              "--output", out, "--labels", labels, "--workers", "2", "--strict")
    assert res.exit_code == 0, res.output
    assert {p.stat().st_size for p in out.glob("*.bin")} == {12800}
    assert labels.read_text().splitlines()[1:3] == ["test_2.bin:w:2", "test_3.bin:three words here"]
    assert json.loads((out / "meta.json").read_text())["count"] == 5


def test_bad_lines_skipped_with_line_numbers(images, tmp_path, cli):
    gt = tmp_path / "list.txt"
    gt.write_bytes(b"a.png\tok1\n"            # 1
                   b"bad.png\tnope\n"          # 2 undecodable
                   b"missing.png\tgone\n"      # 3 no such file
                   b"b.png no tab\n"           # 4 no tab
                   b"c.png\t\n"                # 5 empty label
                   b"d.png\tcaf\xe9\n"         # 6 not UTF-8
                   b"b.png\tok2\r\n")          # 7 CRLF is fine
    res = cli("build-lmdb", "--gt", gt, "--root", images, "--output", tmp_path / "y.lmdb")
    assert res.exit_code == 0, res.output
    for n, words in [(2, "cannot identify image format"), (3, "cannot read image"),
                     (4, "expected 'path<TAB>label'"), (5, "empty label"), (6, "not valid UTF-8")]:
        assert f"skipped {gt}:{n}: " in res.output and words in res.output
    assert "wrote 2 samples" in res.output and "skipped GT lines: 2, 3, 4, 5, 6" in res.output
    kv = read_all(tmp_path / "y.lmdb")
    assert kv["num-samples"] == b"2" and kv["label-000000002"] == b"ok2"
    assert kv["image-000000002"] == (images / "b.png").read_bytes()


def test_strict_fails_and_leaves_nothing(images, tmp_path, cli):
    gt = images / "gt.txt"
    gt.write_text("a.png\tok\nb.png\tok\nbad.png\tno\n")
    res = cli("build-lmdb", "--gt", gt, "--output", tmp_path / "z.lmdb", "--strict")
    assert res.exit_code == 1
    assert res.output.startswith(f"Error: {gt}:3: image ") and "bad.png" in res.output
    assert not [p for p in os.listdir(tmp_path) if p != "imgs"]


def test_no_valid_sample_and_existing_output(images, tmp_path, cli):
    gt = images / "gt.txt"
    gt.write_text("bad.png\tno\n")
    res = cli("build-lmdb", "--gt", gt, "--output", tmp_path / "z.lmdb")
    assert res.exit_code == 1 and "no valid sample (skipped 1 line(s))" in res.output
    assert not (tmp_path / "z.lmdb").exists()
    gt.write_text("a.png\tfirst\n")
    assert cli("build-lmdb", "--gt", gt, "--output", tmp_path / "z.lmdb").exit_code == 0
    gt.write_text("b.png\tsecond\n")
    res = cli("build-lmdb", "--gt", gt, "--output", tmp_path / "z.lmdb")
    assert res.exit_code == 1 and "pass --overwrite" in res.output
    res = cli("build-lmdb", "--gt", gt, "--output", tmp_path / "z.lmdb", "--overwrite")
    assert res.exit_code == 0
    assert read_all(tmp_path / "z.lmdb")["label-000000001"] == b"second"
    assert sorted(os.listdir(tmp_path)) == ["imgs", "z.lmdb"]
    res = cli("build-lmdb", "--gt", gt, "--images", images, "--output", tmp_path / "s.lmdb",
              "--shard-size", "5")  # two sources: refused, not one silently ignored
    assert res.exit_code == 1 and "--shard-size needs --gt, alone" in res.output
    assert sorted(os.listdir(tmp_path)) == ["imgs", "z.lmdb"]


def test_map_grows_when_full(tmp_path, to_png):
    rng = np.random.default_rng(3)
    lines = []
    for i in range(30):  # ~30 x 24 kB of incompressible PNG in a 64 kB initial map
        (tmp_path / f"{i}.png").write_bytes(
            to_png(Image.fromarray(rng.integers(0, 256, (90, 90, 3), np.uint8))))
        lines.append(f"{i}.png\tw{i}")
    (tmp_path / "gt.txt").write_text("\n".join(lines) + "\n")
    res = build_lmdb(tmp_path / "gt.txt", tmp_path / "g.lmdb", map_size=64 << 10,
                     log=lambda m: None)
    assert res.written == 30 and res.image_bytes > 10 * (64 << 10) and not res.skipped
    kv = read_all(tmp_path / "g.lmdb")
    assert kv["num-samples"] == b"30"
    assert kv["image-000000030"] == (tmp_path / "29.png").read_bytes()
