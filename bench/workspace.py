"""crnn-bench's inputs: engines (found in the engines dir or built with crnn-convert into the work
dir), INT8 models (converter.int8, calibrated on IC03) and the test-set LMDBs (build_lmdb).

Nothing here times anything; it only makes sure the files exist and says how they were made
(:attr:`Workspace.built`, shown in the report's Reproduce section).
"""
from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.fileio import atomic_write_json, atomic_write_text

#: (key, folder under the assets dir) of the four test sets.
DATASET_DIRS = (("iiit5k", "eval_iiit5k_3000"), ("svt", "eval_svt_647"),
                ("ic03", "eval_ic03_860"), ("ic13", "eval_ic13_857"))
CALIB_DATASET = "eval_ic03_860"


def rel(path: str | Path) -> str:
    """``path`` relative to the current directory when it is below it (for the report)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _console(name: str, module: str) -> list[str]:
    """The console script ``name`` of this venv, else ``python -m module``."""
    script = Path(sys.executable).parent / name
    return [str(script)] if script.is_file() else [sys.executable, "-m", module]


@dataclass
class Workspace:
    """Where engines are looked for (``engines_dir``, then ``workdir``) and built (``workdir``).

    ``built`` lists the command of every file the bench uses from the work dir, whether this run
    made it or an earlier one did (the files are reused when present)."""

    model: str
    checkpoint: Path
    assets: Path
    workdir: Path
    engines_dir: Path
    log: Callable[[str], None] = lambda s: None
    #: shell commands (or the equivalent command of an in-process call) of everything built
    built: list[str] = field(default_factory=list)

    def _record(self, command: str) -> None:
        if command not in self.built:
            self.built.append(command)

    def _convert(self, args: list[str], output: Path) -> Path:
        cmd = _console("crnn-convert", "crnn_deploy.converter.cli") + args
        shown = "crnn-convert " + " ".join(shlex.quote(a) for a in args)
        if output.is_file():  # made by an earlier run in the work dir
            self._record(shown)
            return output
        self.log(f"building {rel(output)}: {shown}")
        output.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not output.is_file():
            raise UserError(f"`{shown}` failed (exit {proc.returncode}):\n"
                            f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
        self._record(shown)
        return output

    def onnx(self, kind: str) -> Path:
        """``{model}_dynamic.onnx`` (kind ``dynamic``) or ``{model}_bs16.onnx`` (``bs16``)."""
        name = f"{self.model}_{kind}.onnx"
        if (self.engines_dir / name).is_file():
            return self.engines_dir / name
        if not self.checkpoint.is_file():
            raise UserError(f"{name} is in neither {self.engines_dir} nor {self.workdir}, and the "
                            f"checkpoint {self.checkpoint} to build it is missing (make weights)")
        extra = ["--dynamic"] if kind == "dynamic" else ["--batch-size", kind.removeprefix("bs")]
        out = self.workdir / name
        return self._convert(["onnx", "--model", self.model, "--checkpoint", str(self.checkpoint),
                              "--output", rel(out), *extra], out)

    def ir(self, kind: str) -> Path:
        """OpenVINO FP32 IR from the ONNX of the same kind (``dynamic`` keeps the batch axis)."""
        name = f"{self.model}_{kind}.xml"
        if (self.engines_dir / name).is_file():
            return self.engines_dir / name
        src = self.onnx(kind)
        out = self.workdir / name
        extra = [] if kind == "dynamic" else ["--batch-size", kind.removeprefix("bs")]
        return self._convert(["openvino", "--onnx", rel(src), "--output", rel(out), *extra], out)

    # -- INT8 ----------------------------------------------------------------------------------
    def calib_gt(self) -> Path:
        gt = self.assets / CALIB_DATASET / "gt.txt"
        if not gt.is_file():
            raise UserError(f"INT8 calibration set not found: {gt} (set --assets / CRNN_ASSETS)")
        return gt

    def int8(self, kind: str, batch: int | None, calib_size: int) -> tuple[Path, dict]:
        """An INT8 model in the work dir, built by :func:`converter.int8.quantize` when absent
        (or built with other settings): kind ``ov`` -> ``{model}_int8_bs{batch}.xml`` (static),
        ``ort`` -> ``{model}_int8_dynamic.onnx``. Returns the path and its build record."""
        src = self.onnx("dynamic")
        calib = self.calib_gt()
        name = (f"{self.model}_int8_bs{batch}.xml" if kind == "ov"
                else f"{self.model}_int8_dynamic.onnx")
        out = self.workdir / name
        record_path = out.with_name(out.name + ".bench.json")
        wanted = {"source": str(src.resolve()), "source_mtime": src.stat().st_mtime,
                  "calib_gt": str(calib.resolve()), "calib_size": calib_size, "batch": batch}
        if out.is_file() and record_path.is_file():
            try:
                record = json.loads(record_path.read_text())
            except ValueError:
                record = {}
            if record.get("wanted") == wanted:
                self._record(record["command"])
                return out, record
        from crnn_deploy.converter.int8 import quantize

        args = ["int8", "--onnx", rel(src), "--calib-gt", rel(calib), "--calib-size",
                str(calib_size), "--output", rel(out)] + (["--batch-size", str(batch)] if batch else [])
        shown = "crnn-convert " + " ".join(shlex.quote(a) for a in args)
        self.log(f"quantizing {rel(out)} (converter.int8.quantize = {shown})")
        t0 = time.perf_counter()
        kw = {"batch_size": batch} if batch else {}
        res = quantize(src, calib, out, calib_size=calib_size, overwrite=True, **kw)
        record = {"wanted": wanted, "path": rel(out), "batch": batch, "calib_gt": rel(calib),
                  "calib_count": res.calib_count, "agreement": res.check.agreement,
                  "max_diff": res.check.max_diff, "note": res.note, "command": shown,
                  "seconds": round(time.perf_counter() - t0, 1)}
        atomic_write_json(record_path, record)
        self._record(shown)
        return out, record

    # -- test sets -----------------------------------------------------------------------------
    def lmdb(self, key: str, folder: str | Path, limit: int | None = None) -> Path:
        """``{workdir}/data/{key}.lmdb`` (or ``{key}_first{limit}.lmdb``) from a labeled set:
        ``folder`` under the assets dir holding ``gt.txt``, or the path of a user's GT file
        (``--set NAME=gt.txt``: ``relpath<TAB>label``, paths relative to it; named by the
        user on the command line, so its paths may also be absolute or leave its folder, as
        with ``build-lmdb --allow-outside-root``), built with
        :func:`preprocess.lmdb_build.build_lmdb` when absent (kept across runs: a changed
        user set needs a new NAME or a fresh work dir)."""
        from crnn_deploy.preprocess.lmdb_build import build_lmdb

        users = bool(Path(folder).suffix)  # a user's --set file, not one of the assets
        gt = Path(folder) if users else self.assets / folder / "gt.txt"
        outside = " --allow-outside-root" if users else ""
        if not gt.is_file():
            raise UserError(f"test set not found: {gt}"
                            + ("" if Path(folder).suffix else " (set --assets / CRNN_ASSETS)"))
        data = self.workdir / "data"
        out = data / (f"{key}_first{limit}.lmdb" if limit else f"{key}.lmdb")
        src = data / f"{key}_first{limit}.gt.txt" if limit else gt
        self._record(f"crnn-preprocess build-lmdb --gt {shlex.quote(rel(src))} "
                     f"--root {shlex.quote(rel(gt.parent))} --output {shlex.quote(rel(out))}"
                     f"{outside}" if limit else
                     f"crnn-preprocess build-lmdb --gt {shlex.quote(rel(gt))} "
                     f"--output {shlex.quote(rel(out))}{outside}")
        if (out / "data.mdb").is_file():
            return out
        data.mkdir(parents=True, exist_ok=True)
        if limit:
            lines = [ln for ln in gt.read_text(encoding="utf-8").splitlines() if ln.strip()]
            atomic_write_text(src, "\n".join(lines[:limit]) + "\n")
        self.log(f"building {rel(out)} from {rel(src)}")
        res = build_lmdb(src, out, root=gt.parent, log=self.log, outside_ok=users)
        if res.skipped:
            self.log(f"{rel(out)}: skipped {len(res.skipped)} bad line(s)")
        return out
