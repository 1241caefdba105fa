"""Stress the output rules: N concurrent crnn-infer + crnn-postprocess pairs on one output root,
races of two ``crnn-recognize -o`` runs to one file, and of two ``crnn-convert openvino`` runs
to one IR (an ``.xml`` + ``.bin`` pair).

Two input sets have the SAME file names (test_1..n.bin) but different words (IIIT5K samples
1..n and n+1..2n), so a result folder mixing two runs scores a value that neither run gives.
Pair j runs set j % 2 into ``ROOT/shared_{j // 2}`` with ``--overwrite`` (pairs 2f and 2f+1,
with different sets, race for folder f), then crnn-postprocess with its own labels.

Checks (the script exits 1 if one fails):
* every accuracy printed is exact: the pair's own reference score (the folder held its run) or
  the cross score (the folder held the other set's whole run); a postprocess that overlapped a
  replacement must fail with "replaced by another run" instead of scoring a mix;
* at the end every shared folder holds exactly one run: its files decode to exactly one set's
  reference predictions, its file set is exactly that set's;
* no temporary (``.shared_*``) is left under ROOT;
* ``--races`` times, two ``crnn-recognize -o ROOT/race/r_k.tsv`` runs on the two sets start at
  once: exactly one says "wrote" (exit 0) and the other fails with ``Error:`` (exit 1); the file
  is byte for byte the winner's reference output. Then the same pair with ``--overwrite`` on
  that file: the file ends as one run's whole output and every run that did not win failed
  with ``Error:``; no temporary is left;
* ``--races`` times, two ``crnn-convert openvino --onnx ENGINE --output ROOT/race/ir_k.xml``
  runs start at once, one with FP32 weights and one with ``--fp16`` (so the two runs' files
  differ): exactly one says "wrote" and the other fails with ``Error:``; the ``.xml`` and the
  ``.bin`` are both the winner's (never one run's ``.xml`` beside the other's ``.bin``), and
  its ownership record lists them. Then the same pair with ``--overwrite``: the pair ends as
  one run's whole output; no temporary is left.

The hostile-input cases of issue 26 (paths and JSON from inside files, bounded reads, widths,
messages) are in ``scripts/stress_hostile.py`` (cases as data in ``scripts/hostile_cases*.py``).

Not a timed test: run it by hand::

    .venv/bin/python scripts/stress_safety.py --engine build/nano-ocr_dynamic.onnx \\
        --assets ../shared/assets --pairs 8 --count 200 --races 6 --root /tmp/stress
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BIN = Path(sys.executable).parent


def run(*args, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, args))} failed:\n{proc.stderr}")
    return proc


def accuracy_of(stdout: str) -> tuple[int, int] | None:
    m = re.search(r"^word accuracy(?: \(\S+\))?: [\d.]+% \((\d+)/(\d+)\)", stdout, re.M)
    return (int(m.group(1)), int(m.group(2))) if m else None


def predictions(result: Path, labels: Path) -> list[str]:
    from crnn_deploy.postprocess.results import decode_result_dir, read_labels, resolve_alphabet

    alpha, t, _ = resolve_alphabet(result)
    return [p for _, _, p in decode_result_dir(result, read_labels(labels), alpha, t).samples]


def make_sets(assets: Path, root: Path, n: int) -> list[tuple[Path, Path]]:
    """(input_bin, label.txt) of IIIT5K samples 1..n and n+1..2n, both named test_1..n."""
    src = assets / "eval_iiit5k_3000"
    lines = (src / "gt.txt").read_text(encoding="utf-8").splitlines()
    sets = []
    for k in range(2):
        d = root / "inputs" / f"set{k}"
        d.mkdir(parents=True)
        (d / "gt.txt").write_text(
            "".join(f"{src / ln.split(chr(9))[0]}\t{ln.split(chr(9), 1)[1]}\n"
                    for ln in lines[k * n:(k + 1) * n]), encoding="utf-8")
        run(BIN / "crnn-preprocess", "build-lmdb", "--gt", d / "gt.txt", "--root", "/",
            "--output", d / "db.lmdb")
        run(BIN / "crnn-preprocess", "lmdb-to-bin", "--lmdb", d / "db.lmdb", "--model",
            "nano-ocr", "--workers", "1", "--output", d / "input_bin", "--labels",
            d / "label.txt")
        sets.append((d / "input_bin", d / "label.txt"))
    return sets


def pair(j: int, engine: Path, sets, shared: Path) -> dict:
    inputs, labels = sets[j % 2]
    inf = run(BIN / "crnn-infer", "--engine", engine, "--input", inputs, "--output", shared,
              "--overwrite", "--threads", "1", check=False)
    out = {"pair": j, "set": j % 2, "folder": shared.name, "infer": inf.returncode,
           "infer_err": inf.stderr.strip().splitlines()[-1:] if inf.returncode else []}
    pp = run(BIN / "crnn-postprocess", shared, labels, check=False)
    out.update(post=pp.returncode, acc=accuracy_of(pp.stdout),
               post_err=pp.stderr.strip().splitlines()[-1:] if pp.returncode else [])
    return out


def recognize(engine: Path, images: list[str], out: Path, *extra) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "crnn-recognize"), "--engine", str(engine), *images,
                             "-o", str(out), "--prep-threads", "1", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def temporaries_left(folder: Path) -> list[str]:
    """A failure line when a temporary (``.tmp-``) or an old copy (``.old-``) is left."""
    left = [p.name for p in folder.iterdir() if ".tmp-" in p.name or ".old-" in p.name]
    return [f"temporaries left: {left}"] if left else []


def race_outcome(procs: list, said_on: int, held_of, overwrite: bool):
    """Wait for two racing runs; returns (exit codes, (stdout, stderr) of each, runs whose
    reference output the target holds, runs that lost, whether the outcome is allowed).

    ``said_on``: 0 when a run says "wrote" on stdout, 1 on stderr; ``held_of()``: the runs
    whose reference output the target now holds. Without ``--overwrite`` exactly one run wins
    and the other fails with ``Error:``; with it, one or both win and the target holds one
    winner's output, whole."""
    outs = [p.communicate() for p in procs]
    codes = [p.returncode for p in procs]
    won = [k for k in range(2) if codes[k] == 0 and "wrote" in outs[k][said_on]]
    lost = [k for k in range(2) if codes[k] == 1 and "Error:" in outs[k][1]]
    held = held_of()
    if overwrite:
        ok = len(won) >= 1 and len(won) + len(lost) == 2 and len(held) == 1 and held[0] in won
    else:
        ok = len(won) == 1 and len(lost) == 1 and held == won
    return codes, outs, held, lost, ok


def races(engine: Path, sets_images: list[list[str]], root: Path, n: int) -> list[str]:
    """Two crnn-recognize -o runs to one path, ``n`` times; returns the failures."""
    folder = root / "race"
    folder.mkdir()
    refs = []
    for k, images in enumerate(sets_images):
        p = recognize(engine, images, folder / f"ref{k}.tsv")
        p.communicate()
        refs.append((folder / f"ref{k}.tsv").read_bytes())
    failures = []
    print(f"\n{n} races of two crnn-recognize -o runs to one file:")
    for r in range(n):
        target = folder / f"r_{r}.tsv"
        for extra in ((), ("--overwrite",)):
            procs = [recognize(engine, sets_images[k], target, *extra) for k in range(2)]
            data = lambda: target.read_bytes() if target.exists() else b""  # noqa: E731
            codes, outs, held, _, ok = race_outcome(
                procs, 1, lambda: [k for k in range(2) if data() == refs[k]], bool(extra))
            print(f"  race {r}{' --overwrite' if extra else ''}: exit {codes}, file == set"
                  f"{held} reference{'' if ok else '  <- FAILED'}")
            if not ok:
                failures.append(f"race {r} {extra}: exit {codes}, held {held}, "
                                f"stderr {[o[1].strip()[-200:] for o in outs]}")
    return failures + temporaries_left(folder)


def convert(engine: Path, out: Path, fp16: bool, *extra) -> subprocess.Popen:
    return subprocess.Popen([str(BIN / "crnn-convert"), "openvino", "--onnx", str(engine),
                             "--output", str(out), *(["--fp16"] if fp16 else []), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def convert_races(engine: Path, root: Path, n: int) -> list[str]:
    """Two crnn-convert openvino runs (FP32, FP16 weights) to one IR, ``n`` times."""
    from crnn_deploy.common.outputs import group_problem

    folder = root / "race"
    folder.mkdir(exist_ok=True)
    refs = []
    for k in range(2):
        xml = folder / f"ir_ref{k}.xml"
        convert(engine, xml, fp16=k == 1).communicate()
        refs.append((xml.read_bytes(), xml.with_suffix(".bin").read_bytes()))
    failures = []
    print(f"\n{n} races of two crnn-convert openvino runs (FP32 / FP16 weights) to one IR:")
    for r in range(n):
        xml = folder / f"ir_{r}.xml"
        for extra in ((), ("--overwrite",)):
            procs = [convert(engine, xml, k == 1, *extra) for k in range(2)]
            pair = lambda: tuple(p.read_bytes() if p.exists() else b""  # noqa: E731
                                 for p in (xml, xml.with_suffix(".bin")))
            codes, outs, held, lost, ok = race_outcome(
                procs, 0, lambda: [k for k in range(2) if pair() == refs[k]], bool(extra))
            recorded = group_problem(xml, [xml, xml.with_suffix(".bin")]) is None
            ok = ok and recorded
            why = "; ".join(outs[k][1].strip().splitlines()[-1][7:75] for k in lost)
            print(f"  race {r}{' --overwrite' if extra else ''}: exit {codes}, .xml + .bin =="
                  f" run{held} reference, record {'ok' if recorded else 'WRONG'}"
                  f"{'' if ok else '  <- FAILED'}{f' (lost: {why})' if why else ''}")
            if not ok:
                failures.append(f"convert race {r} {extra}: exit {codes}, held {held}, "
                                f"stderr {[o[1].strip()[-200:] for o in outs]}")
    return failures + temporaries_left(folder)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", type=Path, required=True, help="dynamic-batch nano-ocr ONNX")
    ap.add_argument("--assets", type=Path, default=Path("../shared/assets"))
    ap.add_argument("--root", type=Path, default=Path("/tmp/crnn_stress_safety"))
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--count", type=int, default=200, help="samples per input set")
    ap.add_argument("--races", type=int, default=4,
                    help="crnn-recognize -o races, and as many crnn-convert openvino races")
    a = ap.parse_args()
    a.assets, a.engine = a.assets.resolve(), a.engine.resolve()  # gt.txt lists absolute paths
    shutil.rmtree(a.root, ignore_errors=True)
    sets = make_sets(a.assets, a.root, a.count)

    # references: each set alone, and each set's labels scored on the other set's run
    ref, refs_pred = {}, {}
    for k, (inputs, labels) in enumerate(sets):
        r = a.root / "reference" / f"set{k}"
        run(BIN / "crnn-infer", "--engine", a.engine, "--input", inputs, "--output", r)
        refs_pred[k] = predictions(r, labels)
    for k, (_, labels) in enumerate(sets):
        for m in range(2):
            pp = run(BIN / "crnn-postprocess", a.root / "reference" / f"set{m}", labels)
            ref[(k, m)] = accuracy_of(pp.stdout)
    print("reference word accuracy (labels of set k on the run of set m):")
    for (k, m), acc in sorted(ref.items()):
        print(f"  labels set{k} on run set{m}: {acc[0]}/{acc[1]}")

    shared_root = a.root / "shared"
    shared_root.mkdir()
    folders = (a.pairs + 1) // 2
    with ThreadPoolExecutor(a.pairs) as pool:
        results = list(pool.map(lambda j: pair(j, a.engine, sets,
                                               shared_root / f"shared_{j // 2}"),
                                range(a.pairs)))
    failures = []
    print(f"\n{a.pairs} concurrent pairs on {folders} shared folders under {shared_root}:")
    for r in results:
        own, cross = ref[(r["set"], r["set"])], ref[(r["set"], 1 - r["set"])]
        if r["acc"] is not None:
            verdict = ("exact (own run)" if r["acc"] == own else
                       "exact (other set's whole run)" if r["acc"] == cross else "MIXED")
            if verdict == "MIXED":
                failures.append(f"pair {r['pair']}: {r['acc']} is neither {own} nor {cross}")
            shown = f"{r['acc'][0]}/{r['acc'][1]} {verdict}"
        else:
            err = " ".join(r["post_err"])
            ok = "replaced by another run" in err or "missing" in err or r["infer"] != 0
            shown = f"refused: {err[:90]}"
            if not ok:
                failures.append(f"pair {r['pair']}: unexpected postprocess error {err}")
        infer = "ok" if r["infer"] == 0 else f"refused: {' '.join(r['infer_err'])[:60]}"
        print(f"  pair {r['pair']} set{r['set']} -> {r['folder']}: infer {infer}; "
              f"postprocess {shown}")

    print("\nfinal folders:")
    for f in sorted(shared_root.iterdir()):
        if f.name.startswith("."):
            failures.append(f"temporary left: {f}")
            continue
        names = sorted(p.name for p in f.glob("*_0.bin"))
        held = [k for k in range(2)
                if names == sorted(f"test_{i}_0.bin" for i in range(1, a.count + 1))
                and predictions(f, sets[k][1]) == refs_pred[k]]
        print(f"  {f.name}: {len(names)} result files, predictions == set{held} reference")
        if len(held) != 1:
            failures.append(f"{f}: does not hold exactly one whole run")
    lines = (a.assets / "eval_iiit5k_3000" / "gt.txt").read_text(encoding="utf-8").splitlines()
    sets_images = [[str(a.assets / "eval_iiit5k_3000" / ln.split("\t")[0])
                    for ln in lines[k * a.count:(k + 1) * a.count]] for k in range(2)]
    failures += races(a.engine, sets_images, a.root, a.races)
    failures += convert_races(a.engine, a.root, a.races)
    if failures:
        print("\nFAILED:\n  " + "\n  ".join(failures))
        return 1
    print("\nOK: every accuracy exact, no folder mixed, each race had one whole winner (a whole "
          "IR pair for crnn-convert), no temporary left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
