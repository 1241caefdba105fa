"""common.outputs and common.inputs: the output rules, staging, stale temporaries, bounded reads."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crnn_deploy.common import outputs
from crnn_deploy.common.errors import UserError
from crnn_deploy.common.inputs import label_problem, read_regular_file


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    (d / "gt.txt").write_text("a.png\tword\n")
    return d


@pytest.mark.parametrize("spelling, words", [
    (lambda s: s, "is the same path as"),
    (lambda s: s / ".." / "src", "is the same path as"),
    (lambda s: s.parent / "link", "is the same path as"),          # symlink to the folder
    (lambda s: s.parent, "contains"),
    (lambda s: s / "sub" / "out", "lies inside"),
    (lambda s: s.parent / "link" / "out", "lies inside"),           # inside, through a symlink
])
def test_check_not_input_catches_every_alias(src, spelling, words):
    (src.parent / "link").symlink_to(src)
    with pytest.raises(UserError, match=words) as err:
        outputs.check_not_input(spelling(src), [("input folder", src)])
    assert "--output" in err.value.message and str(src) in err.value.message


def test_check_not_input_follows_a_symlink_before_dotdot(tmp_path):
    # link -> data/sub, so link/../model.onnx is data/model.onnx (as the OS resolves it),
    # not tmp_path/model.onnx (as a textual ".." would)
    (tmp_path / "data" / "sub").mkdir(parents=True)
    (tmp_path / "data" / "model.onnx").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "data" / "sub")
    with pytest.raises(UserError, match="is the same path as"):
        outputs.check_not_input(tmp_path / "link" / ".." / "model.onnx",
                                [("--onnx", tmp_path / "data" / "model.onnx")])


def test_check_not_input_hard_links_and_inside_allowed(src, tmp_path):
    os.link(src / "gt.txt", tmp_path / "hard.txt")
    with pytest.raises(UserError, match="is the same path as"):
        outputs.check_not_input(tmp_path / "hard.txt", [("GT file", src / "gt.txt")])
    with pytest.raises(UserError, match="hard link to a file of"):
        outputs.check_not_input(tmp_path / "hard.txt", [("input folder", src)], "--labels")
    assert outputs.check_not_input(src / "x.lmdb", [("root", src)], allow_inside=True) \
        == src / "x.lmdb"
    with pytest.raises(UserError, match="contains"):
        outputs.check_not_input(tmp_path, [("root", src)], allow_inside=True)
    assert outputs.check_not_input(tmp_path / "new", [("input folder", src)]) == tmp_path / "new"


def test_check_dir_output(tmp_path):
    assert outputs.check_dir_output(tmp_path / "new", outputs.RESULT, False) == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    assert outputs.check_dir_output(tmp_path / "empty", outputs.RESULT, False)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a folder"):
        outputs.check_dir_output(tmp_path / "file", outputs.RESULT, True)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "test_1_0.bin").write_bytes(b"0")  # our names, but no marker: not ours
    with pytest.raises(UserError, match="no .crnn-deploy.json marker"):
        outputs.check_dir_output(foreign, outputs.RESULT, True)
    with outputs.StagedDir(tmp_path / "ours", outputs.RESULT, False, "test") as stage:
        (stage / "test_1_0.bin").write_bytes(b"0")
    with pytest.raises(UserError, match="pass --overwrite"):
        outputs.check_dir_output(tmp_path / "ours", outputs.RESULT, False)
    assert outputs.check_dir_output(tmp_path / "ours", outputs.RESULT, True)
    (tmp_path / "ours" / "notes.txt").write_text("mine")  # the user added a file: not ours now
    with pytest.raises(UserError, match="'notes.txt'"):
        outputs.check_dir_output(tmp_path / "ours", outputs.RESULT, True)


def test_staged_dir_publishes_whole_and_discards_on_error(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with outputs.StagedDir(target, outputs.RESULT, False, "test") as stage:
            (stage / "a_0.bin").write_bytes(b"1")
            raise RuntimeError("interrupted")
    assert os.listdir(tmp_path) == []
    with outputs.StagedDir(target, outputs.RESULT, False, "test") as stage:
        (stage / "a_0.bin").write_bytes(b"1")
        (stage / "b_0.bin").write_bytes(b"1")
    first = outputs.folder_identity(target)
    with outputs.StagedDir(target, outputs.RESULT, True, "test") as stage:
        (stage / "c_0.bin").write_bytes(b"2")
    assert sorted(os.listdir(target)) == [outputs.MARKER, "c_0.bin"]  # replaced whole
    assert os.listdir(tmp_path) == ["out"]
    with pytest.raises(UserError, match="replaced by another run"):
        outputs.check_unchanged(target, first, "result folder")


def test_a_run_that_loses_the_race_publishes_nothing(tmp_path):
    target = tmp_path / "out"
    slow = outputs.StagedDir(target, outputs.RESULT, False, "slow")
    stage = slow.open()
    (stage / "slow_0.bin").write_bytes(b"s")
    with outputs.StagedDir(target, outputs.RESULT, False, "fast") as fast:
        (fast / "fast_0.bin").write_bytes(b"f")
    with pytest.raises(UserError, match="written by another run while this one was running"):
        slow.commit()
    assert sorted(os.listdir(target)) == [outputs.MARKER, "fast_0.bin"]
    assert os.listdir(tmp_path) == ["out"]


def test_cleanup_stale_removes_only_dead_runs_temporaries(tmp_path):
    target = tmp_path / "result"
    dead = tmp_path / f".result.partial-{dead_pid()}-0123abcd"
    dead.mkdir()
    (dead / "test_1_0.bin").write_bytes(b"x")
    dead_tmp = tmp_path / f".result.tmp-{dead_pid()}-0123abcd"
    dead_tmp.write_bytes(b"x")
    live = tmp_path / f".result.partial-{os.getppid()}-0123abcd"
    live.mkdir()
    other = tmp_path / f".results.partial-{dead_pid()}-0123abcd"  # another output's name
    other.mkdir()
    user = tmp_path / ".result.partial-backup"  # not our pattern
    user.mkdir()
    removed = outputs.cleanup_stale(target)
    assert sorted(removed) == sorted([dead, dead_tmp])
    assert live.exists() and other.exists() and user.exists()


def test_read_regular_file_is_bounded(tmp_path):
    big = tmp_path / "big.png"
    with open(big, "wb") as f:
        f.truncate(64 << 20)  # sparse: 64 MiB of size, no disk
    with pytest.raises(UserError, match="more than the limit of 1000 bytes"):
        read_regular_file(big, 1000, "image")
    with pytest.raises(UserError, match="not a regular file"):
        read_regular_file("/dev/zero", 1000, "image")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UserError, match="not a regular file"):  # and does not block
        read_regular_file(fifo, 1000, "image")
    with pytest.raises(UserError, match="not a regular file"):
        read_regular_file(tmp_path, 1000, "image")
    (tmp_path / "ok").write_bytes(b"abc")
    assert read_regular_file(tmp_path / "ok", 3) == b"abc"


@pytest.mark.parametrize("label, problem", [
    ("word", None), ("two words", None), ("a:b", None),
    ("", "empty label"), (" word", "leading or trailing"), ("word ", "leading or trailing"),
    ("   ", "leading or trailing"), ("a\nb", "line break"), ("a\x85b", "line break"),
    ("a\u2028b", "line break"),
])
def test_label_rule(label, problem):
    got = label_problem(label)
    assert (got is None) if problem is None else (problem in got)


# --- single-file outputs (common/outputs/single.py) -----------------------------------------

def _write(path, text):
    path.write_text(text)
    return path


def test_a_file_that_appears_mid_run_is_never_replaced(tmp_path):
    # the probe's case: crnn-recognize -o checked only at start and published by a bare rename
    target = tmp_path / "preds.tsv"
    with pytest.raises(UserError, match="appeared while this run was working"):
        with outputs.staged_new_file(target, overwrite=True, command="t") as tmp:
            _write(tmp, "ours\n")
            _write(target, "a user's file, written meanwhile\n")
    assert target.read_text() == "a user's file, written meanwhile\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["preds.tsv"]  # no temporary left


def test_two_runs_to_one_path_one_wins_the_other_loses_nothing(tmp_path):
    target = tmp_path / "preds.tsv"
    with pytest.raises(UserError, match="appeared while this run was working"):
        with outputs.staged_new_file(target, False, "t") as b:
            _write(b, "run B\n")
            with outputs.staged_new_file(target, False, "t") as a:
                _write(a, "run A\n")
    assert target.read_text() == "run A\n" and outputs.is_ours(target)
    # with --overwrite both runs may replace an earlier file of ours: the last one wins whole
    with outputs.staged_new_file(target, True, "t") as c:
        _write(c, "run C\n")
    assert target.read_text() == "run C\n" and outputs.is_ours(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".preds.tsv.crnn-deploy.json",
                                                          "preds.tsv"]


def test_ownership_needs_the_exact_bytes_this_tool_wrote(tmp_path):
    # the probe's case: any JSONL whose first key is "path" counted as ours
    user = _write(tmp_path / "mine.jsonl", '{"path": "a.png", "text": "my notes"}\n')
    assert not outputs.is_ours(user)
    with pytest.raises(UserError, match="did not write it"):
        outputs.check_file_output(user, True, outputs.is_ours(user))
    ours = tmp_path / "preds.jsonl"
    with outputs.staged_new_file(ours, False, "t") as tmp:
        _write(tmp, '{"path": "a.png", "text": "x"}\n')
    assert outputs.is_ours(ours)
    assert outputs.record_path(ours).name == ".preds.jsonl.crnn-deploy.json"
    with open(ours, "a") as f:  # a user edits our file: it is theirs now
        f.write('{"path": "b.png", "text": "added by hand"}\n')
    assert not outputs.is_ours(ours)
    with pytest.raises(UserError, match="not a file this tool wrote"):
        with outputs.staged_new_file(ours, True, "t") as tmp:
            _write(tmp, "new\n")
    assert "added by hand" in ours.read_text()


def test_no_clobber_step_without_hard_links(tmp_path):
    from crnn_deploy.common.outputs.single import _renameat2_noreplace

    a, b = _write(tmp_path / "a", "A"), _write(tmp_path / "b", "B")
    with pytest.raises(OSError) as err:
        _renameat2_noreplace(a, b)
    assert err.value.errno == 17 and b.read_text() == "B" and a.exists()
    _renameat2_noreplace(a, tmp_path / "c")
    assert (tmp_path / "c").read_text() == "A" and not a.exists()


# --- outputs of several files (common/outputs/group.py) -------------------------------------

def _pair(folder, xml: str, bin_: str):
    """Temporaries of an 'IR' (entry m.xml, companion m.bin) ready to publish."""
    tx, tb = outputs.temp_path(folder / "m.xml"), outputs.temp_path(folder / "m.bin")
    _write(tx, xml), _write(tb, bin_)
    return (tx, folder / "m.xml"), [(tb, folder / "m.bin")]


def _publish(folder, xml, bin_, overwrite=True):
    entry, comps = _pair(folder, xml, bin_)
    try:
        outputs.publish_group(entry, comps, overwrite, "t")
    finally:
        for tmp, _ in (entry, *comps):
            tmp.unlink(missing_ok=True)


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_group_takes_the_old_entry_out_first_and_links_it_last(tmp_path, monkeypatch):
    from crnn_deploy.common.outputs import group

    _publish(tmp_path, "old xml", "old bin", overwrite=False)
    record = outputs.read_record(tmp_path / "m.xml")
    assert record["file"] == "m.xml" and set(record["companions"]) == {"m.bin"}
    steps, rename, link = [], os.rename, group.link_new
    monkeypatch.setattr(os, "rename", lambda a, b: (steps.append(("aside", os.path.basename(a))),
                                                    rename(a, b))[1])
    monkeypatch.setattr(group, "link_new", lambda a, b: (steps.append(("link", b.name)),
                                                         link(a, b))[1])
    _publish(tmp_path, "new xml", "new bin")
    # no instant shows the new .bin beside the old .xml, or the new .xml beside the old .bin
    assert steps == [("aside", "m.xml"), ("aside", "m.bin"), ("link", "m.bin"), ("link", "m.xml")]
    assert (tmp_path / "m.xml").read_text() == "new xml" and (tmp_path / "m.bin").read_text() == "new bin"
    assert outputs.group_problem(tmp_path / "m.xml", [tmp_path / "m.xml", tmp_path / "m.bin"]) is None
    assert _listing(tmp_path) == [".m.xml.crnn-deploy.json", "m.bin", "m.xml"]


def test_group_interrupted_before_the_entry_puts_the_old_pair_back(tmp_path, monkeypatch):
    from crnn_deploy.common.outputs import group

    _publish(tmp_path, "old xml", "old bin", overwrite=False)
    record = outputs.record_path(tmp_path / "m.xml").read_bytes()
    link, calls = group.link_new, []

    def ctrl_c_at_the_entry(a, b):
        calls.append(b.name)
        if calls == ["m.bin", "m.xml"]:  # the new .bin is in, the new .xml not yet
            raise KeyboardInterrupt
        link(a, b)
    monkeypatch.setattr(group, "link_new", ctrl_c_at_the_entry)
    with pytest.raises(KeyboardInterrupt):
        _publish(tmp_path, "new xml", "new bin")
    assert (tmp_path / "m.xml").read_text() == "old xml" and (tmp_path / "m.bin").read_text() == "old bin"
    assert outputs.record_path(tmp_path / "m.xml").read_bytes() == record
    assert _listing(tmp_path) == [".m.xml.crnn-deploy.json", "m.bin", "m.xml"]


def test_group_refuses_a_file_that_appeared_or_is_not_ours(tmp_path):
    _write(tmp_path / "m.bin", "appeared meanwhile")
    with pytest.raises(UserError, match=r"m\.bin appeared while this run was working \(it is "
                                        r"not a file this tool wrote\)"):
        _publish(tmp_path, "xml", "bin", overwrite=False)
    assert _listing(tmp_path) == ["m.bin"] and (tmp_path / "m.bin").read_text() == "appeared meanwhile"
    (tmp_path / "m.bin").unlink()
    _write(tmp_path / "m.xml", "a user's file")  # no record: not ours (no legacy rule given)
    with pytest.raises(UserError, match=r"refusing to replace output .*m\.xml: it has no "
                                        r"ownership record \.m\.xml\.crnn-deploy\.json"):
        _publish(tmp_path, "xml", "bin")
    assert _listing(tmp_path) == ["m.xml"] and (tmp_path / "m.xml").read_text() == "a user's file"
    (tmp_path / "m.xml").unlink()
    _publish(tmp_path, "ours xml", "ours bin", overwrite=False)
    with open(tmp_path / "m.bin", "a") as f:  # our .bin edited by hand: not ours any more
        f.write(" edited")
    with pytest.raises(UserError, match=r"m\.bin: its bytes are not those recorded"):
        _publish(tmp_path, "new xml", "new bin")
    # the .xml, moved aside before the .bin was found foreign, is back: both untouched
    assert (tmp_path / "m.xml").read_text() == "ours xml"
    assert (tmp_path / "m.bin").read_text() == "ours bin edited"
    assert _listing(tmp_path) == [".m.xml.crnn-deploy.json", "m.bin", "m.xml"]


def test_group_killed_between_companion_and_entry_leaves_no_valid_looking_pair(tmp_path):
    _publish(tmp_path, "old xml", "old bin", overwrite=False)
    code = (  # SIGKILL right after the new .bin is linked, before the .xml
        "import os, signal, sys; from pathlib import Path\n"
        "from crnn_deploy.common import outputs\nfrom crnn_deploy.common.outputs import group\n"
        "link = group.link_new\n"
        "def kill(a, b):\n"
        "    if b.name == 'm.xml': os.kill(os.getpid(), signal.SIGKILL)\n"
        "    link(a, b)\n"
        "group.link_new = kill\nd = Path(sys.argv[1])\n"
        "tx, tb = outputs.temp_path(d / 'm.xml'), outputs.temp_path(d / 'm.bin')\n"
        "tx.write_text('new xml'); tb.write_text('new bin')\n"
        "outputs.publish_group((tx, d / 'm.xml'), [(tb, d / 'm.bin')], True, 't')\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)])
    assert proc.returncode == -9
    assert not (tmp_path / "m.xml").exists()  # no entry: nothing looks like a model
    assert (tmp_path / "m.bin").read_text() == "new bin"
    assert outputs.group_problem(tmp_path / "m.xml", [tmp_path / "m.xml", tmp_path / "m.bin"]) is None
    assert len(outputs.cleanup_stale(tmp_path / "m.xml")) == 2  # the old .xml, the new temporary
    with pytest.raises(UserError, match="appeared while this run was working"):
        _publish(tmp_path, "next xml", "next bin", overwrite=False)
    _publish(tmp_path, "next xml", "next bin")  # the lone .bin is ours by the record: replaced
    assert (tmp_path / "m.xml").read_text() == "next xml" and (tmp_path / "m.bin").read_text() == "next bin"
    outputs.cleanup_stale(tmp_path / "m.bin")
    assert _listing(tmp_path) == [".m.xml.crnn-deploy.json", "m.bin", "m.xml"]


def test_group_disk_full_while_publishing_leaves_the_old_pair(tmp_path, monkeypatch):
    from crnn_deploy.common import fileio

    _publish(tmp_path, "old xml", "old bin", overwrite=False)
    record = outputs.record_path(tmp_path / "m.xml").read_bytes()

    def full(*a, **k):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(fileio, "atomic_write_json", full)  # the new record cannot be written
    with pytest.raises(OSError, match="No space left"):
        _publish(tmp_path, "new xml", "new bin")
    assert (tmp_path / "m.xml").read_text() == "old xml" and (tmp_path / "m.bin").read_text() == "old bin"
    assert outputs.record_path(tmp_path / "m.xml").read_bytes() == record
    assert _listing(tmp_path) == [".m.xml.crnn-deploy.json", "m.bin", "m.xml"]
    monkeypatch.undo()
    with pytest.raises(UserError, match=r"m\.xml appeared while this run was working \(pass "
                                        r"--overwrite to replace it\)"):
        _publish(tmp_path, "new xml", "new bin", overwrite=False)


def test_a_deep_or_duplicate_record_is_not_ours(tmp_path):
    """An ownership record nested 100,000 deep (or with a duplicate key) is not ours: no
    RecursionError, the file is refused as not written by this tool."""
    from crnn_deploy.common.outputs import is_ours, record_path

    target = tmp_path / "preds.tsv"
    target.write_text("x\n")
    record_path(target).write_text('{"tool": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert is_ours(target) is False
    record_path(target).write_text('{"tool": "crnn-deploy", "tool": "crnn-deploy"}')
    assert is_ours(target) is False
