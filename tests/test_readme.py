"""The README's promises: its Python section runs as printed, and pytest says where the reference vectors are.

The Python blocks run in a fresh interpreter in a folder holding `page.png` (a sample page); the only change
made to them is the model: the hub ids `deepseek-ai/DeepSeek-OCR-2` and `baidu/Unlimited-OCR` become tiny random
checkpoints."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

import engine

ROOT = Path(__file__).resolve().parents[1]
HUB_ID = "deepseek-ai/DeepSeek-OCR-2"
UNLIMITED_ID = "baidu/Unlimited-OCR"


def python_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", markdown, flags=re.S | re.M)


def test_readme_python_section_runs_as_printed(tmp_path):
    blocks = python_blocks((ROOT / "README.md").read_text())
    main = next(k for k, block in enumerate(blocks) if HUB_ID in block)  # the "Python" section's
    tiny = engine.write_tiny_checkpoint(tmp_path / "tiny", "v2", seed=5)
    tiny_unlimited = engine.write_tiny_checkpoint(tmp_path / "tiny-unlimited", "unlimited", seed=5, window=8)
    sample = ROOT.parent / "shared" / "samples" / "show1.jpg"
    page = Image.open(sample).convert("RGB") if sample.exists() else Image.new("RGB", (900, 1200), "white")
    page.thumbnail((768, 768))  # one view, no tiles: a quick encode
    page.save(tmp_path / "page.png")
    for k, block in enumerate(blocks):
        code = block.replace(HUB_ID, str(tiny)).replace(UNLIMITED_ID, str(tiny_unlimited))
        r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert r.returncode == 0, f"README python block {k + 1} failed:\n{block}\n{r.stderr[-3000:]}"
        if k == main:
            assert r.stdout.startswith("903\n"), r.stdout[:200]
            assert "encode_s" in r.stdout


def _pytest_header(tmp_path, reference: str | None = None) -> subprocess.CompletedProcess:
    test = tmp_path / "test_nothing.py"
    test.write_text("def test_nothing():\n    pass\n")
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")  # ../shared/reference: not there
    env = {k: v for k, v in os.environ.items() if k != "DSOCR_REFERENCE"}
    if reference is not None:
        env["DSOCR_REFERENCE"] = reference
    return subprocess.run([sys.executable, "-m", "pytest", str(test), "-p", "no:cacheprovider"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**env, "PYTHONPATH": str(ROOT)})


def test_pytest_says_where_the_reference_vectors_are(tmp_path):
    ref = ROOT.parent / "shared" / "reference"
    if ref.is_dir():
        r = _pytest_header(tmp_path, str(ref))
        assert r.returncode == 0 and f"reference vectors: {ref} (" in r.stdout
    r = _pytest_header(tmp_path)
    assert r.returncode == 0
    assert "reference vectors: not found" in r.stdout and "DSOCR_REFERENCE" in r.stdout


def test_a_wrong_reference_setting_is_a_clear_error(tmp_path):
    r = _pytest_header(tmp_path, "/nonexistent")
    assert r.returncode != 0
    assert "DSOCR_REFERENCE=/nonexistent" in r.stdout + r.stderr
