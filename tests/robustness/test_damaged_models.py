"""Damaged models (issue item 2): each is one CheckpointError from `engine.load` that names the model and says
what to do, and one `dsocr: error:` line (exit 2) from the CLI, before any input is processed.

tests/test_weights.py checks the checker itself (which tensors are listed); here every case goes through the
user-facing doors: `engine.load` and `dsocr ocr --model`."""

import json
import shutil

import huggingface_hub.constants as hf_constants  # imported before any test sets HF_HUB_OFFLINE
import mlx.core as mx
import pytest

import engine
from engine.cli import ocr_cmd
from engine.cli.main import main
from engine.weights import checkpoint

from .corpus import assert_clear


def _edit_weights(folder, edit):
    w = dict(mx.load(str(folder / "model.safetensors")))
    edit(w)
    mx.save_safetensors(str(folder / "model.safetensors"), w)


def _edit_config(folder, edit):
    cfg = json.loads((folder / "config.json").read_text())
    edit(cfg)
    (folder / "config.json").write_text(json.dumps(cfg))


def _truncate(folder):
    f = folder / "model.safetensors"
    f.write_bytes(f.read_bytes()[: f.stat().st_size * 2 // 3])


def _extra(w):
    w["model.layers.0.mlp.experts.99.gate_proj.weight"] = mx.zeros((4, 4))


def _wrong_shape(w):
    w["model.embed_tokens.weight"] = mx.zeros((7, 64))


def _unknown_arch(cfg):
    cfg.update(architectures=["LlamaForCausalLM"], model_type="llama")
    cfg["vision_config"] = {}


def _pickle_only(folder):
    (folder / "model.safetensors").rename(folder / "pytorch_model.bin")


# case -> (how to damage the folder, words the message must contain)
DAMAGE = {
    "missing config.json": (lambda f: (f / "config.json").unlink(), "config.json is missing"),
    "config.json not JSON": (lambda f: (f / "config.json").write_text("{ not json"), "not valid JSON"),
    "unknown architecture": (lambda f: _edit_config(f, _unknown_arch), "not a DeepSeek-OCR checkpoint"),
    "missing tensor": (lambda f: _edit_weights(f, lambda w: w.pop("model.norm.weight")),
                       "1 missing: model.norm.weight"),
    "extra tensor": (lambda f: _edit_weights(f, _extra), "1 unused: model.layers.0.mlp.experts.99.gate_proj.weight"),
    "wrong shape": (lambda f: _edit_weights(f, _wrong_shape), "model.embed_tokens.weight (7, 64)"),
    "truncated safetensors": (_truncate, "truncated"),
    "tokenizer missing": (lambda f: (f / "tokenizer.json").unlink(), "tokenizer.json is missing"),
    "tokenizer damaged": (lambda f: (f / "tokenizer.json").write_text('{"model": 3}'), "cannot read the tokenizer"),
    "pickle weights only": (_pickle_only, "safetensors only"),
    "no weights at all": (lambda f: (f / "model.safetensors").unlink(), "no .safetensors weights"),
}


@pytest.fixture
def damaged(tiny_v1_dir, tmp_path):
    def make(case):
        folder = tmp_path / "model"
        shutil.copytree(tiny_v1_dir, folder)
        DAMAGE[case][0](folder)
        return folder, DAMAGE[case][1]
    return make


@pytest.mark.parametrize("case", DAMAGE)
def test_engine_load_names_the_problem(damaged, case):
    folder, words = damaged(case)
    with pytest.raises(engine.CheckpointError) as e:
        engine.load(folder)
    message = str(e.value)
    assert words in message
    assert_clear(message, folder)


@pytest.mark.parametrize("case", DAMAGE)
def test_cli_prints_one_line_and_writes_nothing(damaged, case, good_png, tmp_path, capsys):
    folder, words = damaged(case)
    out = tmp_path / "out"
    assert main(["ocr", str(good_png), "--model", str(folder), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("dsocr: error: ") and words in captured.err
    assert_clear(captured.err, folder)
    assert not out.exists()  # checked writable, nothing written: not even the folder


def test_model_path_that_is_a_file_or_nothing(tmp_path):
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"x")
    with pytest.raises(engine.CheckpointError, match="is a file; give the model folder") as e:
        engine.load(f)
    assert_clear(str(e.value), f)
    with pytest.raises(engine.CheckpointError, match="no such folder") as e:
        engine.load(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(e.value)


def test_unreachable_hub_id_offline_is_exactly_one_line(good_png, tmp_path, monkeypatch, capsys):
    """HF_HUB_OFFLINE=1 and an empty cache: no download notice, one error line, exit 2."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)  # huggingface_hub reads the variable at import
    assert main(["ocr", str(good_png), "--model", "nobody-here/no-such-model"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("dsocr: error: nobody-here/no-such-model: not in the local Hugging Face cache")
    assert_clear(err, "nobody-here/no-such-model")


def test_hub_unreachable_without_offline_mode(good_png, tmp_path, monkeypatch, capsys):
    """A network error during the download: one line that says to check the connection."""
    import huggingface_hub

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))

    def no_network(**kwargs):
        raise ConnectionError("Failed to establish a new connection: [Errno 101] Network is unreachable")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_network)
    monkeypatch.setattr(checkpoint, "hub_download_size", lambda repo: None)
    assert main(["ocr", str(good_png), "--model", "someone/some-model"]) == 2
    err = capsys.readouterr().err
    assert "download failed" in err and "check the connection" in err
    assert_clear(err, "someone/some-model")


def test_cli_announces_a_download_only_when_its_size_is_known(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(checkpoint, "hub_download_size", lambda repo: 6_670_000_000)
    monkeypatch.setattr("engine.model.load", lambda name, dtype=None, **kw: calls.append(name) or "model")
    assert ocr_cmd.load_model("someone/fresh-model", None) == "model"
    assert "downloading someone/fresh-model (6.7 GB)" in capsys.readouterr().err
    monkeypatch.setattr(checkpoint, "hub_download_size", lambda repo: None)
    ocr_cmd.load_model("someone/fresh-model", None)
    assert capsys.readouterr().err == ""
