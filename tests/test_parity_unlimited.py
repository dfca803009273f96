"""Unlimited-OCR against the official remote code's vectors (shared/reference-unlimited): one page in gundam
mode, documents of 2 and 3 pages in one prompt, and the decode window (R-SWA) through a teacher-forced
decode long enough that the ring wraps; in float32 and bfloat16, on both CPU kernel routes; the tolerances
are the README's there."""

import json
import os
from pathlib import Path

import mlx.core as mx
import numpy as np
import pytest

from conftest import rel, relrms
from engine.cli.dump_cmd import dump_arrays
from engine.model import load
from engine.runtime.kernels import route

ROOT = Path(os.environ.get("DSOCR_REFERENCE_UNLIMITED",
                           Path(__file__).resolve().parents[1].parent / "shared" / "reference-unlimited"))
CASES = sorted(p.parent for p in ROOT.glob("*/meta.json")) if ROOT.is_dir() else []
pytestmark = pytest.mark.skipif(not CASES, reason=f"no Unlimited-OCR reference vectors at {ROOT}")
FLOAT_KEYS = ("image_embeds", "logits", "forced_logits")
_models = {}


@pytest.fixture(params=["numpy", "mlx"])
def kernels(request):
    prev = route.set_mode(request.param)
    yield request.param
    route.set_mode(prev)


def run_case(case, dtype, window=True):
    meta = json.loads((case / "meta.json").read_text())
    exp = np.load(case / "expected.npz")
    key = (case, dtype)
    if key not in _models:
        _models.clear()
        _models[key] = load(case / "checkpoint", dtype=dtype)
    pages = [case / p["file"] for p in meta["pages"]]
    got = dump_arrays(_models[key], pages if len(pages) > 1 else pages[0], meta["prompt"], mode=meta["mode"],
                      min_tiles=meta.get("min_tiles"), max_tiles=meta.get("max_tiles"),
                      max_tokens=len(exp["greedy_ids"]), forced_ids=exp["forced_ids"], window=window)
    return got, exp


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_float32(case, kernels):
    got, exp = run_case(case, "float32")
    for key in ("grid", "grids", "input_ids", "page_spans", "greedy_ids"):
        if key in exp:
            assert np.array_equal(got[key], exp[key]), key
    for key in ("tiles", "global_view", "global_views"):
        if key in exp:
            assert np.array_equal(got[key], exp[key]), key
    for key in FLOAT_KEYS:
        assert got[key].shape == exp[key].shape, key
        assert rel(got[key], exp[key]) <= 1e-4, (key, rel(got[key], exp[key]))
    for key in ("logits", "forced_logits"):
        assert np.abs(got[key] - exp[key]).max() <= 1e-3, key


def test_window_off_matches_full_attention(kernels):
    """u3 (W = 8) also holds the same forced decode with the window disabled: `--no-window` is full attention,
    and the windowed rows differ from it from row W on (the window really is applied)."""
    case = next((c for c in CASES if "forced_logits_full" in np.load(c / "expected.npz").files), None)
    if case is None:
        pytest.skip("no case with forced_logits_full")
    got, exp = run_case(case, "float32", window=False)
    assert rel(got["forced_logits"], exp["forced_logits_full"]) <= 1e-4
    assert np.abs(got["forced_logits"] - exp["forced_logits_full"]).max() <= 1e-3
    w = json.loads((case / "meta.json").read_text())["sliding_window_size"]
    assert np.abs(exp["forced_logits"][w:] - exp["forced_logits_full"][w:]).max() > 0.1


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bfloat16(case, kernels):
    got, exp = run_case(case, "bfloat16")
    assert np.array_equal(got["input_ids"], exp["input_ids"])
    assert relrms(got["image_embeds"], exp["image_embeds"]) <= 3e-2
    assert relrms(got["logits"], exp["logits"]) <= 3e-2 and np.abs(got["logits"] - exp["logits"]).max() <= 0.3
    assert relrms(got["forced_logits"], exp["forced_logits"]) <= 3e-2
    rows = [relrms(g, e) for g, e in zip(got["forced_logits"], exp["forced_logits"])]
    assert np.mean(np.asarray(rows) <= 5e-2) >= 0.98
    for i, (g, e) in enumerate(zip(got["greedy_ids"], exp["greedy_ids"])):
        if exp["greedy_margin"][i] <= 0.1:
            break
        assert g == e, f"greedy step {i}"


def test_vision_in_float32_beside_a_bfloat16_language_model():
    """`vision_dtype="float32"`: the encoder's output is float32's (rel <= 1e-4) while the language model
    computes in bfloat16 (its logits within the bf16 tolerances)."""
    case = CASES[0]
    meta = json.loads((case / "meta.json").read_text())
    exp = np.load(case / "expected.npz")
    model = load(case / "checkpoint", dtype="bfloat16", vision_dtype="float32")
    assert model.encode_dtype == mx.float32 and model.language_model.dtype == mx.bfloat16
    pages = [case / p["file"] for p in meta["pages"]]
    got = dump_arrays(model, pages if len(pages) > 1 else pages[0], meta["prompt"], mode=meta["mode"],
                      min_tiles=meta.get("min_tiles"), max_tiles=meta.get("max_tiles"), max_tokens=2)
    assert rel(got["image_embeds"], exp["image_embeds"]) <= 1e-4
    assert relrms(got["logits"], exp["logits"]) <= 3e-2
