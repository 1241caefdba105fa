"""Unlabeled data through every stage: build-lmdb --images/--list -> lmdb-to-bin -> crnn-infer
-> crnn-postprocess, and crnn-eval: predictions, no score, no error."""
from __future__ import annotations

import csv

import lmdb
from click.testing import CliRunner

from crnn_deploy.pipeline.eval_cli import main as eval_cli
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli
from crnn_deploy.postprocess.cli import main as postprocess_cli
from crnn_deploy.preprocess.cli import main as preprocess_cli
from crnn_deploy.runtime.cli import main as infer_cli


def invoke(cli, *args):
    res = CliRunner().invoke(cli, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


def tsv(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t"))


def test_unlabeled_folder_through_staged_and_fused_paths(tmp_path, assets, nano_dynamic_onnx):
    folder = assets / "demo_words"
    db = tmp_path / "demo.lmdb"
    res = invoke(preprocess_cli, "build-lmdb", "--images", folder, "--output", db)
    assert "wrote 13 unlabeled samples" in res.output
    with lmdb.open(str(db), readonly=True, lock=False) as env, env.begin() as txn:
        keys = [bytes(k) for k, _ in txn.cursor()]
        assert txn.get(b"path-000000004") == b"clovaai_demo_4.png"
    assert not any(k.startswith(b"label-") for k in keys)
    assert sum(k.startswith(b"path-") for k in keys) == 13

    input_bin, labels = tmp_path / "input_bin", tmp_path / "label.txt"
    res = invoke(preprocess_cli, "lmdb-to-bin", "--lmdb", db, "--model", "nano-ocr",
                 "--output", input_bin, "--labels", labels, "--workers", "1")
    assert not labels.exists() and "no label file" in res.output
    names = (input_bin / "names.txt").read_text().splitlines()
    assert names[3] == "test_4.bin\tclovaai_demo_4.png" and len(names) == 13

    result = tmp_path / "result"
    invoke(infer_cli, "--engine", nano_dynamic_onnx, "--input", input_bin, "--output", result)
    res = invoke(postprocess_cli, result)  # no LABEL_TXT; names.txt found through meta.json
    assert "not scored" in res.output and "word accuracy" not in res.output
    assert not (result / "accuracy.json").exists() and not (result / "errors.tsv").exists()
    staged = tsv(result / "predictions.tsv")
    assert staged[0] == ["file", "source", "text", "confidence"] and len(staged) == 14
    assert staged[4][:3] == ["test_4.bin", "clovaai_demo_4.png", "Greenstead"]

    out = tmp_path / "eval"
    res = invoke(eval_cli, "--lmdb", db, "--engine", nano_dynamic_onnx, "--output", out)
    assert "unlabeled: 13 predictions, not scored" in res.output and "end-to-end:" in res.output
    assert not (out / "accuracy.json").exists()
    fused = tsv(out / "predictions.tsv")
    assert [r[:3] for r in fused] == [r[:3] for r in staged]
    assert all(abs(float(a[3]) - float(b[3])) < 1e-5 for a, b in zip(fused[1:], staged[1:]))

    res = invoke(recognize_cli, "--engine", nano_dynamic_onnx, folder)
    assert [r[1:2] for r in tsv_rows(res.stdout)] == [[r[2]] for r in staged[1:]]


def tsv_rows(text):
    return list(csv.reader(text.splitlines(), delimiter="\t"))


def test_list_file_and_postprocess_without_names(tmp_path, assets, nano_dynamic_onnx):
    root = assets / "eval_iiit5k_3000"
    rels = [line.split("\t")[0] for line in (root / "gt.txt").read_text().splitlines()[:5]]
    lst = tmp_path / "list.txt"
    lst.write_text("# five IIIT5K crops and a missing file\n" + "\n".join(rels[:2])
                   + "\nmissing.png\n" + "\n".join(rels[2:]) + "\n")
    db = tmp_path / "l.lmdb"
    res = CliRunner().invoke(preprocess_cli, ["build-lmdb", "--list", str(lst), "--root", str(root),
                                              "--output", str(db)])
    assert res.exit_code == 0, res.output
    assert "wrote 5 unlabeled samples" in res.output and "skipped list lines: 4" in res.output
    res = CliRunner().invoke(preprocess_cli, ["build-lmdb", "--list", str(lst), "--gt",
                                              str(root / "gt.txt"), "--output", str(db) + "2"])
    assert res.exit_code == 1 and "exactly one of --gt, --images, --list" in res.output

    input_bin = tmp_path / "bin"
    invoke(preprocess_cli, "lmdb-to-bin", "--lmdb", db, "--model", "nano-ocr", "--output",
           input_bin, "--workers", "1")
    assert (input_bin / "names.txt").read_text().splitlines()[4] == f"test_5.bin\t{rels[4]}"
    result = tmp_path / "result"
    invoke(infer_cli, "--engine", nano_dynamic_onnx, "--input", input_bin, "--output", result)
    (result / "meta.json").write_text((result / "meta.json").read_text().replace(
        str(input_bin), str(tmp_path / "moved")))  # names.txt not findable: source left empty
    invoke(postprocess_cli, result)
    rows = tsv(result / "predictions.tsv")[1:]
    assert [r[:2] for r in rows] == [[f"test_{i}.bin", ""] for i in range(1, 6)]
    invoke(postprocess_cli, result, "--names", input_bin / "names.txt")
    rows = tsv(result / "predictions.tsv")[1:]
    assert [r[1] for r in rows] == rels and rows[0][2].upper() == "PRIVATE"
