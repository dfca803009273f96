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


def pytest_configure(config):
    if os.environ.get("DSOCR_REFERENCE") and not reference_cases():
        raise pytest.UsageError(
            f"DSOCR_REFERENCE={os.environ['DSOCR_REFERENCE']}: "
            f"{'holds no reference cases (folders with meta.json)' if REFERENCE.is_dir() else 'no such folder'}; "
            "point it at the reference vectors (shared/reference) or unset it")


def pytest_report_header(config):
    """Say once, at the top of the run, where the reference vectors were found (or that they were not)."""
    cases = reference_cases()
    if cases:
        return f"reference vectors: {REFERENCE} ({len(cases)} cases)"
    return (f"reference vectors: not found at {REFERENCE}; the parity tests skip "
            "(set DSOCR_REFERENCE to the shared/reference folder)")


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
