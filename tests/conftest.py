"""Shared test set-up: load the fast BLAS before MLX, locate the reference vectors."""

import os
from pathlib import Path

import pytest

from engine.runtime.blas import load_fast_blas

load_fast_blas()

REFERENCE = Path(os.environ.get("DSOCR_REFERENCE", Path(__file__).resolve().parents[1].parent / "shared" / "reference"))


def reference_cases(version=None):
    """Case folders under the reference root (a folder holding meta.json), optionally of one version."""
    import json

    if not REFERENCE.is_dir():
        return []
    cases = sorted(p.parent for p in REFERENCE.rglob("meta.json"))
    if version is not None:
        cases = [c for c in cases if json.loads((c / "meta.json").read_text())["version"] == version]
    return cases


def pytest_collection_modifyitems(config, items):
    if os.environ.get("DSOCR_REFERENCE") and not reference_cases():
        raise pytest.UsageError(f"DSOCR_REFERENCE={os.environ['DSOCR_REFERENCE']} holds no reference cases")


def rel(a, ref):
    """max |a - ref| / max |ref| over the whole array (the reference README's `rel`)."""
    import numpy as np

    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.abs(a - ref).max() / max(np.abs(ref).max(), 1e-12))


def relrms(a, ref):
    """||a - ref|| / ||ref|| (the reference README's `relrms`)."""
    import numpy as np

    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.linalg.norm(a - ref) / max(np.linalg.norm(ref), 1e-12))
