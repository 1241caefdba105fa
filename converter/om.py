"""ONNX -> Ascend offline model (``.om``) with Huawei's ``atc``, plus its sidecar ``Y.om.json``.

The command line is the one of the Ascend ModelZoo-PyTorch CRNN_for_PyTorch README (and
``sdk_infer/convert/atc.sh``)::

    atc --model=crnn.onnx --framework=5 --output=crnn_bs16 --input_format=NCHW \\
        --input_shape="actual_input_1:16,1,32,100" --log=error --soc_version=Ascend310P3

``--framework=5`` is ONNX; the shape comes from the spec (nano-ocr: ``N,1,32,128``). For a
dynamic-batch OM the batch is ``-1`` and ``--dynamic_batch_size="1,4,8,16"`` lists the gears.
The SoC is read from ``npu-smi info`` when not given: the ``Name`` column of an NPU row
(``910B3`` -> ``Ascend910B3``, ``310P3`` -> ``Ascend310P3``).

The OM is checked against ONNX Runtime with ais_bench when it is importable (an NPU machine);
atc's default ``precision_mode`` computes convolutions in FP16, hence :data:`OM_ATOL` (stated,
not measured here). Where ais_bench is absent the OM is written unchecked and the result says so.
atc writes into a hidden work folder beside the output; the OM and its sidecar are published
from there sidecar first, OM last (:func:`converter.outputs.publish_outputs`).
"""
from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from pathlib import Path

import numpy as np

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs import temp_dir
from crnn_deploy.converter.common import BuildResult, check_static_batch, read_onnx_info, source_record
from crnn_deploy.converter.outputs import prepare_outputs, publish_outputs
from crnn_deploy.converter.parity import compare, onnx_runner
from crnn_deploy.models.specs import ModelSpec, sidecar_path, write_sidecar
from crnn_deploy.runtime.widths import default_widths

OM_ATOL = 0.1
STDERR_TAIL_LINES = 20
SOC_PLACEHOLDER = "SOC_VERSION"  # shown in the would-be command when no SoC is known


def parse_dynamic_batch(text: str) -> list[int]:
    """``"1,4,8,16"`` -> [1, 4, 8, 16]. Raises UserError unless >= 2 distinct ints >= 1."""
    try:
        gears = [int(t) for t in str(text).replace(" ", "").split(",") if t]
    except ValueError:
        raise UserError(f"--dynamic-batch {text!r}: expected comma-separated integers, "
                        "e.g. 1,4,8,16") from None
    if len(gears) < 2 or len(set(gears)) != len(gears) or min(gears) < 1:
        raise UserError(f"--dynamic-batch {text!r}: need at least 2 distinct batch sizes >= 1 "
                        "(atc --dynamic_batch_size)")
    return sorted(gears)


def atc_args(onnx_path: str | Path, output_prefix: str | Path, spec: ModelSpec,
             batch_size: int | None, soc_version: str, dynamic_batch: list[int] | None = None,
             atc: str = "atc", widths: list[int] | None = None,
             image_sizes: list[tuple[int, int]] | None = None) -> list[str]:
    """The atc argument list (argv, no shell quoting) of the ModelZoo command.

    Args:
        output_prefix: atc's ``--output`` (atc appends ``.om``).
        batch_size: the static batch N (ignored with ``dynamic_batch``).
        dynamic_batch: the gears of a dynamic-batch OM (input batch -1).
        widths: the width gears of a dynamic-width spec (``--dynamic_image_size``, static batch;
            atc allows one kind of gear per model).
        image_sizes: (H, W) gears of a detector (:func:`det_image_sizes`), static batch.
    """
    n = -1 if dynamic_batch else batch_size
    if widths:  # a recognizer's width gears at its height
        image_sizes = [(spec.input_shape[1], w) for w in widths]
    if image_sizes:  # atc's dynamic image size: H and W are -1 in the shape, the gears list (H, W)
        dims = (n, 3 if spec.kind == "detector" else spec.input_shape[0], -1, -1)
    else:
        dims = (n, *spec.input_shape)
    shape = ",".join(str(d) for d in dims)
    args = [str(atc), f"--model={onnx_path}", "--framework=5", f"--output={output_prefix}",
            "--input_format=NCHW", f"--input_shape={spec.input_name}:{shape}", "--log=error",
            f"--soc_version={soc_version}"]
    if dynamic_batch:
        args.append(f"--dynamic_batch_size={','.join(map(str, dynamic_batch))}")
    if image_sizes:
        args.append("--dynamic_image_size=" + ";".join(f"{h},{w}" for h, w in image_sizes))
    return args


#: the sides of a detector's OM image-size gears (every (H, W) pair of them up to the spec's
#: ``max_side``): 736 is ppocrv4-det's ``limit_side_len``; a page runs at the smallest gear that
#: holds it (padded on the bottom and right), one compiled shape per gear (atc allows 100)
DET_GEAR_SIDES = (736, 1024, 1408, 2048)


def det_image_sizes(spec, sides: tuple[int, ...] = DET_GEAR_SIDES) -> list[tuple[int, int]]:
    """The (H, W) gears of a detector's OM: every pair of ``sides`` (rounded up to the spec's
    ``input.multiple``, plus its ``limit_side_len``) that fits ``input.max_side``."""
    m = spec.input.multiple
    ok = sorted({-(-s // m) * m for s in (*sides, spec.input.limit_side_len)
                 if -(-s // m) * m <= spec.input.max_side})
    return [(h, w) for h in ok for w in ok]


def soc_from_npu_smi(text: str) -> str:
    """The atc ``--soc_version`` of the first NPU in ``npu-smi info`` output.

    An NPU row is ``| <npu id>  <Name> | <Health> | ...``; its chip row below has a number
    in place of the name and is skipped, as is the process table.

    Raises:
        UserError: no NPU row found.
    """
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3:
            continue
        parts = cells[0].split()
        if len(parts) == 2 and parts[0].isdigit() and not parts[1].isdigit() \
                and parts[1][:1].isdigit():
            return "Ascend" + parts[1]
    raise UserError("no NPU found in `npu-smi info` output; pass --soc-version "
                    "(e.g. Ascend310P3, Ascend910B3)")


def detect_soc(npu_smi: str = "npu-smi") -> str:
    """Run ``npu-smi info`` and return the SoC (see :func:`soc_from_npu_smi`).

    Raises:
        UserError: npu-smi absent or failing (pass --soc-version then), or no NPU listed.
    """
    exe = shutil.which(npu_smi)
    if exe is None:
        raise UserError("--soc-version not given and npu-smi (Ascend driver) not found to read "
                        "it; pass --soc-version, e.g. Ascend310P3 or Ascend910B3")
    proc = subprocess.run([exe, "info"], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise UserError(f"`npu-smi info` failed (exit {proc.returncode}): "
                        f"{proc.stderr.strip()[-500:]}; pass --soc-version")
    return soc_from_npu_smi(proc.stdout)


def find_atc(atc: str | Path | None = None) -> str | None:
    """The atc executable: ``atc`` if given (must be executable), else ``atc`` on PATH, else None.

    Raises:
        UserError: an explicit ``atc`` that is not an executable file.
    """
    if atc is not None:
        path = Path(atc)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise UserError(f"--atc {atc}: not an executable file")
        return str(path.resolve())
    return shutil.which("atc")


def om_prefix(output: str | Path) -> Path:
    """``Y`` or ``Y.om`` -> the prefix ``Y`` given to atc's ``--output``."""
    output = Path(output)
    return output.with_suffix("") if output.suffix.lower() == ".om" else output


def _tail(text: str, lines: int = STDERR_TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def width_steps(onnx_path: Path, spec: ModelSpec, widths: list[int]) -> dict[int, int]:
    """Width gear -> T of the model at that width (one ONNX Runtime run each): the OM's
    output buffer is sized for its largest gear, so T cannot be read from it."""
    from crnn_deploy.converter.parity import ort_run

    c, h, _ = spec.input_shape
    return {w: int(ort_run(onnx_path, np.zeros((1, c, h, w), np.float32)).shape[0]) for w in widths}


def _check(path: Path, spec: ModelSpec, onnx_path: Path, batch: int | None,
           gears: list[int] | None, device_id: int, steps: dict | None = None
           ) -> tuple[float | None, str]:
    from crnn_deploy.runtime.ascend_backend import OmSession, unavailable_reason

    reason = unavailable_reason()
    if reason:
        return None, f"not checked: {reason}"
    if steps:
        return None, "not checked: width gears (the ONNX Runtime comparison runs one width)"
    session = OmSession(path, spec.output_shape, gears, device_id)
    try:
        batches = [batch]
        if gears:  # every gear, and one batch between gears (zero-padded to the next gear)
            batches = gears + [g + 1 for g in gears[:1] if g + 1 not in gears]
        with onnx_runner(onnx_path) as reference:
            diff = compare(f"OM vs ONNX Runtime for {path}", spec, batches, reference, session,
                           atol=OM_ATOL)
    finally:
        session.close()
    return diff, f"checked on NPU {device_id}"


def build_om(onnx_path: str | Path, output: str | Path, batch_size: int | None = None,
             soc_version: str | None = None, dynamic_batch: str | list[int] | None = None,
             atc: str | Path | None = None, device_id: int = 0,
             overwrite: bool = False) -> BuildResult:
    """Run atc on ``onnx_path``; write ``Y.om`` and ``Y.om.json``; check it where ais_bench is.

    ``overwrite`` replaces an existing ``Y.om`` written by this tool (with its sidecar).

    Raises:
        UserError: bad options; an output that may not be written
            (:func:`converter.outputs.prepare_outputs`); atc absent (the message holds the exact command that would
            have run); atc failing (the tail of its stderr); no SoC found; a failed check.
    """
    info = read_onnx_info(onnx_path)
    spec = info.spec
    gears = parse_dynamic_batch(dynamic_batch) if isinstance(dynamic_batch, str) else dynamic_batch
    widths = sizes = None
    if spec.kind == "detector":  # (H, W) gears; each page runs at the smallest that holds it
        if gears:
            raise UserError("a detector uses atc's image-size gears (--dynamic_image_size), "
                            "which atc does not combine with --dynamic-batch: give --batch-size")
        sizes = det_image_sizes(spec)
    elif spec.kind == "recognizer" and spec.dynamic_width:  # a small set of widths; every batch runs at the smallest that fits
        if gears:
            raise UserError("a width that follows the word uses atc's width gears "
                            "(--dynamic_image_size), which atc does not combine with "
                            "--dynamic-batch: give --batch-size")
        widths = default_widths(spec)
        spec = spec.with_changes(width_max=widths[-1])
    if gears:
        if batch_size is not None and batch_size not in gears:
            raise UserError(f"--batch-size {batch_size} is not one of --dynamic-batch {gears}")
        check_static_batch(info, None, "a dynamic-batch OM")
    else:
        if batch_size is None:
            raise UserError("--batch-size is required without --dynamic-batch")
        check_static_batch(info, batch_size, "this OM")
    prefix = om_prefix(output).absolute()
    final = prefix.with_name(prefix.name + ".om")
    prepare_outputs([final], {"--onnx": onnx_path, "--atc": atc}, overwrite,
                    companions=[sidecar_path(final)])
    exe = find_atc(atc)
    if exe is None:
        cmd = atc_args(info.path.absolute(), prefix, spec, batch_size,
                       soc_version or SOC_PLACEHOLDER, gears, widths=widths, image_sizes=sizes)
        raise UserError("atc (Huawei CANN toolkit) not found on PATH; install CANN and run "
                        "`source /usr/local/Ascend/ascend-toolkit/set_env.sh`, or pass --atc PATH. "
                        f"The command would have been:\n  {shlex.join(cmd)}"
                        + ("" if soc_version else f"\n({SOC_PLACEHOLDER}: the chip, e.g. Ascend310P3, "
                                                  "from the Name column of `npu-smi info`)"))
    soc = soc_version or detect_soc()
    with temp_dir(final) as work:
        tmp_prefix = Path(work) / prefix.name
        cmd = atc_args(info.path.absolute(), tmp_prefix, spec, batch_size, soc, gears, atc=exe,
                       widths=widths, image_sizes=sizes)
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work)
        if proc.returncode != 0:
            tails = [f"--- atc {name} (last lines) ---\n{_tail(text)}"
                     for name, text in (("stdout", proc.stdout), ("stderr", proc.stderr))
                     if text.strip()]
            raise UserError(f"atc failed (exit {proc.returncode}) for {final}:\n  "
                            f"{shlex.join(cmd)}\n" + "\n".join(tails or ["(atc printed nothing)"]))
        made = sorted(Path(work).glob(f"{prefix.name}*.om"))
        if len(made) != 1:
            raise UserError(f"atc reported success but wrote {len(made)} .om files in {work} "
                            f"(expected {tmp_prefix}.om); its output:\n{_tail(proc.stdout)}")
        steps = width_steps(info.path, spec, widths) if widths else None
        if spec.kind != "recognizer":  # OmSession reads (T, N, C) outputs
            diff, note = None, f"not checked: the OM of a {spec.kind} has no NPU parity run yet"
        else:
            diff, note = _check(made[0], spec, info.path, batch_size, gears, device_id, steps)
        batch_info = {"dynamic_batch": gears} if gears else {"batch_size": batch_size}
        if sizes:
            batch_info["image_sizes"] = sizes
        if steps:
            batch_info["widths"] = steps
        side = Path(work) / "sidecar.json"
        write_sidecar(final, spec, path=side, soc_version=soc, onnx=str(info.path),
                      source=source_record("onnx", info.path, info.source),
                      max_abs_diff=diff, check=note, **batch_info,
                      atc_command=shlex.join(atc_args(info.path.absolute(), prefix, spec,
                                                      batch_size, soc, gears, widths=widths,
                                                      image_sizes=sizes)))
        publish_outputs(final, [(side, sidecar_path(final)), (made[0], final)],  # sidecar first
                        overwrite)
    kind = f"dynamic batch {gears}" if gears else f"batch {batch_size}"
    return BuildResult(path=final, max_diff=diff, atol=OM_ATOL if diff is not None else None,
                       note=f"{soc}, {kind}, {note}",
                       files=[final, sidecar_path(final)])
