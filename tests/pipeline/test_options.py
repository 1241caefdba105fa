"""Progress bars on a terminal and ``--quiet`` (pipeline.options): crnn-eval, crnn-recognize
and crnn-infer draw a tqdm bar on stderr only when it is a terminal (a pty here), ``--quiet``
draws none and prints no per-image line; ``--quiet`` also starts Ray with its log lines at
ERROR."""
from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

BIN = os.path.dirname(sys.executable)


def on_terminal(*args) -> tuple[int, str, str]:
    """Run a console script with stderr on a pty; returns (status, stdout, what the terminal
    got)."""
    master, slave = pty.openpty()
    # a terminal of 100 x 30 (a pty starts at 0 x 0, where tqdm draws an empty bar)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    proc = subprocess.Popen([os.path.join(BIN, args[0]), *map(str, args[1:])],
                            stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not data:
            break
        chunks.append(data)
    out = proc.stdout.read().decode()
    os.close(master)
    return proc.wait(), out, b"".join(chunks).decode(errors="replace")


@pytest.fixture(scope="module")
def small_gt(assets, tmp_path_factory):
    root = assets / "eval_iiit5k_3000"
    gt = tmp_path_factory.mktemp("gt") / "gt.txt"
    gt.write_text("\n".join((root / "gt.txt").read_text("utf-8").splitlines()[:48]) + "\n")
    (gt.parent / "broken.png").write_bytes(b"junk")
    return gt, root


def test_progress_bar_on_a_terminal_and_quiet(small_gt, nano_dynamic_onnx, tmp_path):
    gt, root = small_gt
    rc, out, term = on_terminal("crnn-eval", "--gt", gt, "--root", root, "--engine",
                                nano_dynamic_onnx)
    assert rc == 0 and "word accuracy" in out
    assert "eval:" in term and "img" in term  # tqdm's bar: "eval:  33%|###  | 16/48 ..."
    rc, out, term = on_terminal("crnn-eval", "--gt", gt, "--root", root, "--engine",
                                nano_dynamic_onnx, "--quiet")
    assert rc == 0 and "word accuracy" in out and "img" not in term
    paths = [root / line.split("\t")[0] for line in gt.read_text().splitlines()[:20]]
    rc, out, term = on_terminal("crnn-recognize", "--engine", nano_dynamic_onnx, *paths,
                                gt.parent / "broken.png")
    assert rc == 0 and "recognize:" in term and "skipped" in term
    rc, out, term = on_terminal("crnn-recognize", "--engine", nano_dynamic_onnx, *paths,
                                gt.parent / "broken.png", "-q")
    # quiet: no progress bar or summary, but never silence about a skipped input (issue 26)
    assert rc == 0 and len(out.splitlines()) == 20 and "recognize:" not in term
    assert term.strip().startswith("skipped") and "broken.png" in term and len(term.splitlines()) == 1


def test_crnn_infer_progress_bar_on_a_terminal(iiit5k_bin_nano, nano_dynamic_onnx, tmp_path):
    input_bin, _ = iiit5k_bin_nano
    rc, out, term = on_terminal("crnn-infer", "--engine", nano_dynamic_onnx, "--input",
                                input_bin, "--output", tmp_path / "res")
    assert rc == 0, term
    assert "infer:" in term and "/3000 [" in term and "img/s" in term


def test_quiet_starts_ray_with_errors_only(monkeypatch):
    ray = pytest.importorskip("ray")
    from crnn_deploy.pipeline.ray.executor import connect

    seen = {}
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: seen.update(kw))
    connect(None, quiet=True)
    assert seen["logging_level"] == "ERROR" and seen["log_to_driver"] is False
    connect(None)
    assert seen["logging_level"] == "WARNING"
