"""Base engines and hostile files of ``scripts/stress_hostile.py`` (issue 26's examples).

:func:`prepare` builds (or reuses, in ``build``) nano-ocr and english_g2 ONNX exports, their
OpenVINO IRs, the imported PP-OCRv4 recognizer, detector and classifier; eight IIIT5K words
with a relative gt.txt; nano-ocr's reference predictions on them; an LMDB, an input folder and a
result folder of them. The ONNX variants (hostile metadata, external data, decoy first output,
integer output, an output that ignores the batch) are made with the ``onnx`` package from the
nano-ocr export.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent
DEEP = "[" * 100_000 + "]" * 100_000


def sh(*args, cwd=None) -> str:
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{p.stderr[-2000:]}")
    return p.stdout


def base_engines(build: Path, weights: Path) -> dict:
    build.mkdir(parents=True, exist_ok=True)
    steps = {
        "nano.onnx": ["onnx", "--model", "nano-ocr", "--checkpoint", weights / "nano_ocr_ftr.pth",
                      "--dynamic"],
        "eng.onnx": ["onnx", "--model", "english_g2", "--checkpoint",
                     weights / "english_g2.pth", "--dynamic"],
        "eng.xml": ["openvino", "--onnx", build / "eng.onnx"],
        "pprec.onnx": ["import", weights / "ch_PP-OCRv4_rec_infer.onnx", "--spec", "ppocrv4-rec"],
        "det.onnx": ["import", weights / "ch_PP-OCRv4_det_infer.onnx", "--spec", "ppocrv4-det"],
        "cls.onnx": ["import", weights / "ch_ppocr_mobile_v2.0_cls_infer.onnx", "--spec",
                     "ppocr-cls"],
    }
    for name, args in steps.items():
        if not (build / name).exists():
            sh(BIN / "crnn-convert", *args, "--output", build / name)
    return {k.replace(".", "_"): build / k for k in steps}


def nano_schema() -> dict:
    from crnn_deploy.models.spec_schema import spec_to_schema
    from crnn_deploy.models.specs import get_spec

    return spec_to_schema(get_spec("nano-ocr"))


def onnx_variant(src: Path, dst: Path, *, spec_text: str | None = None, edit=None,
                 external: bool = False) -> Path:
    """A copy of ``src`` with its spec metadata replaced by ``spec_text`` and/or its graph
    changed by ``edit(model)``; ``external``: weights saved as external data beside it."""
    import onnx

    from crnn_deploy.models.spec_record import METADATA_KEY

    m = onnx.load(str(src))
    if spec_text is not None:
        for p in m.metadata_props:
            if p.key == METADATA_KEY:
                p.value = spec_text
    if edit is not None:
        edit(m)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(dst), save_as_external_data=external, all_tensors_to_one_file=True,
              location=dst.name + ".data", size_threshold=0)
    return dst


def _add(m, op: str, inputs: list[str], out: str, **attrs) -> None:
    import onnx

    m.graph.node.append(onnx.helper.make_node(op, inputs, [out], **attrs))


def decoy_first(m) -> None:
    """A decoy first output (the real logits negated) before the real ``output1``."""
    import onnx

    _add(m, "Neg", ["output1"], "decoy")
    vi = onnx.helper.make_tensor_value_info("decoy", onnx.TensorProto.FLOAT, [33, "batch", 66])
    m.graph.output.insert(0, vi)


def int_output(m) -> None:
    import onnx

    _add(m, "Cast", ["output1"], "as_int", to=onnx.TensorProto.INT32)
    del m.graph.output[:]
    m.graph.output.append(onnx.helper.make_tensor_value_info("as_int", onnx.TensorProto.INT32,
                                                             [33, "batch", 66]))


def ignore_batch(m) -> None:
    """The output is sample 0's logits whatever the batch (a Slice on the batch axis)."""
    import onnx

    for name, v in (("s0", [0]), ("s1", [1]), ("ax", [1])):
        m.graph.initializer.append(onnx.numpy_helper.from_array(
            __import__("numpy").array(v, dtype="int64"), name))
    _add(m, "Slice", ["output1", "s0", "s1", "ax"], "first")
    del m.graph.output[:]
    m.graph.output.append(onnx.helper.make_tensor_value_info("first", onnx.TensorProto.FLOAT,
                                                             [33, 1, 66]))


def words(root: Path, assets: Path, n: int = 8) -> Path:
    """``root/words``: IIIT5K words w1..wN.png with a relative gt.txt."""
    d = root / "words"
    d.mkdir()
    src = assets / "eval_iiit5k_3000"
    lines = (src / "gt.txt").read_text(encoding="utf-8").splitlines()[:n]
    gt = []
    for i, ln in enumerate(lines, 1):
        rel, label = ln.split("\t", 1)
        shutil.copy(src / rel, d / f"w{i}.png")
        gt.append(f"w{i}.png\t{label}\n")
    (d / "gt.txt").write_text("".join(gt), encoding="utf-8")
    (d / "list.txt").write_text("".join(f"w{i}.png\n" for i in range(1, n + 1)))
    return d


def prepare(root: Path, build: Path, assets: Path, weights: Path) -> dict:
    """Everything the cases read; returns a dict of paths (and reference predictions)."""
    env = {"root": root, "assets": assets, "weights": weights, **base_engines(build, weights)}
    shared = root / "shared"
    shared.mkdir()
    env["words"] = w = words(shared, assets)
    # wide words for english_g2: IIIT5K words glued side by side (about 10x wider than tall)
    from PIL import Image

    imgs = [Image.open(w / f"w{i}.png").convert("L").resize((100, 32)) for i in range(1, 9)]
    wide = Image.new("L", (800, 32))
    for i, im in enumerate(imgs):
        wide.paste(im, (100 * i, 0))
    wide.save(shared / "wide.png")
    ref = sh(BIN / "crnn-recognize", "--engine", env["nano_onnx"], "--list", w / "list.txt",
             "--root", w, "-q")
    env["ref_nano"] = {ln.split("\t")[0]: ln.split("\t")[1] for ln in ref.splitlines()
                       if "\t" in ln}
    ref = sh(BIN / "crnn-recognize", "--engine", env["eng_onnx"], "--list", w / "list.txt",
             "--root", w, shared / "wide.png", "-q")
    env["ref_eng"] = {Path(ln.split("\t")[0]).name: ln.split("\t")[1]
                      for ln in ref.splitlines() if "\t" in ln}
    sh(BIN / "crnn-preprocess", "build-lmdb", "--gt", w / "gt.txt", "--output",
       shared / "db.lmdb")
    sh(BIN / "crnn-preprocess", "lmdb-to-bin", "--lmdb", shared / "db.lmdb", "--model",
       "nano-ocr", "--workers", "1", "--output", shared / "bin", "--labels", shared / "label.txt")
    sh(BIN / "crnn-infer", "--engine", env["nano_onnx"], "--input", shared / "bin", "--output",
       shared / "res", "--threads", "1")
    env["lmdb"], env["bin"], env["res"] = shared / "db.lmdb", shared / "bin", shared / "res"
    env["label"] = shared / "label.txt"
    env["wide"] = shared / "wide.png"
    env["nano_text"] = json.dumps(nano_schema())
    return env
