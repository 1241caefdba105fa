"""The one quantize-and-check sequence of every INT8 route (``crnn-convert int8``).

1. refuse an output that is an input, a folder, or an existing file without ``--overwrite``
   (:func:`converter.outputs.prepare_outputs`);
2. read the FP32 ONNX's spec and batch, and the calibration images;
3. let the route (:mod:`converter.int8.routes`) quantize into a hidden work folder beside the
   output (``.{name}.tmp-{pid}-{rand}``, common.outputs.temp_dir);
4. check the saved INT8 model against the FP32 ONNX on the calibration images, each opened once
   as a runtime backend (:func:`converter.parity.compare_on_images`; a width that follows the
   word: each image at its own width, batches grouped by width): max abs diff of the
   (T, N, C) logits, and the greedy-decode agreement (share of images whose best-path CTC
   strings are identical). Below ``min_agreement`` nothing is written;
5. publish the files (:func:`converter.outputs.publish_outputs`: an IR's ``.bin`` before its
   ``.xml``, checked again, never over a file that appeared meanwhile).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.outputs import temp_dir
from crnn_deploy.converter.common import read_onnx_info
from crnn_deploy.converter.int8.calibration import DEFAULT_CALIB_SIZE, read_calibration
from crnn_deploy.converter.int8.routes import route_for
from crnn_deploy.converter.outputs import prepare_outputs, publish_outputs
from crnn_deploy.converter.parity import (
    CheckResult,
    compare_on_images,
    enforce_agreement,
    onnx_runner,
)

#: Default floor of the greedy-decode agreement INT8 vs FP32 on the calibration images.
DEFAULT_MIN_AGREEMENT = 0.90


@dataclass
class QuantizeResult:
    """One quantized model written.

    Attributes:
        path: the model file (``.xml`` or ``.onnx``).
        files: every file written (``.bin`` and ``.xml``, or the ``.onnx``).
        check: INT8 vs FP32 on the calibration images (``max_diff`` in logit units).
        calib_gt: the ``gt.txt`` of the calibration images; ``calib_count``: how many were used;
            ``calib_skipped``: listed images that could not be read (and were replaced).
        note: the quantization settings, for the user.
    """

    path: Path
    files: list[Path]
    check: CheckResult
    calib_gt: Path
    calib_count: int
    calib_skipped: int = 0
    note: str = ""


def quantize(onnx_path: str | Path, calib_gt: str | Path, output: str | Path, *,
             calib_root: str | Path | None = None, calib_size: int = DEFAULT_CALIB_SIZE,
             batch_size: int | None = None, min_agreement: float = DEFAULT_MIN_AGREEMENT,
             overwrite: bool = False, **options) -> QuantizeResult:
    """Quantize the FP32 ONNX ``onnx_path`` to ``output`` by the route of its suffix, checked.

    Args:
        onnx_path: ONNX written by ``crnn-convert onnx`` (input (N, C, H, W) float32, output
            (T, N, C) logits, the spec in ``metadata_props``).
        calib_gt: ``gt.txt`` of the calibration images (``relpath<TAB>label``); use another
            dataset than the scored one.
        output: ``.xml`` (OpenVINO INT8 IR, NNCF) or ``.onnx`` (QDQ ONNX, ONNX Runtime).
        calib_root: folder of the images (default: the folder of ``calib_gt``).
        calib_size: number of calibration images (>= 1), spread evenly over ``calib_gt``.
        batch_size: static batch (see the route's quantizer; None: its default).
        min_agreement: floor in [0, 1] of the greedy-decode agreement with FP32.
        overwrite: replace an existing ``output`` written by this tool.
        options: the route's own options (``preset``, ``ignored_types``, ``activation_type``...).

    Raises:
        UserError: another suffix, the SDK missing, an output that may not be written, an
            unreadable ONNX / calibration list, no readable image, a bad option or batch, a
            quantizer failure, or agreement below ``min_agreement`` (then no file is written).
    """
    onnx_path, output = Path(onnx_path), Path(output)
    route = route_for(output)
    prepare_outputs([output], {"--onnx": onnx_path, "--calib-gt": calib_gt}, overwrite,
                    companions=[output.with_suffix(s) for s in route.companions])
    quantizer = route.load()
    info = read_onnx_info(onnx_path)
    if info.spec.kind != "recognizer":  # calibration reads word images with a recognizer's spec
        raise UserError(f"{onnx_path} holds a {info.spec.kind} ({info.spec.name}); INT8 "
                        "quantization is calibrated for recognizers")
    calib = read_calibration(calib_gt, info.spec, calib_size, calib_root)
    with temp_dir(output) as work:
        made = quantizer(info, calib, work, batch_size=batch_size, **options)
        from crnn_deploy.runtime.registry import open_backend

        with onnx_runner(info.path) as fp32, open_backend(made.model) as int8:
            check = compare_on_images(info.spec, calib.images, fp32, int8, calib.files)
        enforce_agreement(check, min_agreement, f"{route.what} {output}", "FP32")
        staged = [(tmp, output.with_suffix(suffix)) for tmp, suffix in made.files]
        publish_outputs(output, staged, overwrite)  # companions before the entry, no clobber
        files = [final for _, final in staged]
    return QuantizeResult(path=output, files=files, check=check, calib_gt=calib.gt,
                          calib_count=len(calib.files), calib_skipped=len(calib.skipped),
                          note=made.note)
