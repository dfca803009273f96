"""Shared test set-up: load the fast BLAS before MLX (and name it, or warn loudly, at the top of the run),
locate the reference vectors."""

import os
import sys
from pathlib import Path

import pytest

from engine.runtime import blas

blas.load_fast_blas()

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


@pytest.fixture(scope="session", autouse=True)
def private_runtime_dir(tmp_path_factory):
    """Servers started by tests announce themselves (engine/service/discovery.py) in a folder of the test run,
    not in the user's: a `dsocr mcp` the user runs never finds a test's server, and tests never find theirs."""
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    saved = os.environ.get("DSOCR_RUNTIME_DIR")
    os.environ["DSOCR_RUNTIME_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("DSOCR_RUNTIME_DIR", None)
    else:
        os.environ["DSOCR_RUNTIME_DIR"] = saved


def pytest_configure(config):
    if os.environ.get("DSOCR_REFERENCE") and not reference_cases():
        raise pytest.UsageError(
            f"DSOCR_REFERENCE={os.environ['DSOCR_REFERENCE']}: "
            f"{'holds no reference cases (folders with meta.json)' if REFERENCE.is_dir() else 'no such folder'}; "
            "point it at the reference vectors (shared/reference) or unset it")


SLOW_BLAS_WARNING = """\
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
WARNING: MLX computes with its slow REFERENCE BLAS here (20-30x slower matmuls than OpenBLAS or MKL).
WARNING: the real-size tests will take hours instead of minutes. Install an optimized BLAS first:
WARNING:   pip install -e ".[test,parity]"   (brings the mkl wheel on Linux x86-64; see README "Speed on Linux")
WARNING:   sudo apt-get install libopenblas0-pthread   (Debian/Ubuntu, any CPU)
WARNING:   or set DSOCR_BLAS to a libopenblas.so / libmkl_rt.so
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"""


def blas_header() -> list[str]:
    """The BLAS MLX computes with, in words; with the loud warning when it is the slow reference one."""
    lines = [f"BLAS: {blas.blas_library()}"]
    if sys.platform.startswith("linux") and blas.fast_blas() is None:
        lines += SLOW_BLAS_WARNING.splitlines()
    return lines


def pytest_report_header(config):
    """Say once, at the top of the run, which BLAS MLX uses (a loud warning for the slow reference one) and
    where the reference vectors were found (or that they were not)."""
    cases = reference_cases()
    if cases:
        where = f"reference vectors: {REFERENCE} ({len(cases)} cases)"
    else:
        where = (f"reference vectors: not found at {REFERENCE}; the parity tests skip "
                 "(set DSOCR_REFERENCE to the shared/reference folder)")
    return [*blas_header(), where]


def pytest_sessionstart(session):
    """`pytest -q` prints no header: the slow-BLAS warning is printed at the top all the same."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and session.config.get_verbosity() < 0 and len(blas_header()) > 1:
        for line in blas_header():
            reporter.write_line(line, red=True, bold=True)


def pytest_terminal_summary(terminalreporter):
    """... and again at the end of the run, where a slow run is looked at."""
    if len(blas_header()) > 1:
        for line in blas_header():
            terminalreporter.write_line(line, red=True, bold=True)


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
