"""The spec file schema: presets are instances of it, every wrong field is named."""
from __future__ import annotations

import copy
import json

import pytest

from crnn_deploy.common.errors import UserError
from crnn_deploy.models.presets import PRESETS
from crnn_deploy.models.spec_schema import load_spec_file, spec_from_schema, spec_to_schema
from crnn_deploy.models.specs import SPECS, ModelSpec, get_spec

TINY = {
    "name": "tiny",
    "input": {"channels": "RGB", "height": 16, "width": {"min": 32, "max": 256, "multiple": 8},
              "resize": "keep-ratio", "pad": "last-column", "library": "opencv",
              "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
    "output": {"layout": "BTC", "kind": "probabilities", "blank": 3},
    "alphabet": "abc",
    "decoding": {"ignore": "c"},
}


def test_presets_are_instances_of_the_schema_and_round_trip():
    assert set(SPECS) == {"crnn", "crnn-modelzoo", "nano-ocr", "nano-ocr-37", "english_g2"}
    for name, spec in SPECS.items():
        again = spec_from_schema(json.loads(json.dumps(spec_to_schema(spec))))
        assert again == spec and ModelSpec.from_dict(json.loads(spec.to_json())) == spec
    nano = get_spec("nano-ocr")
    assert (nano.input_shape, nano.seq_len, nano.num_classes) == ((1, 32, 128), 33, 66)
    assert (nano.mean, nano.std, nano.channels, nano.resize_library) == ((0.5,), (0.5,), "gray", "pil")


def test_a_hand_written_spec_is_read_field_by_field(tmp_path):
    (tmp_path / "dict.txt").write_text("x\ny\n \n", encoding="utf-8")
    d = copy.deepcopy(TINY)
    d["alphabet"] = {"file": "dict.txt", "append": "z"}
    (tmp_path / "s.json").write_text(json.dumps(d))
    spec = spec_from_schema(load_spec_file(tmp_path / "s.json"), base_dir=tmp_path, seq_len=4)
    assert spec.alphabet == "xy z" and spec.seq_len == 4 and spec.blank == 3
    assert spec.input_shape == (3, 16, 32) and spec.width_max == 256 and spec.width_multiple == 8
    assert spec.mean == (0.485, 0.456, 0.406) and spec.decoding.ignore == "c"
    assert spec.dynamic_width and spec.output == "probabilities" and spec.output_layout == "BTC"
    meta = spec_from_schema(PRESETS["ppocrv4-rec"], metadata={"character": "a\nb"}, seq_len=40)
    assert meta.alphabet == "ab " and meta.channels == "BGR"


@pytest.mark.parametrize("path, value, named", [
    (("input", "colour"), 1, "unknown field 'colour'"),
    (("extra",), 1, "unknown field 'extra'"),
    (("input", "std"), [0.2, 0.0, 0.2], "input.std"),
    (("input", "std"), "0.5", "input.std"),
    (("input", "mean"), [0.5, 0.5], "input.mean"),
    (("input", "interpolation"), "area-ish", "input.interpolation"),
    (("input", "library"), "skimage", "input.library"),
    (("input", "channels"), "CMYK", "input.channels"),
    (("input", "resize"), "stretch", "input.resize"),
    (("input", "pad"), "mirror", "input.pad"),
    (("input", "height"), 0, r"input \(channels, height, width\)"),
    (("output", "kind"), "softmax", "output.kind"),
    (("output", "layout"), "NTC", "output.layout"),
    (("output", "blank"), 9, "output.blank"),
    (("decoding", "confidence"), "median", "decoding.confidence"),
    (("decoding", "twice"), True, "unknown field 'twice'"),
    (("alphabet",), "", "alphabet"),
    (("alphabet",), {"file": "x", "onnx_metadata": "y"}, "exactly one"),
])
def test_a_wrong_field_is_an_error_naming_it(path, value, named):
    d = copy.deepcopy(TINY)
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    with pytest.raises(UserError, match=named):
        spec_from_schema(d, seq_len=4)


def test_bad_files_and_unresolvable_presets(tmp_path):
    (tmp_path / "bad.json").write_text("{name: 1}")
    with pytest.raises(UserError, match="bad.json is not usable JSON"):
        load_spec_file(tmp_path / "bad.json")
    with pytest.raises(UserError, match="not found"):
        load_spec_file(tmp_path / "none.json")
    with pytest.raises(UserError, match="crnn-convert import"):
        get_spec("ppocrv4-rec")
    with pytest.raises(UserError, match="no metadata key 'character'"):
        spec_from_schema(PRESETS["ppocrv4-rec"], metadata={}, seq_len=40)


@pytest.mark.parametrize("where, key, value, message", [
    ("decoding", "second_pass_below", 1.5, "decoding.second_pass_below"),
    ("decoding", "second_pass_contrast", 0, "decoding.second_pass_contrast"),
    ("decoding", "confidence", "product", "decoding.confidence"),
    ("input", "decoder", "skimage", "input.decoder"),
    ("input", "width_rule", "aspect", "input.width_rule"),  # TINY stretches: 'aspect' needs keep-ratio
])
def test_easyocr_options_are_validated(where, key, value, message):
    d = copy.deepcopy(TINY)
    d.setdefault(where, {})[key] = value
    with pytest.raises(UserError, match=message):
        spec_from_schema(d, seq_len=4)


def test_english_g2_preset():
    g2 = get_spec("english_g2")
    assert (g2.input_shape, g2.width_max, g2.width_multiple, g2.num_classes) == ((1, 64, 64), 4096, 64, 97)
    assert (g2.decoder, g2.width_rule, g2.resize_library, g2.pad) == ("opencv", "aspect", "opencv",
                                                                       "last-column")
    assert (g2.decoding.confidence, g2.decoding.second_pass_below,
            g2.decoding.second_pass_contrast) == ("product-sqrt", 0.1, 0.5)


def _leaves(d, path=()):
    for k, v in d.items():
        if isinstance(v, dict):
            yield from _leaves(v, (*path, k))
        yield (*path, k)


@pytest.mark.parametrize("value", [None, [], {}, [[1]], {"a": 1}, "x", 1.5, True, -1, 10 ** 9,
                                   float("nan")])
def test_every_field_of_the_wrong_type_is_a_user_error(value, tmp_path):
    """Each field of a spec file (and of the flat record form) replaced by a value of another
    type: a UserError, never a TypeError, KeyError or AttributeError."""
    for path in _leaves(TINY):
        d = copy.deepcopy(TINY)
        node = d
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        try:
            spec_from_schema(d, base_dir=tmp_path, seq_len=4)
        except UserError:
            pass
    flat = get_spec("english_g2").to_dict()
    for key in flat:
        try:
            ModelSpec.from_dict({**flat, key: value})
        except UserError:
            pass
    for key in ("file", "onnx_metadata", "append"):
        with pytest.raises(UserError, match=f"alphabet.{key}"):
            spec_from_schema({**TINY, "alphabet": {key: [value]}}, metadata={}, seq_len=4)


@pytest.mark.parametrize("where, key, value, named", [
    ("input", "height", 10 ** 9, "height: H = 1000000000"),
    ("input", "width", 10 ** 9, "width: .*W = 1000000000"),
    ("input", "width", {"min": 32, "max": 10 ** 9}, "width: min 32 <= max 1000000000 <= 8192"),
    ("output", "time_steps", 10 ** 9, "output.time_steps"),
])
def test_huge_shapes_are_refused_before_anything_is_allocated(where, key, value, named):
    d = copy.deepcopy(TINY)
    d[where][key] = value
    with pytest.raises(UserError, match=named):
        spec_from_schema(d, seq_len=4)


def test_duplicate_alphabet_classes_are_refused_naming_them(tmp_path):
    with pytest.raises(UserError, match=r"alphabet: class\(es\) given more than once: 'ab'"):
        spec_from_schema({**TINY, "alphabet": "abcab"}, seq_len=4)
    (tmp_path / "dict.txt").write_text("ab\ncd\nab\n")
    with pytest.raises(UserError, match=r"given more than once: \('ab',\)"):
        spec_from_schema({**TINY, "alphabet": {"file": "dict.txt"}}, base_dir=tmp_path, seq_len=4)
    (tmp_path / "keys.txt").write_text("a\n \nb\n")  # PaddleOCR's use_space_char repeats ' '
    with pytest.raises(UserError, match=r"given more than once: ' '"):
        spec_from_schema({**TINY, "alphabet": {"file": "keys.txt", "append": " "}},
                         base_dir=tmp_path, seq_len=4)


def test_spec_files_with_duplicate_keys_or_deep_nesting_are_refused(tmp_path):
    (tmp_path / "dup.json").write_text('{"name": "a", "name": "b"}')
    with pytest.raises(UserError, match="spec file .*dup.json is not usable JSON: duplicate key 'name'"):
        load_spec_file(tmp_path / "dup.json")
    (tmp_path / "deep.json").write_text('{"name": ' + "[" * 100_000 + "]" * 100_000 + "}")
    with pytest.raises(UserError, match="deep.json is not usable JSON: nested deeper than 64"):
        load_spec_file(tmp_path / "deep.json")
