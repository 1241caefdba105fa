"""``crnn-convert int8``: the command line of :func:`converter.int8.sequence.quantize`."""
from __future__ import annotations

from pathlib import Path

import click

from crnn_deploy.common.cli import command
from crnn_deploy.converter.int8.calibration import DEFAULT_CALIB_SIZE
from crnn_deploy.converter.int8.routes import route_for
from crnn_deploy.converter.int8.sequence import DEFAULT_MIN_AGREEMENT, quantize


@command("int8")
@click.option("--onnx", "onnx_path", required=True, type=click.Path(path_type=Path),
              help="FP32 ONNX written by `crnn-convert onnx` (spec in metadata_props).")
@click.option("--calib-gt", required=True, type=click.Path(path_type=Path),
              help="gt.txt of the calibration images (relpath<TAB>label); not the scored set.")
@click.option("--calib-root", type=click.Path(path_type=Path), default=None,
              help="Folder of the calibration images [default: the folder of --calib-gt].")
@click.option("--calib-size", type=click.IntRange(min=1), default=DEFAULT_CALIB_SIZE,
              show_default=True, help="Calibration images, spread evenly over --calib-gt.")
@click.option("--output", required=True, type=click.Path(path_type=Path),
              help=".xml: OpenVINO INT8 IR (NNCF); .onnx: INT8 QDQ ONNX (ONNX Runtime).")
@click.option("--overwrite", is_flag=True,
              help="Replace an existing --output written by crnn-convert (never another file).")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Static batch. .xml: default the ONNX's, else 16 (the IR is always static); "
                   ".onnx: default keep the ONNX's batch axis.")
@click.option("--preset", type=click.Choice(["mixed", "performance"]), default="mixed",
              show_default=True, help=".xml: NNCF preset (performance: symmetric activations).")
@click.option("--quantize-lstm", is_flag=True,
              help=".xml: quantize the LSTM too (default: float; INT8 LSTMSequence wrecks "
                   "nano-ocr on OpenVINO 2026.4).")
@click.option("--activation-range", type=click.Choice(["minmax", "mean_minmax"]),
              default="minmax", show_default=True,
              help=".xml: NNCF activation ranges: over all images (minmax), or the mean of the "
                   "per-image ranges (mean_minmax: clips outliers; PP-OCRv4 needs it, "
                   "docs/PPOCRV4.md).")
@click.option("--activation-type", type=click.Choice(["uint8", "int8"]), default="uint8",
              show_default=True, help=".onnx: activation type (weights are int8, per channel).")
@click.option("--min-agreement", type=click.FloatRange(0.0, 1.0), default=DEFAULT_MIN_AGREEMENT,
              show_default=True,
              help="Floor of the greedy-decode agreement with FP32 on the calibration images.")
def quantize_cmd(onnx_path, calib_gt, calib_root, calib_size, output, overwrite, batch_size,
                 preset, quantize_lstm, activation_range, activation_type, min_agreement) -> None:
    """INT8 post-training quantization of an FP32 ONNX, calibrated on real images.

    The images of --calib-gt are preprocessed with the model's training transform. The result
    is checked against the FP32 ONNX on them (max abs diff of the logits, greedy-decode
    agreement) and written only if the agreement reaches --min-agreement.
    """
    route = route_for(output)
    options = {"openvino": {"preset": preset, "activation_range": activation_range,
                            **({"ignored_types": ()} if quantize_lstm else {})},
               "onnxruntime": {"activation_type": activation_type}}[route.name]
    result = quantize(onnx_path, calib_gt, output, calib_root=calib_root, calib_size=calib_size,
                      batch_size=batch_size, min_agreement=min_agreement, overwrite=overwrite,
                      **options)
    check = result.check
    click.echo(f"wrote {', '.join(map(str, result.files))} ({result.note}); calibrated on "
               f"{result.calib_count} images of {result.calib_gt}"
               + (f" ({result.calib_skipped} unreadable, skipped)" if result.calib_skipped else ""))
    click.echo(f"INT8 vs FP32 on the calibration images: greedy-decode agreement "
               f"{check.agreement:.1%} ({check.count} images, floor {min_agreement:.0%}), "
               f"max abs logit diff {check.max_diff:.3g}")
