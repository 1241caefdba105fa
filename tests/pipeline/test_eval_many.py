"""pipeline/eval_many.py: local crnn-eval takes several --lmdb and globs, as Ray does, and scores
them all (the probe's case: a glob was "LMDB not found" and a repeated --lmdb kept only the
last one without a word)."""
from __future__ import annotations

from click.testing import CliRunner

from crnn_deploy.pipeline.eval_cli import main


def _lmdb(assets, tmp_path, name, lines):
    from crnn_deploy.preprocess.cli import main as prep

    root = assets / "eval_iiit5k_3000"
    gt = tmp_path / f"{name}.txt"
    gt.write_text("".join(line + "\n" for line in lines))
    out = tmp_path / "db" / f"{name}.lmdb"
    res = CliRunner().invoke(prep, ["build-lmdb", "--gt", str(gt), "--root", str(root),
                                    "--output", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _predictions(folder):
    lines = (folder / "predictions.tsv").read_text("utf-8").splitlines()[1:]
    return [line.split("\t") for line in lines]


def test_several_lmdbs_and_globs_are_all_scored(assets, nano_dynamic_onnx, tmp_path):
    lines = (assets / "eval_iiit5k_3000" / "gt.txt").read_text().splitlines()[:120]
    a = _lmdb(assets, tmp_path, "part-a", lines[:70])
    b = _lmdb(assets, tmp_path, "part-b", lines[70:])
    whole = _lmdb(assets, tmp_path, "whole", lines)
    eng = ["--engine", str(nano_dynamic_onnx)]
    runs = {"whole": ["--lmdb", str(whole)],
            "repeated": ["--lmdb", str(a), "--lmdb", str(b)],
            "glob": ["--lmdb", str(tmp_path / "db" / "part-*.lmdb")]}
    got = {}
    for name, args in runs.items():
        res = CliRunner().invoke(main, [*args, *eng, "--output", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
        got[name] = (_predictions(tmp_path / name), res.output)
    whole_rows, whole_out = got["whole"]
    for name in ("repeated", "glob"):
        rows, out = got[name]
        assert len(rows) == 120  # both inputs, not only the last
        assert [r[0] for r in rows[:2]] == ["part-a.lmdb/test_1.bin", "part-a.lmdb/test_2.bin"]
        assert rows[70][0] == "part-b.lmdb/test_1.bin"
        assert [r[1:3] for r in rows] == [r[1:3] for r in whole_rows]  # same sources and text
        acc = [line for line in out.splitlines() if "word accuracy" in line.lower()][0]
        assert acc == [line for line in whole_out.splitlines()
                       if "word accuracy" in line.lower()][0]
    res = CliRunner().invoke(main, ["--lmdb", str(a), "--lmdb", str(a), *eng, "--output",
                                    str(tmp_path / "twice")])
    assert res.exit_code == 0 and len(_predictions(tmp_path / "twice")) == 70  # taken once
    res = CliRunner().invoke(main, ["--lmdb", str(tmp_path / "nope-*.lmdb"), *eng])
    assert res.exit_code == 1 and "no LMDB matches" in res.output
