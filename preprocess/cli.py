"""``crnn-preprocess``: images + gt.txt -> LMDB, and LMDB -> ais_bench .bin inputs + label.txt.

User errors print ``Error: ...`` (naming the file, GT line or LMDB key) and exit with status 1.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import click

from crnn_deploy.common.cli import group, sigterm_cleans_up
from crnn_deploy.common.errors import UserError, os_errors_as_user_errors


@contextmanager
def _user_errors():
    """SIGTERM cleans up like Ctrl-C; OS errors (permissions, disk full) become UserError."""
    with sigterm_cleans_up(), os_errors_as_user_errors():
        yield


@group()
def main() -> None:
    """Preprocessing for CRNN deployment (see docs/DESIGN.md)."""


@main.command("build-lmdb")
@click.option("--gt", "gt", type=click.Path(exists=True, dir_okay=False),
              help="GT file: one 'relative/path<TAB>label' per line (UTF-8).")
@click.option("--images", type=click.Path(exists=True, file_okay=False),
              help="Unlabeled: every image file under this folder, sorted by relative path.")
@click.option("--list", "list_file", type=click.Path(exists=True, dir_okay=False),
              help="Unlabeled: a file of image paths, one per line (relative to --root).")
@click.option("--output", required=True, type=click.Path(file_okay=False),
              help="LMDB directory to create (written to a temp dir, renamed when complete).")
@click.option("--root", type=click.Path(exists=True, file_okay=False),
              help="Folder the GT/list paths are relative to [default: that file's folder].")
@click.option("--strict", is_flag=True,
              help="Fail on the first bad line instead of skipping it.")
@click.option("--overwrite", is_flag=True,
              help="Replace an --output LMDB written earlier by this tool (never anything else).")
@click.option("--allow-outside-root", "outside_ok", is_flag=True,
              help="Accept GT paths that are absolute or climb out of the root with '..' "
                   "(refused by default: a downloaded gt.txt must not read /etc/passwd).")
@click.option("--shard-size", type=click.IntRange(min=1), default=None,
              help="Write shards of N samples, OUTPUT-00000.lmdb, OUTPUT-00001.lmdb, ... "
                   "(with --gt; e.g. for crnn-eval --executor ray).")
def build_lmdb_cmd(gt: str | None, images: str | None, list_file: str | None, output: str,
                   root: str | None, strict: bool, overwrite: bool, outside_ok: bool,
                   shard_size: int | None) -> None:
    """Pack images into an LMDB in the clovaai layout; give one of --gt, --images, --list.

    Keys: num-samples; image-%09d = the image file's bytes unchanged; label-%09d = UTF-8
    label (--gt only: --images and --list give an unlabeled LMDB, without label keys);
    path-%09d = the image path as listed (relative to --images for a folder); indices 1..n
    in input order. Every image must decode with Pillow (zero-sized and > 50 Mpixel images
    are rejected); bad entries are reported (GT/list line number, or path) and skipped (or
    fail with --strict).
    """
    from crnn_deploy.preprocess.lmdb_build import build_lmdb

    if shard_size is not None:
        from crnn_deploy.preprocess.shards import build_shards

        if gt is None or images is not None or list_file is not None:
            raise UserError("--shard-size needs --gt, alone (shards of --images/--list: not "
                            "supported yet)")

        with _user_errors():
            res = build_shards(gt, output, shard_size, root=root, strict=strict,
                               overwrite=overwrite, outside_ok=outside_ok)
        click.echo(f"wrote {sum(res.written)} samples ({res.image_bytes / 1e6:.1f} MB of images) "
                   f"in {len(res.shards)} shards {res.shards[0]} ... {res.shards[-1].name}; "
                   f"skipped {len(res.skipped)} line(s)")
        return
    with _user_errors():
        res = build_lmdb(gt, output, root=root, strict=strict, overwrite=overwrite,
                         images=images, list_file=list_file, outside_ok=outside_ok)
    mb = res.image_bytes / 1e6
    unit = "image(s)" if images is not None else "line(s)"
    click.echo(f"wrote {res.written} {'unlabeled ' if gt is None else ''}samples "
               f"({mb:.1f} MB of images) to {res.output} in {res.seconds:.1f} s; "
               f"skipped {len(res.skipped)} {unit}")
    if res.skipped and images is None:
        first = ", ".join(str(n) for n, _ in res.skipped[:10])
        what = "GT" if gt is not None else "list"
        click.echo(f"skipped {what} lines: {first}{' ...' if len(res.skipped) > 10 else ''}",
                   err=True)


@main.command("lmdb-to-bin")
@click.option("--lmdb", "lmdb_path", required=True, type=click.Path(exists=True),
              help="LMDB (directory or data.mdb) in the clovaai layout.")
@click.option("--model", required=True, metavar="NAME|MODEL.onnx",
              help="Model spec: a preset name, or an ONNX written by crnn-convert (its spec).")
@click.option("--output", required=True, type=click.Path(file_okay=False),
              help="Directory for test_{i}.bin + meta.json (replaced only when complete).")
@click.option("--labels", type=click.Path(dir_okay=False), default=None,
              help="Label file to write when the LMDB is labeled: one 'test_{i}.bin:{label}' "
                   "per sample (an unlabeled LMDB writes none).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: os.cpu_count()].")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the first N samples (indices 1..N).")
@click.option("--strict", is_flag=True,
              help="Fail on the first bad sample instead of skipping it.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr [default: only on a terminal].")
@click.option("--overwrite", is_flag=True,
              help="Replace an --output folder and --labels file written earlier by this tool.")
@click.option("--second-pass", "second_pass", type=click.Path(dir_okay=False), default=None,
              metavar="SECOND_PASS_JSON",
              help="The second_pass.json crnn-postprocess wrote beside a first result: write "
                   "only the samples it lists, contrast-stretched (the model's second pass).")
def lmdb_to_bin_cmd(lmdb_path: str, model: str, output: str, labels: str | None,
                    workers: int | None, limit: int | None, strict: bool,
                    progress: bool | None, overwrite: bool, second_pass: str | None) -> None:
    """Write one input file per LMDB sample for ais_bench-style inference.

    OUTPUT/test_{i}.bin (i = LMDB index) holds float32, little-endian, C-contiguous, shape
    (1, C, H, W) of the model spec (1x1x32x128 = 16,384 bytes for nano-ocr, 1x1x32x100 =
    12,800 bytes for crnn / crnn-modelzoo): grey, PIL resize to (W, H) (bilinear; bicubic for
    crnn-modelzoo), then (x/255 - 0.5)/0.5. OUTPUT/names.txt maps each file to its source
    ('test_{i}.bin<TAB>path', the path-%09d value or else the LMDB key image-%09d).
    A model whose width follows the word (keep-ratio, dynamic width: e.g. an ONNX of
    crnn-convert import --spec ppocrv4-rec) gets OUTPUT/test_{i}.npy instead, one .npy per
    sample of shape (1, C, H, W_i) (ais_bench reads dynamic shapes from .npy inputs).
    OUTPUT/meta.json records the spec, shape, dtype, count and the source LMDB. Labels are
    optional: an LMDB without label-%09d keys converts the same, without a label file. Bad samples (missing keys, undecodable or oversized images,
    empty or non-UTF-8 labels) are reported by key and skipped (or fail with --strict).

    A model with a second pass (EasyOCR's english_g2: words read below 0.1 are read again
    from a contrast-stretched image): --second-pass RESULT/second_pass.json, the list
    crnn-postprocess wrote for a first result, writes only the listed samples, as
    test_{i} files of the same names, contrast-stretched; run them with crnn-infer and give
    that result folder to crnn-postprocess --second-pass (docs/EASYOCR.md). Errors: a
    model without a second pass, a list of another model or LMDB, an empty list.
    """
    from crnn_deploy.preprocess.lmdb_to_bin import lmdb_to_bin

    with _user_errors():
        res = lmdb_to_bin(lmdb_path, model, output, labels, workers=workers or os.cpu_count(),
                          limit=limit, strict=strict, progress=progress, overwrite=overwrite,
                          second_pass=second_pass)
    written = f"{res.labels}" if res.labels is not None else "no label file"
    if res.labeled and res.labels is None and second_pass is None:
        written += " (the LMDB has labels: pass --labels FILE to write them)"
    click.echo(f"wrote {res.count} files and names.txt to {res.output}, {written}, in "
               f"{res.seconds:.2f} s ({res.images_per_s:.0f} images/s, workers: {res.workers})")
    if res.skipped:
        more = " ..." if res.skipped > len(res.skipped_keys) else ""
        click.echo(f"skipped {res.skipped} bad sample(s): {', '.join(res.skipped_keys[:10])}"
                   f"{more}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()
