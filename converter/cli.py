"""``crnn-convert``: checkpoint -> ONNX, and ONNX -> device engines (one subcommand each)."""
from __future__ import annotations

from pathlib import Path

import click

from converter.onnx_export import DEFAULT_OPSET
from models.specs import SPECS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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
def onnx_cmd(model_name, checkpoint, output, batch_size, dynamic, opset, no_simplify,
             npu_lstm_gates) -> None:
    """Export CHECKPOINT to ONNX (input actual_input_1 NCHW float32, output output1 (T, B, C)).

    The result is simplified with onnxsim, validated by onnx.checker, carries the model spec
    in metadata_props, and is written only if ONNX Runtime matches PyTorch within 1e-4
    (batch N; with --dynamic also batches 1, 3 and 2N+1).
    """
    from converter.onnx_export import export_onnx
    from models.checkpoint import load_model
    from models.specs import get_spec

    spec = get_spec(model_name)
    model = load_model(spec, checkpoint, npu_lstm_gates=npu_lstm_gates)
    diff = export_onnx(model, spec, output, batch_size=batch_size or 16, dynamic=dynamic,
                       opset=opset, simplify=not no_simplify)
    kind = "dynamic batch" if dynamic else f"batch {batch_size or 16}"
    click.echo(f"wrote {output} ({model_name}, {kind}, opset {opset}); "
               f"ONNX Runtime vs PyTorch max abs diff {diff:.2e}")


if __name__ == "__main__":
    main()
