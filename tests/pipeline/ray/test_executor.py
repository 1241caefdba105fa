"""The Ray path on a simulated 2-node cluster (one CPU each), shared by the whole module:
same predictions as the local fused path on IIIT5K in 4 shards, actors on both nodes, every
sample once; bad samples reported by shard and key or fatal with strict; SIGINT leaves no
finished-looking folder."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import lmdb
import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.pipeline.fused import evaluate
from crnn_deploy.pipeline.ray.executor import run
from crnn_deploy.postprocess.ctc import greedy_decode_with_confidence
from crnn_deploy.preprocess.lmdb_io import iter_samples
from crnn_deploy.preprocess.shards import build_shards
from crnn_deploy.preprocess.transform import preprocess_image
from crnn_deploy.runtime.batching import pad_batch
from crnn_deploy.runtime.registry import open_backend

ray = pytest.importorskip("ray", reason="needs the [ray] extra")
pq = pytest.importorskip("pyarrow.parquet")

# 0.6 CPU per engine actor: only one fits on a 1-CPU node, so the two actors must take both
# nodes; read/write tasks take 0.4 and run beside them
SMALL = {"actors": 2, "cpus_per_actor": 0.6, "cpus_per_reader": 0.4}


@pytest.fixture(scope="module")
def cluster():
    from ray.cluster_utils import Cluster

    # Cluster(connect=True) calls ray.init(ignore_reinit_error=True): a Ray instance an earlier
    # test left initialized in this process would be kept, silently, instead of this cluster
    ray.shutdown()
    c = Cluster(initialize_head=True, connect=True,
                head_node_args={"num_cpus": 1, "object_store_memory": 150 << 20})
    c.add_node(num_cpus=1, object_store_memory=150 << 20)
    c.wait_for_nodes()
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2, "the test cluster did not come up"
    yield c
    ray.shutdown()
    c.shutdown()


@pytest.fixture(scope="module")
def shards(assets, tmp_path_factory):
    out = tmp_path_factory.mktemp("shards") / "iiit5k.lmdb"
    res = build_shards(assets / "eval_iiit5k_3000" / "gt.txt", out, 750, log=lambda m: None)
    assert res.written == [750] * 4
    return res.shards


@pytest.fixture(scope="module")
def ray_result(cluster, shards, nano_bs16_onnx, tmp_path_factory):
    out = tmp_path_factory.mktemp("ray") / "pred"
    glob = str(shards[0]).replace("-00000.lmdb", "-*.lmdb")
    return run(nano_bs16_onnx, out, lmdb=glob, **SMALL)


def _reference(shards, engine):
    """Texts and confidences computed the same way, in-process, one shard after another."""
    out = {}
    with open_backend(engine) as be:
        for shard in shards:
            items = list(iter_samples(shard))
            for s in range(0, len(items), 16):
                part = items[s:s + 16]
                x = np.stack([preprocess_image(img, be.spec) for _, img, _ in part])
                y = be.infer(pad_batch(x, 16))
                texts, conf = greedy_decode_with_confidence(y[:, :len(part)], be.spec.alphabet)
                for (i, _, _), t, c in zip(part, texts, conf):
                    out[(str(shard), i)] = (t, c)
    return out


def test_ray_predictions_equal_the_fused_path_on_4_shards(ray_result, shards, nano_bs16_onnx):
    table = pq.read_table(ray_result.output / "predictions").to_pydict()
    rows = {(s, i): (t, c, lab) for s, i, t, c, lab in zip(
        table["shard"], table["index"], table["text"], table["confidence"], table["label"])}
    assert len(table["index"]) == len(rows) == 3000  # every sample exactly once
    fused = {}
    with open_backend(nano_bs16_onnx) as be:
        for sh in shards:
            r = evaluate(sh, be, workers=0)
            fused.update({(str(sh), int(p[0][5:-4])): (s[1], s[2])
                          for p, s in zip(r.predictions, r.samples)})
    assert set(fused) == set(rows)
    assert all(rows[k][0] == fused[k][1] and rows[k][2] == fused[k][0] for k in fused)
    ref = _reference(shards, nano_bs16_onnx)
    assert all(rows[k][0] == ref[k][0] for k in ref)
    assert max(abs(rows[k][1] - ref[k][1]) for k in ref) < 1e-5
    m = ray_result.aggregate.metrics
    assert (m["correct"], m["total"]) == (2328, 3000)  # 77.60 %
    assert (ray_result.output / "accuracy.json").is_file()
    assert ray_result.summary["skipped"] == 0


def test_engine_actors_ran_on_both_nodes(cluster, ray_result):
    nodes = {n["NodeID"] for n in ray.nodes() if n["Alive"]}
    assert len(nodes) == 2
    used = ray_result.aggregate.nodes
    assert set(used) == nodes and sum(used.values()) == 3000
    assert all(count > 0 for count in used.values())


def _damaged_copy(src, dst, n, corrupt, drop_label):
    with lmdb.open(str(src), readonly=True, lock=False) as env, env.begin() as txn:
        items = {k: txn.get(k.encode()) for i in range(1, n + 1)
                 for k in (f"image-{i:09d}", f"label-{i:09d}")}
    items[f"image-{corrupt:09d}"] = b"\x89PNG\r\n\x1a\n broken"
    del items[f"label-{drop_label:09d}"]
    items["num-samples"] = str(n).encode()
    with lmdb.open(str(dst), map_size=64 << 20) as env, env.begin(write=True) as txn:
        for k, v in items.items():
            txn.put(k.encode(), v)
    return dst


def test_bad_samples_skipped_by_shard_and_key_or_fatal_with_strict(
        cluster, shards, nano_bs16_onnx, tmp_path):
    bad = _damaged_copy(shards[1], tmp_path / "bad-00000.lmdb", 40, corrupt=7, drop_label=21)
    res = run(nano_bs16_onnx, tmp_path / "out", lmdb=[bad], range_size=16, **SMALL)
    agg = res.aggregate
    assert (agg.rows, agg.predicted, agg.skipped) == (40, 38, 2)
    assert agg.skipped_keys[0].startswith(f"{bad}: image-000000007: cannot identify image")
    assert agg.skipped_keys[1] == f"{bad}: label-000000021: missing label key"
    # the undecodable image has a label: it counts against the score, as locally
    assert (agg.metrics["total"], agg.metrics["unreadable"]) == (39, 1)
    assert (res.output / "errors.tsv").read_text("utf-8").splitlines()[0] == \
        "source\tlabel\tprediction\tconfidence\terror"
    with open_backend(nano_bs16_onnx) as be:
        local = evaluate(bad, be)
    assert (local.metrics["total"], local.metrics["correct"], local.metrics["unreadable"]) == \
        (agg.metrics["total"], agg.metrics["correct"], 1)
    assert sorted(r[0] for r in local.errors) == sorted(r[0] for r in agg.errors)  # one sample id

    with pytest.raises(UserError, match=r"bad-00000.lmdb: image-000000007: .*--strict"):
        run(nano_bs16_onnx, tmp_path / "strict", lmdb=[bad], strict=True, range_size=16, **SMALL)
    assert not (tmp_path / "strict").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".strict")]


def test_unlabeled_lmdb_gives_predictions_without_metrics(cluster, shards, nano_bs16_onnx,
                                                           tmp_path):
    with lmdb.open(str(shards[2]), readonly=True, lock=False) as env, env.begin() as txn:
        items = {f"image-{i:09d}": txn.get(f"image-{i:09d}".encode()) for i in range(1, 21)}
    items.update({f"path-{i:09d}": f"words/{i}.png".encode() for i in range(1, 21)})
    with lmdb.open(str(tmp_path / "u.lmdb"), map_size=64 << 20) as env, \
            env.begin(write=True) as txn:
        for k, v in {**items, "num-samples": b"20"}.items():
            txn.put(k.encode(), v)
    res = run(nano_bs16_onnx, tmp_path / "out", lmdb=tmp_path / "u.lmdb", **SMALL)
    assert res.aggregate.predicted == 20 and res.aggregate.metrics is None
    table = pq.read_table(tmp_path / "out" / "predictions").to_pydict()
    assert set(table["label"]) == {None}
    assert sorted(table["source"]) == sorted(f"words/{i}.png" for i in range(1, 21))
    assert not (tmp_path / "out" / "accuracy.json").exists()


def test_sigint_leaves_no_complete_looking_predictions(cluster, shards, nano_bs16_onnx,
                                                       tmp_path):
    out = tmp_path / "pred"
    glob = str(shards[0]).replace("-00000.lmdb", "-*.lmdb")
    cmd = [sys.executable, "-m", "crnn_deploy.pipeline.eval_cli", "--executor", "ray", "--lmdb", glob,
           "--engine", str(nano_bs16_onnx), "--output", str(out), "--ray-address",
           cluster.address, "--actors", "1", "--cpus-per-actor", "0.5"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            tmps = list(tmp_path.glob(".pred.partial-*/predictions/*.parquet"))
            if tmps:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read().decode()[-2000:]
        assert tmps, "the run never started writing"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert not out.exists()
    time.sleep(2)  # a cancelled write task may still land after the driver's cleanup
    assert not list(tmp_path.glob(".pred.partial-*/summary.json"))


def test_read_tasks_are_not_fused_into_the_engine_actors(cluster, shards, nano_bs16_onnx,
                                                         capsys):
    from crnn_deploy.models.specs import get_spec
    from crnn_deploy.pipeline.ray.plan import build_dataset
    from crnn_deploy.pipeline.ray.read import plan_lmdb_ranges

    ds = build_dataset(plan_lmdb_ranges(shards[:1], 512), get_spec("nano-ocr"), nano_bs16_onnx,
                       backend=None, device="CPU", options={}, batch=None, actors=1,
                       cpus_per_actor=1.0, gpus_per_actor=0.0, resources=None,
                       cpus_per_reader=1.0, strict=False)  # same CPUs
    capsys.readouterr()
    ds.explain()
    optimized = capsys.readouterr().out.split("Physical Plan (Optimized)")[1]
    assert "ActorPoolMapOperator[MapBatches(EngineActor)]" in optimized
    assert "TaskPoolMapOperator[MapBatches(_read_block)]" in optimized


def test_recognize_on_ray_writes_what_local_recognize_writes(cluster, assets, nano_bs16_onnx,
                                                             tmp_path):
    from click.testing import CliRunner

    from crnn_deploy.pipeline.recognize_cli import main

    words = assets / "demo_words"
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    outs = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.tsv"
        res = CliRunner().invoke(main, ["--engine", str(nano_bs16_onnx), str(words), str(bad),
                                        "--executor", executor, "--actors", "1",
                                        "--cpus-per-actor", "0.5", "-o", str(out)])
        assert res.exit_code == 0, res.output
        assert f"skipped {bad}: cannot identify image" in res.stderr
        assert "recognized 13 image(s), skipped 1 bad" in res.stderr
        lines = out.read_text("utf-8").splitlines()
        assert lines[0] == "path\ttext\tconfidence"
        outs[executor] = [line.split("\t") for line in lines[1:]]
    local, remote = outs["local"], outs["ray"]
    assert len(local) == 13 and [r[:2] for r in remote] == [r[:2] for r in local]  # same order
    assert max(abs(float(a[2]) - float(b[2])) for a, b in zip(local, remote)) < 1e-5
    assert dict((r[0].rsplit("/", 1)[1], r[1]) for r in remote)["meijieru_demo.png"] == "Available"
    # beside the outputs: only their ownership records (common.outputs.single), no temporary
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".crnn-deploy.json")) \
        == ["bad.png", "local.tsv", "ray.tsv"]

    res = CliRunner().invoke(main, ["--engine", str(nano_bs16_onnx), str(words), str(bad),
                                    "--executor", "ray", "--strict", "--actors", "1",
                                    "--cpus-per-actor", "0.5", "-o", str(tmp_path / "s.tsv")])
    assert res.exit_code == 1 and f"{bad}: cannot identify image" in res.output
    assert "--strict" in res.output and "list.txt" not in res.output
    # beside the outputs: only their ownership records (common.outputs.single), no temporary
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".crnn-deploy.json")) \
        == ["bad.png", "local.tsv", "ray.tsv"]


def test_a_width_that_follows_the_word_on_ray(cluster, assets, ppocrv4_onnx, tmp_path):
    """PP-OCRv4 (dynamic width: rows travel as float32 bytes + width) on Ray gives the local
    crnn-recognize texts, in order."""
    from click.testing import CliRunner

    from crnn_deploy.pipeline.recognize_cli import main

    gt = assets / "eval_iiit5k_3000" / "gt.txt"
    files = [str(gt.parent / line.split("\t")[0]) for line in gt.read_text().splitlines()[:40]]
    outs = {}
    for executor in ("local", "ray"):
        out = tmp_path / f"{executor}.tsv"
        res = CliRunner().invoke(main, ["--engine", str(ppocrv4_onnx), *files, "--executor", executor,
                                        "--actors", "1", "--cpus-per-actor", "0.5", "-o", str(out)])
        assert res.exit_code == 0, res.output
        outs[executor] = [line.split("\t") for line in out.read_text("utf-8").splitlines()[1:]]
    assert len(outs["local"]) == 40 and [r[:2] for r in outs["ray"]] == [r[:2] for r in outs["local"]]
    assert max(abs(float(a[2]) - float(b[2])) for a, b in zip(outs["local"], outs["ray"])) < 1e-5


def test_a_request_the_cluster_cannot_meet_fails_at_once(cluster, shards, nano_bs16_onnx,
                                                         tmp_path):
    # the probe's case: --actors 2 --cpus-per-actor 1 on 2 CPUs hung with no message
    t0 = time.monotonic()
    with pytest.raises(UserError, match=r"asked for 2 engine actor\(s\) of 1 CPU .* node 1: 1 "
                                        r"CPU; node 2: 1 CPU; at most 1 fit"):
        run(nano_bs16_onnx, tmp_path / "out", lmdb=[shards[0]], actors=2, cpus_per_actor=1)
    assert time.monotonic() - t0 < 60 and list(tmp_path.iterdir()) == []


def test_the_wait_for_a_first_result_is_bounded(cluster, shards, nano_bs16_onnx, tmp_path):
    """Last in the module: a cluster whose CPUs are all taken by another job's actors (the
    request fits the cluster, so only the bounded wait can end the run)."""
    @ray.remote(num_cpus=1)
    class Hog:
        def ready(self):
            return True

    hogs = [Hog.remote() for _ in range(2)]
    ray.get([h.ready.remote() for h in hogs])
    try:
        t0 = time.monotonic()
        with pytest.raises(UserError, match=r"no result from Ray after 4 s .*free now: 0 CPU"):
            run(nano_bs16_onnx, tmp_path / "out", lmdb=[shards[0]], first_result_timeout=4,
                **SMALL)
        assert time.monotonic() - t0 < 60
        assert list(tmp_path.iterdir()) == []
    finally:
        for h in hogs:
            ray.kill(h)


def test_eval_gt_on_ray_scores_as_the_local_gt(cluster, assets, nano_bs16_onnx, tmp_path):
    """Issue 21: crnn-eval --executor ray --gt FILE, on 300 IIIT5K words plus one corrupt and
    one missing image: the same accuracy.json numbers as the local --gt; --metric exact
    (issue 29) recorded in both paths' accuracy.json and summary.json."""
    import json

    from click.testing import CliRunner

    from crnn_deploy.pipeline.eval_cli import main as eval_cli

    words = tmp_path / "words"
    words.mkdir()
    (words / "test").symlink_to(assets / "eval_iiit5k_3000" / "test")
    (words / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    lines = (assets / "eval_iiit5k_3000" / "gt.txt").read_text("utf-8").splitlines()[:300]
    gt = words / "gt.txt"
    gt.write_text("\n".join([*lines[:100], "broken.png\tBROKEN", *lines[100:], "gone.png\tGONE"])
                  + "\n", "utf-8")
    base = ["--gt", str(gt), "--engine", str(nano_bs16_onnx), "--quiet", "--metric", "exact"]
    local = CliRunner().invoke(eval_cli, [*base, "--output", str(tmp_path / "local")])
    assert local.exit_code == 0, local.output
    on_ray = CliRunner().invoke(eval_cli, [*base, "--output", str(tmp_path / "ray"),
                                           "--executor", "ray", "--actors", "2",
                                           "--cpus-per-actor", "0.6", "--cpus-per-reader", "0.4"])
    assert on_ray.exit_code == 0, on_ray.output
    acc = {k: json.loads((tmp_path / k / "accuracy.json").read_text()) for k in ("local", "ray")}
    assert (acc["ray"]["total"], acc["ray"]["unreadable"], acc["ray"]["skipped"]) == (302, 2, 2)
    for k in ("local", "ray"):
        assert acc[k]["metric"] == "exact" and "raw strings" in acc[k]["protocol"]
        assert json.loads((tmp_path / k / "summary.json").read_text())["metric"] == "exact"
    assert acc["ray"]["correct"] == acc["ray"]["correct_case_sensitive"]  # exact: the raw strings
    for key in ("total", "correct", "correct_case_sensitive", "unreadable", "edit_distance",
                "gt_chars", "skipped", "metric", "labels_with_dropped_chars", "word_accuracy", "word_accuracy_case_sensitive", "cer"):
        assert acc["ray"][key] == pytest.approx(acc["local"][key]), key
    assert acc["ray"]["mean_ned"] == pytest.approx(acc["local"]["mean_ned"], abs=1e-12)
    for res in (local, on_ray):
        assert "unreadable: 2 labeled image(s) could not be read or decoded" in res.output
        assert "word accuracy (exact): " in res.output
    errors = {k: [r.split("\t")[:2] for r in (tmp_path / k / "errors.tsv").read_text(
        "utf-8").splitlines()] for k in ("local", "ray")}
    # the same rows by sample id (the relpath); the local path lists unreadable images last
    assert sorted(errors["ray"]) == sorted(errors["local"]) and len(errors["ray"]) > 3
    assert ["broken.png", "BROKEN"] in errors["ray"] and ["gone.png", "GONE"] in errors["ray"]
