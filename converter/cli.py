"""``crnn-convert``: checkpoint -> ONNX, and ONNX -> device engines (one subcommand each).

Subcommands: ``onnx`` (PyTorch -> ONNX), ``import`` (a foreign ONNX + a spec), ``openvino`` (-> IR), ``tensorrt`` (-> plan),
``om`` (-> Ascend OM via atc), ``int8`` (-> INT8 IR / ONNX), ``all`` (everything this machine can
build, with a table), ``inspect`` (what an engine holds: :mod:`converter.inspect`). Every subcommand refuses an output that is one of its inputs or an
existing folder, and replaces an existing output only with ``--overwrite`` and only when this
tool wrote it (:mod:`converter.outputs`).
"""
from __future__ import annotations

from pathlib import Path

import click

from crnn_deploy.common.cli import group
from crnn_deploy.converter.inspect import inspect_cmd
from crnn_deploy.converter.int8.cli import quantize_cmd
from crnn_deploy.converter.onnx_export import DEFAULT_OPSET
from crnn_deploy.models.specs import SPECS

OVERWRITE_OPT = click.option(
    "--overwrite", is_flag=True,
    help="Replace existing outputs written by crnn-convert (never other files or folders).")


@group()
def main() -> None:
    """Convert CRNN checkpoints to ONNX and build device engines from ONNX.

    Every conversion is checked numerically on the same inputs (ONNX against PyTorch, engines
    against ONNX Runtime); a failed check writes no file.
    """


@main.command("onnx")
@click.option("--model", "model_name", required=True, type=click.Choice(sorted(SPECS)),
              help="Model spec (architecture, shapes, alphabet).")
@click.option("--checkpoint", required=True, type=click.Path(path_type=Path),
              help="PyTorch checkpoint (.pth): state_dict, or dict with 'state_dict'/'model'.")
@click.option("--output", required=True, type=click.Path(path_type=Path), help="ONNX file to write.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Static batch N (default 16); with --dynamic the main check size.")
@click.option("--dynamic", is_flag=True, help="Keep the batch axis dynamic.")
@click.option("--opset", type=click.IntRange(9, 20), default=DEFAULT_OPSET, show_default=True)
@click.option("--no-simplify", is_flag=True, help="Skip onnxsim.")
@click.option("--npu-lstm-gates", is_flag=True,
              help="crnn-modelzoo checkpoints trained on an Ascend NPU: reorder the LSTM gates.")
@OVERWRITE_OPT
def onnx_cmd(model_name, checkpoint, output, batch_size, dynamic, opset, no_simplify,
             npu_lstm_gates, overwrite) -> None:
    """Export CHECKPOINT to ONNX (input actual_input_1 NCHW float32, output output1 (T, B, C)).

    The result is simplified with onnxsim, validated by onnx.checker, carries the model spec
    in metadata_props, and is written only if ONNX Runtime matches PyTorch within 1e-4
    (batch N; with --dynamic also batches 1, 3 and 2N+1). A model whose width follows the word
    (english_g2) is always exported with dynamic batch and width, checked at several widths.
    """
    from crnn_deploy.converter.common import require_torch

    require_torch("crnn-convert onnx (the export from a PyTorch checkpoint)")
    from crnn_deploy.converter.onnx_export import export_onnx
    from crnn_deploy.converter.outputs import prepare_outputs
    from crnn_deploy.models.checkpoint import load_model
    from crnn_deploy.models.specs import get_spec

    inputs = {"--checkpoint": checkpoint}
    prepare_outputs([output], inputs, overwrite)  # before the slow part
    spec = get_spec(model_name)
    model = load_model(spec, checkpoint, npu_lstm_gates=npu_lstm_gates)
    diff = export_onnx(model, spec, output, batch_size=batch_size or 16, dynamic=dynamic,
                       opset=opset, simplify=not no_simplify, overwrite=overwrite,
                       inputs=inputs)
    kind = ("dynamic batch and width" if spec.dynamic_width else
            "dynamic batch" if dynamic else f"batch {batch_size or 16}")
    click.echo(f"wrote {output} ({model_name}, {kind}, opset {opset}); "
               f"ONNX Runtime vs PyTorch max abs diff {diff:.2e}")


def _report(result, reference: str = "ONNX Runtime") -> None:
    """Print what a builder wrote and its check."""
    for f in result.files:
        click.echo(f"wrote {f}")
    if result.max_diff is None:
        click.echo(f"{result.note}; {reference} parity not checked")
    else:
        rel = f" + {result.rtol:g} x max |output|" if result.rtol else ""
        bound = f" (tolerance {result.atol:g}{rel})" if result.atol is not None else ""
        click.echo(f"{result.note}; max abs diff vs {reference} {result.max_diff:.2e}{bound}")


ONNX_OPT = click.option("--onnx", "onnx_path", required=True, type=click.Path(path_type=Path),
                        help="ONNX file from `crnn-convert onnx` (spec in metadata_props).")


@main.command("openvino")
@ONNX_OPT
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="IR .xml to write (the .bin goes beside it).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Reshape to a static batch N (default: keep the ONNX batch, dynamic or not).")
@click.option("--fp16", is_flag=True,
              help="Store weights as FP16 (half the .bin); checked with tolerance 5e-2.")
@click.option("--check-gt", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="gt.txt of labelled words (not the scored set): record bf16's accuracy change "
                   "against f32 on them in the IR (read by --precision auto).")
@click.option("--check-size", type=click.IntRange(min=1), default=300, show_default=True,
              help="Words of --check-gt run, spread over the file.")
@OVERWRITE_OPT
def openvino_cmd(onnx_path, output, batch_size, fp16, check_gt, check_size, overwrite) -> None:
    """Convert ONNX to OpenVINO IR (FP32 weights unless --fp16), checked against ONNX Runtime.

    The check compiles the IR on the CPU with INFERENCE_PRECISION_HINT=f32 (tolerance
    1e-4 + 1e-5 x the largest logit, or 5e-2 with --fp16). The model spec is stored in rt_info ["crnn_deploy", "spec"].
    With --check-gt, the IR runs at f32 and bf16 on --check-size of its words and the change
    (word accuracy, texts equal to f32's, speed ratio) goes to rt_info ["crnn_deploy",
    "precision"] (converter.precision_check).
    """
    from crnn_deploy.converter.openvino_convert import convert_openvino

    _report(convert_openvino(onnx_path, output, batch_size=batch_size, fp16=fp16,
                             overwrite=overwrite, check_gt=check_gt, check_size=check_size))


@main.command("tensorrt")
@ONNX_OPT
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="Plan to write (.engine or .plan); the spec goes to OUTPUT.json.")
@click.option("--batch-size", required=True, type=click.IntRange(min=1),
              help="Main batch N: the default opt and max of the profile.")
@click.option("--min-batch", type=int, default=None, help="Profile min batch (default 1).")
@click.option("--opt-batch", type=int, default=None, help="Profile opt batch (default N).")
@click.option("--max-batch", type=int, default=None, help="Profile max batch (default N).")
@click.option("--fp16", is_flag=True, help="Allow FP16 kernels (checked with tolerance 0.1).")
@click.option("--int8", is_flag=True, help="Allow INT8 kernels, calibrated on --calib.")
@click.option("--calib", type=click.Path(path_type=Path), default=None,
              help="input_bin/ of crnn-preprocess: INT8 calibration samples (first 512).")
@click.option("--workspace", "workspace_mib", type=click.IntRange(min=1), default=1024,
              show_default=True, help="Builder workspace limit, MiB.")
@click.option("--max-width", type=click.IntRange(min=1), default=None,
              help="A width that follows the word: the profile's largest width (default the "
                   "spec's); wider words are resized to it.")
@OVERWRITE_OPT
def tensorrt_cmd(onnx_path, output, batch_size, min_batch, opt_batch, max_batch, fp16, int8,
                 calib, workspace_mib, max_width, overwrite) -> None:
    """Build a TensorRT plan from ONNX (TensorRT 10 API), checked against ONNX Runtime.

    One optimization profile on the batch axis (min/opt/max); FP32 is checked to 1e-4 at
    batches min, opt and max, FP16 to 0.1, INT8 by greedy-decode agreement >= 95 % on the
    calibration samples. Needs tensorrt + cuda-python and an NVIDIA GPU.
    """
    from crnn_deploy.converter.tensorrt_build import build_tensorrt

    _report(build_tensorrt(onnx_path, output, batch_size, min_batch, opt_batch, max_batch,
                           fp16=fp16, int8=int8, calib=calib, workspace_mib=workspace_mib,
                           overwrite=overwrite, max_width=max_width))


@main.command("om")
@ONNX_OPT
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="OM path (Y or Y.om; atc's --output); the spec goes to Y.om.json.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Static batch N (required without --dynamic-batch).")
@click.option("--soc-version", default=None,
              help="atc --soc_version, e.g. Ascend310P3 (default: read from `npu-smi info`).")
@click.option("--dynamic-batch", default=None,
              help="Batch gears of a dynamic-batch OM, e.g. 1,4,8,16 (needs the dynamic ONNX).")
@click.option("--atc", type=click.Path(path_type=Path), default=None,
              help="atc executable (default: atc on PATH).")
@click.option("--device-id", type=click.IntRange(min=0), default=0, show_default=True,
              help="NPU used for the parity check (where ais_bench is installed).")
@OVERWRITE_OPT
def om_cmd(onnx_path, output, batch_size, soc_version, dynamic_batch, atc, device_id,
           overwrite) -> None:
    """Build an Ascend OM with Huawei's atc (ModelZoo CRNN command line).

    Runs: atc --model=X.onnx --framework=5 --output=Y --input_format=NCHW
    --input_shape="actual_input_1:N,C,H,W" --log=error --soc_version=SOC
    [--dynamic_batch_size=...]. Checked against ONNX Runtime (tolerance 0.1, FP16 compute)
    where ais_bench can run the OM; otherwise written unchecked, as printed.
    """
    from crnn_deploy.converter.om import build_om

    _report(build_om(onnx_path, output, batch_size=batch_size, soc_version=soc_version,
                     dynamic_batch=dynamic_batch, atc=atc, device_id=device_id,
                     overwrite=overwrite))


@main.command("all")
@click.option("--model", "model_name", type=click.Choice(sorted(SPECS)), default=None,
              help="Model spec of --checkpoint.")
@click.option("--checkpoint", type=click.Path(path_type=Path), default=None,
              help="PyTorch checkpoint: the ONNX files are exported from it first.")
@click.option("--onnx", "onnx_path", type=click.Path(path_type=Path), default=None,
              help="Instead of --model/--checkpoint: an ONNX file carrying its spec (crnn-convert "
                   "import or onnx); the engines are named after the spec.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Batch N [default: a static --onnx's batch, else 16].")
@click.option("--outdir", type=click.Path(path_type=Path), default=Path("build"),
              show_default=True)
@click.option("--soc-version", default=None, help="atc --soc_version (default: npu-smi).")
@click.option("--atc", type=click.Path(path_type=Path), default=None,
              help="atc executable (default: atc on PATH).")
@click.option("--calib-gt", type=click.Path(path_type=Path), default=None,
              help="gt.txt of INT8 calibration images (not the scored set); without it no INT8.")
@click.option("--calib-size", type=click.IntRange(min=1), default=None,
              help="INT8 calibration images, spread evenly over --calib-gt [default: 300].")
@OVERWRITE_OPT
def all_cmd(model_name, checkpoint, onnx_path, batch_size, outdir, soc_version, atc, calib_gt,
            calib_size, overwrite) -> None:
    """Build ONNX (dynamic + static), OpenVINO IR, TensorRT plan and Ascend OM where possible.

    \b
    crnn-convert all --model nano-ocr --checkpoint weights/nano_ocr_ftr.pth
    crnn-convert all --onnx build/ppocrv4-rec.onnx --calib-gt ../shared/assets/eval_ic03_860/gt.txt

    With --calib-gt also INT8 models: an OpenVINO IR (NNCF) and a QDQ ONNX (ONNX Runtime),
    and the OpenVINO IR records bf16's accuracy change on those words (openvino --check-gt).
    With --onnx (a model imported with crnn-convert import) there is no ONNX row: every engine
    is built from that file. A model whose width follows the word keeps it dynamic in every
    engine (its static-batch ONNX row is skipped). Every output is checked first (not an
    input, not a folder; existing ones need --overwrite and must have been written by
    crnn-convert). Prints a table: engine, file, size, status (built / skipped: reason /
    failed) and the max abs diff (ONNX rows against PyTorch, engines against ONNX Runtime).
    Exits 1 after the table when an engine failed (a skipped one is not a failure).
    """
    from crnn_deploy.converter.build_all import build_all, format_table

    rows = build_all(model_name, checkpoint, batch_size=batch_size, outdir=outdir,
                     soc_version=soc_version, atc=atc, calib_gt=calib_gt, overwrite=overwrite,
                     log=lambda s: click.echo(s, err=True), onnx=onnx_path,
                     calib_size=calib_size)
    click.echo(format_table(rows))
    failed = [r for r in rows if r.status == "failed"]
    for r in failed:
        click.echo(f"\n{r.engine} failed: {r.error}", err=True)
    if failed:
        raise SystemExit(1)


@main.command("import")
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--spec", "spec_arg", required=True, metavar="PRESET|FILE",
              help="A preset name (e.g. ppocrv4-rec) or a spec JSON file (docs/MODELS.md, "
                   "'Bring your own CTC model').")
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help="ONNX file to write (the name must end in .onnx).")
@click.option("--no-simplify", is_flag=True, help="Skip onnxsim.")
@OVERWRITE_OPT
def import_cmd(model, spec_arg, output, no_simplify, overwrite) -> None:
    """Import a CTC recognizer's ONNX from anywhere (PaddleOCR/RapidOCR, mmocr, your own), or
    a text detector / angle classifier (--spec ppocrv4-det, ppocr-cls, or a spec of that kind).

    Writes OUTPUT: MODEL with the spec in metadata_props, a dynamic batch axis (and width, for
    a keep-ratio spec of dynamic width), the output as (T, N, C) with the blank at class 0,
    onnxsim's graph only if its outputs are equal, checked against MODEL with ONNX Runtime
    (max abs diff 1e-5). Every other crnn-convert subcommand, crnn-infer, crnn-eval and
    crnn-recognize then take OUTPUT. A detector keeps a dynamic batch, height and width, a
    classifier a dynamic batch; their outputs are checked against the spec ((N, 1, H, W) in
    [0, 1]; (N, len(labels)) probabilities) on page-like inputs.

    Before writing, a recognizer is run on probe inputs and checked against the spec
    (docs/SAFETY.md): output dtype and batch axis, output.layout, the class count, output.kind;
    a blank-like input that does not give output.blank is a warning on stderr. Only the spec's
    output is kept.
    """
    from crnn_deploy.converter.onnx_import import import_onnx

    r = import_onnx(model, spec_arg, output, simplify=not no_simplify, overwrite=overwrite)
    for warning in r.warnings:
        click.echo(f"Warning: {warning}", err=True)
    s = r.spec
    if s.kind != "recognizer":
        click.echo(f"wrote {output} ({s.describe()}); {r.note}; max abs diff vs {model} "
                   f"{r.max_diff:.2e}")
        return
    width = f"{s.input_shape[2]}..{s.width_max}" if s.dynamic_width else str(s.input_shape[2])
    click.echo(f"wrote {output} ({s.name}: input {s.input_name} N x {s.input_shape[0]} x "
               f"{s.input_shape[1]} x {width}, output T x N x {s.num_classes}, T = {s.seq_len} "
               f"at width {s.input_shape[2]}); {r.note or 'onnxsim skipped'}; "
               f"max abs diff vs {model} {r.max_diff:.2e}")


main.add_command(quantize_cmd)
main.add_command(inspect_cmd)

if __name__ == "__main__":
    main()
