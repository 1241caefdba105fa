"""crnn-bench's subcommands beside ``run``: ``peers`` and ``pages`` (click options here) and the
focused runs whose options are parsed by their own modules (``same``, ``widths``, ``fused``, ``ray``,
``scale``: ``crnn-bench NAME --help`` prints each one's options)."""
from __future__ import annotations

import importlib
import json
import shlex
import sys
import time
from pathlib import Path

import click

from crnn_deploy.common.cli import Command
from crnn_deploy.common.errors import UserError

__all__ = ["SUBCOMMANDS", "peers", "pages"]


def _log(msg: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {msg}", err=True)


def _process_options(f):
    """--rounds, --workdir and --output of the whole-process comparisons (peers, pages)."""
    f = click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None,
                     help="Markdown file to write the table to (whole, temp + rename) "
                          "[default: print only].")(f)
    f = click.option("--workdir", type=click.Path(path_type=Path, file_okay=False),
                     default=Path("build/peers"), show_default=True,
                     help="The file list, each process's output and the result JSON "
                          "(peers_{peer}.json, pages.json) go here.")(f)
    return click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
                        help="Interleaved rounds (median and range reported; 3 or more).")(f)


@click.command("peers", cls=Command)
@click.option("--peer", type=click.Choice(["rapidocr", "easyocr"]), required=True,
              help="rapidocr: RapidOCR's TextRecognizer (PP-OCRv4); easyocr: EasyOCR's "
                   "Reader.recognize (english_g2). Both at their defaults (bench.oracles).")
@click.option("--ours", multiple=True, required=True, metavar='"ENGINE [OPTIONS]"',
              help="A crnn-recognize run: the engine, then any of its options, e.g. "
                   "'build/ppocrv4-rec.xml --precision bf16' (repeatable; one row each). The "
                   "FLOP count reads ENGINE's .onnx (an .xml: the .onnx of the same stem).")
@click.option("--gt", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="relpath<TAB>label file; every process reads the same files.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the first N files.")
@click.option("--weights-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("weights"), show_default=True, help="easyocr: english_g2.pth here.")
@_process_options
def peers(peer, ours, gt, limit, rounds, weights_dir, workdir, output):
    """Ours against a peer as users run them: whole processes on the same files, interleaved.

    Each row is one process per round: ``crnn-recognize --engine ENGINE [OPTIONS] --list
    FILES -o ROWS.tsv`` per --ours, and the peer's oracle
    (``python -m crnn_deploy.bench.oracles PEER``). Prints and writes (--output) a markdown
    table: images/s per round (files / wall seconds of the whole process: start-up and file
    decode included), median, range, the ratio of medians to the peer, word accuracy, words
    with the peer's exact text, and the roofline (GFLOP per image at the widths run, achieved
    GFLOP/s, this CPU's peak at the row's precision, fraction; then the peak at the clock
    measured in every round, ``bench.clock``, and the fraction of it; a footnote gives what
    OpenVINO's 2048^3 MatMul attains, ``bench.ceiling``), with the command, date, CPU
    (family, model, flags) and the load. Raises a clear error (exit 1) for a missing GT file,
    engine or its .onnx, or a process that fails.

    \b
    crnn-bench peers --peer rapidocr --ours build/ppocrv4-rec.onnx --ours build/ppocrv4-rec.xml \\
        --ours "build/ppocrv4-rec.xml --precision bf16" --gt ../shared/assets/eval_iiit5k_3000/gt.txt
    """
    from crnn_deploy.bench.peers import render_peers, run_peers

    args = ["crnn-bench", "peers", "--peer", peer]
    for item in ours:
        args += ["--ours", item]
    args += ["--gt", str(gt)] + (["--limit", str(limit)] if limit else []) + \
        ["--rounds", str(rounds)]
    if peer == "easyocr":
        args += ["--weights-dir", str(weights_dir)]
    if output:
        args += ["--output", str(output)]
    p = {"peer": peer, "ours": list(ours), "gt": gt, "limit": limit, "rounds": rounds,
         "weights_dir": weights_dir, "workdir": workdir,
         "command": " ".join(shlex.quote(a) for a in args)}
    _publish(p, run_peers, render_peers, workdir / f"peers_{peer}.json", output)


@click.command("pages", cls=Command)
@click.option("--pages", "folder", type=click.Path(path_type=Path, file_okay=False),
              required=True, help="A page set of scripts/make_pages.py (its page_*.png are read).")
@click.option("--ours", multiple=True, required=True, metavar='"[OPTIONS]"',
              help="crnn-ocr options appended to `crnn-ocr DIR -q -o OUT`, e.g. '--precision "
                   "bf16' or '--det X --cls Y --rec Z' (repeatable; one row each; \"\": the "
                   "defaults).")
@_process_options
def pages(folder, ours, rounds, workdir, output):
    """Pages per second: crnn-ocr against RapidOCR's full pipeline, whole processes, interleaved.

    Each row is one process per round over the same page_*.png: ``crnn-ocr DIR -q -o OUT.jsonl
    [OPTIONS]`` per --ours, and RapidOCR 1.4.4's ``RapidOCR()`` at its defaults, one call per
    page (``python -m crnn_deploy.bench.oracles rapidocr-pages``); the order is reversed every
    other round. Prints and writes (--output) a markdown table: seconds per round (wall clock
    of the whole process: start-up, engine loading and page decoding included), median and
    range, median pages/s, the ratio of medians to RapidOCR's, CPU seconds (user + system) and
    RapidOCR's over ours, boxes found, with the command, date, CPU (family, model, flags) and
    the load. Raises a clear error (exit 1) for a missing folder, one without page_*.png, or a
    process that fails.

    \b
    crnn-bench pages --pages build/pages30 --rounds 3 --ours "" --ours "--precision bf16"
    """
    from crnn_deploy.bench.pages import render_pages, run_pages

    args = ["crnn-bench", "pages", "--pages", str(folder), "--rounds", str(rounds)]
    for item in ours:
        args += ["--ours", item]
    args += ["--output", str(output)] if output else []
    p = {"pages": folder, "ours": list(ours), "rounds": rounds, "workdir": workdir,
         "command": " ".join(shlex.quote(a) for a in args)}
    _publish(p, run_pages, render_pages, workdir / "pages.json", output)


def _publish(p: dict, run, render, json_path: Path, output: Path | None) -> None:
    """Log the command, ``run(p, log)``, write its result to ``json_path`` and print its
    ``render``ed markdown (also to ``output``), each written whole (temp + rename)."""
    from crnn_deploy.bench.report import write_text_atomic

    _log(p["command"])
    res = run(p, _log)
    write_text_atomic(json_path, json.dumps(res, indent=2) + "\n")
    md = render(res)
    click.echo(md)
    if output:
        write_text_atomic(output, md + "\n")
        _log(f"wrote {output}")


#: name -> (module whose ``main(argv)`` parses the options, one-line help)
FORWARDED = {
    "same": ("crnn_deploy.bench.same", "Same text as RapidOCR or EasyOCR, word by word."),
    "widths": ("crnn_deploy.bench.widths",
               "PP-OCRv4 engine settings (precision, batch, widths, padding) against RapidOCR."),
    "fused": ("crnn_deploy.bench.fused_paths",
              "crnn-recognize / crnn-eval end to end against the engine-only loop."),
    "ray": ("crnn_deploy.bench.ray_scale", "The Ray path against local crnn-eval, and its memory."),
    "scale": ("crnn_deploy.bench.scale", "crnn-eval's memory and time on a large LMDB."),
}


def _forwarded(name: str, module: str, short: str) -> click.Command:
    @click.command(name, cls=Command, help=f"{short} Options: crnn-bench {name} --help.",
                   short_help=short, add_help_option=False,
                   context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                     "help_option_names": []})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def forward(args):
        try:
            code = importlib.import_module(module).main(list(args))
        except UserError:
            raise
        sys.exit(code or 0)

    return forward


SUBCOMMANDS = [peers, pages, *[_forwarded(n, m, h) for n, (m, h) in FORWARDED.items()]]
