"""Cases of ``scripts/stress_hostile.py`` (format in ``scripts/hostile_cases.py``): nothing
dropped silently (``--quiet``, gt.txt leaving its folder, misreads.html's byte cap) and hostile
page GT for ``crnn-ocr --gt``."""
from __future__ import annotations

import json
import os

from hostile_cases import DEEP, EVAL, OCR, REC, no_text, put, stderr_names


def dropped_cases(env: dict) -> list[dict]:
    nano, w = str(env["nano_onnx"]), env["words"]

    def bad(c):
        for i in range(3):
            put(c / f"bad{i}.png", b"not an image" * i)
    out = [dict(name="quiet_bad_images", group="5 dropped", expect="either", setup=bad,
                strict=True, check=stderr_names("bad0.png", "bad1.png", "bad2.png"),
                cmds=[[REC, "--engine", nano, "-q", w / "w1.png", "bad0.png", "bad1.png",
                       "bad2.png"]])]

    esc = "\x1b]0;title\x07\x1b[31mbad.png"  # retitles and recolours a raw terminal

    def esc_files(c):
        put(c / esc, b"not an image")
        put(c / "gt.txt", f"{esc}\tword\n")
    out.append(dict(name="esc_image_name_recognize", group="5 messages", expect="either",
                    setup=esc_files, check=stderr_names("\\x1b"),
                    cmds=[[REC, "--engine", nano, esc]]))
    out.append(dict(name="esc_image_name_eval", group="5 messages", expect="either",
                    setup=esc_files, check=stderr_names("\\x1b"),
                    cmds=[[EVAL, "--engine", nano, "--gt", "gt.txt"]]))

    def passwd(c):
        (c / "g").mkdir()
        os.symlink(w / "w1.png", c / "g" / "w1.png")
        put(c / "g" / "gt.txt", "w1.png\tHELLO\n/etc/passwd\troot\n../../../../../../etc/"
            "passwd\troot\n")
    for cmd, argv in (("eval", [EVAL, "--engine", nano, "--gt", "g/gt.txt", "--output", "out",
                                "--misreads"]),
                      ("recognize", [REC, "--engine", nano, "--gt", "g/gt.txt", "-o",
                                     "out.tsv"])):
        out.append(dict(name=f"gt_passwd_{cmd}", group="5 dropped", expect="ok", setup=passwd,
                        check=no_text("root:x"), cmds=[argv]))
    iiit = env["assets"] / "eval_iiit5k_3000"

    def many(c):
        lines = (iiit / "gt.txt").read_text().splitlines()[:2000]
        put(c / "gt.txt", "".join(f"{ln.split(chr(9))[0]}\tzzqqzz\n" for ln in lines))

    def capped(c, code, o, e):
        page = c / "out" / "misreads.html"
        size = page.stat().st_size if page.exists() else -1
        return True if code == 0 and 0 < size <= 17 << 20 else f"exit {code}, page {size} B"
    out.append(dict(name="misreads_2000_html_cap", group="5 dropped", expect="ok", setup=many,
                    check=capped, cmds=[[EVAL, "--engine", nano, "--gt", "gt.txt", "--root",
                                         iiit, "--output", "out", "--misreads", "-q"]]))
    return out


def page_gt_cases(env: dict) -> list[dict]:
    box = {"points": [[0, 0], [10, 0], [10, 10], [0, 10]], "text": "x"}
    lines = {
        "passwd": {"page": "/etc/passwd", "boxes": [box]},
        "dotdot": {"page": "../../../../etc/passwd", "boxes": [box]},
        "nul": {"page": "w1\0.png", "boxes": [box]},
        "points_str": {"page": "w1.png", "boxes": [{**box, "points": "0,0,10,10"}]},
        "points_1e9": {"page": "w1.png", "boxes": [{**box, "points": [[0, 0], [10**9, 0],
                                                                        [10**9, 10**9],
                                                                        [0, 10**9]]}]},
        "text_int": {"page": "w1.png", "boxes": [{**box, "text": 5}]},
        "boxes_dict": {"page": "w1.png", "boxes": {"a": 1}},
        "huge_text": {"page": "w1.png", "boxes": [{**box, "text": "t" * 1_000_000}]},
    }
    out = []
    texts = {k: json.dumps(v) for k, v in lines.items()}
    texts["deep"] = DEEP
    texts["dupkeys"] = '{"page": "w1.png", "boxes": [], "boxes": []}'
    for tag, text in texts.items():
        def setup(c, text=text):
            os.symlink(env["words"] / "w1.png", c / "w1.png")
            put(c / "g.jsonl", text + "\n")
        expect = "either" if tag == "points_1e9" else "error"
        out.append(dict(name=f"page_gt_{tag}", group="5 page GT", expect=expect, setup=setup,
                        check=no_text("root:x") if expect == "ok" else None,
                        cmds=[[OCR, "--det", env["det_onnx"], "--cls", env["cls_onnx"],
                               "--rec", env["pprec_onnx"], "--gt", "g.jsonl", "-o",
                               "out.jsonl"]]))
    return out
