"""Where the engine finds an optimized BLAS for MLX on Linux (engine/runtime/blas.py): the search order over
fake library folders, the fallback past a library that cannot be loaded, the MKL that `pip install` brings
(found and computing in an environment without any system BLAS), and the pytest header that names the BLAS
or warns loudly about the slow reference one."""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from engine.runtime import blas

ROOT = Path(__file__).resolve().parents[1]
# the root conftest by its path (another folder's conftest may hold the name `conftest` in a whole run)
_spec = importlib.util.spec_from_file_location("dsocr_root_conftest", Path(__file__).with_name("conftest.py"))
conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(conftest)
LINUX_X86 = sys.platform.startswith("linux") and platform.machine() == "x86_64"


def _touch(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return str(path)


def test_search_order_system_libraries_then_pip_mkl(tmp_path):
    openblas = _touch(tmp_path / "usr/lib/openblas-pthread/libopenblas.so.0")
    system_mkl = _touch(tmp_path / "usr/lib/libmkl_rt.so")
    missing = str(tmp_path / "usr/lib64/libopenblas.so.0")
    venv_mkl = _touch(tmp_path / "venv/lib/libmkl_rt.so.3")
    older = _touch(tmp_path / "venv/lib/libmkl_rt.so.2")
    base_mkl = _touch(tmp_path / "base/lib/libmkl_rt.so.2")
    _touch(tmp_path / "venv/lib/libmkl_core.so.3")  # MKL's other libraries are not candidates
    found = blas.candidates(system=(openblas, missing, system_mkl),
                            prefixes=[str(tmp_path / "venv"), str(tmp_path / "base"), str(tmp_path / "user")])
    assert found == [openblas, system_mkl, venv_mkl, older, base_mkl]
    assert blas.candidates(system=(missing,), prefixes=[str(tmp_path / "user")]) == []


def test_pip_prefixes_start_with_this_environment():
    prefixes = blas._pip_prefixes()
    assert prefixes[0] == sys.prefix and len(set(map(os.path.realpath, prefixes))) == len(prefixes)


def test_load_takes_the_first_library_that_loads(tmp_path, monkeypatch):
    broken = _touch(tmp_path / "usr/lib/libopenblas.so.0")
    venv_mkl = _touch(tmp_path / "venv/lib/libmkl_rt.so.3")
    tried = []

    def fake_dlopen(path):
        tried.append(path)
        if path == broken:
            raise OSError(f"{path}: invalid ELF header")
        return object()

    for name, value in (("_tried", False), ("_loaded", None), ("_handle", None), ("_CANDIDATES", (broken,)),
                        ("_dlopen", fake_dlopen), ("_pip_prefixes", lambda: [str(tmp_path / "venv")])):
        monkeypatch.setattr(blas, name, value)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DSOCR_BLAS", raising=False)
    assert blas.load_fast_blas() == venv_mkl and blas.fast_blas() == venv_mkl
    assert tried == [broken, venv_mkl]


# A machine with no system BLAS: the engine package's __init__ (which loads the BLAS on import) is bypassed,
# the system paths are emptied, and the search must find the MKL that `pip install` put into this environment.
_FRESH = r"""
import sys, types
pkg = types.ModuleType("engine"); pkg.__path__ = [sys.argv[1]]; sys.modules["engine"] = pkg
from engine.runtime import blas
blas._CANDIDATES = ()
path = blas.load_fast_blas()
import mlx.core as mx
import numpy as np
a = np.random.default_rng(0).standard_normal((300, 200)).astype(np.float32)
b = np.random.default_rng(1).standard_normal((200, 100)).astype(np.float32)
got = np.array(mx.array(a) @ mx.array(b))
print(path)
print(blas.blas_library())
print(float(np.abs(got - a @ b).max()))
"""


@pytest.mark.skipif(not LINUX_X86, reason="the mkl wheel is a dependency on Linux x86-64 only")
def test_a_fresh_environment_finds_pip_mkl_and_mlx_computes_with_it():
    assert blas._pip_mkl(), f"no libmkl_rt.so.* under {sys.prefix}/lib: reinstall with pip install -e ."
    env = {k: v for k, v in os.environ.items() if k != "DSOCR_BLAS"}
    run = subprocess.run([sys.executable, "-c", _FRESH, str(ROOT / "engine")], capture_output=True, text=True,
                         env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    path, library, err = run.stdout.split("\n")[:3]
    assert os.path.basename(path).startswith("libmkl_rt.so") and os.path.realpath(path).startswith(
        os.path.realpath(sys.prefix))
    assert library.startswith(path) and "MKL 20" in library
    assert float(err) < 1e-3  # the product is right (MKL computed it, not a broken binding)
    assert "reference BLAS" not in run.stderr


@pytest.mark.skipif(os.environ.get("CI") != "true" or not sys.platform.startswith("linux"),
                    reason="CI on Linux only: a developer may run with DSOCR_BLAS=none on purpose")
def test_ci_runs_with_an_optimized_blas():
    assert blas.fast_blas() is not None, blas.blas_library()


def test_pytest_header_names_the_blas(monkeypatch):
    monkeypatch.setattr(blas, "_loaded", "/opt/lib/libopenblas.so.0")
    monkeypatch.setattr(blas, "_handle", None)
    monkeypatch.setattr(sys, "platform", "linux")
    lines = conftest.pytest_report_header(None)
    assert lines[0] == "BLAS: /opt/lib/libopenblas.so.0" and not any("WARNING" in s for s in lines)


def test_pytest_header_warns_loudly_about_the_reference_blas(monkeypatch):
    monkeypatch.setattr(blas, "_loaded", None)
    monkeypatch.setattr(sys, "platform", "linux")
    lines = conftest.pytest_report_header(None)
    assert lines[0] == "BLAS: reference BLAS (slow)"
    warning = [s for s in lines if s.startswith("WARNING")]
    assert len(warning) >= 3 and "REFERENCE BLAS" in warning[0] and any("pip install" in s for s in warning)
    assert lines[1].startswith("!!!!") and lines[len(warning) + 2].startswith("!!!!")
