"""Look at the misreads: an HTML page of the wrong words and a PNG of the review trade-off.

``misreads.html``: one row per misread (or unreadable) word: its image (a PNG thumbnail,
embedded as base64, so the page is one self-contained file), label, prediction, confidence,
source path and read error, sorted by confidence, highest first: the confident misreads,
which a confidence threshold would not send to review, come first. Every text field is
HTML-escaped (labels and file names are untrusted input).

``review.png`` (matplotlib, ``pip install 'crnn-deploy[report]'``): word accuracy of the words
kept against the share of words kept, when the words below a confidence threshold go to human
review (every threshold of the run). The threshold where the kept words reach 99 % word
accuracy with the most words kept is marked; when no threshold reaches 99 %, the best
accuracy reached (with the most words kept) is marked instead.
"""
from __future__ import annotations

import base64
import html
import io
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from crnn_deploy.common.fileio import atomic_write_bytes, atomic_write_text
from crnn_deploy.postprocess.metrics import DEFAULT_METRIC, normalizer

#: Word accuracy the review threshold aims at (kept words only).
TARGET = 0.99
#: Rows of misreads.html (the most confident first); the rest are counted.
MAX_ROWS = 5000
#: Bytes of misreads.html (about): 2,000 misreads with thumbnails made 64 MB; a browser page of
#: 16 MiB still opens at once. The rows past it are counted on the page and on stderr.
MAX_PAGE_BYTES = 16 << 20
#: Thumbnail box (width, height) in pixels; images above MAX_THUMB_PIXELS are not decoded.
THUMB = (320, 64)
MAX_THUMB_PIXELS = 50_000_000
#: First bytes of misreads.html (how an earlier page is recognized as ours).
PAGE_HEAD = "<!DOCTYPE html>\n<!-- crnn-deploy misreads -->\n"


def review_curve(samples: Iterable[tuple], metric: str = DEFAULT_METRIC) -> dict:
    """The review trade-off of ``(id, label, prediction, confidence)`` rows (confidence None
    for an unreadable image: always reviewed), right or wrong under ``metric``
    (:data:`postprocess.metrics.METRICS`).

    Keeping the words with confidence >= t, for every distinct t of the run: ``kept`` (share
    of all words kept, in [0, 1]), ``accuracy`` (word accuracy under ``metric`` of the kept
    words), ``thresholds`` (t); ``pick``: the index marked (the most words kept at accuracy >=
    :data:`TARGET`, else at the best accuracy), ``reached``: whether TARGET was reached;
    ``total``: the number of words.

    Raises:
        ValueError: no samples, or none with a confidence.
    """
    rows = list(samples)
    if not rows:
        raise ValueError("no samples")
    conf = np.array([-1.0 if r[3] is None else float(r[3]) for r in rows])
    norm = normalizer(metric)
    right = np.array([r[3] is not None and norm(r[1]) == norm(r[2]) for r in rows])
    order = np.argsort(-conf, kind="stable")
    conf, right = conf[order], right[order]
    n = len(rows)
    last = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))  # end of each tie group
    last = last[conf[last] >= 0]  # unreadable words are never kept
    if not len(last):
        raise ValueError("no sample with a confidence")
    k = last + 1
    accuracy = np.cumsum(right)[last] / k
    kept = k / n
    ok = np.flatnonzero(accuracy >= TARGET)
    if len(ok):
        pick = int(ok[np.argmax(kept[ok])])
    else:
        best = np.flatnonzero(accuracy == accuracy.max())
        pick = int(best[np.argmax(kept[best])])
    return {"thresholds": conf[last], "kept": kept, "accuracy": accuracy, "pick": pick,
            "reached": bool(len(ok)), "total": n}


def write_review_png(path: str | Path, samples: Iterable[tuple], title: str,
                     metric: str = DEFAULT_METRIC) -> dict:
    """Plot :func:`review_curve` of ``samples`` to ``path`` (PNG, written atomically);
    returns the curve.

    Raises:
        ImportError: matplotlib is not installed (``pip install 'crnn-deploy[report]'``).
        ValueError: as :func:`review_curve`.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = review_curve(samples, metric)
    i = c["pick"]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    try:
        ax.plot(100 * c["kept"], 100 * c["accuracy"], color="tab:blue",
                label="words kept (confidence >= threshold)")
        ax.axhline(100 * TARGET, color="gray", linestyle=":", linewidth=1,
                   label=f"{100 * TARGET:.0f} % word accuracy")
        what = "reaches" if c["reached"] else "best reached:"
        ax.plot([100 * c["kept"][i]], [100 * c["accuracy"][i]], "o", color="tab:red",
                label=f"threshold {c['thresholds'][i]:.3f}: {100 * c['kept'][i]:.1f} % kept, "
                      f"{what} {100 * c['accuracy'][i]:.2f} %")
        ax.set_xlabel("share of words kept (%); the rest go to human review")
        ax.set_ylabel("word accuracy of the kept words (%)")
        ax.set_title(title, fontsize=10)
        ax.set_xlim(0, 100)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left", fontsize=8)
        buf = io.BytesIO()
        fig.tight_layout()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return c


def thumbnail(data: bytes | None) -> str | None:
    """A ``data:image/png;base64,...`` URI of the image ``data`` shrunk into :data:`THUMB`,
    or None when there is no image or it cannot be decoded (bounded: a header above
    :data:`MAX_THUMB_PIXELS` is not decoded)."""
    if not data:
        return None
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.width * im.height > MAX_THUMB_PIXELS:
                return None
            im = im.convert("RGB")
            im.thumbnail(THUMB)
            buf = io.BytesIO()
            im.save(buf, format="PNG")
    except Exception:  # any decoder failure: the row is shown without its image
        return None
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def misread_page(errors: Sequence[tuple], image: Callable[[str], bytes | None],
                 title: str, total: int, review: bool = False,
                 max_bytes: int = MAX_PAGE_BYTES) -> str:
    """The HTML of misreads.html (see :func:`build_page`, which also says how many rows were
    left out)."""
    return build_page(errors, image, title, total, review, max_bytes)[0]


def build_page(errors: Sequence[tuple], image: Callable[[str], bytes | None], title: str,
               total: int, review: bool = False, max_bytes: int = MAX_PAGE_BYTES
               ) -> tuple[str, int]:
    """``(html, rows left out)`` of misreads.html for ``errors`` rows ``(source, label,
    prediction, confidence[, error])`` (confidence None: unreadable); ``image(source)`` gives
    the encoded image or None; ``total``: the number of words scored (for the heading);
    ``review``: link ``review.png`` (written beside it). At most :data:`MAX_ROWS` rows and
    about ``max_bytes`` bytes (thumbnails are ~10-40 kB each): the most confident misreads
    are kept, the page says how many were left out."""
    e = html.escape
    rows = sorted(errors, key=lambda r: 1.0 if r[3] is None else -float(r[3]))  # unreadable last
    body, size = [], 0
    for k, row in enumerate(rows[:MAX_ROWS], 1):
        source, label, pred, conf, why = (*row, None, None)[:5]
        uri = thumbnail(image(source))
        img = f'<img src="{uri}" alt="{e(source)}">' if uri else "(no image)"
        conf_text = "" if conf is None else f"{float(conf):.4f}"
        line = (f'<tr><td>{k}</td><td>{img}</td><td class="t">{e(label)}</td>'
                f'<td class="t">{e(pred)}</td><td>{conf_text}</td><td>{e(source)}</td>'
                f"<td>{e(why or '')}</td></tr>")
        size += len(line.encode("utf-8")) + 1
        if size > max_bytes:
            break
        body.append(line)
    left = len(rows) - len(body)
    why = (f"{MAX_ROWS} rows" if len(body) == MAX_ROWS else f"{max_bytes >> 20} MiB")
    note = (f" The first {len(body)} are shown; {left} left out (the page is capped at {why})."
            if left else "")
    out = [PAGE_HEAD, '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{e(title)}</title>",
           "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
           "td.t{font-family:monospace;white-space:pre}</style></head><body>",
           f"<h1>{e(title)}</h1>",
           f"<p>{len(rows)} of {total} words misread or unreadable, most confident first.{note}</p>",
           *(['<p><a href="review.png">review.png</a>: word accuracy of the words kept against '
              'the share kept, by confidence threshold.</p>'] if review else []),
           '<table id="misreads"><thead><tr><th>#</th><th>image</th><th>label</th>'
           "<th>prediction</th><th>confidence</th><th>source</th><th>error</th></tr></thead>"
           "<tbody>", *body, "</tbody></table></body></html>\n"]
    return "\n".join(out), left


def write_misreads(out_dir: str | Path, samples: Sequence[tuple], errors: Sequence[tuple],
                   image: Callable[[str], bytes | None], title: str,
                   log: Callable[[str], None] | None = None,
                   metric: str = DEFAULT_METRIC) -> list[Path]:
    """Write ``out_dir/review.png`` and ``out_dir/misreads.html`` (each atomically; the page
    links review.png when it was written) for the scored ``samples`` (``(source, label,
    prediction, confidence)``, unreadable ones with confidence None) and their ``errors``
    (the rows of errors.tsv), right or wrong under ``metric``. Returns the paths written;
    review.png is left out when matplotlib is missing or no word has a confidence, and
    ``log`` (default: a line on stderr) says why. Rows left out of the page
    (:func:`build_page`'s caps) are said through ``log`` too.

    Raises:
        OSError: ``out_dir`` is not writable.
    """
    out_dir = Path(out_dir)
    review = out_dir / "review.png"
    say = log or (lambda m: print(m, file=sys.stderr))
    try:
        write_review_png(review, samples, title, metric)
        written = [review]
    except ImportError:
        say("review.png skipped: matplotlib is not installed (pip install "
            "'crnn-deploy[report]'); misreads.html written")
        written = []
    except ValueError:  # no word with a confidence: nothing to plot
        say("review.png skipped: no word has a confidence to plot")
        written = []
    page, left = build_page(errors, image, title, len(samples), bool(written))
    if left:
        say(f"misreads.html: {left} of {len(errors)} misread rows left out (size cap); the "
            "full list is in errors.tsv")
    return [atomic_write_text(out_dir / "misreads.html", page), *written]
