"""End to end against the official code's reference vectors: `dsocr dump` arrays in float32 and bfloat16."""

import json

import numpy as np
import pytest

from conftest import reference_cases, rel, relrms
from engine.cli.dump_cmd import dump_arrays
from engine.model import load

FLOAT_KEYS = ("image_embeds", "logits", "sam_global", "encoder_global", "sam_tiles", "encoder_tiles")




def run_case(case, dtype):
    meta = json.loads((case / "meta.json").read_text())
    exp = np.load(case / "expected.npz")
    model = load(case / "checkpoint", dtype=dtype)
    mode = None if meta["mode"] == "default" else meta["mode"]
    got = dump_arrays(model, case / "image.png", meta["prompt"], mode=mode, min_tiles=meta.get("min_tiles"),
                      max_tiles=meta.get("max_tiles"), max_tokens=len(exp["greedy_ids"]), intermediates=True)
    return got, exp


@pytest.mark.parametrize("case", reference_cases(), ids=lambda c: c.name)
def test_float32_parity(case):
    got, exp = run_case(case, "float32")
    for key in ("grid", "input_ids", "greedy_ids"):
        assert np.array_equal(got[key], exp[key]), key
    assert np.array_equal(got["tiles"], exp["tiles"]) and np.array_equal(got["global_view"], exp["global_view"])
    for key in FLOAT_KEYS:
        if key in exp:
            assert got[key].shape == exp[key].shape, key
            assert rel(got[key], exp[key]) <= 1e-4, (key, rel(got[key], exp[key]))
    assert np.abs(got["logits"] - exp["logits"]).max() <= 1e-3


@pytest.mark.parametrize("case", reference_cases(), ids=lambda c: c.name)
def test_bfloat16_parity(case):
    got, exp = run_case(case, "bfloat16")
    for key in FLOAT_KEYS:
        if key in exp:
            assert relrms(got[key], exp[key]) <= 3e-2 and rel(got[key], exp[key]) <= 5e-2, key
    assert np.abs(got["logits"] - exp["logits"]).max() <= 0.3
    margin = exp["greedy_margin"]
    for i, (g, e) in enumerate(zip(got["greedy_ids"], exp["greedy_ids"])):
        if margin[i] <= 0.1:
            break
        assert g == e, f"greedy step {i}"
