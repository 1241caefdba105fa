"""Look at the misreads: misreads.html read back with html.parser (rows, order, escaping,
embedded images) and review.png, from crnn-eval and crnn-postprocess on real IIIT5K crops
with the real weights; the review curve on a case worked by hand."""
from __future__ import annotations

import base64
import csv
import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from PIL import Image

from crnn_deploy.postprocess.review import TARGET, review_curve

#: Headless browsers the page is rendered with, where one is installed (not in .ci/run).
BROWSERS = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
BROWSER = next((b for b in BROWSERS if os.access(b, os.X_OK)), None)


class Rows(HTMLParser):
    """The cells of table#misreads (text, and the src of an <img>), and every tag seen."""

    def __init__(self):
        super().__init__()
        self.rows, self.tags, self.cell, self.inside = [], set(), None, False

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id") == "misreads":
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag == "td":
            self.cell = ""
        elif self.inside and tag == "img" and self.cell is not None:
            self.cell = attrs["src"]

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1].append(self.cell)
            self.cell = None
        elif tag == "table":
            self.inside = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def parse(path) -> Rows:
    p = Rows()
    p.feed(path.read_text("utf-8"))
    return p


def test_review_curve_by_hand():
    # confidences 0.9 (right), 0.8 (right), 0.7 (wrong), 0.6 (right), unreadable
    rows = [("a", "x", "x", 0.9), ("b", "y", "y", 0.8), ("c", "z", "q", 0.7),
            ("d", "w", "w", 0.6), ("e", "v", "", None)]
    c = review_curve(rows)
    assert list(c["kept"]) == pytest.approx([0.2, 0.4, 0.6, 0.8])
    assert list(c["accuracy"]) == pytest.approx([1, 1, 2 / 3, 3 / 4])
    assert c["reached"] and c["pick"] == 1 and c["thresholds"][1] == 0.8  # 40 % kept at 100 %
    worse = review_curve([("a", "x", "q", 0.9), ("b", "y", "y", 0.5), ("c", "z", "z", 0.5)])
    assert not worse["reached"] and worse["pick"] == 1  # ties kept together: 2/3 at 100 % kept
    assert worse["accuracy"][1] == pytest.approx(2 / 3) and 2 / 3 < TARGET


@pytest.fixture
def hostile_set(assets, tmp_path):
    """30 IIIT5K crops; one under a name full of HTML, labeled with a script tag."""
    root = assets / "eval_iiit5k_3000"
    lines = (root / "gt.txt").read_text("utf-8").splitlines()[:30]
    words = tmp_path / "words"
    words.mkdir()
    gt = []
    for k, line in enumerate(lines):
        rel, label = line.split("\t")
        name = f'<b>&"{k}.png' if k == 0 else f"{k}.png"
        shutil.copy(root / rel, words / name)
        gt.append(f"{name}\t{'<script>alert(1)</script>' if k == 0 else label}")
    (words / "gone.png").write_bytes(b"not an image")
    gt.append("gone.png\tGONE")
    (words / "gt.txt").write_text("\n".join(gt) + "\n", "utf-8")
    return words / "gt.txt"


def _errors(folder) -> list[list[str]]:
    with (folder / "errors.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t"))[1:]


def _check_page(folder, hostile: bool = True):
    page = parse(folder / "misreads.html")
    errors = _errors(folder)
    rows = page.rows[1:] if page.rows and not page.rows[0] else page.rows
    assert len(rows) == len(errors) >= 2
    # columns: #, image, label, prediction, confidence, source, error
    confs = [float(r[4]) if r[4] else -1.0 for r in rows]
    assert confs == sorted(confs, reverse=True)  # most confident misreads first
    assert {(r[5], r[2], r[3]) for r in rows} == {(e[0], e[1], e[2]) for e in errors}
    assert "script" not in page.tags and "b" not in page.tags  # escaped, shown as text
    if hostile:
        by_source = {r[5]: r for r in rows}
        assert by_source['<b>&"0.png'][2] == "<script>alert(1)</script>"
        assert by_source["gone.png"][1] == "(no image)" and by_source["gone.png"][4] == ""
    shown = [r[1] for r in rows if r[1].startswith("data:image/png;base64,")]
    assert shown, "no image embedded"
    img = Image.open(io.BytesIO(base64.b64decode(shown[0].split(",", 1)[1])))
    assert img.format == "PNG" and img.height <= 64
    png = Image.open(folder / "review.png")
    assert png.format == "PNG" and png.width >= 600


def test_crnn_eval_misreads(hostile_set, nano_dynamic_onnx, tmp_path):
    pytest.importorskip("matplotlib")
    from crnn_deploy.pipeline.eval_cli import main

    out = tmp_path / "eval"
    res = CliRunner().invoke(main, ["--gt", str(hostile_set), "--engine", str(nano_dynamic_onnx),
                                    "--output", str(out), "--misreads"])
    assert res.exit_code == 0, res.output
    assert "misreads.html, review.png" in res.output
    _check_page(out)
    res = CliRunner().invoke(main, ["--gt", str(hostile_set), "--engine", str(nano_dynamic_onnx),
                                    "--misreads"])
    assert res.exit_code == 1 and "--misreads writes into --output" in res.output


def test_without_matplotlib_review_png_is_skipped_with_a_note(hostile_set, nano_dynamic_onnx,
                                                              tmp_path, monkeypatch):
    """Issue 29: no matplotlib -> misreads.html only, and stderr says review.png was skipped,
    why, and which extra brings it (it used to say nothing)."""
    import sys

    from crnn_deploy.pipeline.eval_cli import main

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` -> ImportError
    out = tmp_path / "eval"
    res = CliRunner().invoke(main, ["--gt", str(hostile_set), "--engine", str(nano_dynamic_onnx),
                                    "--output", str(out), "--misreads", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "review.png skipped: matplotlib is not installed (pip install 'crnn-deploy[report]')" \
        in res.stderr
    assert (out / "misreads.html").is_file() and not (out / "review.png").exists()
    assert "review.png" not in res.stdout


def test_crnn_postprocess_misreads(iiit5k_lmdb, nano_dynamic_onnx, tmp_path):
    """The staged path: images come from the LMDB that lmdb-to-bin read."""
    pytest.importorskip("matplotlib")
    from crnn_deploy.postprocess.cli import main as postprocess
    from crnn_deploy.preprocess.cli import main as preprocess
    from crnn_deploy.runtime.cli import main as infer

    inp, labels, result = tmp_path / "input_bin", tmp_path / "label.txt", tmp_path / "result"
    for cli, args in ((preprocess, ["lmdb-to-bin", "--lmdb", iiit5k_lmdb, "--model",
                                    str(nano_dynamic_onnx), "--limit", "64", "--output", inp,
                                    "--labels", labels]),
                      (infer, ["--engine", nano_dynamic_onnx, "--input", inp, "--output", result]),
                      (postprocess, [result, labels, "--misreads"])):
        res = CliRunner().invoke(cli, [str(a) for a in args])
        assert res.exit_code == 0, res.output
    assert "misreads.html" in res.output
    _check_page(result, hostile=False)
    assert all(r[0].startswith("test/") for r in _errors(result))  # the source paths
    res = CliRunner().invoke(postprocess, [str(result), str(labels), "--misreads"])
    assert res.exit_code == 0, res.output  # its own reports are replaced


def _screenshot(page, shot, profile) -> Image.Image:
    """``page`` rendered by the headless browser at 1000x1400 CSS pixels, as greyscale."""
    proc = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1000,1400",
         page.as_uri()], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.is_file(), proc.stderr[-2000:]
    return Image.open(shot).convert("L")


def _ink(img: Image.Image) -> float:
    """Share of pixels that are not (near) white."""
    return sum(img.histogram()[:240]) / (img.width * img.height)


@pytest.mark.skipif(BROWSER is None, reason=f"no headless browser here ({', '.join(BROWSERS)})")
def test_misreads_page_renders_in_a_headless_browser(hostile_set, nano_dynamic_onnx, tmp_path):
    """misreads.html as a person sees it: a browser screenshot that is not blank, whose
    embedded word images are drawn (the page without its <img> tags has less ink)."""
    from crnn_deploy.pipeline.eval_cli import main

    out = tmp_path / "eval"
    res = CliRunner().invoke(main, ["--gt", str(hostile_set), "--engine", str(nano_dynamic_onnx),
                                    "--output", str(out), "--misreads"])
    assert res.exit_code == 0, res.output
    page = out / "misreads.html"
    shot = _screenshot(page, tmp_path / "page.png", tmp_path / "profile")
    assert shot.size == (1000, 1400)
    assert _ink(shot) > 0.01  # heading, table text, rules and the word images
    bare = tmp_path / "bare.html"
    html, n = re.subn(r"<img [^>]*>", "", page.read_text("utf-8"))
    assert n >= 1
    bare.write_text(html, "utf-8")
    without = _screenshot(bare, tmp_path / "bare.png", tmp_path / "profile")
    assert _ink(shot) > _ink(without) + 0.005, (_ink(shot), _ink(without))


def test_misreads_page_is_capped_in_bytes_and_says_what_was_left_out(assets, tmp_path):
    """2,000 misreads with real thumbnails made a 64 MB page: the page stops at its byte cap,
    says how many rows were left out (on the page and through the log) and links review.png."""
    pytest.importorskip("matplotlib")
    from crnn_deploy.postprocess import review

    root = assets / "eval_iiit5k_3000"
    lines = (root / "gt.txt").read_text("utf-8").splitlines()[:50]
    images = {f"s{k}": (root / line.split("\t")[0]).read_bytes()
              for k, line in enumerate(lines)}
    errors = [(f"s{k % 50}", "label", "wrong", 0.9 - k / 5000) for k in range(2000)]
    samples = errors + [(f"ok{k}", "word", "word", 0.99) for k in range(100)]
    logged = []
    paths = review.write_misreads(tmp_path, samples, errors, images.get, "cap", logged.append)
    assert [p.name for p in paths] == ["misreads.html", "review.png"]
    page = (tmp_path / "misreads.html").read_text("utf-8")
    assert len(page.encode()) <= review.MAX_PAGE_BYTES + 4096
    shown = len(parse(tmp_path / "misreads.html").rows) - 1  # the header row is empty
    assert 0 < shown < 2000
    assert f"The first {shown} are shown; {2000 - shown} left out" in page
    assert logged == [f"misreads.html: {2000 - shown} of 2000 misread rows left out (size cap); "
                      "the full list is in errors.tsv"]
    assert '<a href="review.png">' in page
    small, left = review.build_page(errors[:40], images.get, "t", 40, max_bytes=100_000)
    assert 0 < left < 40 and len(small.encode()) < 100_000 + 4096
    assert "review.png" not in small  # no link without the picture
