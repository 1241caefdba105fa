"""second_pass.json, the list between the stages of the staged second pass: written and read
back, and refused when it is not one."""
from __future__ import annotations

import json

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.common.second_pass_list import SecondPassList, read_list, write_list


def test_a_list_reads_back_as_written(tmp_path):
    lst = SecondPassList("english_g2", 0.1, 0.5, ("test_25.npy", "sub/test_3.bin"), "/x.lmdb",
                         "ab" * 32, "/r")
    path = write_list(tmp_path, lst)
    assert path.name == "second_pass.json"
    back = read_list(path)
    assert back == lst and back.indices() == [25, 3]


@pytest.mark.parametrize("files, why", [(["test_0.npy"], "not an input file name"),
                                        (["a.png"], "not an input file name"),
                                        (["test_4.npy", "test_4.bin"], "listed twice")])
def test_bad_file_names_are_named(tmp_path, files, why):
    path = write_list(tmp_path, SecondPassList("english_g2", 0.1, 0.5, tuple(files)))
    with pytest.raises(UserError, match=why):
        read_list(path).indices(str(path))


def test_other_files_are_not_lists(tmp_path):
    path = tmp_path / "second_pass.json"
    path.write_text(json.dumps({"files": ["test_1.npy"]}), encoding="utf-8")
    with pytest.raises(UserError, match="is not a second-pass list"):
        read_list(path)
    path.write_text("{", encoding="utf-8")
    with pytest.raises(UserError, match="is not usable JSON"):
        read_list(path)
    path.write_text(json.dumps({"tool": "crnn-deploy", "kind": "second-pass list",
                                "spec": "english_g2", "below": 0.1, "contrast": 0.5,
                                "files": "test_1.npy"}), encoding="utf-8")
    with pytest.raises(UserError, match="wrong type"):
        read_list(path)
    with pytest.raises(UserError, match="not found"):
        read_list(tmp_path / "missing.json")


def test_only_ascii_digits_name_a_sample(tmp_path):
    """``test_1١.npy`` (an Arabic-Indic one) was read as sample 11."""
    path = write_list(tmp_path, SecondPassList("english_g2", 0.1, 0.5, ("test_1\u0661.npy",)))
    with pytest.raises(UserError, match="not an input file name"):
        read_list(path).indices(str(path))


@pytest.mark.parametrize("text", ['{"tool": "crnn-deploy", "kind": "second-pass list", "files": '
                                  + "[" * 100_000 + "]" * 100_000 + "}",
                                  '{"tool": "crnn-deploy", "tool": "other"}'])
def test_deep_or_duplicate_json_is_an_error(tmp_path, text):
    path = tmp_path / "second_pass.json"
    path.write_text(text)
    with pytest.raises(UserError, match=r"second-pass list .*second_pass.json is not usable JSON"):
        read_list(path)
