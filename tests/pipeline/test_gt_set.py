"""Scoring your own labels (issue 21): ``crnn-eval --gt`` and ``crnn-recognize --gt`` on real
IIIT5K crops with the real weights; malformed GT lines, unreadable images, missing paths, and a
run that recognized nothing."""
from __future__ import annotations

import csv
import json
import shutil

import pytest
from click.testing import CliRunner

from crnn_deploy.pipeline.eval_cli import main as eval_cli
from crnn_deploy.pipeline.recognize_cli import main as recognize_cli

N = 40


def invoke(cli, *args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def iiit(assets):
    root = assets / "eval_iiit5k_3000"
    lines = (root / "gt.txt").read_text("utf-8").splitlines()[:N]
    return root, lines


@pytest.fixture
def own_set(iiit, tmp_path):
    """A user's folder: N IIIT5K crops under words/, a gt.txt beside them, one unreadable
    (corrupt) and one missing image listed as well."""
    root, lines = iiit
    (tmp_path / "words").mkdir()
    for line in lines:
        rel = line.split("\t", 1)[0]
        (tmp_path / "words" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rel, tmp_path / "words" / rel)
    (tmp_path / "words" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    gt = tmp_path / "words" / "gt.txt"
    gt.write_text("\n".join([*lines[:10], "broken.png\tBROKEN", *lines[10:], "gone.png\tGONE"])
                  + "\n", "utf-8")
    return gt


def test_eval_gt_equals_the_lmdb_path_and_counts_unreadable_images(
        own_set, iiit5k_lmdb, nano_dynamic_onnx, tmp_path):
    out = tmp_path / "out"
    res = invoke(eval_cli, "--gt", own_set, "--engine", nano_dynamic_onnx, "--output", out)
    assert res.exit_code == 0, res.output
    ref = invoke(eval_cli, "--lmdb", iiit5k_lmdb, "--engine", nano_dynamic_onnx, "--limit", N,
                 "--output", tmp_path / "ref")
    assert ref.exit_code == 0, ref.output
    acc, ref_acc = (json.loads((d / "accuracy.json").read_text()) for d in (out, tmp_path / "ref"))
    # the denominator is every labeled line: 40 images + 2 that cannot be read
    assert (acc["total"], acc["unreadable"]) == (N + 2, 2)
    assert acc["correct"] == ref_acc["correct"] and ref_acc["total"] == N
    assert f"word accuracy (latin): {100 * acc['correct'] / (N + 2):.2f}% ({acc['correct']}/{N + 2})" \
        in res.output
    assert "unreadable: 2 labeled image(s)" in res.output
    # one sample id: the GT path, as the LMDB built from the same gt.txt records it
    preds = list(csv.reader((out / "predictions.tsv").open(encoding="utf-8"), delimiter="\t"))
    ref_preds = list(csv.reader((tmp_path / "ref" / "predictions.tsv").open(encoding="utf-8"),
                               delimiter="\t"))
    assert [p[1:3] for p in preds[1:]] == [p[1:3] for p in ref_preds[1:]]
    errors = list(csv.reader((out / "errors.tsv").open(encoding="utf-8"), delimiter="\t"))
    assert errors[0] == ["source", "label", "prediction", "confidence", "error"]
    by_source = {e[0]: e for e in errors[1:]}
    assert by_source["broken.png"][1:4] == ["BROKEN", "", ""]
    assert "cannot identify image" in by_source["broken.png"][4]
    assert by_source["gone.png"][1] == "GONE" and by_source["gone.png"][4]
    misread = [e for e in errors[1:] if not e[4]]
    assert misread and all(0 <= float(e[3]) <= 1 for e in misread)


def test_eval_gt_in_worker_processes_counts_unreadable_images(own_set, nano_dynamic_onnx,
                                                              tmp_path):
    """Issue 21: --workers N (preprocessing in processes) scores as the threads do."""
    runs = {}
    for name, extra in (("threads", []), ("processes", ["--workers", "2"])):
        res = invoke(eval_cli, "--gt", own_set, "--engine", nano_dynamic_onnx, *extra,
                     "--output", tmp_path / name)
        assert res.exit_code == 0, res.output
        assert "unreadable: 2 labeled image(s) could not be read or decoded" in res.output
        runs[name] = res.output
    assert "(42 images" not in runs["processes"] and "2 processes)" in runs["processes"]
    acc = json.loads((tmp_path / "processes" / "accuracy.json").read_text())
    assert (acc["total"], acc["unreadable"]) == (N + 2, 2)  # the denominator: every labeled line
    assert acc == json.loads((tmp_path / "threads" / "accuracy.json").read_text())
    for name in ("errors.tsv", "predictions.tsv"):
        assert (tmp_path / "processes" / name).read_bytes() == (tmp_path / "threads" / name).read_bytes()
    errors = (tmp_path / "processes" / "errors.tsv").read_text("utf-8")
    assert "broken.png\tBROKEN\t\t\t" in errors and "gone.png\tGONE\t\t\t" in errors


def test_limit_stops_the_gt_groups_at_n(own_set):
    from crnn_deploy.pipeline.gt_set import GtSet

    groups = list(GtSet.open(own_set).groups(20, 16))
    assert [len(g) for g in groups] == [16, 4] and [g[-1][0] for g in groups] == [16, 20]


def test_recognize_gt_scores_the_same(own_set, nano_dynamic_onnx, tmp_path):
    out = tmp_path / "preds.csv"
    res = invoke(recognize_cli, "--gt", own_set, "--engine", nano_dynamic_onnx, "-o", out)
    assert res.exit_code == 0, res.output
    ev = invoke(eval_cli, "--gt", own_set, "--engine", nano_dynamic_onnx)
    first = ev.output.splitlines()[0]
    assert first.startswith("word accuracy (latin): ") and first in res.stderr
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == ["path", "text", "confidence"] and len(rows) == N + 1
    assert rows[1][0] == own_set.read_text().splitlines()[0].split("\t")[0]  # named as listed


@pytest.mark.parametrize("lines, expected", [
    (["file\tlabel\tsource", "a.png\tA\tby eye"],
     ["2 malformed lines (expected", "line 1: looks like a header line", "line 2: 3 tab-separated columns"]),
    (["path\tlabel", "a.png\tA"], ["1 malformed line (expected", "line 1: looks like a header line"]),
    (["a.png\tA", "b.png\tB\tC"], ["line 2: 3 tab-separated columns, expected 2"]),
    (["a.png\tA", "b.png"], ["line 2: expected 'path<TAB>label'"]),
    (["a.png\t A"], ["line 1: label has leading or trailing whitespace"]),
])
def test_malformed_gt_lines_are_errors_with_their_line(tmp_path, nano_dynamic_onnx, lines,
                                                       expected):
    """Never stored as a label: a three-column file used to score 0 %."""
    from PIL import Image

    for name in ("a.png", "b.png"):
        Image.new("L", (100, 32), 255).save(tmp_path / name)
    gt = tmp_path / "gt.txt"
    gt.write_text("\n".join(lines) + "\n", "utf-8")
    for cli in (eval_cli, recognize_cli):
        res = invoke(cli, "--gt", gt, "--engine", nano_dynamic_onnx)
        assert res.exit_code == 1 and "Traceback" not in res.output
        assert f"Error: {gt}: " in res.output
        for fragment in expected:
            assert fragment in res.output, (fragment, res.output)


def test_every_path_missing_says_what_they_are_relative_to(own_set, nano_dynamic_onnx, tmp_path):
    moved = tmp_path / "elsewhere" / "gt.txt"
    moved.parent.mkdir()
    shutil.copy(own_set, moved)
    res = invoke(eval_cli, "--gt", moved, "--engine", nano_dynamic_onnx)
    assert res.exit_code == 1
    assert "none of its 42 image paths exists" in res.output
    assert "relative to the GT file's folder" in res.output and "--root" in res.output
    res = invoke(eval_cli, "--gt", moved, "--root", tmp_path, "--engine", nano_dynamic_onnx)
    assert res.exit_code == 1 and f"relative to --root ({tmp_path})" in res.output
    res = invoke(eval_cli, "--gt", moved, "--root", own_set.parent, "--engine",
                 nano_dynamic_onnx)
    assert res.exit_code == 0, res.output  # --root fixes it


def test_a_run_that_recognized_nothing_exits_non_zero(tmp_path, nano_dynamic_onnx):
    for k in range(3):
        (tmp_path / f"{k}.png").write_bytes(b"not an image")
    gt = tmp_path / "gt.txt"
    gt.write_text("".join(f"{k}.png\tW{k}\n" for k in range(3)), "utf-8")
    res = invoke(eval_cli, "--gt", gt, "--engine", nano_dynamic_onnx, "--output", tmp_path / "o")
    assert res.exit_code == 1 and "no sample could be decoded (3 bad" in res.output
    assert not (tmp_path / "o").exists()
    out = tmp_path / "preds.tsv"
    res = invoke(recognize_cli, "--gt", gt, "--engine", nano_dynamic_onnx, "-o", out)
    assert res.exit_code == 1 and "no image could be recognized (3 bad; first: 0.png" in res.output
    assert not out.exists()
    res = invoke(recognize_cli, "--engine", nano_dynamic_onnx, tmp_path / "1.png")
    assert res.exit_code == 1 and "Traceback" not in res.output


def test_limit_counts_images_not_groups(iiit, tmp_path):
    """--limit N reads N images even when a feeder group is larger than N (a dynamic-width
    model reads groups of batch x 16): GtSet.groups stops at n."""
    from crnn_deploy.pipeline.gt_set import GtSet

    root, _ = iiit
    gt = GtSet.open(root / "gt.txt")
    groups = list(gt.groups(N - 3, 256))
    assert [len(g) for g in groups] == [N - 3]
    assert [g[0] for g in groups[0]] == list(range(1, N - 2))
    assert sum(len(g) for g in gt.groups(25, 10)) == 25


@pytest.mark.parametrize("where", ["absolute", "dotdot"])
def test_gt_paths_may_not_leave_the_root(assets, nano_dynamic_onnx, tmp_path, where):
    """A downloaded gt.txt naming /etc/passwd (or ../../etc/passwd) is refused, naming the
    line, unless --allow-outside-root; no byte of the file reaches errors.tsv."""
    from click.testing import CliRunner

    from crnn_deploy.pipeline.eval_cli import main as evaluate

    root = assets / "eval_iiit5k_3000"
    first = (root / "gt.txt").read_text("utf-8").splitlines()[0]
    words = tmp_path / "words"
    words.mkdir()
    shutil.copy(root / first.split("\t")[0], words / "a.png")
    bad = "/etc/passwd" if where == "absolute" else "../" * 12 + "etc/passwd"
    (words / "gt.txt").write_text(f"a.png\t{first.split(chr(9))[1]}\n{bad}\tROOT\n")
    args = ["--gt", str(words / "gt.txt"), "--engine", str(nano_dynamic_onnx)]
    res = CliRunner().invoke(evaluate, [*args, "--output", str(tmp_path / "o")])
    assert res.exit_code == 1 and "line 2: image path" in res.output
    assert "--allow-outside-root" in res.output and not (tmp_path / "o").exists()
    res = CliRunner().invoke(evaluate, [*args, "--output", str(tmp_path / "o"),
                                        "--allow-outside-root"])
    assert res.exit_code == 0, res.output
    errors = (tmp_path / "o" / "errors.tsv").read_text()
    assert "root:" not in errors and "cannot identify image format" in errors
