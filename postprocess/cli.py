"""``crnn-postprocess``: greedy CTC decoding of runtime outputs into predictions.tsv; word
accuracy and an error report when labels are given."""
from __future__ import annotations

import time
from pathlib import Path

import click

from crnn_deploy.common import outputs
from crnn_deploy.common.cli import command
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.second_pass_list import NAME, write_list
from crnn_deploy.models.specs import get_spec
from crnn_deploy.postprocess.metric_option import echo_notes, metric_option
from crnn_deploy.postprocess.metrics import format_metrics, score_samples, write_report
from crnn_deploy.postprocess.predictions import (
    find_names,
    list_result_entries,
    read_names,
    write_predictions,
)
from crnn_deploy.postprocess.results import decode_result_dir, read_labels, read_meta_spec, resolve_alphabet
from crnn_deploy.postprocess.review import write_misreads
from crnn_deploy.postprocess.second_pass import low_list, merge_second_pass


@command()
@click.argument("result_dir", type=click.Path(file_okay=False, path_type=str))
@click.argument("label_txt", required=False, type=click.Path(dir_okay=False, path_type=str))
@click.option("--names", "names", metavar="NAMES_TXT", default=None,
              type=click.Path(dir_okay=False, path_type=str),
              help="names.txt of lmdb-to-bin (file<TAB>source) [default: RESULT_DIR/names.txt, "
                   "else names.txt of the input folder recorded in RESULT_DIR/meta.json].")
@click.option("--model", "model", metavar="NAME", default=None,
              help="Take alphabet, T and C from this registered spec instead of meta.json.")
@click.option("--alphabet", "alphabet", metavar="STR", default=None,
              help="Characters of classes 1..C-1 (class 0 = CTC blank); T comes from meta.json "
                   "or the file size.")
@click.option("--misreads", is_flag=True,
              help="Also write misreads.html (each misread word's image, from the LMDB that "
                   "lmdb-to-bin read, label, prediction, confidence) and review.png (accuracy "
                   "vs. words kept by a confidence threshold; needs matplotlib); with LABEL_TXT.")
@click.option("--allow-missing", is_flag=True,
              help="Score the listed files that exist instead of failing on missing ones.")
@click.option("--second-pass", "second_pass", metavar="RESULT2", default=None,
              type=click.Path(file_okay=False, path_type=str),
              help="A model with a second pass: the crnn-infer result of the inputs that "
                   "crnn-preprocess lmdb-to-bin --second-pass staged from RESULT_DIR/"
                   "second_pass.json; the more confident reading of each is kept.")
@metric_option
def main(result_dir: str, label_txt: str | None, names: str | None, model: str | None,
         alphabet: str | None, misreads: bool, allow_missing: bool,
         second_pass: str | None, metric: str = "latin") -> None:
    """Decode RESULT_DIR into predictions.tsv; with LABEL_TXT, also report word accuracy.

    \b
    Inputs:
      RESULT_DIR  runtime output: per sample test_{i}_0.bin (float32 little-endian,
                  shape (T, 1, C), T*C*4 bytes) or test_{i}_0.npy, plus meta.json with the
                  model spec (alphabet; class 0 is the CTC blank, C = len(alphabet) + 1).
      LABEL_TXT   optional: lines test_{i}.bin:{label} (split on the first ':').
    The samples decoded are those of LABEL_TXT, else those of names.txt, else every
    test_{i}_0.bin/.npy of RESULT_DIR (natural order); other files are ignored.

    \b
    Decoding: greedy / best-path CTC (Graves et al. 2006): argmax per time step, merge
    repeats, drop blanks. Confidence (PaddleOCR's CTCLabelDecode formula): the mean, over the
    steps that emit a character, of the softmax probability of the best class; 0 for an
    empty word.
    Metrics: word accuracy under --metric (default latin: lowercase, keep [0-9a-z], exact
    match; the protocol of the Latin benchmarks, as in the CRNN paper and
    clovaai/deep-text-recognition-benchmark; exact, exact-nospace and case-insensitive for
    other scripts, docs/METRICS.md), case-sensitive word accuracy, mean normalized edit
    distance (a distance in [0, 1], lower is better) and character error rate (edits /
    ground-truth characters), the last two on the strings as --metric normalizes them.
    Labels holding characters the metric drops are counted in a note on stderr.

    \b
    Outputs (written to a temporary name, then renamed):
      RESULT_DIR/predictions.tsv  header, then file, source, text, confidence per sample
                                (source: from names.txt, else empty)
    and with LABEL_TXT:
      RESULT_DIR/accuracy.json  metric, total, correct, word_accuracy (0..1),
                                word_accuracy_case_sensitive, mean_ned, cer, missing, alphabet
      RESULT_DIR/errors.tsv     source, label, prediction, confidence, error of each wrong
                                sample (under --metric; source from names.txt, else
                                the file name)

    \b
    Second pass (a spec with decoding.second_pass_below, e.g. EasyOCR's english_g2: 0.1):
      RESULT_DIR/second_pass.json  the files read below it, for crnn-preprocess lmdb-to-bin
                                   --second-pass (docs/EASYOCR.md); predictions.tsv then holds
                                   the first reading, until
      --second-pass RESULT2        keeps the more confident of the two readings of each
                                   (RESULT2 must hold exactly the listed files).

    Exits with status 1 and an "Error: ..." message on bad input: a listed result file missing
    (unless --allow-missing) or of the wrong size, a malformed label line, an alphabet that does
    not match C, a result file holding NaN or inf, no meta.json and neither --model nor --alphabet; a report file that this
    tool did not write or that is LABEL_TXT itself (never replaced); RESULT_DIR replaced by
    another run while it was read (nothing written).
    """
    start = time.perf_counter()
    if not Path(result_dir).is_dir():
        raise UserError(f"result folder {result_dir} does not exist or is not a folder")
    names_path = find_names(result_dir, names)
    inputs = [("label file", label_txt), ("names file", names_path)]
    reports = ["accuracy.json", "errors.tsv", "predictions.tsv", NAME]
    outputs.check_report_files(result_dir, reports + (["misreads.html", "review.png"]
                                                      if misreads else []),
                               [(what, path) for what, path in inputs if path is not None])
    source = outputs.folder_identity(result_dir)
    sources = read_names(names_path) if names_path is not None else {}
    if label_txt is not None:
        entries = read_labels(label_txt)
    elif sources:
        entries = [(name, None) for name in sources]
    else:
        entries = list_result_entries(result_dir)
    alpha, seq_len, num_classes = resolve_alphabet(result_dir, model, alphabet)
    spec = get_spec(model) if model else (read_meta_spec(result_dir) if alphabet is None else None)
    decoded = decode_result_dir(result_dir, entries, alpha, seq_len, allow_missing=allow_missing,
                                labels_name=label_txt or str(names_path if sources else result_dir),
                                spec=spec)
    outputs.check_unchanged(result_dir, source, "result folder")
    passes = spec is not None and spec.decoding.second_pass_below > 0
    if second_pass is not None and not passes:
        raise UserError(f"--second-pass: the spec of {result_dir} "
                        f"({spec.name if spec else 'from --alphabet'}) has no second pass")
    if passes:
        low = low_list(result_dir, decoded, spec)
        merged = merge_second_pass(second_pass, decoded, spec) if second_pass else None
    rows = [(name, sources.get(name, ""), pred, conf)
            for (name, _, pred), conf in zip(decoded.samples, decoded.confidences)]
    try:
        pred_path = write_predictions(result_dir, rows)
        if passes:
            list_path = write_list(result_dir, low)
    except OSError as exc:
        raise UserError(f"cannot write predictions into {result_dir}: {exc}") from None
    if passes:
        click.echo(_second_pass_line(low, list_path, merged))
    if label_txt is None:
        click.echo(f"wrote {pred_path} ({len(rows)} predictions, no labels given: not scored) "
                   f"in {time.perf_counter() - start:.2f} s")
        return
    scored = [(sources.get(name) or name, label, pred, conf)  # the source path is the id
              for (name, label, pred), conf in zip(decoded.samples, decoded.confidences)]
    metrics, errors = score_samples(scored, metric=metric)
    missing = len(decoded.missing)
    try:
        acc_path, err_path = write_report(
            result_dir, metrics, errors, missing=missing, alphabet=alpha,
            extra={"listed": len(entries), "seq_len": decoded.seq_len,
                   "num_classes": num_classes},
        )
    except OSError as exc:
        raise UserError(f"cannot write the report into {result_dir}: {exc}") from None
    for line in format_metrics(metrics, missing=missing):
        click.echo(line)
    echo_notes(metrics)
    extra = ""
    if misreads:
        files = {(sources.get(name) or name): name for name, _, _ in decoded.samples}
        try:
            paths = write_misreads(result_dir, scored, errors, staged_images(result_dir, files),
                                   f"crnn-postprocess: {result_dir}",
                                   log=lambda m: click.echo(m, err=True), metric=metric)
        except OSError as exc:
            raise UserError(f"cannot write the misreads page into {result_dir}: {exc}") from None
        extra = "".join(f", {p}" for p in paths)
    click.echo(f"wrote {pred_path}, {acc_path}{extra} and {err_path} ({len(errors)} wrong) "
               f"in {time.perf_counter() - start:.2f} s")


def _second_pass_line(low, list_path, merged) -> str:
    if merged is not None:
        return (f"second pass: {merged.read_again} word(s) below {low.below:g} read again, "
                f"{merged.taken} more confident the second time ({merged.changed} other text)")
    if not low.files:
        return f"second pass: no word below {low.below:g}, nothing to read again"
    return (f"second pass: {len(low.files)} word(s) below {low.below:g} listed in {list_path} "
            "(first readings in predictions.tsv): stage them with crnn-preprocess lmdb-to-bin "
            "--second-pass, run crnn-infer, then crnn-postprocess --second-pass RESULT2")


def staged_images(result_dir: str, files: dict[str, str]):
    """``source -> encoded image`` for the misreads page of a staged run: the LMDB that
    ``lmdb-to-bin`` read (``input/meta.json["lmdb"]``, the input folder recorded by crnn-infer
    in ``RESULT_DIR/meta.json``), sample i for ``test_{i}.bin``; None where there is none."""
    from crnn_deploy.preprocess.lmdb_io import image_key, open_lmdb

    meta = outputs.read_json(Path(result_dir) / "meta.json") or {}
    folder = meta.get("input")
    lmdb = (outputs.read_json(Path(folder) / "meta.json") or {}).get("lmdb") \
        if isinstance(folder, str) else None

    def image(source: str) -> bytes | None:
        name = files.get(source, "")
        if not isinstance(lmdb, str) or not (name.startswith("test_") and name[5:-4].isdigit()):
            return None
        try:
            env = open_lmdb(lmdb)
        except Exception:  # moved or removed since: the page is written without images
            return None
        try:
            with env.begin(buffers=False) as txn:
                return txn.get(image_key(int(name[5:-4])).encode())
        finally:
            env.close()
    return image


if __name__ == "__main__":  # pragma: no cover
    main()
