"""Options and printouts shared by the fused commands (``crnn-eval``, ``crnn-recognize``)."""
from __future__ import annotations

import click

from crnn_deploy.common.names import display_name
from crnn_deploy.postprocess.metrics import format_metrics

_FEED_OPTIONS = [
    click.option("--batchsize", "--batch-size", "batchsize", type=click.IntRange(min=1),
                 default=None,
                 help="Batch for a dynamic engine (default: on a CPU the batch whose input fits in "
                      "half a core's L2: 2 for PP-OCRv4, 16 for english_g2 and nano-ocr; 16 on a "
                      "GPU); must match a static engine's batch."),
    click.option("--prep-threads", "prep_threads", type=click.IntRange(min=1), default=None,
                 help="Threads reading, decoding and preprocessing images (default: CPU count)."),
    click.option("--ahead", type=click.IntRange(min=0), default=1, show_default=True,
                 help="Batches preprocessed while the engine runs (0: only between inference "
                      "calls)."),
    click.option("--streams", type=click.IntRange(min=1), default=None,
                 help="N engine copies, one thread each, run consecutive batches at once "
                      "(pipeline.streams) [default: 2 on CPU without --threads/--hint; "
                      "1: one engine with its own threads]."),
    click.option("--min-width", "min_width", type=click.IntRange(min=1), default=None,
                 help="A keep-ratio model whose width follows the word (ppocrv4-rec): pad each "
                      "word to at least this many columns, rounded up to the model's stride "
                      "(8), instead of the spec's smallest width (320, PaddleOCR's "
                      "rec_image_shape, RapidOCR's exact text) [default: the spec's]."),
]


def feed_options(func):
    """Add --batchsize/--batch-size, --prep-threads, --ahead, --streams, --min-width to a
    command: how batches are prepared and fed to the engine (pipeline.feeder, pipeline.streams,
    runtime.padding)."""
    for option in reversed(_FEED_OPTIONS):
        func = option(func)
    return func


def outside_root_option(func):
    """Add ``--allow-outside-root`` (``outside_ok``): GT paths may be absolute or climb out of
    the root with ``..`` (:func:`preprocess.sources.path_problem`); refused by default."""
    return click.option("--allow-outside-root", "outside_ok", is_flag=True,
                        help="With --gt: accept image paths that are absolute or climb out of "
                             "the root with '..' (refused by default).")(func)


def quiet_option(func):
    """Add ``--quiet/-q``: no progress bar, no summary line, and Ray's own log lines silenced
    (``ray.init(logging_level="ERROR")``, the ``ray``/``ray.data`` loggers at ERROR); the
    results, errors and every skipped input (a line on stderr each, up to a count) are still
    printed: quiet is never silence about an input that was dropped."""
    return click.option("--quiet", "-q", is_flag=True,
                        help="No progress bar, no summary or Ray log lines; results, errors "
                             "and skipped inputs are still reported.")(func)


def outcome_lines(metrics: dict | None, unscored: str, skipped: int,
                  skipped_keys: list[str]) -> list[str]:
    """What a run prints before its speed line: the metrics of crnn-postprocess when the
    samples were labeled (``metrics`` not None), else ``unscored``; then the bad samples
    skipped, named by key (the first ones: ``skipped_keys``)."""
    lines = format_metrics(metrics) if metrics is not None else [unscored]
    if skipped:
        names = ", ".join(display_name(k) for k in skipped_keys)  # no raw escape sequence
        lines.append(f"skipped {skipped} bad samples: {names}")
    return lines
