"""Data safety of every crnn-convert subcommand (converter.outputs, on common.outputs), on real
files.

An output is never an input (same path, symlink, ``..`` spelling, hard link); an existing
output is replaced only with --overwrite and only when crnn-convert wrote it; a folder is never
an output; temporaries (an IR's ``.bin`` beside its ``.xml`` included) are removed on failure,
those of killed runs on the next run; files are published world-readable; NaN/Inf checkpoints
are named as such.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
import torch
from click.testing import CliRunner

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs import (
    cleanup_stale,
    publish_file,
    record_path,
    temp_file,
    temp_path,
)
from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.converter.outputs import ownership_problem, prepare_outputs
from crnn_deploy.models.arch import build_model

ROOT = Path(__file__).resolve().parents[2]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _run(*args) -> object:
    res = CliRunner().invoke(convert_cli, [str(a) for a in args])
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "crnn.pth"
    torch.save(build_model("crnn").state_dict(), path)
    return path


def _aliases(target: Path, folder: Path) -> dict[str, Path]:
    """Four spellings of ``target``: itself, a symlink, a ``..`` path, a hard link."""
    sub = folder / "sub"
    sub.mkdir(exist_ok=True)
    link, hard = folder / f"link{target.suffix}", folder / f"hard{target.suffix}"
    for p in (link, hard):
        p.unlink(missing_ok=True)
    link.symlink_to(target)
    os.link(target, hard)
    return {"same": target, "symlink": link, "dotdot": sub / ".." / target.name, "hardlink": hard}


@pytest.mark.parametrize("alias", ["same", "symlink", "dotdot", "hardlink"])
def test_onnx_output_equal_to_checkpoint_is_refused(tmp_path, ckpt, alias):
    own = tmp_path / "crnn.pth"
    shutil.copy(ckpt, own)
    before = _sha(own)
    out = _aliases(own, tmp_path)[alias]
    res = _run("onnx", "--model", "crnn", "--checkpoint", own, "--output", out, "--overwrite")
    assert res.exit_code == 1
    assert "is the input --checkpoint" in res.output and "never writes over its own input" \
        in res.output
    assert _sha(own) == before


@pytest.mark.parametrize("alias", ["same", "symlink", "dotdot", "hardlink"])
def test_engine_outputs_equal_to_the_onnx_are_refused(tmp_path, crnn_onnx, alias):
    """openvino (its .bin), tensorrt, om, int8: each output vs --onnx, every spelling."""
    for suffix, args in ((".bin", ["openvino", "--output", tmp_path / "m.xml"]),
                         (".engine", ["tensorrt", "--batch-size", "16"]),
                         (".om", ["om", "--batch-size", "16"]),
                         (".onnx", ["int8", "--calib-gt", tmp_path / "gt.txt"])):
        src = tmp_path / f"m{suffix}"
        shutil.copy(crnn_onnx["bs16"], src)
        before = _sha(src)
        out = _aliases(src, tmp_path)[alias]
        if suffix == ".bin":  # the IR's weights file beside --output m.xml would be the input
            res = _run(*args, "--onnx", out, "--overwrite")
        else:
            res = _run(*args, "--onnx", src, "--output", out, "--overwrite")
        assert res.exit_code == 1, (suffix, res.output)
        assert "is the input --onnx" in res.output, (suffix, res.output)
        assert _sha(src) == before
        for p in tmp_path.glob("*"):
            if p.is_file() and p.suffix == suffix:
                p.unlink()


def test_all_refuses_an_outdir_output_that_is_the_checkpoint(tmp_path, ckpt):
    own = tmp_path / "crnn_dynamic.onnx"  # a checkpoint with an unlucky name
    shutil.copy(ckpt, own)
    res = _run("all", "--model", "crnn", "--checkpoint", own, "--outdir", tmp_path,
               "--batch-size", "4", "--overwrite")
    assert res.exit_code == 1 and "is the input --checkpoint" in res.output
    assert _sha(own) == _sha(ckpt)


def test_an_output_inside_an_input_folder_is_refused(tmp_path):
    calib = tmp_path / "input_bin"
    calib.mkdir()
    (calib / "test_1.bin").write_bytes(b"x")
    with pytest.raises(UserError, match=r"lies inside the input --calib .*input_bin: a command "
                                        "never writes over or around its own input"):
        prepare_outputs([calib / "m.engine"], {"--calib": calib, "--onnx": tmp_path / "m.onnx"})
    assert sorted(p.name for p in calib.iterdir()) == ["test_1.bin"]
    prepare_outputs([tmp_path / "m.engine"], {"--calib": calib})  # beside it is fine


def test_existing_output_needs_overwrite_and_must_be_ours(tmp_path, ckpt, crnn_onnx):
    out = tmp_path / "crnn.onnx"
    args = ("onnx", "--model", "crnn", "--checkpoint", ckpt, "--output", out, "--batch-size", "2")
    assert _run(*args).exit_code == 0
    first = _sha(out)
    record = json.loads(record_path(out).read_text())
    assert (record["file"], record["sha256"], record["size"]) == ("crnn.onnx", first,
                                                                 out.stat().st_size)
    res = _run(*args)
    assert res.exit_code == 1 and f"output {out} exists; pass --overwrite" in res.output
    assert _sha(out) == first
    os.utime(out, (0, 0))
    assert _run(*args, "--overwrite").exit_code == 0  # ours: replaced
    assert out.stat().st_mtime > 0 and ownership_problem(out) is None
    assert json.loads(record_path(out).read_text())["sha256"] == _sha(out)

    # foreign files of the same name are never replaced, --overwrite or not; nor is a model
    # that carries our spec but is not the file recorded (another run's, copied here)
    model = onnx.load(str(out))
    del model.metadata_props[:]
    onnx.save(model, str(out))
    shutil.copy(crnn_onnx["bs16"], tmp_path / "copy.onnx")
    for foreign in (out.read_bytes(), (tmp_path / "copy.onnx").read_bytes(), b"my notes\n"):
        out.write_bytes(foreign)
        res = _run(*args, "--overwrite")
        assert res.exit_code == 1
        assert (f"refusing to overwrite {out}: its bytes are not those recorded in "
                ".crnn.onnx.crnn-deploy.json") in res.output
        assert out.read_bytes() == foreign


def test_a_model_without_ownership_record_is_judged_by_its_content(tmp_path, ckpt):
    """Files of crnn-convert versions before the records: `make demo`'s --overwrite keeps
    replacing its own engines; anything else is refused as before."""
    out = tmp_path / "crnn.onnx"
    args = ("onnx", "--model", "crnn", "--checkpoint", ckpt, "--output", out, "--batch-size", "2")
    assert _run(*args).exit_code == 0
    record_path(out).unlink()
    assert _run(*args, "--overwrite").exit_code == 0 and record_path(out).is_file()
    record_path(out).unlink()
    model = onnx.load(str(out))
    del model.metadata_props[:]
    onnx.save(model, str(out))
    res = _run(*args, "--overwrite")
    assert res.exit_code == 1
    assert f"refusing to overwrite {out}: its metadata_props carry no 'crnn_deploy.spec'" \
        in res.output
    out.write_text("my notes\n")
    res = _run(*args, "--overwrite")
    assert res.exit_code == 1 and "not a readable ONNX file" in res.output
    assert out.read_text() == "my notes\n"


@pytest.mark.parametrize("overwrite", [False, True])
def test_an_onnx_that_appears_mid_run_is_not_replaced(tmp_path, ckpt, monkeypatch, overwrite):
    from crnn_deploy.converter import onnx_export

    out = tmp_path / "crnn.onnx"
    compare = onnx_export.compare

    def user_writes_meanwhile(*a, **k):  # during the parity check, after the start checks
        out.write_text("a user's file, written meanwhile\n")
        return compare(*a, **k)
    monkeypatch.setattr(onnx_export, "compare", user_writes_meanwhile)
    res = _run("onnx", "--model", "crnn", "--checkpoint", ckpt, "--output", out,
               "--batch-size", "2", *(["--overwrite"] if overwrite else []))
    assert res.exit_code == 1 and f"wrote {out}" not in res.output
    assert (f"refusing to replace output {out}: it is not a readable ONNX" if overwrite else
            f"output {out} appeared while this run was working") in res.output
    assert out.read_text() == "a user's file, written meanwhile\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crnn.onnx"]  # no temporary, no record


def test_two_concurrent_onnx_runs_to_one_path_one_wins(tmp_path, ckpt):
    out = tmp_path / "crnn.onnx"
    cmd = [str(Path(sys.executable).parent / "crnn-convert"), "onnx", "--model", "crnn",
           "--checkpoint", str(ckpt), "--output", str(out), "--batch-size", "2"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(), *p.communicate()) for p in procs]
    assert sorted(code for code, _, _ in results) == [0, 1], results
    (_, won, _), (_, _, lost) = sorted(results)
    assert won.startswith(f"wrote {out}") and lost.startswith("Error: ") and "Traceback" not in lost
    assert ("appeared while this run was working" in lost or "exists; pass --overwrite" in lost)
    assert ownership_problem(out) is None  # the record holds the winner's bytes
    assert sorted(p.name for p in tmp_path.iterdir()) == [".crnn.onnx.crnn-deploy.json",
                                                          "crnn.onnx"]


def test_foreign_ir_and_engine_are_refused(tmp_path, crnn_onnx):
    pytest.importorskip("openvino")
    import openvino as ov

    xml = tmp_path / "m.xml"
    ov.save_model(ov.convert_model(str(crnn_onnx["bs16"])), str(xml))  # no crnn_deploy rt_info
    res = _run("openvino", "--onnx", crnn_onnx["bs16"], "--output", xml, "--overwrite")
    assert res.exit_code == 1 and "its rt_info has no crnn_deploy/spec" in res.output
    xml.unlink()
    res = _run("openvino", "--onnx", crnn_onnx["bs16"], "--output", xml)
    assert res.exit_code == 1 and "m.bin (written with the output) exists" in res.output
    assert _run("openvino", "--onnx", crnn_onnx["bs16"], "--output", xml, "--overwrite"
                ).exit_code == 1  # a lone .bin is not provably ours
    (tmp_path / "m.bin").unlink()
    assert _run("openvino", "--onnx", crnn_onnx["bs16"], "--output", xml).exit_code == 0
    assert ownership_problem(xml) is None
    assert _run("openvino", "--onnx", crnn_onnx["bs16"], "--output", xml, "--overwrite"
                ).exit_code == 0

    plan = tmp_path / "m.engine"
    plan.write_bytes(b"somebody's plan")
    res = _run("tensorrt", "--onnx", crnn_onnx["dynamic"], "--output", plan, "--batch-size", "4",
               "--overwrite")
    assert res.exit_code == 1 and "it has no sidecar m.engine.json" in res.output
    assert plan.read_bytes() == b"somebody's plan"


def test_an_ir_pair_is_replaced_only_whole_and_only_when_ours(tmp_path, crnn_onnx, monkeypatch):
    pytest.importorskip("openvino")
    from crnn_deploy.converter import openvino_convert

    xml, bin_ = tmp_path / "m.xml", tmp_path / "m.bin"
    args = ("openvino", "--onnx", crnn_onnx["bs16"], "--output", xml)
    assert _run(*args).exit_code == 0
    record = json.loads(record_path(xml).read_text())
    assert record["companions"] == {"m.bin": [bin_.stat().st_size, _sha(bin_)]}
    assert _run(*args, "--overwrite").exit_code == 0  # our pair: replaced
    with open(bin_, "ab") as f:  # our .bin edited by hand: not ours any more
        f.write(b"\0")
    before = (_sha(xml), _sha(bin_))
    res = _run(*args, "--overwrite")
    assert res.exit_code == 1 and (f"refusing to overwrite {bin_} (written with the output): "
                                   "its bytes are not those recorded") in res.output
    assert (_sha(xml), _sha(bin_)) == before
    for p in (xml, bin_, record_path(xml)):
        p.unlink()
    compare = openvino_convert.compare

    def user_writes_meanwhile(*a, **k):  # after the start checks
        bin_.write_bytes(b"a user's weights")
        return compare(*a, **k)
    monkeypatch.setattr(openvino_convert, "compare", user_writes_meanwhile)
    res = _run(*args)
    assert res.exit_code == 1 and f"output {bin_} appeared while this run was working" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.bin"]  # no .xml, record, temporary
    assert bin_.read_bytes() == b"a user's weights"


@pytest.mark.parametrize("cmd", ["onnx", "openvino", "tensorrt", "om", "int8"])
def test_a_folder_as_output_is_an_error(tmp_path, crnn_onnx, ckpt, cmd):
    folder = tmp_path / {"onnx": "o.onnx", "openvino": "o.xml", "tensorrt": "o.engine",
                         "om": "o.om", "int8": "o.onnx"}[cmd]
    folder.mkdir()
    (folder / "keep.txt").write_text("x")
    args = {"onnx": ["--model", "crnn", "--checkpoint", ckpt],
            "openvino": ["--onnx", crnn_onnx["bs16"]],
            "tensorrt": ["--onnx", crnn_onnx["bs16"], "--batch-size", "16"],
            "om": ["--onnx", crnn_onnx["bs16"], "--batch-size", "16"],
            "int8": ["--onnx", crnn_onnx["bs16"], "--calib-gt", tmp_path / "gt.txt"]}[cmd]
    res = _run(cmd, *args, "--output", folder, "--overwrite")
    assert res.exit_code == 1 and f"Error: output {folder} is an existing folder" in res.output
    assert (folder / "keep.txt").read_text() == "x"


def test_temporaries_of_dead_runs_are_removed_live_ones_kept(tmp_path, ckpt):
    out = tmp_path / "crnn.onnx"
    # a temporary left by a process that is gone (as after a SIGKILL): made by a child process
    code = ("import sys; from pathlib import Path; from common.outputs import temp_path; "
            "p = temp_path(Path(sys.argv[1])); p = p.with_name(p.name + '.onnx'); "
            "p.write_bytes(b'half'); print(p)")
    dead = Path(subprocess.run([sys.executable, "-c", code, str(out)], cwd=ROOT, check=True,
                               capture_output=True, text=True).stdout.strip())
    assert dead.is_file() and dead.name.startswith(".crnn.onnx.tmp-") and dead.suffix == ".onnx"
    live = out.with_name(f".crnn.onnx.tmp-{os.getppid()}-0123abcd.onnx")  # a running process
    live.write_bytes(b"in progress")
    other = tmp_path / ".crnn.onnx.notapid.tmp"
    other.write_bytes(b"not ours")
    res = _run("onnx", "--model", "crnn", "--checkpoint", ckpt, "--output", out,
               "--batch-size", "2")
    assert res.exit_code == 0, res.output
    assert not dead.exists() and live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [out.name, record_path(out).name, live.name, other.name])
    assert cleanup_stale(out) == []
    assert re.fullmatch(rf"\.crnn\.onnx\.tmp-{os.getpid()}-[0-9a-f]{{8}}", temp_path(out).name)


def test_temp_file_is_beside_and_removed_with_what_the_writer_put_beside_it(tmp_path):
    final = tmp_path / "sub" / "m.xml"
    with temp_file(final, ".xml") as tmp:
        assert tmp.parent == final.parent and tmp.name.startswith(".m.xml.tmp-")
        assert tmp.suffix == ".xml" and not tmp.exists()  # a name only: the writer creates it
        tmp.write_text("half")
        tmp.with_suffix(".bin").write_bytes(b"weights")  # as OpenVINO's save_model does
    assert list(final.parent.iterdir()) == []
    with pytest.raises(RuntimeError), temp_file(final, ".xml") as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert list(final.parent.iterdir()) == []


def test_publish_renames_world_readable(tmp_path):
    final = tmp_path / "m.engine"
    final.write_text("old")
    with temp_file(final) as tmp:
        tmp.write_text("new")
        os.chmod(tmp, 0o600)  # as mkstemp or atc leave it
        publish_file(tmp, final)
    assert final.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["m.engine"]
    assert stat.S_IMODE(os.stat(final).st_mode) == 0o644


def test_nan_and_inf_weights_are_named(tmp_path):
    torch.manual_seed(0)
    sd = build_model("crnn").state_dict()
    sd["cnn.conv3.weight"][0, 0, 0, 0] = float("nan")
    sd["rnn.1.embedding.bias"][5] = float("inf")
    ckpt = tmp_path / "diverged.pth"
    torch.save(sd, ckpt)
    out = tmp_path / "x.onnx"
    res = _run("onnx", "--model", "crnn", "--checkpoint", ckpt, "--output", out)
    assert res.exit_code == 1
    assert f"checkpoint {ckpt} holds NaN/Inf values in 2 of {len(sd)} tensors" in res.output
    assert "cnn.conv3.weight" in res.output and "rnn.1.embedding.bias" in res.output
    assert "max abs diff" not in res.output and not out.exists()


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_dangling_symlinked_output_is_refused(tmp_path, ckpt, overwrite):
    """crnn-convert never writes through a symlink at its output, dangling or not."""
    link = tmp_path / "crnn.onnx"
    link.symlink_to(tmp_path / "elsewhere" / "deep" / "crnn.onnx")
    res = _run("onnx", "--model", "crnn", "--checkpoint", ckpt, "--output", link,
               *(["--overwrite"] if overwrite else []))
    assert res.exit_code == 1 and "dangling symbolic link" in res.output, res.output
    assert not (tmp_path / "elsewhere").exists() and link.is_symlink()


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "sub/../../x", "link/x"])
def test_outputs_named_from_a_file_stay_inside_the_outdir(tmp_path, name):
    """crnn-convert all names outputs OUT/{spec name}_bsN.*: whatever the name, each must
    resolve inside OUT (a symlink inside OUT pointing out of it included)."""
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "link").symlink_to(tmp_path)
    with pytest.raises(UserError, match="outside the folder"):
        prepare_outputs([outdir / f"{name}_bs16.xml"], {}, within=outdir,
                        companions=[outdir / f"{name}_bs16.bin"])
    prepare_outputs([outdir / "m_bs16.xml"], {}, within=outdir)  # a plain name is fine
    assert sorted(os.listdir(tmp_path)) == ["out"]  # nothing created anywhere
