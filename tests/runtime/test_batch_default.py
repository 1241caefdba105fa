"""runtime.batch_default: the CPU default batch fits a batch's input in half a core's L2."""
from __future__ import annotations

import pytest

from crnn_deploy.runtime.batch_default import FALLBACK_L2, default_batch, l2_bytes, parse_size

MIB = 1 << 20


@pytest.mark.parametrize("shape, l2, want", [
    ((3, 48, 320), MIB, 2),        # PP-OCRv4 rec: 184 KiB per image
    ((3, 48, 320), 2 * MIB, 4),    # a 2 MiB L2 (Sapphire Rapids)
    ((1, 64, 64), MIB, 16),        # english_g2 at its smallest width
    ((1, 32, 128), MIB, 16),       # nano-ocr
    ((3, 48, 3200), MIB, 1),       # one image above the budget still runs, alone
])
def test_default_batch_on_the_cpu(shape, l2, want):
    assert default_batch(shape, "CPU", l2=l2) == want


def test_default_batch_elsewhere_is_16():
    assert default_batch((3, 48, 320), "GPU", l2=MIB) == 16


def test_l2_read_from_sysfs_and_fallback(tmp_path):
    for k, (level, kind, size) in enumerate([("1", "Data", "32K"), ("1", "Instruction", "32K"),
                                             ("2", "Unified", "2048K"), ("3", "Unified", "32M")]):
        d = tmp_path / f"index{k}"
        d.mkdir()
        (d / "level").write_text(level + "\n")
        (d / "type").write_text(kind + "\n")
        (d / "size").write_text(size + "\n")
    assert l2_bytes.__wrapped__(tmp_path) == 2 * MIB
    assert l2_bytes.__wrapped__(tmp_path / "none") == FALLBACK_L2
    assert parse_size("1024K") == MIB and parse_size("2M") == 2 * MIB and parse_size("x") is None
