"""Model definitions and checkpoint loading: strict loads, layouts, and every user error."""
from __future__ import annotations

import io
import os

import pytest
import torch
from click.testing import CliRunner

from crnn_deploy.common.errors import UserError
from crnn_deploy.converter.cli import main as convert_cli
from crnn_deploy.models.arch import build_model
from crnn_deploy.models.checkpoint import load_model, read_state_dict, reorder_npu_lstm_gates
from crnn_deploy.models.specs import SPECS, ModelSpec, get_spec


@pytest.mark.parametrize("name", sorted(SPECS))
def test_architecture_output_shape_matches_spec(name):
    spec = get_spec(name)
    with torch.no_grad():
        y = build_model(name)(torch.zeros(3, *spec.input_shape))
    # a dynamic-width spec has no fixed T (seq_len 0): english_g2's is W // 4 - 1
    assert tuple(y.shape) == (spec.seq_len or spec.input_shape[2] // 4 - 1, 3, spec.num_classes)


def test_classic_crnn_layout_is_meijieru():
    sd = build_model("crnn").state_dict()
    # names and shapes of meijieru/crnn.pytorch CRNN(32, 1, 37, 256)
    assert [k for k in sd if k.endswith("weight") and ".conv" in k] == [
        f"cnn.conv{i}.weight" for i in range(7)]
    assert {k.split(".")[1] for k in sd if k.startswith("cnn.batchnorm")} == {
        "batchnorm2", "batchnorm4", "batchnorm6"}
    assert tuple(sd["rnn.0.rnn.weight_ih_l0"].shape) == (1024, 512)
    assert tuple(sd["rnn.0.embedding.weight"].shape) == (256, 512)
    assert tuple(sd["rnn.1.rnn.weight_ih_l0_reverse"].shape) == (1024, 256)
    assert tuple(sd["rnn.1.embedding.weight"].shape) == (37, 512)
    assert sum(v.numel() for k, v in sd.items() if "num_batches" not in k) == 8_333_861


@pytest.mark.parametrize("legacy", [False, True])
def test_crnn_state_dict_round_trips_strictly(tmp_path, legacy):
    model = build_model("crnn")
    sd = model.state_dict()
    if legacy:  # old checkpoints (PyTorch < 0.4.1, like meijieru's crnn.pth): no num_batches_tracked
        sd = {k: v for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "crnn.pth"
    torch.save(sd, path, _use_new_zipfile_serialization=not legacy)
    loaded = load_model("crnn", path)
    for key, value in model.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(loaded.state_dict()[key], value), key


@pytest.mark.parametrize("wrapper", ["state_dict", "model"])
def test_wrapped_and_module_prefixed_state_dict(tmp_path, wrapper):
    model = build_model("crnn-modelzoo")
    path = tmp_path / "ckpt.pth"
    torch.save({wrapper: {"module." + k: v for k, v in model.state_dict().items()}, "epoch": 3}, path)
    sd = read_state_dict(path)
    assert not any(k.startswith("module.") for k in sd)
    loaded = load_model("crnn-modelzoo", path)
    assert torch.equal(loaded.rnn[0].fw_rnn.weight_ih_l0, model.rnn[0].fw_rnn.weight_ih_l0)


def test_npu_gate_reorder_swaps_blocks_1_and_2_of_lstm_tensors_only():
    sd = build_model("crnn-modelzoo").state_dict()
    out = reorder_npu_lstm_gates(sd)
    w, r = sd["rnn.0.fw_rnn.weight_ih_l0"], out["rnn.0.fw_rnn.weight_ih_l0"]
    assert torch.equal(r[256:512], w[512:768]) and torch.equal(r[512:768], w[256:512])
    assert torch.equal(r[:256], w[:256]) and torch.equal(r[768:], w[768:])
    assert torch.equal(out["rnn.0.embedding.weight"], sd["rnn.0.embedding.weight"])
    twice = reorder_npu_lstm_gates(out)
    assert all(torch.equal(twice[k], sd[k]) for k in sd)


def test_wrong_architecture_lists_keys_and_names_the_matching_spec(nano_weights):
    with pytest.raises(UserError) as err:
        load_model("crnn", nano_weights)
    msg = err.value.message
    assert "missing keys (46)" in msg and "cnn.conv0.weight" in msg
    assert "unexpected keys (37)" in msg and "cnn.0.weight" in msg
    assert "matches --model nano-ocr" in msg


def test_wrong_shapes_are_listed(tmp_path):
    sd = build_model("crnn").state_dict()
    sd["rnn.1.embedding.weight"] = torch.zeros(40, 512)
    sd["rnn.1.embedding.bias"] = torch.zeros(40)
    torch.save(sd, tmp_path / "c.pth")
    with pytest.raises(UserError, match=r"wrongly shaped \(2\): rnn.1.embedding.weight: "
                                        r"checkpoint \(40, 512\) vs model \(37, 512\)"):
        load_model("crnn", tmp_path / "c.pth")


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_bad_checkpoint_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="checkpoint not found: .*nope.pth"):
        read_state_dict(tmp_path / "nope.pth")

    buf = io.BytesIO()
    torch.save(build_model("crnn").state_dict(), buf)
    (tmp_path / "trunc.pth").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(UserError, match=r"cannot read checkpoint .*trunc.pth.*truncated"):
        read_state_dict(tmp_path / "trunc.pth")

    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        read_state_dict(tmp_path / "text.pth")

    torch.save({"weights": _RunsCode()}, tmp_path / "evil.pth")
    with pytest.raises(UserError, match="refusing to load .*evil.pth.*could run code.*GLOBAL posix.system"):
        read_state_dict(tmp_path / "evil.pth")
    assert not (tmp_path / "pwned").exists()

    torch.save({"epoch": 3, "lr": 0.1}, tmp_path / "nosd.pth")
    with pytest.raises(UserError, match="holds no state_dict"):
        read_state_dict(tmp_path / "nosd.pth")


@pytest.mark.parametrize("case", ["missing", "truncated", "evil", "arch"])
def test_cli_user_errors_have_no_traceback(tmp_path, case, nano_weights):
    ckpt = {"missing": tmp_path / "none.pth", "arch": nano_weights}.get(case, tmp_path / "x.pth")
    if case == "truncated":
        ckpt.write_bytes(nano_weights.read_bytes()[:100_000])
    if case == "evil":
        torch.save(_RunsCode(), ckpt)
    out = tmp_path / "o.onnx"
    res = CliRunner().invoke(convert_cli, ["onnx", "--model", "crnn", "--checkpoint", str(ckpt),
                                           "--output", str(out)])
    assert res.exit_code == 1, res.output
    assert res.output.startswith("Error: ") and "Traceback" not in res.output
    assert str(ckpt) in res.output
    assert not out.exists()


def test_spec_dict_round_trip_and_errors():
    spec = get_spec("nano-ocr")
    assert ModelSpec.from_dict(spec.to_dict()) == spec
    assert spec.num_classes == 66 and spec.sample_bytes == 16_384
    assert get_spec("crnn").sample_bytes == 12_800
    with pytest.raises(UserError, match="unknown model 'vgg'; known: crnn, crnn-modelzoo, nano-ocr, nano-ocr-37"):
        get_spec("vgg")
    with pytest.raises(UserError, match="incomplete model spec"):
        ModelSpec.from_dict({"name": "x"})
