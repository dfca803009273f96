"""Security (issue item 7): model output is never evaluated, pickles are never loaded, code from a model
repository is never run, hub downloads fetch only safetensors/JSON/tokenizer files, and file names derived
from model output (figure crops) cannot leave the export folder."""

import ast
import builtins
import pickle
import shutil
import sys
from pathlib import Path

import pytest

import engine
from engine.outputs.export import ExportError, export_result
from engine.weights import checkpoint

from .corpus import page

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted([*(REPO / "engine").rglob("*.py"), *(REPO / "dsocr_app").rglob("*.py")])
FORBIDDEN_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "marshal", "shelve", "torch"}


def test_no_eval_exec_pickle_or_remote_code_in_the_sources():
    """A static check of every module of the engine and the app."""
    assert len(SOURCES) > 30
    problems = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            where = f"{path.relative_to(REPO)}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id in ("eval", "exec", "compile", "__import__"):
                problems.append(f"{where} calls {node.func.id}()")
            if isinstance(node, ast.Import):
                problems += [f"{where} imports {a.name}" for a in node.names
                             if a.name.split(".")[0] in FORBIDDEN_MODULES]
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FORBIDDEN_MODULES:
                problems.append(f"{where} imports from {node.module}")
            if isinstance(node, ast.keyword) and node.arg in ("trust_remote_code", "allow_pickle") and \
                    not (isinstance(node.value, ast.Constant) and node.value.value is False):
                problems.append(f"{where} passes {node.arg}")
            if isinstance(node, ast.keyword) and node.arg == "weights_only" and \
                    isinstance(node.value, ast.Constant) and node.value.value is False:
                problems.append(f"{where} passes weights_only=False")
    assert problems == []


@pytest.fixture
def booby_trapped_model(tiny_v1_dir, tmp_path):
    """A valid tiny checkpoint plus what a hostile repository could add: remote code named in config.json
    (auto_map), a pickle that creates a file when unpickled, and an importable Python module."""
    folder = tmp_path / "hostile-model"
    shutil.copytree(tiny_v1_dir, folder)
    sentinel = tmp_path / "code-ran"
    code = f"from pathlib import Path\nPath({str(sentinel)!r}).touch()\n"
    (folder / "modeling_deepseekocr.py").write_text(code)
    (folder / "configuration_deepseekocr.py").write_text(code)
    (folder / "__init__.py").write_text(code)

    class Trap:
        def __reduce__(self):
            return (builtins.open, (str(tmp_path / "pickle-ran"), "w"))

    (folder / "pytorch_model.bin").write_bytes(pickle.dumps({"model.norm.weight": Trap()}))
    (folder / "extra.pkl").write_bytes(pickle.dumps(Trap()))
    import json

    cfg = json.loads((folder / "config.json").read_text())
    cfg["auto_map"] = {"AutoConfig": "configuration_deepseekocr.DeepseekOCRConfig",
                       "AutoModel": "modeling_deepseekocr.DeepseekOCRForCausalLM"}
    (folder / "config.json").write_text(json.dumps(cfg))
    return folder, [sentinel, tmp_path / "pickle-ran"]


def test_a_hostile_model_folder_loads_without_running_anything(booby_trapped_model):
    folder, sentinels = booby_trapped_model
    before = set(sys.modules)
    model = engine.load(folder)
    result = engine.ocr(model, page(), engine.RunOptions.of(mode="tiny", max_tokens=2, ngram_size=0))
    assert result.generated_tokens == 2
    assert [s for s in sentinels if s.exists()] == []
    assert not {m for m in set(sys.modules) - before if "deepseekocr" in m}


def test_hub_downloads_only_safe_file_types(monkeypatch, tmp_path):
    from huggingface_hub.utils import filter_repo_objects

    repo_files = ["config.json", "model.safetensors", "model-00001-of-000002.safetensors",
                  "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                  "README.md", "pytorch_model.bin", "model.pt", "weights.pth", "model.ckpt", "state.pkl", "arrays.npy",
                  "modeling_deepseekocr.py", "deepencoder.py", "tokenizer.py", "tokenization_deepseek.py",
                  "conversation.py", "native.so", "setup.sh", "flax_model.msgpack", "tf_model.h5"]
    fetched = set(filter_repo_objects(repo_files, allow_patterns=checkpoint.ALLOW_PATTERNS))
    assert fetched == {"config.json", "model.safetensors", "model-00001-of-000002.safetensors",
                       "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
                       "special_tokens_map.json"}
    calls = []

    def snapshot_download(**kwargs):
        calls.append(kwargs)
        return str(tmp_path)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    assert checkpoint.resolve("someone/some-model") == tmp_path
    (kwargs,) = calls
    assert kwargs["allow_patterns"] == checkpoint.ALLOW_PATTERNS
    assert not {"trust_remote_code", "ignore_patterns"} & set(kwargs)


class ScriptedTokenizer:
    """The model's tokenizer, except that decoding yields `text` (what a hostile or broken model could write)."""

    def __init__(self, tokenizer, text):
        self._tok, self._text = tokenizer, text

    def __getattr__(self, name):
        return getattr(self._tok, name)

    def stream(self, skip_special=False):
        tok = self

        class Decoder:
            text = ""

            def push(self, token_id):
                delta, tok._text = tok._text, ""
                self.text += delta
                return delta

            def flush(self):
                return ""

        return Decoder()


class WithTokenizer:
    def __init__(self, model, tokenizer):
        self._model, self.tokenizer = model, tokenizer

    def __getattr__(self, name):
        return getattr(self._model, name)


HOSTILE = ("<|ref|>image<|/ref|><|det|>[[100, 100, 400, 400]]<|/det|>\n"
           "<|ref|>../../escape<|/ref|><|det|>[[__import__('pathlib').Path('SENTINEL').touch(), 0, 9, 9]]<|/det|>\n"
           "![](../../outside.jpg) ![](/tmp/absolute.jpg) ![](images/../../../up.jpg)\n"
           "<|ref|>image<|/ref|><|det|>[[0, 0, 999, 999]]<|/det|>\n"
           "{{ eval(\"__import__('os').system('touch SENTINEL2')\") }} ${IFS} $(touch SENTINEL3)\n")


@pytest.fixture
def no_eval(monkeypatch):
    """eval/exec of anything from the model's text fails the test (Python's own uses, such as namedtuple's
    generated code, go on)."""
    real_eval, real_exec = builtins.eval, builtins.exec

    def guard(real):
        def trap(source, *a, **k):
            text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
            if isinstance(text, str) and any(m in text for m in ("SENTINEL", "escape", "outside.jpg")):
                raise AssertionError(f"{real.__name__}() of text: {source[:80]!r}")
            return real(source, *a, **k)
        return trap

    monkeypatch.setattr(builtins, "eval", guard(real_eval))
    monkeypatch.setattr(builtins, "exec", guard(real_exec))


def test_hostile_model_output_is_text_and_its_files_stay_in_the_folder(tiny_v1, tmp_path, monkeypatch, no_eval):
    monkeypatch.chdir(tmp_path)
    model = WithTokenizer(tiny_v1, ScriptedTokenizer(tiny_v1.tokenizer, HOSTILE))
    result = engine.ocr(model, page(800, 600), engine.RunOptions.of(mode="tiny", max_tokens=3, ngram_size=0))
    assert result.raw_text == HOSTILE
    assert "__import__" in result.raw_text and not list(tmp_path.glob("SENTINEL*"))
    out = tmp_path / "deep" / "out"
    written = []
    for fmt in ("md", "txt", "json"):
        written += export_result(result, out, "scan", fmt)
    assert len([p for p in written if p.suffix == ".jpg"]) == 2  # the two image regions, cropped
    everything = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert everything == set(written) and all(out.resolve() in p.resolve().parents for p in everything)
    assert not list(tmp_path.glob("SENTINEL*"))
    for stem in ("../escape", "/tmp/absolute", "..", "images/../../up"):
        try:
            paths = export_result(result, out, stem, "md")
        except ExportError as e:
            assert "outside the export folder" in str(e)
        else:
            assert all(out.resolve() in p.resolve().parents for p in paths)
    assert {p for p in tmp_path.rglob("*") if p.is_file() and out.resolve() not in p.resolve().parents} == set()
