"""Metrics against hand-computed cases, and the report writer."""
from __future__ import annotations

import csv
import json

import pytest

from crnn_deploy.postprocess.metrics import (
    compute_metrics,
    edit_distance,
    format_metrics,
    metric_notes,
    normalize_standard,
    normalized_edit_distance,
    score_samples,
    write_report,
)


@pytest.mark.parametrize(
    "raw, norm",
    [
        ("Hello", "hello"),
        ("Don't-Stop 2!", "dontstop2"),
        ("A.B-C D", "abcd"),
        ("Café", "caf"),  # non-ASCII letters are outside [0-9a-z]
        ("...", ""),
        ("", ""),
    ],
)
def test_normalize_standard(raw, norm):
    assert normalize_standard(raw) == norm


@pytest.mark.parametrize(
    "a, b, d",
    [
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("", "abc", 3),
        ("abc", "", 3),
        ("abc", "abc", 0),
        ("abcd", "abxde", 2),
        ("ab", "ba", 2),  # no transpositions in Levenshtein
    ],
)
def test_edit_distance(a, b, d):
    assert edit_distance(a, b) == d
    assert edit_distance(b, a) == d


def test_normalized_edit_distance():
    assert normalized_edit_distance("", "") == 0.0
    assert normalized_edit_distance("abc", "") == 1.0
    assert normalized_edit_distance("abcd", "abxde") == pytest.approx(2 / 5)
    assert normalized_edit_distance("world", "word") == pytest.approx(1 / 5)


def test_compute_metrics_case_folding_and_punctuation():
    labels = ["Hello", "World!", "abc", "", "x-1", "Don't"]
    preds = ["hello", "word", "ABC", "", "X1", "Dont"]
    m = compute_metrics(preds, labels)
    assert m["total"] == 6
    assert m["correct"] == 5  # only world/word differs after lowercasing and dropping [^0-9a-z]
    assert m["word_accuracy"] == pytest.approx(5 / 6)
    assert m["correct_case_sensitive"] == 1  # only "" == ""
    assert m["word_accuracy_case_sensitive"] == pytest.approx(1 / 6)
    assert m["edit_distance"] == 1
    assert m["gt_chars"] == 19  # hello world abc - x1 dont
    assert m["mean_ned"] == pytest.approx(0.2 / 6)
    assert m["cer"] == pytest.approx(1 / 19)


def test_compute_metrics_ned_and_cer():
    m = compute_metrics(["abxde", ""], ["abcd", "ab"])
    assert (m["correct"], m["correct_case_sensitive"]) == (0, 0)
    assert m["mean_ned"] == pytest.approx((2 / 5 + 2 / 2) / 2)
    assert m["edit_distance"] == 4 and m["gt_chars"] == 6
    assert m["cer"] == pytest.approx(4 / 6)


def test_cer_undefined_without_gt_chars():
    m = compute_metrics(["", "a"], ["!", ""])
    assert m["gt_chars"] == 0 and m["cer"] is None
    assert m["mean_ned"] == pytest.approx(0.5)  # ("", "") -> 0, ("", "a") -> 1
    assert m["correct"] == 1


def test_compute_metrics_rejects_bad_input():
    with pytest.raises(ValueError, match="2 predictions but 1 labels"):
        compute_metrics(["a", "b"], ["a"])
    with pytest.raises(ValueError, match="no samples"):
        compute_metrics([], [])


def test_score_samples_lists_protocol_errors_in_order():
    samples = [("t1.bin", "Hi!", "hi"), ("t2.bin", "abc", "abd"), ("t3.bin", "Q", "q"),
               ("t4.bin", "x:y", "xz")]
    m, errors = score_samples(samples)
    assert m["correct"] == 2 and m["total"] == 4
    assert errors == [("t2.bin", "abc", "abd"), ("t4.bin", "x:y", "xz")]


def test_format_metrics_first_line():
    m = {"total": 3000, "correct": 2328, "word_accuracy": 2328 / 3000,
         "correct_case_sensitive": 2100, "word_accuracy_case_sensitive": 0.7,
         "mean_ned": 0.07123, "cer": 0.0512, "edit_distance": 1234, "gt_chars": 24100}
    lines = format_metrics(m, missing=2)
    assert lines[0] == "word accuracy (latin): 77.60% (2328/3000)"
    assert lines[1] == "word accuracy (case-sensitive): 70.00% (2100/3000)"
    assert lines[2] == "mean normalized edit distance (latin): 0.0712 (lower is better)"
    assert lines[3].startswith("character error rate (latin): 5.12% (1234/24100")
    assert lines[4].startswith("missing: 2 ")


def test_write_report(tmp_path):
    samples = [("t1.bin", "ok", "ok"), ("t2.bin", "a\tb", "ab "), ("t3.bin", 'q"x', "y")]
    m, errors = score_samples(samples)
    acc, err = write_report(tmp_path, m, errors, missing=3, alphabet="ab ",
                            extra={"seq_len": 33})
    assert acc == tmp_path / "accuracy.json" and err == tmp_path / "errors.tsv"
    data = json.loads(acc.read_text(encoding="utf-8"))
    assert data["total"] == 3 and data["correct"] == 2 and data["missing"] == 3
    assert data["word_accuracy"] == pytest.approx(2 / 3)
    assert data["alphabet"] == "ab " and data["seq_len"] == 33
    for key in ("word_accuracy_case_sensitive", "mean_ned", "cer"):
        assert key in data
    with err.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t"))
    assert rows == [["source", "label", "prediction", "confidence", "error"],
                    ["t3.bin", 'q"x', "y", "", ""]]
    # "a\tb" vs "ab " is correct under the protocol, so it is not an error row
    assert sorted(p.name for p in tmp_path.iterdir()) == ["accuracy.json", "errors.tsv"]


def test_write_report_overwrites_and_escapes_tabs(tmp_path):
    (tmp_path / "errors.tsv").write_text("old\n")
    _, err = write_report(tmp_path, compute_metrics(["x"], ["a\tb"]), [("t.bin", "a\tb", "x")])
    assert err.read_text(encoding="utf-8") == ('source\tlabel\tprediction\tconfidence\terror\n'
                                               't.bin\ta\\tb\tx\t\t\n')


def test_unreadable_images_count_against_the_score(tmp_path):
    """The denominator is every labeled sample: an image that could not be read is wrong."""
    samples = [("a.png", "ok", "ok", 0.9), ("b.png", "no", "na", 0.4)]
    m, errors = score_samples(samples, [("c.png", "gone", "cannot identify image")])
    assert (m["total"], m["correct"], m["unreadable"]) == (3, 1, 1)
    assert m["word_accuracy"] == pytest.approx(1 / 3)
    assert errors == [("b.png", "no", "na", 0.4), ("c.png", "gone", "", None,
                                                   "cannot identify image")]
    assert "unreadable: 1 labeled image(s) could not be read or decoded; counted as wrong" \
        in format_metrics(m)
    _, err = write_report(tmp_path, m, errors)
    assert err.read_text(encoding="utf-8").splitlines()[1:] == [
        "b.png\tno\tna\t0.400000\t", "c.png\tgone\t\t\tcannot identify image"]


def test_edit_distance_matches_full_table_on_random_strings():
    import random

    def full_table(a, b):
        d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                              d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
        return d[-1][-1]

    rnd = random.Random(3)
    pairs = [("".join(rnd.choice("aab") for _ in range(rnd.randint(0, 8))),
              "".join(rnd.choice("abb") for _ in range(rnd.randint(0, 8)))) for _ in range(2000)]
    assert [edit_distance(a, b) for a, b in pairs] == [full_table(a, b) for a, b in pairs]


# --metric (issue 29): the Latin protocol drops every character outside [0-9a-z]; PP-OCR reads
# Chinese, where that protocol scores a label 中文 read as ★★★ as right.
CHINESE = [("a.png", "中文", "★★★"), ("b.png", "Hello World", "hello world")]


@pytest.mark.parametrize("metric, correct, errors, dropped", [
    ("latin", 2, [], 2),  # 中文 -> "" == "★★★" -> "": right; case and space ignored
    ("exact", 0, ["a.png", "b.png"], 0),
    ("exact-nospace", 0, ["a.png", "b.png"], 1),  # the space is dropped, the case kept
    ("case-insensitive", 1, ["a.png"], 0),
])
def test_metric_chinese_label(metric, correct, errors, dropped):
    m, errs = score_samples(CHINESE, metric=metric)
    assert (m["metric"], m["correct"], m["labels_with_dropped_chars"]) == (metric, correct, dropped)
    assert [e[0] for e in errs] == errors
    notes = metric_notes(m)
    if metric == "latin":
        assert notes == ["note: 2 labels have characters outside [0-9a-z], which --metric latin "
                         "drops; --metric exact scores them"]
    elif metric == "exact-nospace":
        assert notes == ["note: 1 label has spaces, which --metric exact-nospace drops; "
                         "--metric exact scores them"]
    else:
        assert notes == []


def test_metric_normalizes_cer_and_ned():
    """CER and mean NED run on the metric's strings: under latin 中文 / ★★★ are both empty
    (no characters, distance 0); under exact 2 substitutions + 1 insertion over 2 characters."""
    latin = compute_metrics(["★★★"], ["中文"], "latin")
    assert (latin["edit_distance"], latin["gt_chars"], latin["cer"], latin["mean_ned"]) == \
        (0, 0, None, 0.0)
    exact = compute_metrics(["★★★"], ["中文"], "exact")
    assert (exact["edit_distance"], exact["gt_chars"]) == (3, 2)
    assert exact["cer"] == pytest.approx(1.5) and exact["mean_ned"] == pytest.approx(1.0)
    nospace = compute_metrics(["ab c"], ["a bc"], "exact-nospace")
    assert nospace["correct"] == 1 and nospace["edit_distance"] == 0 and nospace["gt_chars"] == 3


def test_metric_named_in_lines_and_report(tmp_path):
    m, errors = score_samples(CHINESE, metric="exact")
    lines = format_metrics(m)
    assert lines[0] == "word accuracy (exact): 0.00% (0/2)"
    assert lines[2].startswith("mean normalized edit distance (exact): ")
    acc, _ = write_report(tmp_path, m, errors)
    data = json.loads(acc.read_text(encoding="utf-8"))
    assert data["metric"] == "exact" and data["protocol"].startswith(
        "word_accuracy, mean_ned, cer: the raw strings, exact match")


def test_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric 'ascii'"):
        compute_metrics(["a"], ["a"], "ascii")
