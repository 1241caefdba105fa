"""The cases of ``scripts/stress_hostile.py``: issue 26's examples as data.

A case: ``name``, ``group``, ``cmds`` (argv lists run in order in ``cases/NAME``, stopping at
the first failure), ``expect`` ("error": exit 1 with ``Error:``; "ok": ``check`` must hold;
"either": ``Error:`` or ``check``), optional ``setup(cdir)`` (writes the case's hostile
inputs), ``check(cdir, code, stdout, stderr) -> True | str``, ``stdin`` (bytes, or "yes" for
``yes PATH``), ``timeout``/``stopped`` (stopped on purpose), ``watch`` (globs that must not
exist after). The named output of every case starts with ``out``.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from hostile_files import BIN, DEEP, decoy_first, ignore_batch, int_output, onnx_variant

CV, REC, INF, EVAL = (str(BIN / n) for n in ("crnn-convert", "crnn-recognize", "crnn-infer",
                                             "crnn-eval"))
PRE, POST, OCR, PY = (str(BIN / n) for n in ("crnn-preprocess", "crnn-postprocess", "crnn-ocr",
                                             "python"))
NAMES = {"dotdot": "../../escape", "abs": "/tmp/hhostile_abs_x", "nul": "a\x00b",
         "esc": "\x1b[31mred\x1b]0;title\x07", "huge": "n" * 1_000_000}


def put(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def hostile(path: Path, how: str) -> None:
    """Make ``path`` a FIFO, a link to /dev/zero, a 20 MB file, 100,000-deep JSON, JSON with a
    duplicate key, or a JSON list."""
    if os.path.lexists(path):
        shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
    if how == "fifo":
        os.mkfifo(path)
    elif how == "zero":
        path.symlink_to("/dev/zero")
    elif how == "huge":
        with open(path, "wb") as f:
            f.truncate(1_500_000_000 if path.suffix == ".json" else 200_000_000)
    elif how == "deep":
        put(path, DEEP)
    elif how == "dupkeys":
        put(path, '{"spec": {"name": "a"}, "spec": {"name": "b"}}')
    elif how == "list":
        put(path, "[1, 2, 3]")
    elif how == "folder":
        path.mkdir()


def rows(text: str) -> dict:
    return {Path(ln.split("\t")[0]).name: ln.split("\t")[1] for ln in text.splitlines()
            if ln.count("\t") >= 2 and not ln.startswith("source")}


def same_as(ref: dict, names, file: str | None = None, need: int | None = None):
    """A check: the predictions (stdout, or ``file`` in the case folder) of ``names`` equal
    ``ref`` (at least ``need`` of them)."""
    def check(cdir, code, out, err):
        got = rows((cdir / file).read_text() if file else out)
        eq = sum(got.get(n) == ref.get(n) for n in names)
        if code == 0 and eq >= (len(names) if need is None else need):
            return True
        return f"exit {code}, {eq}/{len(names)} predictions as the reference"
    return check


def stderr_names(*names):
    def check(cdir, code, out, err):
        miss = [n for n in names if n not in err]
        return True if code in (0, 1) and not miss else f"exit {code}, not named: {miss}"
    return check


def no_text(needle: str):
    """``needle`` appears in no output file nor stream (e.g. /etc/passwd's first bytes)."""
    def check(cdir, code, out, err):
        for p in [*cdir.rglob("out*"), *[q for d in cdir.glob("out*") if d.is_dir()
                                         for q in d.rglob("*")]]:
            if p.is_file() and needle.encode() in p.read_bytes():
                return f"{needle!r} in {p.name}"
        return True if needle not in out + err and code in (0, 1) else f"{needle!r} shown"
    return check


def cases(env: dict) -> list[dict]:
    from hostile_cases2 import more_cases

    nano, words = str(env["nano_onnx"]), env["words"]
    import onnx

    from crnn_deploy.models.spec_record import METADATA_KEY

    props = {p.key: p.value for p in onnx.load(nano, load_external_data=False).metadata_props}
    meta = json.loads(props[METADATA_KEY])
    out: list[dict] = []

    # 1. names from inside a file: ONNX metadata, then spec files
    for tag, name in NAMES.items():
        text = json.dumps({**meta, "name": name})
        mk = lambda c, t=text: onnx_variant(Path(nano), c / "m.onnx", spec_text=t)  # noqa: E731
        watch = ["/tmp/hhostile_abs_x*", str(env["root"] / "cases" / "escape*"),
                 str(env["root"] / "escape*")]
        for cmd, argv in (("all", [CV, "all", "--onnx", "m.onnx", "--outdir", "out"]),
                          ("openvino", [CV, "openvino", "--onnx", "m.onnx", "--output",
                                        "out.xml"]),
                          ("recognize", [REC, "--engine", "m.onnx", "words/w1.png", "-o",
                                         "out.tsv"]),
                          ("infer", [INF, "--engine", "m.onnx", "--input", env["bin"],
                                     "--output", "out"])):
            out.append(dict(name=f"meta_name_{tag}_{cmd}", group="1 names", cmds=[argv],
                            expect="error", setup=mk, watch=watch))
    for how in ("deep", "dupkeys"):
        text = DEEP if how == "deep" else props[METADATA_KEY][:-1] + ', "name": "x"}'
        out.append(dict(name=f"meta_{how}_recognize", group="3 json", expect="error",
                        setup=lambda c, t=text: onnx_variant(Path(nano), c / "m.onnx",
                                                             spec_text=t),
                        cmds=[[REC, "--engine", "m.onnx", "words/w1.png", "-o", "out.tsv"]]))
    base = json.loads(env["nano_text"])

    def spec_case(name, spec, group, expect="error", check=None, extra=None, model=nano,
                  text=None):
        def setup(c):
            put(c / "spec.json", text if text is not None else json.dumps(spec))
            for k, v in (extra or {}).items():
                hostile(c / k, v) if isinstance(v, str) and v in (
                    "fifo", "zero", "huge") else put(c / k, v)
        out.append(dict(name=f"spec_{name}", group=group, expect=expect, check=check,
                        setup=setup, cmds=[[CV, "import", model, "--spec", "spec.json",
                                            "--output", "out.onnx"]]))

    for tag, name in NAMES.items():
        spec_case(f"name_{tag}", {**base, "name": name}, "1 names")
    inp, outp = base["input"], base["output"]
    spec_case("deep", None, "3 json", text=DEEP)
    spec_case("dupkeys", None, "3 json",
              text=env["nano_text"].replace('"name": "nano-ocr"',
                                            '"name": "nano-ocr", "name": "other"'))
    dup = base["alphabet"][:-1] + "a"
    spec_case("dup_alphabet", {**base, "alphabet": dup}, "3 json")
    spec_case("height_str", {**base, "input": {**inp, "height": "32"}}, "3 json")
    spec_case("height_1e9", {**base, "input": {**inp, "height": 10**9}}, "3 json")
    spec_case("width_1e9", {**base, "input": {**inp, "width": 10**9}}, "3 json")
    spec_case("width_max_1e9", {**base, "input": {**inp, "width": {"min": 64, "max": 10**9}}},
              "3 json")
    spec_case("blank_str", {**base, "output": {**outp, "blank": "0"}}, "3 json")
    spec_case("alphabet_int", {**base, "alphabet": 5}, "3 json")
    spec_case("layout_btc", {**base, "output": {**outp, "layout": "BTC"}}, "2 import")
    spec_case("kind_probabilities", {**base, "output": {**outp, "kind": "probabilities"}},
              "2 import")
    spec_case("kind_logprob", {**base, "output": {**outp, "kind": "log-probabilities"}},
              "2 import")
    spec_case("blank_5", {**base, "output": {**outp, "blank": 5}}, "2 import", expect="either",
              check=lambda c, code, o, e: True if "output.blank" in e else "no output.blank")
    spec_case("alphabet_short", {**base, "alphabet": base["alphabet"][:-3]}, "2 import")
    spec_case("output_name_missing", {**base, "output": {**outp, "name": "nope"}}, "2 import")
    spec_case("alphabet_file_nul", {**base, "alphabet": {"file": "a\x00b.txt"}}, "3 json")
    for how in ("fifo", "zero", "huge"):
        spec_case(f"alphabet_file_{how}", {**base, "alphabet": {"file": "dict.txt"}}, "3 reads",
                  extra={"dict.txt": how})
        out.append(dict(name=f"spec_file_{how}", group="3 reads", expect="error",
                        setup=lambda c, h=how: hostile(c / "spec.json", h),
                        cmds=[[CV, "import", nano, "--spec", "spec.json", "--output",
                               "out.onnx"]]))
    out.append(dict(name="import_output_xml", group="1 names", expect="error",
                    setup=lambda c: put(c / "spec.json", env["nano_text"]),
                    cmds=[[CV, "import", nano, "--spec", "spec.json", "--output", "out.xml"]]))
    # 2. the output the spec describes
    no_name = {**base, "output": {k: v for k, v in outp.items() if k != "name"}}
    recog = [REC, "--engine", "out.onnx", "--list", words / "list.txt", "--root", words, "-q"]
    names = [f"w{i}.png" for i in range(1, 9)]
    for tag, edit, spec, expect in (
            ("decoy_named", decoy_first, base, "ok"),
            ("decoy_unnamed", decoy_first, no_name, "either"),
            ("int_output", int_output, {**base, "output": {**outp, "name": "as_int"}}, "error"),
            ("ignores_batch", ignore_batch, {**base, "output": {**outp, "name": "first"}},
             "error"),
            ("external_data", None, base, "either")):
        def setup(c, edit=edit, spec=spec, tag=tag):
            onnx_variant(Path(nano), c / "src" / "m.onnx", edit=edit,
                         external=tag == "external_data")
            put(c / "spec.json", json.dumps(spec))
        out.append(dict(name=f"import_{tag}", group="2 import", expect=expect, setup=setup,
                        cmds=[[CV, "import", "src/m.onnx", "--spec", "spec.json", "--output",
                               "out.onnx"], recog],
                        check=same_as(env["ref_nano"], names) if expect != "error" else None))
    out.append(dict(name="recognize_decoy_first", group="2 import", expect="either",
                    setup=lambda c: onnx_variant(Path(nano), c / "m.onnx", edit=decoy_first),
                    cmds=[[REC, "--engine", "m.onnx", "--list", words / "list.txt", "--root",
                           words, "-q"]], check=same_as(env["ref_nano"], names)))
    for tag, mk in (("zero_byte", lambda c: put(c / "x.onnx", b"")),
                    ("folder", lambda c: (c / "x.onnx").mkdir())):
        for cmd, argv in (("import", [CV, "import", "x.onnx", "--spec", "spec.json", "--output",
                                      "out.onnx"]),
                          ("recognize", [REC, "--engine", "x.onnx", "words/w1.png"])):
            def setup(c, mk=mk):
                mk(c)
                put(c / "spec.json", env["nano_text"])
            bad = "None" if tag == "zero_byte" else "not found"
            out.append(dict(
                name=f"{tag}_onnx_{cmd}", group="5 messages", expect="error", setup=setup,
                cmds=[argv], check=lambda c, code, o, e, bad=bad:
                f"message says {bad!r}" if bad in e else (code == 1 and "Error:" in e)))
    return out + more_cases(env)
