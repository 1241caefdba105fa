"""build-lmdb and lmdb-to-bin on the real evaluation sets (skipped without ../shared/assets)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import lmdb
import numpy as np
import pytest
from PIL import Image

from crnn_deploy.models.specs import get_spec
from crnn_deploy.preprocess.lmdb_io import iter_samples


def gt_lines(assets: Path, name: str) -> list[tuple[str, str]]:
    lines = (assets / name / "gt.txt").read_text(encoding="utf-8").splitlines()
    return [tuple(line.split("\t", 1)) for line in lines if line]


def reference(path: Path, w: int, h: int, resample) -> np.ndarray:
    """Independent PIL computation of the training transform: (1, 1, h, w) float32."""
    img = Image.open(path).convert("L").resize((w, h), resample)
    x = np.asarray(img, dtype=np.float32) / 255.0
    return ((x - 0.5) / 0.5).astype(np.float32).reshape(1, 1, h, w)


def read_bin(path: Path, shape) -> np.ndarray:
    return np.fromfile(path, dtype="<f4").reshape(shape)


def test_iiit5k_lmdb_layout(iiit5k_lmdb, assets):
    gt = gt_lines(assets, "eval_iiit5k_3000")
    assert len(gt) == 3000
    env = lmdb.open(str(iiit5k_lmdb), readonly=True, lock=False)
    with env.begin() as txn:
        assert txn.get(b"num-samples") == b"3000"
        for i in (1, 2, 1500, 3000):
            rel, label = gt[i - 1]
            assert txn.get(b"image-%09d" % i) == (assets / "eval_iiit5k_3000" / rel).read_bytes()
            assert txn.get(b"label-%09d" % i).decode() == label
        assert txn.get(b"image-000000000") is None and txn.get(b"image-000003001") is None
        assert txn.stat()["entries"] == 3 * 3000 + 1  # image, label, path
    env.close()
    assert not [p for p in iiit5k_lmdb.parent.iterdir() if p.name.startswith(".")]


def test_iter_samples_streams_in_order(iiit5k_lmdb, assets):
    gt = gt_lines(assets, "eval_iiit5k_3000")
    got = list(iter_samples(iiit5k_lmdb, start=2999))
    assert [(i, lab) for i, _, lab in got] == [(2999, gt[2998][1]), (3000, gt[2999][1])]
    assert got[0][1] == (assets / "eval_iiit5k_3000" / gt[2998][0]).read_bytes()
    assert [i for i, _, _ in iter_samples(iiit5k_lmdb, stop=4)] == [1, 2, 3]


def test_iiit5k_bin_nano(iiit5k_bin_nano, iiit5k_lmdb, assets):
    input_bin, label_txt = iiit5k_bin_nano
    gt = gt_lines(assets, "eval_iiit5k_3000")
    bins = sorted(p.name for p in input_bin.glob("*.bin"))
    assert len(bins) == 3000
    assert all((input_bin / f"test_{i}.bin").stat().st_size == 16384 for i in range(1, 3001))
    assert sorted(p.name for p in input_bin.iterdir()) == sorted(
        bins + ["meta.json", "names.txt", ".crnn-deploy.json"])
    names = (input_bin / "names.txt").read_text(encoding="utf-8").splitlines()
    assert names[:2] == [f"test_1.bin\t{gt[0][0]}", f"test_2.bin\t{gt[1][0]}"] and len(names) == 3000
    lines = label_txt.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 3000
    assert lines[0] == "test_1.bin:PRIVATE"
    assert lines == [f"test_{i}.bin:{lab}" for i, (_, lab) in enumerate(gt, start=1)]

    meta = json.loads((input_bin / "meta.json").read_text())
    assert meta["spec"] == "nano-ocr" and meta["shape"] == [1, 1, 32, 128]
    assert meta["dtype"] == "float32" and meta["byte_order"] == "little"
    assert meta["count"] == 3000 and meta["skipped"] == 0
    assert Path(meta["lmdb"]) == iiit5k_lmdb.resolve()
    assert len(meta["keys_sha256"]) == 64
    assert meta["model_spec"] == get_spec("nano-ocr").to_dict()

    # Sampled tensors against an independent PIL computation; include the grey (mode L) images.
    rng = np.random.default_rng(0)
    idx = set(rng.choice(np.arange(1, 3001), size=60, replace=False).tolist()) | {1, 3000}
    grey = [i for i, (rel, _) in enumerate(gt, start=1)
            if Image.open(assets / "eval_iiit5k_3000" / rel).mode == "L"][:10]
    assert grey, "IIIT5K has 48 mode-L images"
    for i in sorted(idx | set(grey)):
        ref = reference(assets / "eval_iiit5k_3000" / gt[i - 1][0], 128, 32, Image.BILINEAR)
        got = read_bin(input_bin / f"test_{i}.bin", (1, 1, 32, 128))
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6, err_msg=f"test_{i}.bin")
        assert got.min() >= -1 and got.max() <= 1


def test_ic13_rgba_nano(ic13_lmdb, assets, tmp_path, cli):
    gt = gt_lines(assets, "eval_ic13_857")
    assert Image.open(assets / "eval_ic13_857" / gt[0][0]).mode == "RGBA"
    out, labels = tmp_path / "input_bin", tmp_path / "label.txt"
    res = cli("lmdb-to-bin", "--lmdb", ic13_lmdb, "--model", "nano-ocr", "--workers", "2",
              "--output", out, "--labels", labels)
    assert res.exit_code == 0, res.output
    assert "images/s" in res.output and "wrote 857 files" in res.output
    assert len(list(out.glob("test_*.bin"))) == 857
    assert {p.stat().st_size for p in out.glob("test_*.bin")} == {16384}
    assert len(labels.read_text(encoding="utf-8").splitlines()) == 857
    for i in (1, 2, 100, 429, 857):
        ref = reference(assets / "eval_ic13_857" / gt[i - 1][0], 128, 32, Image.BILINEAR)
        got = read_bin(out / f"test_{i}.bin", (1, 1, 32, 128))
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6, err_msg=f"test_{i}.bin")


@pytest.mark.parametrize("model,resample", [("crnn-modelzoo", Image.BICUBIC),
                                            ("crnn", Image.BILINEAR)])
def test_iiit5k_100x32_models(model, resample, iiit5k_lmdb, assets, tmp_path, cli):
    gt = gt_lines(assets, "eval_iiit5k_3000")
    out, labels = tmp_path / "input_bin", tmp_path / "label.txt"
    res = cli("lmdb-to-bin", "--lmdb", iiit5k_lmdb, "--model", model, "--workers", "1",
              "--limit", "150", "--output", out, "--labels", labels)
    assert res.exit_code == 0, res.output
    files = list(out.glob("test_*.bin"))
    assert len(files) == 150 and {p.stat().st_size for p in files} == {12800}
    assert len(labels.read_text().splitlines()) == 150
    meta = json.loads((out / "meta.json").read_text())
    assert meta["shape"] == [1, 1, 32, 100] and meta["limit"] == 150
    assert meta["model_spec"]["resize"] == ("bicubic" if model == "crnn-modelzoo" else "bilinear")
    other = Image.BILINEAR if resample == Image.BICUBIC else Image.BICUBIC
    differs = 0
    for i in (1, 7, 42, 99, 150):
        path = assets / "eval_iiit5k_3000" / gt[i - 1][0]
        got = read_bin(out / f"test_{i}.bin", (1, 1, 32, 100))
        np.testing.assert_allclose(got, reference(path, 100, 32, resample), rtol=0, atol=1e-6)
        differs += not np.allclose(got, reference(path, 100, 32, other), atol=1e-6)
    assert differs > 0  # the filter really matters


def test_rerun_replaces_previous_output(iiit5k_lmdb, tmp_path, cli):
    out, labels = tmp_path / "input_bin", tmp_path / "label.txt"
    args = ["lmdb-to-bin", "--lmdb", iiit5k_lmdb, "--model", "crnn", "--workers", "1",
            "--output", out, "--labels", labels]
    assert cli(*args, "--limit", "70").exit_code == 0
    assert len(list(out.glob("*.bin"))) == 70
    res = cli(*args, "--limit", "5")
    assert res.exit_code == 1 and "pass --overwrite" in res.output
    assert len(list(out.glob("*.bin"))) == 70 and len(labels.read_text().splitlines()) == 70
    res = cli(*args, "--limit", "5", "--overwrite")
    assert res.exit_code == 0, res.output
    assert sorted(os.listdir(out)) == sorted([f"test_{i}.bin" for i in range(1, 6)]
                                             + ["meta.json", "names.txt", ".crnn-deploy.json"])
    assert len(labels.read_text().splitlines()) == 5
    assert sorted(os.listdir(tmp_path)) == ["input_bin", "label.txt"]  # no temp leftovers
