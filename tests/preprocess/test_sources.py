"""Unlabeled input: build-lmdb --images / --list, reading unlabeled LMDBs, names.txt."""
from __future__ import annotations

import lmdb

from crnn_deploy.common.inputs import MAX_LINE_BYTES
from crnn_deploy.preprocess.lmdb_io import iter_samples


def keys(path):
    with lmdb.open(str(path), readonly=True, lock=False) as env, env.begin() as txn:
        return {bytes(k).decode(): bytes(v) for k, v in txn.cursor()}


def test_images_folder_sorted_recursive_bad_skipped(tmp_path, cli, to_png):
    src = tmp_path / "imgs"
    (src / "sub").mkdir(parents=True)
    (src / ".hidden").mkdir()
    (src / "b.png").write_bytes(to_png.grey(value=2))
    (src / "a.PNG").write_bytes(to_png.grey(value=1))
    (src / "sub" / "c.jpg").write_bytes(b"not a jpeg")
    (src / "sub" / "d.png").write_bytes(to_png.grey(value=4))
    (src / ".hidden" / "e.png").write_bytes(to_png.grey(value=5))
    (src / "notes.txt").write_text("ignored")
    res = cli("build-lmdb", "--images", src, "--output", tmp_path / "u.lmdb")
    assert res.exit_code == 0, res.output
    assert "wrote 3 unlabeled samples" in res.output and "skipped 1 image(s)" in res.output
    assert f"{src / 'sub' / 'c.jpg'}: cannot identify image format" in res.output
    kv = keys(tmp_path / "u.lmdb")
    assert kv["num-samples"] == b"3" and not any(k.startswith("label-") for k in kv)
    assert [kv[f"path-{i:09d}"] for i in (1, 2, 3)] == [b"a.PNG", b"b.png", b"sub/d.png"]
    assert kv["image-000000003"] == (src / "sub" / "d.png").read_bytes()
    got = list(iter_samples(tmp_path / "u.lmdb"))
    assert [(i, label) for i, _, label in got] == [(1, None), (2, None), (3, None)]

    res = cli("build-lmdb", "--images", src, "--output", tmp_path / "v.lmdb", "--strict")
    assert res.exit_code == 1 and "c.jpg" in res.output and not (tmp_path / "v.lmdb").exists()
    (src / "sub" / "c.jpg").unlink()
    for p in list(src.rglob("*.png")) + list(src.rglob("*.PNG")):
        p.unlink()
    res = cli("build-lmdb", "--images", src, "--output", tmp_path / "w.lmdb")
    assert res.exit_code == 1 and "no image file under it" in res.output


def test_list_file_bad_lines_and_unlabeled_lmdb_to_bin(tmp_path, cli, to_png):
    (tmp_path / "a.png").write_bytes(to_png.grey(value=1))
    (tmp_path / "b.png").write_bytes(to_png.grey(value=2))
    lst = tmp_path / "list.txt"
    lst.write_bytes(b"a.png\nx.png\tlabel\n" + b"y" * (MAX_LINE_BYTES + 10) + b".png\n\xff.png\n" + b"b.png\n")
    res = cli("build-lmdb", "--list", lst, "--output", tmp_path / "l.lmdb")
    assert res.exit_code == 0, res.output
    assert "wrote 2 unlabeled samples" in res.output and "skipped list lines: 2, 3, 4" in res.output
    assert "got a tab" in res.output and f"longer than {MAX_LINE_BYTES} bytes" in res.output
    kv = keys(tmp_path / "l.lmdb")
    assert kv["path-000000002"] == b"b.png" and "label-000000001" not in kv

    out, labels = tmp_path / "bin", tmp_path / "label.txt"
    res = cli("lmdb-to-bin", "--lmdb", tmp_path / "l.lmdb", "--model", "crnn", "--output", out,
              "--labels", labels, "--workers", "1")
    assert res.exit_code == 0, res.output
    assert not labels.exists()
    assert (out / "names.txt").read_text() == "test_1.bin\ta.png\ntest_2.bin\tb.png\n"
    assert (out / "test_2.bin").stat().st_size == 12800


def test_labeled_lmdb_without_path_keys_names_the_image_key(make_lmdb, good_entries, tmp_path,
                                                             cli):
    db = make_lmdb(good_entries(3))  # an LMDB of other tools: no path-%09d
    res = cli("lmdb-to-bin", "--lmdb", db, "--model", "crnn", "--output", tmp_path / "o",
              "--workers", "1")
    assert res.exit_code == 0, res.output
    assert "pass --labels FILE" in res.output
    lines = (tmp_path / "o" / "names.txt").read_text().splitlines()
    assert lines == [f"test_{i}.bin\timage-{i:09d}" for i in (1, 2, 3)]


def test_parse_gt_never_stores_a_header_or_a_third_column_as_a_label(tmp_path):
    from crnn_deploy.preprocess.sources import parse_gt

    gt = tmp_path / "labels.tsv"
    gt.write_text("file\tlabel\tsource_of_label\na.png\tWord\tchecked by eye\nb.png\tOK\n"
                  "c.png\tA\tB\n", "utf-8")
    got = list(parse_gt(gt))
    assert [(n, rel, label) for n, rel, label, _ in got] == [
        (1, None, None), (2, None, None), (3, "b.png", "OK"), (4, None, None)]
    assert "header" in got[0][3] and "3 tab-separated columns" in got[1][3]


def test_many_malformed_lines_are_counted_once(tmp_path):
    """8 bad lines, 5 listed: the count is the total, the list says it is the first 5 (it
    read as 8 + 3 before, issue 29)."""
    import pytest

    from crnn_deploy.common.errors import UserError
    from crnn_deploy.preprocess.sources import MAX_BAD_LINES, read_gt

    gt = tmp_path / "gt.txt"
    gt.write_text("".join(f"a{k}.png\tA\tx\n" for k in range(MAX_BAD_LINES + 3)), "utf-8")
    with pytest.raises(UserError) as err:
        read_gt(gt)
    text = err.value.message
    assert f"{MAX_BAD_LINES + 3} malformed lines (expected 'path<TAB>label' per line); " \
           f"the first {MAX_BAD_LINES}:" in text and "more" not in text
    assert text.count("\n  line ") == MAX_BAD_LINES
