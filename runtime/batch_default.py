"""The default batch of a dynamic-batch engine on the CPU: the batch whose input fits in half
of one core's L2 cache (issue 28).

Larger batches are slower per image on a CPU once a batch's activations leave the core's L2:
measured on an AMD EPYC family 25 model 17 (Zen 4, 1 MiB L2 per core), 2 engine copies of one
thread each, PP-OCRv4 at 3 x 48 x 320 (184 KiB of input per image), images/s at batch 2 / 4 /
16: ONNX Runtime 99 / 94 / 57, OpenVINO f32 126 / 105 / 93 (``/tmp`` timing loops, 3 rounds);
whole processes, ``crnn-bench peers --peer rapidocr`` on 1,000 IIIT5K files: ONNX Runtime 73.1
(batch 2) against 48.4 (16), OpenVINO 95.4 against 79.3, RapidOCR (batch 6) 67.9. english_g2
(1 x 64 x W, W ~ 64-400) and nano-ocr (1 x 32 x 128) fit 16 images and keep 16.

The rule: the largest power of two ``n <= 16`` with ``n * C * H * W * 4`` bytes (float32 at the
spec's input width, the smallest a dynamic-width engine runs) at most half the L2 (the other
half for weights and the first layer's outputs); at least 1. L2: Linux's
``/sys/devices/system/cpu/cpu0/cache/index*/`` (level 2), else :data:`FALLBACK_L2` (1 MiB).
A GPU or NPU device keeps :data:`GPU_BATCH`.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

#: Largest default batch (and the default where the rule does not apply).
GPU_BATCH = 16
#: L2 bytes per core when Linux does not say (Zen 4, Sapphire Rapids: 1-2 MiB).
FALLBACK_L2 = 1 << 20
CACHE_DIR = Path("/sys/devices/system/cpu/cpu0/cache")


def parse_size(text: str) -> int | None:
    """sysfs cache size text (``"1024K"``, ``"2M"``, ``"512"``) -> bytes, None when unreadable."""
    text = text.strip().upper()
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    digits = text.rstrip("KMG")
    return int(digits) * scale if digits.isdigit() and int(digits) > 0 else None


@lru_cache(maxsize=1)
def l2_bytes(cache_dir: Path = CACHE_DIR) -> int:
    """Bytes of the first CPU's level-2 cache (data or unified), :data:`FALLBACK_L2` when
    Linux does not list it."""
    try:
        for index in sorted(cache_dir.glob("index*")):
            if (index / "level").read_text().strip() == "2" and \
                    (index / "type").read_text().strip() in ("Data", "Unified"):
                size = parse_size((index / "size").read_text())
                if size:
                    return size
    except (OSError, ValueError):
        pass
    return FALLBACK_L2


def default_batch(input_shape, device: str = "CPU", l2: int | None = None) -> int:
    """The default batch for one image of ``input_shape`` (C, H, W) on ``device`` (module
    docstring): a power of two in [1, 16] on a CPU, :data:`GPU_BATCH` elsewhere."""
    if not str(device).upper().startswith("CPU"):
        return GPU_BATCH
    per_image = 4
    for d in input_shape:
        per_image *= max(1, int(d))
    budget = (l2 or l2_bytes()) // 2
    n = 1
    while n * 2 <= GPU_BATCH and n * 2 * per_image <= budget:
        n *= 2
    return n
