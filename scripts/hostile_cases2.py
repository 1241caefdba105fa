"""More cases of ``scripts/stress_hostile.py`` (format in ``scripts/hostile_cases.py``):
symlinked outputs, bounded reads, NUL in paths, width-following models, nothing dropped
silently, page GT for ``crnn-ocr --gt``, the ``Recognizer``."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from hostile_cases import (
    CV,
    DEEP,
    EVAL,
    INF,
    OCR,
    POST,
    PRE,
    PY,
    REC,
    hostile,
    put,
    rows,
    same_as,
    stderr_names,
)
from hostile_files import onnx_variant


def link_cases(env: dict) -> list[dict]:
    """Every command's output as a dangling symlink, and as a live one to a file/folder."""
    nano, w, spec = str(env["nano_onnx"]), env["words"], "spec.json"
    pages = ["--det", env["det_onnx"], "--cls", env["cls_onnx"], "--rec", env["pprec_onnx"],
             w / "w1.png"]
    cmds = {  # name: (argv, the output that is the link, folder output?)
        "recognize": ([REC, "--engine", nano, w / "w1.png", "-o", "out.tsv"], "out.tsv", 0),
        "infer": ([INF, "--engine", nano, "--input", env["bin"], "--output", "out"], "out", 1),
        "eval": ([EVAL, "--engine", nano, "--gt", w / "gt.txt", "--output", "out"], "out", 1),
        "lmdb2bin": ([PRE, "lmdb-to-bin", "--lmdb", env["lmdb"], "--model", "nano-ocr",
                      "--workers", "1", "--output", "out", "--labels", "outl.txt"], "out", 1),
        "lmdb2bin_labels": ([PRE, "lmdb-to-bin", "--lmdb", env["lmdb"], "--model", "nano-ocr",
                             "--workers", "1", "--output", "outb", "--labels", "out.txt"],
                            "out.txt", 0),
        "buildlmdb": ([PRE, "build-lmdb", "--gt", w / "gt.txt", "--output", "out.lmdb"],
                      "out.lmdb", 1),
        "convert_onnx": ([CV, "onnx", "--model", "nano-ocr", "--checkpoint",
                          env["weights"] / "nano_ocr_ftr.pth", "--dynamic", "--output",
                          "out.onnx"], "out.onnx", 0),
        "import": ([CV, "import", nano, "--spec", spec, "--output", "out.onnx"], "out.onnx", 0),
        "openvino": ([CV, "openvino", "--onnx", nano, "--output", "out.xml"], "out.xml", 0),
        "openvino_bin": ([CV, "openvino", "--onnx", nano, "--output", "out.xml"], "out.bin", 0),
        "all": ([CV, "all", "--onnx", nano, "--outdir", "out"], "out", 1),
        "ocr": ([OCR, *pages, "-o", "out.jsonl"], "out.jsonl", 0),
        "ocr_draw": ([OCR, *pages, "--draw", "out"], "out", 1),
        "postprocess": ([POST, "outres", env["label"]], "outres/predictions.tsv", 0),
    }
    out = []
    for cmd, (argv, link, folder) in cmds.items():
        for kind in ("dangling", "live"):
            target = env["root"] / "outside" / f"link_{kind}_{cmd}" / "sub" / "x"

            def setup(c, link=link, target=target, kind=kind, folder=folder):
                put(c / "spec.json", env["nano_text"])
                if link.startswith("outres/"):
                    shutil.copytree(env["res"], c / "outres")
                if kind == "live":
                    target.mkdir(parents=True) if folder else put(target, "not yours\n")
                (c / link).symlink_to(target)
            # --outdir is the folder above the outputs: a live link there is a folder the
            # user chose (docs/SAFETY.md); writing into its target is the correct result
            live_dir = cmd == "all" and kind == "live"
            out.append(dict(name=f"link_{kind}_{cmd}", group="1 symlinks",
                            expect="either" if live_dir else "error", link_ok=live_dir,
                            check=(lambda c, code, o, e: True if code == 0 else f"exit {code}")
                            if live_dir else None, setup=setup, cmds=[argv]))
    return out


def read_cases(env: dict) -> list[dict]:
    def sidecar(c, how):
        """``x.onnx``: nano-ocr without its spec metadata, so the spec comes from the sidecar
        ``x.onnx.json``, made hostile."""
        onnx_variant(env["nano_onnx"], c / "x.onnx", edit=lambda m: m.metadata_props.clear())
        hostile(c / "x.onnx.json", how)

    """meta.json / result files / input files / sidecars / second_pass.json / records."""
    nano, out = str(env["nano_onnx"]), []
    for how in ("fifo", "zero", "huge", "deep", "dupkeys"):
        def pp(c, how=how):
            shutil.copytree(env["res"], c / "outres")
            hostile(c / "outres" / "meta.json", how)
        out.append(dict(name=f"postprocess_meta_{how}", group="3 reads", expect="error",
                        setup=pp, cmds=[[POST, "outres", env["label"]]]))

        def inf(c, how=how):
            shutil.copytree(env["bin"], c / "in")
            hostile(c / "in" / "meta.json", how)
        out.append(dict(name=f"infer_meta_{how}", group="3 reads", expect="error", setup=inf,
                        cmds=[[INF, "--engine", nano, "--input", "in", "--output", "out"]]))

        out.append(dict(name=f"sidecar_{how}", group="3 reads", expect="error",
                        setup=lambda c, how=how: sidecar(c, how),
                        cmds=[[REC, "--engine", "x.onnx", "words/w1.png"]]))
    out.append(dict(name="sidecar_list", group="3 reads", expect="error",
                    setup=lambda c: sidecar(c, "list"),
                    cmds=[[REC, "--engine", "x.onnx", "words/w1.png"]]))
    for how in ("fifo", "zero", "huge", "folder"):
        def res(c, how=how):
            shutil.copytree(env["res"], c / "outres")
            hostile(c / "outres" / "test_1_0.bin", how)
        out.append(dict(name=f"postprocess_result_{how}", group="3 reads", expect="error",
                        setup=res, cmds=[[POST, "outres", env["label"]]]))
    for how in ("folder", "fifo"):
        def inp(c, how=how):
            shutil.copytree(env["bin"], c / "in")
            hostile(c / "in" / "test_3.bin", how)
        out.append(dict(name=f"infer_input_{how}", group="5 dropped", expect="error",
                        setup=inp, check=stderr_names("test_3.bin"),
                        cmds=[[INF, "--engine", nano, "--input", "in", "--output", "out"]]))
    sp = {"tool": "crnn-deploy", "kind": "second-pass list", "spec": "english_g2",
          "below": 0.1, "contrast": 0.5, "lmdb": None, "keys_sha256": None,
          "result": "/nonexistent", "files": ["test_1\u0661.npy"]}
    for how in ("digits", "deep", "fifo", "dupkeys"):
        def spl(c, how=how):
            if how == "digits":
                put(c / "sp.json", json.dumps(sp, ensure_ascii=False))
            else:
                hostile(c / "sp.json", how)
        out.append(dict(name=f"second_pass_{how}", group="3 json", expect="error", setup=spl,
                        cmds=[[PRE, "lmdb-to-bin", "--lmdb", env["lmdb"], "--model",
                               "english_g2", "--workers", "1", "--second-pass", "sp.json",
                               "--output", "out"]]))
    # ownership record / folder marker nested 100,000 deep, then --overwrite
    def rec(c):
        put(c / "out.xml", "<net/>")
        put(c / "out.bin", b"\0")
        put(c / ".out.xml.crnn-deploy.json", DEEP)
    out.append(dict(name="record_deep_overwrite", group="3 json", expect="error", setup=rec,
                    cmds=[[CV, "openvino", "--onnx", nano, "--output", "out.xml",
                           "--overwrite"]]))

    def marker(c):
        shutil.copytree(env["res"], c / "out")
        put(c / "out" / ".crnn-deploy.json", DEEP)
    # still ours by its meta.json (folders written before markers existed): replacing it whole
    # is allowed; what must not happen is a traceback
    out.append(dict(name="marker_deep_overwrite", group="3 json", expect="either", setup=marker,
                    check=lambda c, code, o, e: True if code == 0 else f"exit {code}",
                    cmds=[[INF, "--engine", nano, "--input", env["bin"], "--output", "out",
                           "--overwrite"]]))
    return out


def nul_cases(env: dict) -> list[dict]:
    nano, w = str(env["nano_onnx"]), env["words"]
    gt = "w1.png\tHELLO\nw2\0x.png\tWORLD\n"
    one = lambda c, code, o, e: True if code in (0, 1) and "line" in e and "2" in e else (  # noqa: E731
        f"exit {code}, line 2 not named")
    out = []
    for cmd, argv in (("eval", [EVAL, "--engine", nano, "--gt", "g/gt.txt"]),
                      ("recognize", [REC, "--engine", nano, "--gt", "g/gt.txt"]),
                      ("buildlmdb", [PRE, "build-lmdb", "--gt", "g/gt.txt", "--output",
                                     "out.lmdb"]),
                      ("recognize_list", [REC, "--engine", nano, "--list", "g/gt.txt"]),
                      ("ocr_list", [OCR, "--det", env["det_onnx"], "--cls", env["cls_onnx"],
                                    "--rec", env["pprec_onnx"], "--list", "g/gt.txt"])):
        def setup(c, cmd=cmd):
            (c / "g").mkdir()
            os.symlink(w / "w1.png", c / "g" / "w1.png")
            put(c / "g" / "gt.txt", gt if "list" not in cmd else "w1.png\nw2\0x.png\n")
        out.append(dict(name=f"nul_{cmd}", group="3 NUL", expect="either", setup=setup,
                        cmds=[argv + (["--root", "g"] if "list" in cmd else [])], check=one))
    out.append(dict(name="nul_stdin", group="3 NUL", expect="either",
                    stdin=b"words/w1.png\nwords/w2\0.png\n", check=one,
                    cmds=[[REC, "--engine", nano, "-"]]))
    api = ("import sys; from crnn_deploy.pipeline.recognizer import Recognizer\n"
           "from crnn_deploy.common.errors import UserError\n"
           "r = Recognizer(sys.argv[1])\n"
           "try:\n    print(r.recognize({}, errors='{}'))\n"
           "except UserError as e:\n    print('Error:', e, file=sys.stderr); sys.exit(1)\n")
    out.append(dict(name="recognizer_nul_ignore", group="3 NUL", expect="ok",
                    check=lambda c, code, o, e: True if "('', 0.0)" in o else f"printed {o!r}",
                    cmds=[[PY, "-c", api.format("['words/w1\\0.png']", "ignore"), nano]]))
    out.append(dict(name="recognizer_nul_raise", group="3 NUL", expect="error",
                    cmds=[[PY, "-c", api.format("['words/w1\\0.png']", "raise"), nano]]))
    ref = env["ref_nano"]["w1.png"]
    out.append(dict(name="recognizer_file_object", group="5 messages", expect="ok",
                    check=lambda c, code, o, e: True if ref in o else f"printed {o[:80]!r}",
                    cmds=[[PY, "-c", api.format("open('words/w1.png', 'rb')", "raise"), nano]]))
    out.append(dict(name="yes_stdin_stream", group="3 reads", expect="ok", stdin="yes",
                    timeout=60, stopped=True,
                    check=lambda c, code, o, e: True if o.count("\n") >= 16 else
                    f"{o.count(chr(10))} rows in 60 s",
                    cmds=[[REC, "--engine", nano, "-", "--prep-threads", "1"]]))
    return out


def width_cases(env: dict) -> list[dict]:
    from PIL import Image

    eng, xml, w = str(env["eng_onnx"]), str(env["eng_xml"]), env["words"]
    names = [f"w{i}.png" for i in range(1, 9)]
    lst = ["--list", w / "list.txt", "--root", w]

    def tall(c):
        Image.new("L", (200_000, 1), 255).save(c / "tall.png")
        put(c / "gt.txt", "tall.png\tx\nw1.png\tHELLO\n")
        os.symlink(w / "w1.png", c / "w1.png")
    ok1 = same_as(env["ref_eng"], ["w1.png"])
    out = [dict(name="wide_200000x1_recognize", group="4 widths", expect="ok", setup=tall,
                check=lambda c, code, o, e: ok1(c, 0, o, e) if code in (0, 1) else "exit",
                cmds=[[REC, "--engine", eng, "w1.png", "tall.png"]]),
           dict(name="wide_200000x1_eval", group="4 widths", expect="ok", setup=tall,
                check=lambda c, code, o, e: True if code in (0, 1) else f"exit {code}",
                cmds=[[EVAL, "--engine", eng, "--gt", "gt.txt"]]),
           dict(name="wide_200000x1_lmdb2bin", group="4 widths", expect="ok",
                setup=lambda c: (tall(c), sh_lmdb(c)),
                check=lambda c, code, o, e: True if code in (0, 1) else f"exit {code}",
                cmds=[[PRE, "lmdb-to-bin", "--lmdb", "outdb", "--model", "english_g2",
                       "--workers", "1", "--output", "out"]])]
    for ws, need in (("320,480", 8), ("64", 0)):
        tag = ws.replace(",", "_")
        out.append(dict(name=f"widths_{tag}_recognize", group="4 widths", expect="ok",
                        check=same_as(env["ref_eng"], names + ["wide.png"], need=need),
                        cmds=[[REC, "--engine", xml, "--widths", ws, *lst, env["wide"]]]))
        out.append(dict(name=f"widths_{tag}_eval", group="4 widths", expect="ok",
                        check=lambda c, code, o, e: True if code == 0 and "accuracy" in o
                        else f"exit {code}",
                        cmds=[[EVAL, "--engine", xml, "--widths", ws, "--gt", w / "gt.txt"]]))
    api = ("import sys; from crnn_deploy.pipeline.recognizer import Recognizer\n"
           f"print(Recognizer(sys.argv[1], widths=[320, 480]).recognize(['{w}/w1.png']))")
    out.append(dict(name="widths_320_480_recognizer", group="4 widths", expect="ok",
                    check=lambda c, code, o, e: True if env["ref_eng"]["w1.png"] in o
                    else f"exit {code}", cmds=[[PY, "-c", api, xml]]))
    for mode in ("I", "I;16"):
        def img(c, mode=mode):
            im = Image.open(w / "w1.png").convert("L")
            im = im.convert("I") if mode == "I" else Image.frombytes(
                "I;16", im.size, __import__("numpy").asarray(im, dtype="<u2").tobytes())
            im.save(c / "m.tif" if mode == "I" else c / "m.png")
        f = "m.tif" if mode == "I" else "m.png"
        out.append(dict(name=f"mode_{mode.replace(';', '')}_image", group="4 widths",
                        expect="ok", setup=img,
                        check=lambda c, code, o, e, f=f: True if code == 0 and rows(o).get(f)
                        == env["ref_nano"]["w1.png"] else f"read {rows(o).get(f)!r}",
                        cmds=[[REC, "--engine", str(env["nano_onnx"]), f]]))
    return out


def sh_lmdb(c: Path) -> None:
    from hostile_files import sh
    sh(PRE, "build-lmdb", "--gt", c / "gt.txt", "--output", c / "outdb")


def more_cases(env: dict) -> list[dict]:
    from hostile_cases3 import dropped_cases, page_gt_cases

    return (link_cases(env) + read_cases(env) + nul_cases(env) + width_cases(env)
            + dropped_cases(env) + page_gt_cases(env))
