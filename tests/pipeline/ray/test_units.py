"""Parts of the Ray path that need no Ray: shards, planning, reading, metrics merging."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.specs import get_spec
from crnn_deploy.pipeline.ray.metrics import merge_metrics
from crnn_deploy.pipeline.ray.read import (
    expand_inputs,
    plan_gt_ranges,
    plan_list_ranges,
    plan_lmdb_ranges,
    read_range,
)
from crnn_deploy.postprocess.metrics import compute_metrics
from crnn_deploy.preprocess.shards import build_shards, shard_name


def _gt(tmp_path, assets, n, bad_line=None):
    src = (assets / "eval_iiit5k_3000" / "gt.txt").read_text().splitlines()[:n]
    if bad_line:
        src[bad_line - 1] = "no-tab-here"
    gt = tmp_path / "gt.txt"
    gt.write_text("\n".join(src) + "\n")
    for line in src:
        if "\t" in line:
            rel = line.split("\t")[0]
            (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / rel).write_bytes((assets / "eval_iiit5k_3000" / rel).read_bytes())
    return gt


def test_shards_are_named_sized_and_report_original_line_numbers(tmp_path, assets):
    gt = _gt(tmp_path, assets, 25, bad_line=12)
    logs = []
    res = build_shards(gt, tmp_path / "out" / "w.lmdb", 10, log=logs.append)
    assert [p.name for p in res.shards] == ["w-00000.lmdb", "w-00001.lmdb", "w-00002.lmdb"]
    assert res.written == [10, 9, 5] and [n for n, _ in res.skipped] == [12]
    assert any(f"{gt}:12:" in m for m in logs)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [p.name for p in res.shards]
    ranges = plan_lmdb_ranges(expand_inputs(str(tmp_path / "out" / "w-*.lmdb")), 4, limit=22)
    assert sum(r["stop"] - r["start"] for r in ranges) == 22
    with pytest.raises(UserError, match="already exist"):
        build_shards(gt, tmp_path / "out" / "w.lmdb", 10, log=logs.append)
    (res.shards[1] / "notes.txt").write_text("mine")  # a shard that now holds a foreign file
    with pytest.raises(UserError, match="refusing to replace shard .*w-00001.lmdb"):
        build_shards(gt, tmp_path / "out" / "w.lmdb", 10, overwrite=True, log=logs.append)
    assert (res.shards[1] / "notes.txt").read_text() == "mine"
    (res.shards[1] / "notes.txt").unlink()
    again = build_shards(gt, tmp_path / "out" / "w.lmdb", 10, overwrite=True, log=logs.append)
    assert again.written == [10, 9, 5] and not list((tmp_path / "out").glob(".*"))
    with pytest.raises(UserError, match=f"{gt}:12: .*--strict"):
        build_shards(gt, tmp_path / "s.lmdb", 10, strict=True, log=logs.append)
    assert not list(tmp_path.glob("s-*")) and not list(tmp_path.glob(".s.lmdb*"))
    assert shard_name(tmp_path / "words", 3).name == "words-00003"


def test_read_range_of_an_image_list_reports_unreadable_files(tmp_path, assets):
    gt = _gt(tmp_path, assets, 3)
    rels = [line.split("\t")[0] for line in gt.read_text().splitlines()]
    lst = tmp_path / "list.txt"
    lst.write_text("\n".join([rels[0], "", "missing.png", rels[2]]) + "\n")
    (task,) = plan_list_ranges(lst, 16)
    block = read_range(task, get_spec("nano-ocr"))
    assert list(block["index"]) == [1, 3, 4]
    assert block["image"].shape == (3, 1, 32, 128)
    assert block["error"][0] is None and "missing.png: cannot read" in block["error"][1]
    with pytest.raises(UserError, match="missing.png"):
        read_range(task, get_spec("nano-ocr"), strict=True)


def test_a_gt_file_plans_labeled_ranges_by_the_local_rules(tmp_path, assets):
    gt = _gt(tmp_path, assets, 5)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with open(gt, "a") as f:
        f.write("broken.png\tBROKEN\ngone.png\tGONE\n")
    ranges = plan_gt_ranges(gt, range_size=4)
    assert [(r["kind"], r["start"], r["stop"]) for r in ranges] == [("list", 1, 5), ("list", 5, 8)]
    blocks = [read_range(r, get_spec("nano-ocr")) for r in ranges]
    source = [s for b in blocks for s in b["source"]]
    label = [x for b in blocks for x in b["label"]]
    error = [e for b in blocks for e in b["error"]]
    lines = gt.read_text().splitlines()
    assert source == [line.split("\t")[0] for line in lines]  # relpaths, as the local --gt
    assert label == [line.split("\t")[1] for line in lines]  # kept on the unreadable rows too
    assert error[:5] == [None] * 5
    assert "broken.png: cannot identify image" in error[5] and "gone.png: cannot read" in error[6]
    assert [r["stop"] - r["start"] for r in plan_gt_ranges(gt, limit=6)] == [6]
    with pytest.raises(UserError, match=r"gt\.txt: broken\.png: cannot identify image .*--strict"):
        read_range(ranges[1], get_spec("nano-ocr"), strict=True)
    gt.write_text("path\tlabel\textra\n" + gt.read_text())  # a header line: an error, by line
    with pytest.raises(UserError, match=r"line 1: "):
        plan_gt_ranges(gt)


def test_merged_metrics_equal_metrics_of_the_union():
    preds, labels = ["abc", "Abd", "x", "", "hello"], ["abc", "abc", "y", "z", "Hello!"]
    whole = compute_metrics(preds, labels)
    merged = merge_metrics([compute_metrics(preds[:2], labels[:2]),
                            compute_metrics(preds[2:], labels[2:])])
    assert merged == pytest.approx(whole)
    assert merge_metrics([]) is None


def test_eval_cli_ray_needs_an_output_and_valid_resources(tmp_path):
    from click.testing import CliRunner

    from crnn_deploy.pipeline.eval_cli import main
    from crnn_deploy.pipeline.ray.cli import parse_resources

    engine = tmp_path / "m.onnx"
    engine.write_bytes(b"x")
    res = CliRunner().invoke(main, ["--executor", "ray", "--lmdb", "x-*.lmdb", "--engine",
                                    str(engine)])
    assert res.exit_code == 1 and "needs --output" in res.output
    assert parse_resources(["NPU=1", "accel=0.5"]) == {"NPU": 1.0, "accel": 0.5}
    with pytest.raises(UserError, match="NAME=N"):
        parse_resources(["NPU"])


def test_actor_options_unpin_openvino_only_and_the_backend_applies_it(nano_bs16_onnx):
    from crnn_deploy.pipeline.ray.engine import actor_options
    from crnn_deploy.runtime.registry import open_backend

    assert actor_options("m.xml", None, {}, 1.5) == {"threads": 2, "pinning": False}
    assert actor_options("m.onnx", "openvino", {"pinning": True}, 1) == {"threads": 1,
                                                                         "pinning": True}
    assert actor_options("m.onnx", None, {"threads": 3}, 1) == {"threads": 3}  # no pinning key
    pytest.importorskip("openvino")
    for pinning in (False, True):
        with open_backend(nano_bs16_onnx, "openvino", pinning=pinning, threads=1) as be:
            be.load()
            assert be.compiled(16).get_property("ENABLE_CPU_PINNING") is pinning
    with pytest.raises(UserError, match="pinning must be True or False"):
        open_backend(nano_bs16_onnx, "openvino", pinning="no").load()


def test_recognize_ray_list_and_option_errors(tmp_path):
    from click.testing import CliRunner

    from crnn_deploy.pipeline.ray.cli import write_list
    from crnn_deploy.pipeline.recognize_cli import main

    img = tmp_path / "a.png"
    img.write_bytes(b"x")
    write_list([str(img), "b.png"], tmp_path / "list.txt")
    assert (tmp_path / "list.txt").read_text().splitlines() == [str(img),
                                                                str(Path.cwd() / "b.png")]
    write_list(["/w/bad\nname\udce9.png"], tmp_path / "l2.txt")  # any name: escaped
    assert (tmp_path / "l2.txt").read_text() == "/w/bad\\nname\\xe9.png\n"
    from crnn_deploy.pipeline.ray.read import plan_list_ranges

    ranges = plan_list_ranges(tmp_path / "l2.txt")
    assert json.loads(ranges[0]["paths"]) == [[1, "/w/bad\nname\udce9.png"]]
    engine = tmp_path / "m.onnx"
    engine.write_bytes(b"x")
    res = CliRunner().invoke(main, ["--executor", "ray", "--ray-address", "auto", "--engine",
                                    str(engine), str(img)])
    assert res.exit_code == 1 and "needs --output" in res.output
    assert not list(tmp_path.glob(".*"))


def test_merged_metrics_count_unreadable_images():
    from crnn_deploy.postprocess.metrics import score_samples

    a, _ = score_samples([("a", "x", "x")], [("b", "y", "cannot read")])
    b, _ = score_samples([("c", "z", "q")])
    merged = merge_metrics([a, b])
    assert (merged["total"], merged["correct"], merged["unreadable"]) == (3, 1, 1)


def test_small_runs_are_split_into_ranges_every_actor_gets_and_large_ones_are_kept(tmp_path):
    from crnn_deploy.pipeline.ray.plan import MIN_RANGE, balance_ranges, range_rows

    lmdb = [{"kind": "lmdb", "shard": "a", "start": 1, "stop": 513, "paths": ""},
            {"kind": "lmdb", "shard": "a", "start": 513, "stop": 751, "paths": ""}]
    split = balance_ranges(lmdb, actors=2)  # 750 samples, 16 ranges wanted -> 64 (the floor)
    assert [r["start"] for r in split][:3] == [1, 65, 129]
    assert max(map(range_rows, split)) == MIN_RANGE
    assert [i for r in split for i in range(r["start"], r["stop"])] == list(range(1, 751))
    big = [dict(lmdb[0], start=s, stop=s + 512) for s in range(1, 100_000, 512)]
    assert balance_ranges(big, actors=2) == big  # ~200 ranges of 512 per actor: kept
    lines = [(k + 1, f"/x/{k}.png") for k in range(300)]
    lst = [{"kind": "list", "shard": "l", "start": 1, "stop": 301, "paths": json.dumps(lines)}]
    parts = balance_ranges(lst, actors=1)  # 300 samples, 8 wanted -> 64 per range
    assert [p for r in parts for p in json.loads(r["paths"])] == [list(x) for x in lines]
    assert parts[1]["start"] == 65 and parts[-1]["stop"] == 301
