"""Checkpoint reading: every reference checkpoint loads with nothing unused or missing; damage is reported."""

import json
import shutil

import mlx.core as mx
import pytest

from conftest import reference_cases
from engine.testing import write_tiny_checkpoint
from engine.weights.checkpoint import resolve
from engine.weights.config import parse_config
from engine.weights.errors import CheckpointError
from engine.weights.expected import expected_tensors
from engine.weights.load import read_checkpoint


@pytest.mark.parametrize("case", reference_cases(), ids=lambda c: c.name)
def test_reference_checkpoints_match_the_table(case):
    ck = read_checkpoint(case / "checkpoint")
    meta = json.loads((case / "meta.json").read_text())
    assert ck.config.version == f"v{meta['version']}"
    assert ck.source_layout == "deepseek"
    expected = expected_tensors(ck.config)
    assert set(ck.weights) == set(expected)
    assert all(tuple(ck.weights[k].shape) == s for k, s in expected.items())
    assert all(w.dtype == mx.bfloat16 for w in ck.weights.values())
    assert ck.tokenizer.image_id == meta["image_token_id"]
    assert (ck.tokenizer.bos_id, ck.tokenizer.eos_id) == (meta["bos_id"], meta["eos_id"])


def test_v2_net3_width_comes_from_the_encoder_not_the_stale_config():
    case = reference_cases(2)[0]
    cfg = read_checkpoint(case / "checkpoint").config
    assert cfg.sam["downsample_channels"][1] != cfg.qwen2["dim"]  # stale on purpose, as in the real file
    assert expected_tensors(cfg)["model.sam_model.net_3.weight"][0] == cfg.qwen2["dim"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_tiny_checkpoints_are_complete(tmp_path, version):
    ck = read_checkpoint(write_tiny_checkpoint(tmp_path / version, version))
    assert ck.config.version == version
    assert ck.tokenizer.vocab_size == ck.config.language["vocab_size"]
    assert ck.tokenizer.image_id == ck.tokenizer.vocab_size - 12


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_checkpoint(tmp_path / "m", "v1")


def _rewrite(folder, edit):
    w = dict(mx.load(str(folder / "model.safetensors")))
    edit(w)
    mx.save_safetensors(str(folder / "model.safetensors"), w)


def test_missing_tensor(tiny):
    _rewrite(tiny, lambda w: w.pop("model.layers.1.mlp.experts.3.up_proj.weight"))
    with pytest.raises(CheckpointError, match=r"1 missing: model\.layers\.1\.mlp\.experts\.3\.up_proj\.weight"):
        read_checkpoint(tiny)


def test_extra_and_misshaped_tensors_in_one_error(tiny):
    def edit(w):
        w["model.extra.weight"] = mx.zeros((2,))
        w["model.norm.weight"] = mx.zeros((3,))
    _rewrite(tiny, edit)
    with pytest.raises(CheckpointError) as e:
        read_checkpoint(tiny)
    assert "1 unused: model.extra.weight" in str(e.value)
    assert "model.norm.weight (3,) (expected (64,))" in str(e.value)


def test_truncated_safetensors(tiny):
    f = tiny / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-1000])
    with pytest.raises(CheckpointError, match="truncated"):
        read_checkpoint(tiny)


def test_wrong_model_type(tiny):
    cfg = json.loads((tiny / "config.json").read_text())
    cfg.update(architectures=["LlamaForCausalLM"], model_type="llama", vision_config={})
    (tiny / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="not a DeepSeek-OCR checkpoint"):
        read_checkpoint(tiny)


def test_missing_config_and_tokenizer(tiny, tmp_path):
    other = tmp_path / "copy"
    shutil.copytree(tiny, other)
    (tiny / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        read_checkpoint(tiny)
    (other / "tokenizer.json").unlink()
    with pytest.raises(CheckpointError, match="tokenizer.json is missing"):
        read_checkpoint(other)


def test_pickle_only_folder_is_refused(tmp_path, tiny):
    (tiny / "model.safetensors").rename(tiny / "pytorch_model.bin")
    with pytest.raises(CheckpointError, match="pickle"):
        read_checkpoint(tiny)


def test_unknown_hub_id_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(CheckpointError, match="not in the local Hugging Face cache"):
        resolve("nobody-here/no-such-model-xyz")


def test_use_mla_config_is_refused():
    from engine.testing import tiny_config

    cfg = tiny_config("v1")
    cfg["language_config"]["use_mla"] = True
    with pytest.raises(CheckpointError, match="use_mla"):
        parse_config(cfg)
