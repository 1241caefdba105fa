"""crnn-postprocess end to end on a synthetic RESULT_DIR (nano-ocr spec: T = 33, C = 66)."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from crnn_deploy.postprocess.cli import main

# (label in label.txt, text the crafted logits decode to)
SAMPLES = {
    1: ("Hello", "Hello"),  # right, also case-sensitively
    2: ("WORLD", "world"),  # right (case folded), wrong case-sensitively
    3: ("a:b", "ab"),  # label with ':'; right (':' dropped), wrong case-sensitively
    4: ("test", "tost"),  # wrong: 1 edit over 4 characters
    5: ("x-1 y", "x-1 y"),  # right; '-' and ' ' are classes of nano-ocr
}
EXPECTED_BYTES = 33 * 66 * 4  # 8712


@pytest.fixture
def make_dir(tmp_path, nano, path_logits, text_path):
    """make_dir(meta='top'|'nested'|None, fmt='bin'|'npy') -> (result_dir, label_txt)."""

    def make(meta="top", fmt="bin"):
        rd = tmp_path / "result"
        rd.mkdir()
        lines = []
        for i, (label, pred) in SAMPLES.items():
            x = path_logits(text_path(pred), nano.alphabet, t=nano.seq_len, seed=i)
            x = x[:, None, :]  # (T, 1, C), as runtime writes it
            if fmt == "bin":
                x.astype("<f4").tofile(rd / f"test_{i}_0.bin")
            else:
                np.save(rd / f"test_{i}_0.npy", x)
            lines.append(f"test_{i}.bin:{label}")
        if meta == "top":
            (rd / "meta.json").write_text(json.dumps(nano.to_dict()))
        elif meta == "nested":
            (rd / "meta.json").write_text(json.dumps({"spec": nano.to_dict(), "count": 5}))
        (rd / "summary.json").write_text('{"throughput": 1.0}')
        (rd / "test_99_0.bin").write_bytes(b"xyz")  # not listed: ignored
        label_txt = tmp_path / "label.txt"
        label_txt.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return rd, label_txt

    return make


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_user_error(result, *fragments):
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # a ClickException, not a crash
    assert "Traceback" not in result.output
    assert "Error: " in result.output
    for frag in fragments:
        assert frag in result.output, (frag, result.output)


@pytest.mark.parametrize("meta, fmt", [("top", "bin"), ("nested", "bin"), ("top", "npy")])
def test_end_to_end(make_dir, meta, fmt):
    rd, label_txt = make_dir(meta=meta, fmt=fmt)
    result = run(rd, label_txt)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "word accuracy (latin): 80.00% (4/5)"
    assert lines[1] == "word accuracy (case-sensitive): 40.00% (2/5)"
    assert lines[2] == "mean normalized edit distance (latin): 0.0500 (lower is better)"
    assert lines[3].startswith("character error rate (latin): 5.26% (1/19 ")
    acc = json.loads((rd / "accuracy.json").read_text(encoding="utf-8"))
    assert (acc["total"], acc["correct"], acc["missing"]) == (5, 4, 0)
    assert acc["word_accuracy"] == pytest.approx(0.8)
    assert acc["word_accuracy_case_sensitive"] == pytest.approx(0.4)
    assert acc["mean_ned"] == pytest.approx(0.05)
    assert acc["cer"] == pytest.approx(1 / 19)
    assert acc["alphabet"].endswith(".- ") and len(acc["alphabet"]) == 65
    with (rd / "errors.tsv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    # no names.txt here: the sample is named by its file (else by its source path)
    assert rows[0] == ["source", "label", "prediction", "confidence", "error"]
    assert [r[:3] for r in rows[1:]] == [["test_4.bin", "test", "tost"]]
    assert 0 < float(rows[1][3]) <= 1 and rows[1][4] == ""
    assert not [p for p in rd.iterdir() if p.name.endswith(".tmp")]


def test_model_option_without_meta(make_dir):
    rd, label_txt = make_dir(meta=None)
    result = run(rd, label_txt, "--model", "nano-ocr")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("word accuracy (latin): 80.00% (4/5)\n")


def test_alphabet_option_infers_t_from_size(make_dir, nano):
    rd, label_txt = make_dir(meta=None)
    result = run(rd, label_txt, "--alphabet", nano.alphabet)
    assert result.exit_code == 0, result.output
    acc = json.loads((rd / "accuracy.json").read_text(encoding="utf-8"))
    assert acc["seq_len"] == 33 and acc["correct"] == 4


def test_alphabet_option_changes_the_characters(make_dir, nano):
    rd, label_txt = make_dir()
    shifted = nano.alphabet.swapcase()  # same size, upper <-> lower
    result = run(rd, label_txt, "--alphabet", shifted)
    assert result.exit_code == 0, result.output
    # predictions become hELLO, WORLD, AB, TOST, X-1 Y: only WORLD still matches exactly
    assert "word accuracy (case-sensitive): 20.00% (1/5)" in result.output
    assert result.output.startswith("word accuracy (latin): 80.00% (4/5)\n")


def test_missing_file_is_named(make_dir):
    rd, label_txt = make_dir()
    (rd / "test_3_0.bin").unlink()
    result = run(rd, label_txt)
    assert_user_error(result, "1 of 5", "test_3_0.bin", "--allow-missing")
    assert not (rd / "accuracy.json").exists()


def test_allow_missing_scores_the_rest(make_dir):
    rd, label_txt = make_dir()
    (rd / "test_4_0.bin").unlink()
    (rd / "test_2_0.bin").unlink()
    result = run(rd, label_txt, "--allow-missing")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("word accuracy (latin): 100.00% (3/3)\n")
    assert "missing: 2 " in result.output
    acc = json.loads((rd / "accuracy.json").read_text(encoding="utf-8"))
    assert (acc["total"], acc["correct"], acc["missing"], acc["listed"]) == (3, 3, 2, 5)


def test_all_missing_even_with_allow_missing(make_dir):
    rd, label_txt = make_dir()
    for p in rd.glob("test_[1-5]_0.bin"):
        p.unlink()
    assert_user_error(run(rd, label_txt, "--allow-missing"), "none of the 5 result files")


def test_wrong_size_names_file_and_expected_bytes(make_dir):
    rd, label_txt = make_dir()
    (rd / "test_2_0.bin").write_bytes(b"\0" * (EXPECTED_BYTES - 4))
    result = run(rd, label_txt, "--allow-missing")  # a wrong size is never "missing"
    assert_user_error(result, "test_2_0.bin", "8708 bytes", "(33, 1, 66) = 8712 bytes")


def test_wrong_npy_shape_is_named(make_dir):
    rd, label_txt = make_dir(fmt="npy")
    np.save(rd / "test_5_0.npy", np.zeros((26, 1, 37), np.float32))
    assert_user_error(run(rd, label_txt), "test_5_0.npy", "(26, 1, 37)", "8712 bytes")


def test_bad_label_line_names_line_number(make_dir):
    rd, label_txt = make_dir()
    lines = label_txt.read_text().splitlines()
    lines.insert(2, "test_9.bin no colon here")
    label_txt.write_text("\n".join(lines) + "\n")
    assert_user_error(run(rd, label_txt), "line 3", "test_9.bin no colon here")


def test_empty_label_file(make_dir):
    rd, label_txt = make_dir()
    label_txt.write_text("\n")
    assert_user_error(run(rd, label_txt), "has no entries")


def test_duplicate_label_entry(make_dir):
    rd, label_txt = make_dir()
    label_txt.write_text(label_txt.read_text() + "test_1.bin:again\n")
    assert_user_error(run(rd, label_txt), "line 6", "already listed on line 1")


def test_missing_label_file_and_result_dir(make_dir, tmp_path):
    rd, label_txt = make_dir()
    assert_user_error(run(rd, tmp_path / "nope.txt"), "nope.txt", "not found")
    assert_user_error(run(tmp_path / "no_such_dir", label_txt), "no_such_dir", "does not exist")


def test_inconsistent_alphabet_with_meta(make_dir):
    rd, label_txt = make_dir()
    result = run(rd, label_txt, "--alphabet", "0123456789abcdefghijklmnopqrstuvwxyz")
    assert_user_error(result, "36 characters", "C = 37", "C = 66")


def test_inconsistent_alphabet_without_meta(make_dir):
    rd, label_txt = make_dir(meta=None)
    result = run(rd, label_txt, "--alphabet", "0123456789abcdefghijklmnopqrstuvwxyz")
    assert_user_error(result, "test_1_0.bin", "8712 bytes", "multiple of 148 bytes", "C = ")


def test_model_disagrees_with_meta(make_dir):
    rd, label_txt = make_dir()
    assert_user_error(run(rd, label_txt, "--model", "crnn"), "(26, 37)", "(33, 66)")


def test_unknown_model(make_dir):
    rd, label_txt = make_dir()
    assert_user_error(run(rd, label_txt, "--model", "vgg"), "unknown model 'vgg'", "nano-ocr")


def test_model_and_alphabet_together(make_dir):
    rd, label_txt = make_dir()
    assert_user_error(run(rd, label_txt, "--model", "nano-ocr", "--alphabet", "ab"), "not both")


def test_missing_meta_without_options(make_dir):
    rd, label_txt = make_dir(meta=None)
    assert_user_error(run(rd, label_txt), "meta.json not found", "--model", "--alphabet")


def test_incomplete_meta(make_dir):
    rd, label_txt = make_dir()
    (rd / "meta.json").write_text('{"spec": {"name": "x"}}')
    assert_user_error(run(rd, label_txt), "meta.json", "incomplete model spec")
    (rd / "meta.json").write_text("{not json")
    assert_user_error(run(rd, label_txt), "meta.json", "is not usable JSON")


def _script() -> list[str]:
    exe = Path(sys.executable).with_name("crnn-postprocess")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "crnn_deploy.postprocess.cli"]


def test_console_script_success_and_error(make_dir):
    rd, label_txt = make_dir()
    ok = subprocess.run([*_script(), str(rd), str(label_txt)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[0] == "word accuracy (latin): 80.00% (4/5)"
    (rd / "test_1_0.bin").write_bytes(b"\0" * 8)
    bad = subprocess.run([*_script(), str(rd), str(label_txt)], capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error: result file ") and "test_1_0.bin" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_postprocess_does_not_import_torch():
    code = "import sys, postprocess, postprocess.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def _predictions(rd):
    with (rd / "predictions.tsv").open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t"))


def test_predictions_with_labels_and_confidence(make_dir, nano):
    rd, label_txt = make_dir()
    assert run(rd, label_txt).exit_code == 0
    rows = _predictions(rd)
    assert rows[0] == ["file", "source", "text", "confidence"]
    assert [r[:3] for r in rows[1:]] == [[f"test_{i}.bin", "", pred]
                                         for i, (_, pred) in SAMPLES.items()]
    for i, (_, pred) in SAMPLES.items():  # independent: softmax max at the emitting steps
        x = np.fromfile(rd / f"test_{i}_0.bin", dtype="<f4").reshape(33, 66).astype(np.float64)
        p = np.exp(x - x.max(1, keepdims=True))
        p = (p / p.sum(1, keepdims=True)).max(1)
        assert float(rows[i][3]) == pytest.approx(p[0:2 * len(pred):2].mean(), abs=1e-6)


def test_no_labels_predictions_only(make_dir):
    rd, _ = make_dir()
    names = "".join(f"test_{i}.bin\tword_{i}.png\n" for i in (5, 1, 2))
    (rd / "names.txt").write_text(names, encoding="utf-8")
    result = run(rd)
    assert result.exit_code == 0, result.output
    assert "not scored" in result.output and "accuracy" not in result.output
    assert not (rd / "accuracy.json").exists() and not (rd / "errors.tsv").exists()
    rows = _predictions(rd)
    assert [r[:3] for r in rows[1:]] == [["test_5.bin", "word_5.png", "x-1 y"],
                                         ["test_1.bin", "word_1.png", "Hello"],
                                         ["test_2.bin", "word_2.png", "world"]]

    (rd / "names.txt").unlink()  # no names: every result file, natural order
    assert_user_error(run(rd), "test_99_0.bin", "8712 bytes")  # the junk file is named
    (rd / "test_99_0.bin").unlink()
    assert run(rd).exit_code == 0
    assert [r[0] for r in _predictions(rd)[1:]] == [f"test_{i}.bin" for i in range(1, 6)]
