"""The spec name rule (models.spec_checks.check_name) through every source of a spec: a spec
file, a flat record (ONNX metadata, OpenVINO rt_info, a sidecar), and how values are shown."""
from __future__ import annotations

import copy
import json

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.spec_checks import check_name, shown
from crnn_deploy.models.spec_schema import spec_from_schema
from crnn_deploy.models.specs import SPECS, get_spec, read_sidecar, sidecar_path, spec_from_json

BAD_NAMES = ["../../../tmp/x", "/tmp/x", "a\x00b", "a/b", ".", "..", "", "x" * 101,
             "\x1b[31mred\x1b[0m", "a b", "é", "n" * 1_000_000]


@pytest.mark.parametrize("name", ["crnn", "nano-ocr-37", "english_g2", "ppocrv4-rec", "a.b_c-9",
                                  "x" * 100, "..."])
def test_plain_names_pass(name):
    assert check_name(name) == name
    assert set(SPECS) <= {n for n in SPECS if check_name(n)}


@pytest.mark.parametrize("name", BAD_NAMES + [None, 7, ["a"]])
def test_a_name_that_is_not_a_file_name_component_is_refused(name):
    with pytest.raises(UserError, match=r"^spec 'name': expected a plain file-name component") as err:
        check_name(name)
    msg = str(err.value)
    assert len(msg) < 250 and "\x1b" not in msg and "\x00" not in msg


@pytest.mark.parametrize("name", BAD_NAMES)
def test_every_source_of_a_spec_checks_the_name(name, tmp_path):
    d = copy.deepcopy({"name": name, "input": {"channels": "gray", "height": 8, "width": 16},
                       "alphabet": "ab"})
    with pytest.raises(UserError, match="spec 'name'"):
        spec_from_schema(d, seq_len=4)
    flat = {**get_spec("crnn").to_dict(), "name": name}
    with pytest.raises(UserError, match="engine m.onnx: metadata 'crnn_deploy.spec': spec 'name'"):
        spec_from_json(json.dumps(flat), "engine m.onnx")
    engine = tmp_path / "m.engine"
    sidecar_path(engine).write_text(json.dumps({"spec": flat}))
    with pytest.raises(UserError, match=r"sidecar .*m\.engine\.json: spec 'name'") as err:
        read_sidecar(engine)
    assert len(str(err.value)) < 400 and "\x1b" not in str(err.value)


def test_shown_escapes_and_shortens():
    assert shown("\x1b[2J") == "'\\x1b[2J'"
    long = shown("n" * 1_000_000)
    assert len(long) < 100 and long.endswith("(1000002 characters)")
