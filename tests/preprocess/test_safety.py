"""crnn-preprocess never destroys what it did not write; bounded reads; clear errors (issue 11).

Real IIIT5K word crops are copied into tmp_path (never into the repo)."""
from __future__ import annotations

import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import lmdb
import pytest

N = 20


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def src(assets, tmp_path) -> Path:
    """tmp_path/src: the first N IIIT5K crops and their gt.txt (relative paths)."""
    root = assets / "eval_iiit5k_3000"
    lines = (root / "gt.txt").read_text(encoding="utf-8").splitlines()[:N]
    out = tmp_path / "src"
    for line in lines:
        rel = line.split("\t", 1)[0]
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / rel, out / rel)
    (out / "gt.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


@pytest.fixture
def built(src, tmp_path, cli) -> Path:
    out = tmp_path / "work" / "src.lmdb"
    res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", out)
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.parametrize("output", [
    lambda s: s,                                  # the brief's example: --output src
    lambda s: s / ".." / s.name,                  # a `..` spelling of it
    lambda s: s.parent / "alias",                 # a symlink to it
    lambda s: s.parent,                           # a folder containing it
])
def test_build_lmdb_never_replaces_its_sources(src, cli, output):
    (src.parent / "alias").symlink_to(src)
    before = tree_digest(src)
    res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", output(src), "--overwrite")
    assert res.exit_code == 1 and res.output.startswith("Error: --output ")
    assert "GT file" in res.output or "image root" in res.output
    assert tree_digest(src) == before


def test_build_lmdb_refuses_foreign_folder_even_with_overwrite(src, tmp_path, cli):
    other = tmp_path / "photos"
    other.mkdir()
    (other / "holiday.jpg").write_bytes(b"mine")
    res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", other, "--overwrite")
    assert res.exit_code == 1 and "refusing to replace" in res.output and "holiday.jpg" in res.output
    assert os.listdir(other) == ["holiday.jpg"]


def test_build_lmdb_inside_the_image_root_is_fine_but_never_reads_itself(src, cli):
    res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", src / "own.lmdb")
    assert res.exit_code == 0, res.output
    with open(src / "gt.txt", "a") as f:
        f.write("own.lmdb/data.mdb\tloop\n")
    res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", src / "own.lmdb", "--overwrite")
    assert res.exit_code == 0 and "lies inside --output" in res.output
    assert f"wrote {N} samples" in res.output


def test_build_lmdb_reads_only_bounded_regular_files(src, cli, tmp_path):
    os.mkfifo(src / "fifo.png")
    with open(src / "huge.png", "wb") as f:
        f.truncate(1 << 30)  # sparse 1 GiB
    with open(src / "gt.txt", "a") as f:
        f.write("/dev/zero\tzero\nfifo.png\tfifo\nhuge.png\thuge\n")
    t0 = time.perf_counter()  # --allow-outside-root: /dev/zero is absolute (issue 26)
    res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", tmp_path / "o.lmdb",
              "--allow-outside-root")
    assert time.perf_counter() - t0 < 60  # does not hang on the FIFO nor read 1 GiB
    assert res.exit_code == 0, res.output
    assert "/dev/zero is not a regular file" in res.output
    assert "fifo.png is not a regular file" in res.output
    assert "huge.png has 1073741824 bytes, more than the limit of 33554432" in res.output
    assert f"wrote {N} samples" in res.output and "skipped 3 line(s)" in res.output


def test_gt_file_must_be_a_bounded_text_file(tmp_path, cli):
    res = cli("build-lmdb", "--gt", "/dev/zero", "--output", tmp_path / "o.lmdb")
    assert res.exit_code == 1 and "not a regular file" in res.output
    (tmp_path / "gt.txt").write_bytes(b"x" * (100 << 10))  # no newline in 100 KiB
    res = cli("build-lmdb", "--gt", tmp_path / "gt.txt", "--output", tmp_path / "o.lmdb")
    assert res.exit_code == 1 and "gt.txt:1: line longer than 65536 bytes" in res.output
    assert not (tmp_path / "o.lmdb").exists()


def test_label_rule_is_the_same_as_postprocess(src, tmp_path, cli):
    lines = (src / "gt.txt").read_text().splitlines()
    rel0, rel1 = lines[0].split("\t")[0], lines[1].split("\t")[0]
    (src / "gt.txt").write_text(f"{rel0}\t word\n{rel1}\t\n" + "\n".join(lines[2:]) + "\n")
    res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", tmp_path / "o.lmdb")
    assert res.exit_code == 0
    assert "gt.txt:1: label has leading or trailing whitespace" in res.output
    assert "gt.txt:2: empty label" in res.output


def to_bin(cli, lmdb_path, out, labels, *extra):
    return cli("lmdb-to-bin", "--lmdb", lmdb_path, "--model", "nano-ocr", "--workers", "1",
               "--output", out, "--labels", labels, *extra)


@pytest.mark.parametrize("labels", [
    lambda db: db / "data.mdb",                       # the brief's example
    lambda db: db.parent / "alias" / "data.mdb",      # the same through a symlink
    lambda db: db / ".." / db.name / "lock.mdb",      # `..` spelling
    lambda db: db.parent / "hard.mdb",                # a hard link to data.mdb
    lambda db: db / "label.txt",                      # a new file inside the LMDB folder
])
def test_lmdb_to_bin_labels_never_touches_the_input(built, tmp_path, cli, labels):
    (built.parent / "alias").symlink_to(built)
    os.link(built / "data.mdb", built.parent / "hard.mdb")
    before = tree_digest(built)
    res = to_bin(cli, built, tmp_path / "bin", labels(built), "--overwrite")
    assert res.exit_code == 1 and res.output.startswith("Error: --labels ")
    assert "input LMDB" in res.output
    assert tree_digest(built) == before and not (tmp_path / "bin").exists()


@pytest.mark.parametrize("output", [lambda db: db, lambda db: db.parent,
                                    lambda db: db / "bins"])
def test_lmdb_to_bin_output_never_around_the_input(built, tmp_path, cli, output):
    before = tree_digest(built)
    res = to_bin(cli, built, output(built), tmp_path / "label.txt", "--overwrite")
    assert res.exit_code == 1 and "input LMDB" in res.output
    assert tree_digest(built) == before and not (tmp_path / "label.txt").exists()


def test_lmdb_to_bin_replaces_only_its_own_labels(built, tmp_path, cli):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    res = to_bin(cli, built, tmp_path / "bin", notes, "--overwrite")
    assert res.exit_code == 1 and "this tool did not write it" in res.output
    assert notes.read_text() == "my notes\n" and not (tmp_path / "bin").exists()
    labels = tmp_path / "label.txt"
    assert to_bin(cli, built, tmp_path / "bin", labels).exit_code == 0
    # the labels file of a run is ours only for the folder that recorded it
    res = to_bin(cli, built, tmp_path / "bin2", labels, "--overwrite")
    assert res.exit_code == 1 and "this tool did not write it" in res.output
    res = to_bin(cli, built, tmp_path / "bin", labels, "--limit", "3", "--overwrite")
    assert res.exit_code == 0, res.output
    assert len(labels.read_text().splitlines()) == 3
    assert sorted(os.listdir(tmp_path / "bin")) == [
        ".crnn-deploy.json", "meta.json", "names.txt", "test_1.bin", "test_2.bin", "test_3.bin"]


def fake_header_lmdb(built: Path, dst: Path, num_samples: int) -> Path:
    shutil.copytree(built, dst)
    env = lmdb.open(str(dst))
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", str(num_samples).encode())
    env.close()
    return dst


def test_num_samples_is_bounded_by_the_entries(built, tmp_path, cli, nano_dynamic_onnx):
    bad = fake_header_lmdb(built, tmp_path / "bad.lmdb", 10**9)
    t0 = time.perf_counter()
    res = to_bin(cli, bad, tmp_path / "bin", tmp_path / "label.txt")
    assert res.exit_code == 1
    assert f"'num-samples' says 1000000000 samples but the database holds only {3 * N + 1} " \
           "entries" in res.output
    from click.testing import CliRunner

    from crnn_deploy.pipeline.eval_cli import main as eval_main
    res = CliRunner().invoke(eval_main, ["--lmdb", str(bad), "--engine", str(nano_dynamic_onnx),
                                         "--workers", "0"])
    assert res.exit_code == 1 and "1000000000" in res.output and str(3 * N + 1) in res.output
    assert time.perf_counter() - t0 < 60
    # a header a little too large is bounded work: the missing samples are reported by key
    near = fake_header_lmdb(built, tmp_path / "near.lmdb", N + 2)
    res = to_bin(cli, near, tmp_path / "bin", tmp_path / "label.txt")
    assert res.exit_code == 0 and f"image-{N + 1:09d}: missing image key" in res.output


def _limit_file_size(nbytes: int):
    def apply():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return apply


def test_disk_full_is_a_message_and_leaves_nothing(src, tmp_path):
    """A file-size limit makes LMDB's writes fail as on a full disk (EFBIG instead of ENOSPC)."""
    exe = Path(sys.executable).with_name("crnn-preprocess")
    out = tmp_path / "full" / "x.lmdb"
    proc = subprocess.run([str(exe), "build-lmdb", "--gt", str(src / "gt.txt"), "--output",
                           str(out)], capture_output=True, text=True,
                          preexec_fn=_limit_file_size(64 << 10), timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("Error: ") and "Traceback" not in proc.stderr, proc.stderr
    assert os.listdir(out.parent) == []


def test_killed_run_leaves_hidden_temporaries_that_the_next_run_removes(built, tmp_path):
    exe = Path(sys.executable).with_name("crnn-preprocess")
    out, labels = tmp_path / "bins" / "input_bin", tmp_path / "bins" / "label.txt"
    args = [str(exe), "lmdb-to-bin", "--lmdb", str(built), "--model", "nano-ocr", "--workers",
            "1", "--output", str(out), "--labels", str(labels)]
    proc = subprocess.Popen(args, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.name.startswith(".input_bin.partial-")
                                             for p in out.parent.glob(".*")):
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    left = sorted(p.name for p in out.parent.iterdir())
    if not any(n.startswith(".input_bin.partial-") for n in left):
        pytest.skip(f"the run finished before it could be killed: {left}")
    assert all(n.startswith(".") for n in left), left  # temporaries stay hidden
    res = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in out.parent.iterdir()) == ["input_bin", "label.txt"]


@pytest.mark.parametrize("option", ["build-lmdb --output", "lmdb-to-bin --output",
                                    "lmdb-to-bin --labels"])
def test_a_dangling_symlinked_output_is_refused(src, built, tmp_path, cli, option):
    """A dangling symlink at an output is never followed: nothing is created where it points."""
    link, elsewhere = tmp_path / "link", tmp_path / "elsewhere"
    link.symlink_to(elsewhere / "deep" / "out")
    if option == "build-lmdb --output":
        res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", link)
    else:
        out, labels = (link, tmp_path / "l.txt") if option.endswith("output") else (
            tmp_path / "bins", link)
        res = cli("lmdb-to-bin", "--lmdb", built, "--model", "nano-ocr", "--workers", "1",
                  "--output", out, "--labels", labels)
    assert res.exit_code == 1, res.output
    assert res.output.startswith(f"Error: {option.split()[1]} ") and "dangling" in res.output
    assert not elsewhere.exists() and link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["link", "src", "work"]


def test_build_lmdb_skips_gt_paths_that_leave_the_root(src, tmp_path, cli):
    """An absolute or ../ GT path is a bad line (reported with its number, not read) unless
    --allow-outside-root."""
    outside = tmp_path / "outside.png"
    first = (src / "gt.txt").read_text().splitlines()[0]
    shutil.copy(src / first.split("\t")[0], outside)
    lines = (src / "gt.txt").read_text().splitlines()
    (src / "gt.txt").write_text("\n".join([*lines, f"{outside}\tABS", "../outside.png\tUP"]) + "\n")
    res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", tmp_path / "a.lmdb")
    assert res.exit_code == 0, res.output
    assert f"gt.txt:{N + 1}: image path {outside} is absolute" in res.output
    assert f"gt.txt:{N + 2}: image path ../outside.png climbs out of the root" in res.output
    assert f"wrote {N} samples" in res.output
    res = cli("build-lmdb", "--gt", src / "gt.txt", "--output", tmp_path / "b.lmdb",
              "--allow-outside-root")
    assert res.exit_code == 0 and f"wrote {N + 2} samples" in res.output, res.output
