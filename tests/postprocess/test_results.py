"""Reading label.txt, meta.json and result files (library level, below the CLI)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.postprocess.results import (
    decode_result_dir,
    read_labels,
    read_meta_spec,
    resolve_alphabet,
    result_stem,
)


def test_read_labels_keeps_colons_spaces_and_handles_crlf_bom(tmp_path):
    p = tmp_path / "label.txt"
    p.write_bytes("\ufefftest_1.bin:a:b:c\r\ntest_2.bin:inner space\r\n\r\ntest_3.bin:x\n"
                  .encode("utf-8"))
    assert read_labels(p) == [("test_1.bin", "a:b:c"), ("test_2.bin", "inner space"),
                              ("test_3.bin", "x")]


@pytest.mark.parametrize("line, words", [("test_2.bin: lead and trail ", "label has leading or trailing"),
                                         ("test_2.bin:", "empty label")])
def test_read_labels_applies_the_build_lmdb_label_rule(tmp_path, line, words):
    """The rule of build-lmdb (common.inputs.label_problem), named with the real file name."""
    p = tmp_path / "my_labels.txt"
    p.write_text(f"test_1.bin:ok\n{line}\n", encoding="utf-8")
    with pytest.raises(UserError, match=f"my_labels.txt line 2: {words}"):
        read_labels(p)


def test_read_labels_empty_name_and_bad_encoding(tmp_path):
    p = tmp_path / "label.txt"
    p.write_text("test_1.bin:x\n:y\n")
    with pytest.raises(UserError, match="line 2"):
        read_labels(p)
    p.write_bytes(b"test_1.bin:\xff\xfe\n")
    with pytest.raises(UserError, match="cannot read label file"):
        read_labels(p)


def test_result_stem():
    assert result_stem("test_7.bin") == "test_7"
    assert result_stem("input_bin/test_12.bin") == "test_12"
    assert result_stem("test_3") == "test_3"


def test_meta_spec_as_json_string(tmp_path, nano):
    (tmp_path / "meta.json").write_text(json.dumps({"spec": nano.to_json(), "count": 3}))
    assert read_meta_spec(tmp_path) == nano
    assert resolve_alphabet(tmp_path) == (nano.alphabet, 33, 66)
    assert read_meta_spec(tmp_path / "sub") is None


def test_decode_in_small_chunks_keeps_order(tmp_path, path_logits, text_path):
    alphabet = "abc"
    words = ["a", "bb", "", "cab", "c", "aa", "b"]
    entries = []
    for i, w in enumerate(words):
        path_logits(text_path(w), alphabet, t=7, seed=i).tofile(tmp_path / f"s{i}_0.bin")
        entries.append((f"s{i}.bin", w.upper()))
    for chunk in (1, 3, 100):
        out = decode_result_dir(tmp_path, entries, alphabet, None, chunk=chunk)
        assert [s[2] for s in out.samples] == words
        assert [s[1] for s in out.samples] == [w.upper() for w in words]
        assert out.seq_len == 7 and out.missing == []


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_result_file_with_nan_or_inf_is_an_error_naming_it(tmp_path, bad):
    # the probe's case: an engine that returns NaN gave "" with confidence 0, inf random text
    good = np.zeros((4, 1, 3), np.float32)
    good.tofile(tmp_path / "s_0.bin")
    x = good.copy()
    x[1, 0, 2] = bad
    x.tofile(tmp_path / "t_0.bin")
    with pytest.raises(UserError, match=r"1 result file\(s\) hold NaN or inf \(first: .*t_0.bin\)"):
        decode_result_dir(tmp_path, [("s.bin", "x"), ("t.bin", "x")], "ab", 4)


def test_unreadable_result_is_user_error(tmp_path):
    (tmp_path / "t_0.bin").mkdir()  # a folder where a file is expected
    with pytest.raises(UserError, match="result file .*t_0.bin is not a regular file"):
        decode_result_dir(tmp_path, [("t.bin", "x")], "ab", 4)


@pytest.mark.parametrize("kind", ["fifo", "huge_bin", "huge_npy_header"])
def test_a_result_file_is_bounded_by_the_largest_t_times_c(tmp_path, kind, nano):
    """A FIFO does not hang; a file above the largest (T, 1, C) the spec allows is refused
    before it is read; an .npy header claiming a huge shape allocates nothing."""
    import os

    c = nano.num_classes
    path = tmp_path / ("t_0.npy" if kind == "huge_npy_header" else "t_0.bin")
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "huge_bin":
        with open(path, "wb") as f:
            f.truncate(1 << 30)  # sparse: 1 GiB
    else:
        header = {"descr": "<f4", "fortran_order": False, "shape": (1 << 40, 1, c)}
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(b"\0" * 64)
    with pytest.raises(UserError, match=r"t_0\.(bin|npy) (is not a regular file|has \d+ bytes, "
                                        r"more than the limit|has shape)"):
        decode_result_dir(tmp_path, [("t.bin", "x")], nano.alphabet, nano.seq_len, spec=nano)


@pytest.mark.parametrize("kind", ["fifo", "deep", "duplicate", "dev_zero"])
def test_meta_json_is_read_bounded_and_guarded(tmp_path, kind, nano):
    import os

    meta = tmp_path / "meta.json"
    if kind == "fifo":
        os.mkfifo(meta)
    elif kind == "deep":
        meta.write_text('{"spec": ' + "[" * 100_000 + "]" * 100_000 + "}")
    elif kind == "duplicate":
        meta.write_text(json.dumps({"spec": nano.to_dict()})[:-1] + ', "spec": "other"}')
    else:
        meta.symlink_to("/dev/zero")
    with pytest.raises(UserError, match=r"result meta .*meta.json"):
        read_meta_spec(tmp_path)
