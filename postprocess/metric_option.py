"""``--metric``: the option of every scoring command (crnn-postprocess, crnn-eval, crnn-recognize
--gt, their Ray paths), with the definitions of :data:`postprocess.metrics.METRICS` in its help.
"""
from __future__ import annotations

import click

from crnn_deploy.postprocess.metrics import DEFAULT_METRIC, METRICS

#: The --help text: each metric's name and definition.
METRIC_HELP = ("How labels and predictions are compared (word accuracy, mean normalized edit "
               "distance and CER alike; recorded as 'metric' in accuracy.json / summary.json): "
               + "; ".join(f"{name}: {definition}" for name, (_, _, definition) in METRICS.items())
               + ". Use exact (or exact-nospace) for Chinese and other scripts.")


def metric_option(func):
    """Add ``--metric [latin|exact|exact-nospace|case-insensitive]`` (default ``latin``) to a
    click command; the value is passed as ``metric``."""
    return click.option("--metric", type=click.Choice(list(METRICS)), default=DEFAULT_METRIC,
                        show_default=True, help=METRIC_HELP)(func)


def echo_notes(metrics: dict | None) -> None:
    """Print :func:`postprocess.metrics.metric_notes` of ``metrics`` on stderr (labels holding
    characters the metric drops); nothing for None."""
    from crnn_deploy.postprocess.metrics import metric_notes

    for note in metric_notes(metrics) if metrics else []:
        click.echo(note, err=True)
